"""The segment engine against an evaluator written here, in plain Python, from the documented
meaning of each condition (docs/audience.md, "Segments") — it shares no code with the SQL compiler.

One dataset (60 profiles, 600 events, two saved segments) is written once for the module; for each
generated Who tree the profiles the SQL selects must be exactly those the evaluator selects.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audience.models import Event, Profile, PropertyDefinition, Segment
from audience.segments import compile_who, estimate, profiles_matching, segment_count
from tests.factories import UserFactory

TZ_NAME = "Asia/Kolkata"  # not UTC, so local days and UTC days differ
TZ = zoneinfo.ZoneInfo(TZ_NAME)
NOW = timezone.now().replace(microsecond=0)
TODAY = NOW.astimezone(TZ).date()

DEFINED = {
    "plan": "string",
    "city": "string",
    "nickname": "string",
    "age": "number",
    "vip": "boolean",
    "signup": "date",
    "tags": "list",
}
STRINGS = ["free", "pro", "Pro", "premium", "Pune", "pune", "Goa", "New Delhi", "50%_off", "a\\b"]
FRAGMENTS = ["pu", "PU", "o", "%", "_", "\\", "new d", "zzz", "50%_"]
EVENT_NAMES = ["App Launched", "Charged", "Product Viewed", "Notification Sent"]
ITEMS = ["shoe", "Shirt", "hat", "sh%rt"]


# ----------------------------------------------------------------------------------------------
# The dataset
# ----------------------------------------------------------------------------------------------
@dataclass
class Person:
    id: int
    identity: str
    email: str
    created_at: dt.datetime
    properties: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)


def _day(offset: int) -> str:
    return (TODAY + dt.timedelta(days=offset)).isoformat()


def _profile_properties(rng: random.Random) -> dict[str, Any]:
    props: dict[str, Any] = {}
    if rng.random() < 0.8:
        props["plan"] = rng.choice(["free", "pro", "Pro", "premium"])
    if rng.random() < 0.7:
        props["city"] = rng.choice(["Pune", "pune", "Goa", "New Delhi", "50%_off", "a\\b"])
    if rng.random() < 0.3:
        props["nickname"] = rng.choice([None, "Ace", "bob"])
    if rng.random() < 0.75:
        props["age"] = rng.choice([rng.randint(18, 70), rng.randint(18, 70) + 0.5])
    if rng.random() < 0.6:
        props["vip"] = rng.random() < 0.5
    if rng.random() < 0.7:
        offset = rng.randint(-40, 40)
        # As ingestion stores them: a date, or a date-time in UTC.
        props["signup"] = (
            _day(offset)
            if rng.random() < 0.7
            else f"{_day(offset)}T{rng.randint(0, 23):02d}:30:00+00:00"
        )
    if rng.random() < 0.6:
        props["tags"] = rng.sample(["a", "b", "c", "d"], rng.randint(0, 3))
    if rng.random() < 0.5:
        props["score"] = rng.choice([rng.randint(0, 100), "n/a"])  # no definition: inferred
    return props


def _event(rng: random.Random, person: Person) -> dict[str, Any]:
    name = rng.choices(EVENT_NAMES, [4, 2, 3, 2])[0]
    if rng.random() < 0.03:
        ts = NOW + dt.timedelta(minutes=rng.randint(1, 600))  # a clock ahead of ours
    else:
        ts = NOW - dt.timedelta(seconds=rng.randint(0, 60 * 86400))
    properties: dict[str, Any] = {}
    campaign_id, label_ids = None, None
    if name == "Charged":
        properties = {"amount": rng.choice([rng.randint(1, 500), rng.randint(1, 500) + 0.25])}
        if rng.random() < 0.8:
            properties["item"] = rng.choice(ITEMS)
    elif name == "Product Viewed":
        properties = {"item": rng.choice(ITEMS), "tags": rng.sample(["new", "sale", "x"], 2)}
    elif name == "App Launched" and rng.random() < 0.5:
        properties = {"source": rng.choice(["ad", "organic"])}
    elif name == "Notification Sent":
        campaign_id = rng.randint(1, 3)
        label_ids = sorted(rng.sample([1, 2, 3], rng.randint(0, 2)))
        properties = {"campaign_id": campaign_id, "labels": [{"id": i} for i in label_ids]}
    return {
        "profile_id": person.id,
        "name": name,
        "ts": ts,
        "properties": properties,
        "campaign_id": campaign_id,
        "label_ids": label_ids,
    }


@dataclass
class Dataset:
    people: list[Person]
    segments: dict[int, dict[str, Any]]


SEGMENT_A = {
    "type": "group",
    "match": "any",
    "conditions": [
        {"type": "property", "property": "plan", "op": "in", "value": ["pro", "premium"]},
        {"type": "event", "event": "Charged", "count": {"op": "gte", "value": 2}},
    ],
}


@pytest.fixture(scope="module")
def dataset(django_db_setup, django_db_blocker):
    """Written and committed once for the module, removed at its end."""
    rng = random.Random(6)
    with django_db_blocker.unblock():
        owner = UserFactory(username="segments-semantics@example.com")
        for name, kind in DEFINED.items():
            PropertyDefinition.objects.create(name=name, type=kind)
        people = []
        for i in range(60):
            created = NOW - dt.timedelta(seconds=rng.randint(0, 40 * 86400))
            profile = Profile.objects.create(
                identity=f"sem-{i}",
                email=rng.choice(["", f"p{i}@example.com", f"P{i}@Example.com"]),
                properties=_profile_properties(rng),
            )
            Profile.objects.filter(pk=profile.pk).update(created_at=created)
            people.append(
                Person(profile.pk, profile.identity, profile.email, created, profile.properties)
            )
        events = []
        for _ in range(600):
            person = people[min(int(len(people) * rng.random() ** 1.5), len(people) - 1)]
            event = _event(rng, person)
            person.events.append(event)
            events.append(event)
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO audience_event (profile_id, name, ts, properties, campaign_id, "
                "label_ids) VALUES (%s, %s, %s, %s::jsonb, %s, %s)",
                [
                    (
                        e["profile_id"],
                        e["name"],
                        e["ts"],
                        json.dumps(e["properties"]),
                        e["campaign_id"],
                        e["label_ids"],
                    )
                    for e in events
                ],
            )
        a = Segment.objects.create(name="Sem A", definition=SEGMENT_A, created_by=owner)
        b_definition = {
            "type": "group",
            "match": "all",
            "conditions": [
                {"type": "segment", "segment_id": a.pk},
                {"type": "property", "property": "vip", "op": "eq", "value": True},
            ],
        }
        b = Segment.objects.create(name="Sem B", definition=b_definition, created_by=owner)
        try:
            yield Dataset(people, {a.pk: SEGMENT_A, b.pk: b_definition})
        finally:
            Event.objects.filter(profile_id__in=[p.id for p in people]).delete()
            Segment.objects.filter(pk__in=[a.pk, b.pk]).delete()
            Profile.objects.filter(pk__in=[p.id for p in people]).delete()
            PropertyDefinition.objects.filter(name__in=DEFINED).delete()
            owner.delete()


# ----------------------------------------------------------------------------------------------
# The evaluator: what each condition means, said in Python
# ----------------------------------------------------------------------------------------------
MISSING = object()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_date(value: Any) -> dt.date | None:
    """A date property's calendar date: the date written at the start of its text."""
    if isinstance(value, str) and re.match(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _kind_for(name: str | None, op: str, value: Any) -> str:
    if name is not None and name in DEFINED:
        return DEFINED[name]
    if op == "within_days":
        return "date"
    if op in ("contains", "not_contains"):
        return "text_or_list"
    sample = value[0] if isinstance(value, list) else value
    if isinstance(sample, bool):
        return "boolean"
    if _is_number(sample):
        return "number"
    if op in ("gt", "gte", "lt", "lte", "between"):
        return "date"
    return "string"


def _holds(kind: str, op: str, raw: Any, value: Any) -> bool:
    """The positive operators on a present value (raw is never MISSING here)."""
    if op == "in":
        return any(_holds(kind, "eq" if kind != "list" else "contains", raw, v) for v in value)
    if kind == "date":
        day = _as_date(raw)
        if day is None:
            return False
        if op == "within_days":
            return TODAY <= day <= TODAY + dt.timedelta(days=value)
        if op == "between":
            return dt.date.fromisoformat(value[0]) <= day <= dt.date.fromisoformat(value[1])
        other = dt.date.fromisoformat(value)
        return {
            "eq": day == other,
            "gt": day > other,
            "gte": day >= other,
            "lt": day < other,
            "lte": day <= other,
        }[op]
    if kind == "list" or (kind == "text_or_list" and isinstance(raw, list)):
        return (
            op == "contains" and isinstance(raw, list) and any(_same(item, value) for item in raw)
        )
    if op == "contains":  # text
        return isinstance(raw, str) and isinstance(value, str) and value.lower() in raw.lower()
    if kind == "number":
        if not _is_number(raw):
            return False
        if op == "between":
            return value[0] <= raw <= value[1]
        return {
            "eq": raw == value,
            "gt": raw > value,
            "gte": raw >= value,
            "lt": raw < value,
            "lte": raw <= value,
        }[op]
    if kind == "boolean":
        return raw is value
    return _same(raw, value)  # string eq: exactly the same text


def _same(a: Any, b: Any) -> bool:
    """JSON equality: numbers by value (2 == 2.0), everything else by type and value."""
    if _is_number(a) and _is_number(b):
        return a == b
    return type(a) is type(b) and a == b


NEGATIVE = {"neq": "eq", "not_in": "in", "not_contains": "contains", "not_exists": "exists"}


def _read_number(value: Any) -> Any:
    """A number property compared with text that reads as a number compares with that number."""
    if isinstance(value, list):
        return [_read_number(v) for v in value]
    if isinstance(value, str):
        return float(value) if "." in value else int(value)
    return value


def _property_matches(raw: Any, kind: str, node: dict[str, Any]) -> bool:
    op = node["op"]
    positive = NEGATIVE.get(op, op)
    if positive == "exists":
        result = raw is not MISSING and raw is not None
    elif raw is MISSING or raw is None:
        result = False
    else:
        value = node.get("value")
        result = _holds(kind, positive, raw, _read_number(value) if kind == "number" else value)
    return result != (op in NEGATIVE)


def _builtin(person: Person, name: str) -> Any:
    if name == "$created_at":
        return person.created_at.astimezone(TZ).date().isoformat()
    return {"$identity": person.identity, "$email": person.email}[name]


def _in_window(ts: dt.datetime, window: dict[str, Any] | None) -> bool:
    if not window:
        return True
    if "last_days" in window:
        return NOW - dt.timedelta(days=window["last_days"]) <= ts <= NOW
    day = ts.astimezone(TZ).date()
    return dt.date.fromisoformat(window["from"]) <= day <= dt.date.fromisoformat(window["to"])


def evaluate(node: dict[str, Any], person: Person, data: Dataset) -> bool:
    kind = node["type"]
    if kind == "group":
        results = [evaluate(child, person, data) for child in node["conditions"]]
        matched = (
            True if not results else (all(results) if node["match"] == "all" else any(results))
        )
        return matched != bool(node.get("negate"))
    if kind == "segment":
        return evaluate(data.segments[node["segment_id"]], person, data)
    if kind == "property":
        name = node["property"]
        if name.startswith("$"):
            value = _builtin(person, name)
            op = node["op"]
            positive = NEGATIVE.get(op, op)
            if positive == "exists":
                result = value != ""
            elif name == "$created_at":
                result = _holds("date", positive, value, node.get("value"))
            else:
                result = _holds("string", positive, value, node.get("value"))
            return result != (op in NEGATIVE)
        raw = person.properties.get(name, MISSING)
        return _property_matches(raw, _kind_for(name, node["op"], node.get("value")), node)
    if kind == "event":
        count = sum(
            1
            for e in person.events
            if e["name"] == node["event"]
            and _in_window(e["ts"], node.get("window"))
            and all(
                _property_matches(
                    e["properties"].get(f["property"], MISSING),
                    _kind_for(None, f["op"], f.get("value")),
                    f,
                )
                for f in node.get("filters", [])
            )
        )
        rule = node.get("count", {"op": "gte", "value": 1})
        n = rule["value"]
        holds = {"gte": count >= n, "lte": count <= n, "eq": count == n}[rule["op"]]
        return holds == node.get("did", True)
    sent = [
        e
        for e in person.events
        if e["name"] == "Notification Sent" and _in_window(e["ts"], node.get("window"))
    ]
    if kind == "label_sent":
        return any(node["label_id"] in (e["label_ids"] or []) for e in sent)
    return any(e["campaign_id"] == node["campaign_id"] for e in sent)


# ----------------------------------------------------------------------------------------------
# Who trees
# ----------------------------------------------------------------------------------------------
days = st.integers(min_value=-45, max_value=45).map(_day)


def _prop(name: str, op: str, value: Any = ...) -> dict[str, Any]:
    node = {"type": "property", "property": name, "op": op}
    if value is not ...:
        node["value"] = value
    return node


def _ops(name: str, values: st.SearchStrategy, *, eq=True, in_=True, compare=False, contains=None):
    options = [st.sampled_from(["exists", "not_exists"]).map(lambda op: _prop(name, op))]
    if eq:
        options.append(
            st.tuples(st.sampled_from(["eq", "neq"]), values).map(lambda t: _prop(name, *t))
        )
    if in_:
        options.append(
            st.tuples(
                st.sampled_from(["in", "not_in"]), st.lists(values, min_size=1, max_size=3)
            ).map(lambda t: _prop(name, *t))
        )
    if compare:
        options.append(
            st.tuples(st.sampled_from(["gt", "gte", "lt", "lte"]), values).map(
                lambda t: _prop(name, *t)
            )
        )
        options.append(
            st.lists(values, min_size=2, max_size=2)
            .map(sorted)
            .map(lambda pair: _prop(name, "between", pair))
        )
    if contains is not None:
        options.append(
            st.tuples(st.sampled_from(["contains", "not_contains"]), contains).map(
                lambda t: _prop(name, *t)
            )
        )
    return st.one_of(options)


numbers = st.one_of(st.integers(min_value=15, max_value=75), st.sampled_from([30.5, 40.0, 18.5]))
profile_conditions = st.one_of(
    _ops("plan", st.sampled_from(STRINGS), contains=st.sampled_from(FRAGMENTS)),
    _ops("city", st.sampled_from(STRINGS), contains=st.sampled_from(FRAGMENTS)),
    _ops("nickname", st.sampled_from(["Ace", "bob"]), contains=st.sampled_from(["a", "B"])),
    _ops("age", numbers, compare=True),
    _ops("score", st.integers(min_value=0, max_value=100), compare=True),
    _ops("vip", st.booleans(), in_=False),
    _ops("signup", days, compare=True),
    st.integers(min_value=1, max_value=40).map(lambda n: _prop("signup", "within_days", n)),
    _ops(
        "tags",
        st.sampled_from(["a", "b", "c", "d"]),
        eq=False,
        contains=st.sampled_from(["a", "b", "z"]),
    ),
    _ops(
        "$email",
        st.sampled_from(["p3@example.com", "P4@Example.com", ""]),
        contains=st.sampled_from(["example", "P1"]),
    ),
    _ops(
        "$identity", st.sampled_from(["sem-1", "sem-20"]), contains=st.sampled_from(["sem-1", "-2"])
    ),
    _ops("$created_at", days, compare=True),
)
event_filters = st.one_of(
    _ops("amount", st.integers(min_value=1, max_value=500), compare=True),
    _ops("item", st.sampled_from(ITEMS), contains=st.sampled_from(["sh", "%", "HAT"])),
    st.sampled_from(["exists", "not_exists"]).map(lambda op: _prop("source", op)),
    st.sampled_from(["contains", "not_contains"]).map(lambda op: _prop("tags", op, "sale")),
)


@st.composite
def windows(draw):
    kind = draw(st.sampled_from(["none", "last", "dates"]))
    if kind == "none":
        return None
    if kind == "last":
        return {"last_days": draw(st.integers(min_value=1, max_value=70))}
    first = draw(st.integers(min_value=-70, max_value=1))
    last = draw(st.integers(min_value=first, max_value=2))
    return {"from": _day(first), "to": _day(last)}


@st.composite
def event_conditions(draw):
    node: dict[str, Any] = {"type": "event", "event": draw(st.sampled_from(EVENT_NAMES))}
    if draw(st.booleans()):
        node["did"] = draw(st.booleans())
    if draw(st.booleans()):
        node["count"] = {
            "op": draw(st.sampled_from(["gte", "lte", "eq"])),
            "value": draw(st.integers(min_value=0, max_value=4)),
        }
    window = draw(windows())
    if window:
        node["window"] = window
    filters = draw(st.lists(event_filters, max_size=2))
    if filters:
        node["filters"] = filters
    return node


@st.composite
def sent_conditions(draw):
    kind = draw(st.sampled_from(["label_sent", "campaign_sent"]))
    key = "label_id" if kind == "label_sent" else "campaign_id"
    node = {"type": kind, key: draw(st.integers(min_value=1, max_value=4))}
    window = draw(windows())
    if window:
        node["window"] = window
    return node


def leaf_conditions(segment_ids: list[int]):
    return st.one_of(
        profile_conditions,
        event_conditions(),
        sent_conditions(),
        st.sampled_from(segment_ids).map(lambda pk: {"type": "segment", "segment_id": pk}),
    )


def _groups(children, *, min_size: int = 0):
    return st.builds(
        lambda match, negate, conditions: {
            "type": "group",
            "match": match,
            "negate": negate,
            "conditions": conditions,
        },
        st.sampled_from(["all", "any"]),
        st.booleans(),
        st.lists(children, min_size=min_size, max_size=3),
    )


def who_trees(segment_ids: list[int]):
    """Small trees (a tree of many conditions selects almost everyone or almost no one, and so
    tells little); groups nest at most four deep (the limit is five)."""
    inner = st.recursive(leaf_conditions(segment_ids), _groups, max_leaves=4)
    return _groups(inner, min_size=1).filter(lambda tree: _depth(tree) <= 5)


def _depth(node: dict[str, Any]) -> int:
    if node["type"] != "group":
        return 0
    return 1 + max((_depth(c) for c in node["conditions"]), default=0)


def _selected(who: dict[str, Any]) -> set[int]:
    sql, params = compile_who(who, now=NOW)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def _expected(who: dict[str, Any], data: Dataset) -> set[int]:
    return {p.id for p in data.people if evaluate(who, p, data)}


# ----------------------------------------------------------------------------------------------
# The tests
# ----------------------------------------------------------------------------------------------
@pytest.fixture
def local_time(settings):
    settings.TIME_ZONE = TZ_NAME


def test_generated_who_trees_select_what_the_evaluator_selects(dataset, db, local_time):
    mine = {p.id for p in dataset.people}

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        derandomize=True,
    )
    @given(who=who_trees(list(dataset.segments)))
    def check(who):
        assert _selected(who) & mine == _expected(who, dataset), json.dumps(who)

    check()


def test_generated_single_conditions_select_what_the_evaluator_selects(dataset, db, local_time):
    mine = {p.id for p in dataset.people}

    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(leaf=leaf_conditions(list(dataset.segments)), negate=st.booleans())
    def check(leaf, negate):
        who = {"type": "group", "match": "all", "negate": negate, "conditions": [leaf]}
        assert _selected(who) & mine == _expected(who, dataset), json.dumps(who)

    check()


LEAF_CASES = {
    "string eq is exact": _prop("city", "eq", "Pune"),
    "string neq includes the missing": _prop("city", "neq", "Pune"),
    "in, any of": _prop("plan", "in", ["pro", "Pro"]),
    "contains ignores case": _prop("city", "contains", "PU"),
    "contains takes % literally": _prop("city", "contains", "%_"),
    "contains takes a backslash literally": _prop("city", "contains", "\\"),
    "number gt with a float": _prop("age", "gt", 30.5),
    "number between, both ends": _prop("age", "between", [20, 40]),
    "number given as text": _prop("age", "gt", "40"),
    "boolean": _prop("vip", "eq", False),
    "date before": _prop("signup", "lt", _day(0)),
    "date within the next days": _prop("signup", "within_days", 10),
    "list contains": _prop("tags", "contains", "b"),
    "list in": _prop("tags", "in", ["a", "d"]),
    "list not_in": _prop("tags", "not_in", ["a", "d"]),
    "null is not set": _prop("nickname", "exists"),
    "inferred number skips text": _prop("score", "gte", 50),
    "inferred text eq": _prop("score", "eq", "n/a"),
    "created today or later": _prop("$created_at", "gte", _day(-3)),
    "email contains": _prop("$email", "contains", "example.COM"),
    "did, default count": {"type": "event", "event": "Charged"},
    "did at most 1 time includes never": {
        "type": "event",
        "event": "Charged",
        "count": {"op": "lte", "value": 1},
    },
    "did exactly 0 times": {"type": "event", "event": "Charged", "count": {"op": "eq", "value": 0}},
    "did exactly 2 times": {"type": "event", "event": "Charged", "count": {"op": "eq", "value": 2}},
    "did not do at least 2 times": {
        "type": "event",
        "event": "App Launched",
        "did": False,
        "count": {"op": "gte", "value": 2},
        "window": {"last_days": 20},
    },
    "between dates, local days": {
        "type": "event",
        "event": "App Launched",
        "window": {"from": _day(-10), "to": _day(-3)},
    },
    "filter on a float": {
        "type": "event",
        "event": "Charged",
        "filters": [_prop("amount", "between", [100, 300.25])],
    },
    "filter item not contains": {
        "type": "event",
        "event": "Charged",
        "filters": [_prop("item", "not_contains", "SH")],
    },
    "label sent in the last days": {
        "type": "label_sent",
        "label_id": 2,
        "window": {"last_days": 15},
    },
    "campaign sent": {"type": "campaign_sent", "campaign_id": 3},
}


@pytest.mark.parametrize("leaf", LEAF_CASES.values(), ids=LEAF_CASES.keys())
def test_each_condition_alone_and_negated(dataset, db, local_time, leaf):
    mine = {p.id for p in dataset.people}
    for negate in (False, True):
        who = {"type": "group", "match": "all", "negate": negate, "conditions": [leaf]}
        expected = _expected(who, dataset)
        assert _selected(who) & mine == expected
    # A case that selects no one, or everyone, would test little.
    assert 0 < len(_expected({"type": "group", "match": "all", "conditions": [leaf]}, dataset)) < 60


def test_count_estimate_and_batches_agree(dataset, db, local_time):
    ids = {p.id for p in dataset.people}
    who = {
        "type": "group",
        "match": "all",
        "conditions": [
            {"type": "property", "property": "$identity", "op": "contains", "value": "sem-"},
            {"type": "segment", "segment_id": min(dataset.segments)},
        ],
    }
    expected = _expected(who, dataset)
    assert segment_count(who, now=NOW) == len(expected)
    assert estimate(who, now=NOW)["total"] == len(expected)
    batches, after = [], 0
    while batch := profiles_matching(who, 7, after, now=NOW):
        assert batch == sorted(batch) and len(batch) <= 7
        batches.extend(batch)
        after = batch[-1]
    assert set(batches) == expected and len(batches) == len(expected)
    assert expected <= ids
