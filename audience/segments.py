"""The segment engine: a Who tree becomes one SQL query over audience_profile `p`.

Events are reached through sub-queries on audience_event `e` (EXISTS, or IN a set grouped by
profile for counts), which PostgreSQL turns into semi- and anti-joins; negations are pushed down to
the conditions (De Morgan), so a "not" stays a NOT EXISTS the planner can run as an anti-join.
Every value the user gave is a bound parameter; only the shape of the SQL comes from the tree.

What each condition means is written down in docs/audience.md ("Segments"); the tests check it
against an evaluator written separately in Python (tests/audience/test_segments_semantics.py).
"""

# The SQL is assembled from this module's fixed fragments; every value from the user is bound.
# ruff: noqa: S608

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audience.models import NOTIFICATION_SENT, PropertyDefinition, PropertyType
from campaigns.validation import (
    json_problem,
    segment_definitions,
    segment_references,
    validate_who,
)
from config.errors import DomainError, Invalid

Errors = dict[str, list[str]]
CHANNELS = ("email", "sms", "whatsapp", "push", "web_push")

# Built-in profile fields, named with a leading "$" so they never clash with custom properties.
BUILTIN_FIELDS: dict[str, tuple[str, str]] = {
    "$identity": ("p.identity", PropertyType.STRING),
    "$email": ("p.email", PropertyType.STRING),
    "$phone": ("p.phone", PropertyType.STRING),
    "$timezone": ("p.timezone", PropertyType.STRING),
    "$email_consent": ("p.email_consent", PropertyType.STRING),
    "$sms_consent": ("p.sms_consent", PropertyType.STRING),
    "$whatsapp_consent": ("p.whatsapp_consent", PropertyType.STRING),
    "$created_at": ("p.created_at", PropertyType.DATE),
}

# Operators each type of property takes. `neq`, `not_in`, `not_contains` and `not_exists` are the
# complements of `eq`, `in`, `contains` and `exists`: a profile without the property matches them.
_COMPARE = {"gt", "gte", "lt", "lte", "between"}
OPS_BY_TYPE: dict[str, set[str]] = {
    PropertyType.STRING: {"eq", "neq", "in", "not_in", "contains", "not_contains"},
    PropertyType.NUMBER: {"eq", "neq", "in", "not_in"} | _COMPARE,
    PropertyType.BOOLEAN: {"eq", "neq"},
    PropertyType.DATE: {"eq", "neq", "in", "not_in", "within_days"} | _COMPARE,
    PropertyType.LIST: {"contains", "not_contains", "in", "not_in"},
}
COMPLEMENTS = {"neq": "eq", "not_in": "in", "not_contains": "contains", "not_exists": "exists"}
_SQL_COMPARE = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}")
_NUMBER_TEXT = re.compile(r"^-?\d+(\.\d+)?$")
_PLACEHOLDER = re.compile(r"%\((v\d+)\)s")
# Ids beyond PostgreSQL's integer types name nothing that exists.
_MAX_INT, _MAX_BIGINT = 2**31 - 1, 2**63 - 1
_MAX_DAYS = 36_500

# Who is reachable on each channel (see docs/audience.md, "Reachability"): e-mail unless opted out
# or unsubscribed; SMS and WhatsApp only with an opt-in; push and web push with an enabled,
# opted-in device of that kind.
REACHABLE_SQL: dict[str, str] = {
    "email": "p.email <> '' AND p.email_consent <> 'opted_out' AND p.email_unsubscribed_at IS NULL",
    "sms": "p.phone <> '' AND p.sms_consent = 'opted_in' AND p.sms_unsubscribed_at IS NULL",
    "whatsapp": (
        "p.phone <> '' AND p.whatsapp_consent = 'opted_in' AND p.whatsapp_unsubscribed_at IS NULL"
    ),
}
DEVICE_REACHABLE_SQL = "d.disabled_at IS NULL AND d.push_consent = 'opted_in'"

# Bounds on one evaluation from a page or the API: long enough for any sensible audience on the
# target data (see docs/audience.md), short enough that a pathological one frees its connection.
STATEMENT_TIMEOUT_MS = 20_000
# Up to this many profiles (as the planner estimates the audience), the estimate looks each one's
# devices up by index; above it, it hashes the reachable devices once (see _device_filters).
DEVICE_LOOKUP_ROWS = 100_000
# Hash tables of profile ids (hashed sub-plans inside "any" groups) fit in this much memory.
WORK_MEM = "64MB"


class EvaluationTooSlow(DomainError):
    """The audience took longer than STATEMENT_TIMEOUT_MS to count."""

    code = "too_slow"
    http_status = 503


# ----------------------------------------------------------------------------------------------
# Public interface
# ----------------------------------------------------------------------------------------------
def compile_who(who: Any, *, now: dt.datetime | None = None) -> tuple[str, list[Any]]:
    """`SELECT p.id FROM audience_profile p WHERE ...` and its parameters, for cursor.execute.

    Raises Invalid with field errors (`who.conditions[0].value`, ...) for a tree validate_who
    refuses, and for values that do not fit the property's type. `now` fixes "the last N days"
    and "within N days" (default: now), so the batches of one run select the same people.
    """
    where, params = compile_condition(who, now=now)
    return f"SELECT p.id FROM audience_profile p WHERE {where}", params


def compile_condition(who: Any, *, now: dt.datetime | None = None) -> tuple[str, list[Any]]:
    """The WHERE condition alone, over audience_profile aliased `p`."""
    # Text PostgreSQL would refuse, and absurd nesting, before the schema walks the tree.
    problem = json_problem(who)
    if problem:
        raise Invalid("The audience definition has errors.", errors={"who": [problem]})
    errors = validate_who(who)
    if errors:
        raise Invalid("The audience definition has errors.", errors=errors)
    compiler = _Compiler(now=now or timezone.now())
    compiler.load(who)
    sql = compiler.node(who, "who", negated=False)
    if compiler.errors:
        raise Invalid("The audience definition has errors.", errors=compiler.errors)
    return compiler.finish(sql)


def event_filter_condition(
    filters: list[Any], *, now: dt.datetime | None = None
) -> tuple[str, list[Any]]:
    """The condition a list of event property filters puts on one event row `e` (any row with a
    `properties` jsonb), meaning what the same filters mean inside a Who's event condition: the
    Action and Inaction triggers (channels.triggers) use it. Raises Invalid, naming
    `filters[i]...`, for filters a Who would refuse."""
    if not filters:
        return "TRUE", []
    problem = json_problem(filters)
    if problem:
        raise Invalid("The filters have errors.", errors={"filters": [problem]})
    probe = {"type": "event", "event": "-", "filters": filters}
    errors = validate_who({"type": "group", "match": "all", "conditions": [probe]})
    if errors:
        prefix = "who.conditions[0]."
        raise Invalid(
            "The filters have errors.",
            errors={key.removeprefix(prefix): value for key, value in errors.items()},
        )
    compiler = _Compiler(now=now or timezone.now())
    parts = [
        compiler.property(
            _Subject(item["property"], "e.properties", None, None),
            item,
            f"filters[{i}]",
            negated=False,
        )
        for i, item in enumerate(filters)
    ]
    if compiler.errors:
        raise Invalid("The filters have errors.", errors=compiler.errors)
    return compiler.finish("(" + " AND ".join(parts) + ")")


def segment_count(who: Any, *, now: dt.datetime | None = None) -> int:
    """How many profiles the Who selects."""
    where, params = compile_condition(who, now=now)
    row = _fetch_one(f"SELECT count(*) FROM audience_profile p WHERE {where}", params)
    return int(row[0])


def estimate(who: Any, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """{"total": n, "reachable": {"email": n, "sms": n, "whatsapp": n, "push": n, "web_push": n}}
    in one query: the audience, and how many of it each channel can reach now."""
    where, params = compile_condition(who, now=now)
    reachable = {**REACHABLE_SQL, **_device_filters(where, params)}
    filters = ", ".join(f"count(*) FILTER (WHERE {reachable[c]})" for c in CHANNELS)
    sql = f"SELECT count(*), {filters} FROM audience_profile p WHERE {where}"
    row = _fetch_one(sql, params)
    return {
        "total": int(row[0]),
        "reachable": {c: int(n or 0) for c, n in zip(CHANNELS, row[1:], strict=True)},
    }


def _device_filters(where: str, params: list[Any]) -> dict[str, str]:
    """How to tell, per profile of the audience, that a device reaches it.

    PostgreSQL does not weigh the two ways itself inside a FILTER: a hashed IN builds a hash of
    every reachable device's profile once (about 0.25 s per 500,000 devices), a correlated
    EXISTS looks each profile up by index (about 1 µs each, twice). So the planner's estimate of
    the audience picks: EXISTS up to DEVICE_LOOKUP_ROWS profiles, a hashed IN above.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"EXPLAIN (FORMAT JSON) SELECT 1 FROM audience_profile p WHERE {where}", params
        )
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    lookups = plan[0]["Plan"]["Plan Rows"] <= DEVICE_LOOKUP_ROWS
    filters = {}
    for kind in ("push", "web_push"):
        devices = f"FROM audience_device d WHERE d.kind = '{kind}' AND {DEVICE_REACHABLE_SQL}"
        filters[kind] = (
            f"EXISTS (SELECT 1 {devices} AND d.profile_id = p.id)"
            if lookups
            else f"p.id IN (SELECT d.profile_id {devices})"
        )
    return filters


def profiles_matching(
    who: Any, limit: int, after_id: int = 0, *, now: dt.datetime | None = None
) -> list[int]:
    """The next `limit` profile ids after `after_id`, in id order (keyset batches, never OFFSET).

    Pass the run's `now` to every batch of one run, so its time windows do not move.
    """
    where, params = compile_condition(who, now=now)
    sql = f"SELECT p.id FROM audience_profile p WHERE {where} AND p.id > %s ORDER BY p.id LIMIT %s"
    with evaluation_cursor(timeout_ms=None) as cursor:
        cursor.execute(sql, [*params, after_id, limit])
        return [row[0] for row in cursor.fetchall()]


@contextlib.contextmanager
def evaluation_cursor(timeout_ms: int | None = STATEMENT_TIMEOUT_MS) -> Iterator[Any]:
    """A cursor in a transaction with the settings segment queries are planned for: run
    compile_who's SQL in it (the SQL is correct anywhere, and at worst linear, but slower).

    Hashed sub-plans of profile ids need more than the default work_mem to stay hashed. JIT
    compilation costs more than it saves on these short queries. Parallel workers would each
    build the same hash of event profile ids (the inner side of a semi-join is not shared), which
    measured 2-3x slower than one process (docs/audience.md). The settings are LOCAL and put back
    at the end, so an outer transaction keeps its own.
    """
    names = ["work_mem", "jit", "max_parallel_workers_per_gather", "statement_timeout"]
    values = [WORK_MEM, "off", "0", str(timeout_ms or 0)]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join("current_setting(%s)" for _ in names), names)
        saved = list(cursor.fetchone())
        _set(cursor, names, values if timeout_ms else values[:-1])
        yield cursor
        # Inside an outer transaction the settings would outlive this block: put them back.
        _set(cursor, names, saved)


def _set(cursor: Any, names: list[str], values: list[str]) -> None:
    cursor.execute(
        "SELECT " + ", ".join("set_config(%s, %s, true)" for _ in values),
        [item for pair in zip(names, values, strict=False) for item in pair],
    )


def _fetch_one(
    sql: str, params: list[Any], *, timeout_ms: int = STATEMENT_TIMEOUT_MS
) -> tuple[Any, ...]:
    try:
        with evaluation_cursor(timeout_ms) as cursor:
            cursor.execute(sql, params)
            return tuple(cursor.fetchone())
    except DatabaseError as exc:
        if getattr(getattr(exc, "__cause__", None), "pgcode", None) == "57014":
            raise EvaluationTooSlow(
                f"Counting this audience took more than {timeout_ms / 1000:g} s; "
                "narrow it down (a shorter window, fewer conditions) and try again."
            ) from exc
        raise


# ----------------------------------------------------------------------------------------------
# The compiler
# ----------------------------------------------------------------------------------------------
@dataclass
class _Subject:
    """What a property condition reads: a key of a jsonb document, or a built-in column."""

    name: str
    doc: str | None  # "p.properties" / "e.properties"; None for a column
    column: str | None
    type: str | None  # a PropertyType, or None when inferred from the value


@dataclass
class _Compiler:
    now: dt.datetime
    values: dict[str, Any] = field(default_factory=dict)
    errors: Errors = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    segments: dict[int, tuple[str, Any]] = field(default_factory=dict)
    # Inside a saved segment: the path of the outermost reference, where its errors are reported.
    _inside: list[tuple[str, str]] = field(default_factory=list)

    # -- set-up ---------------------------------------------------------------------------------
    def load(self, who: dict[str, Any]) -> None:
        """The saved segments the tree uses (all levels) and the types of its properties."""
        self.segments = segment_definitions(segment_references(who))
        names: set[str] = set()

        def walk(node: Any) -> None:
            kind = node.get("type")
            if kind == "group":
                for child in node["conditions"]:
                    walk(child)
            elif kind == "segment" and node["segment_id"] in self.segments:
                walk(self.segments[node["segment_id"]][1])
            elif kind == "property":
                names.add(node["property"])

        walk(who)
        self.types = dict(
            PropertyDefinition.objects.filter(name__in=names).values_list("name", "type")
        )

    def error(self, path: str, message: str) -> None:
        if self._inside:
            outer, name = self._inside[0]
            inner = path.split(".", 1)[1] if "." in path else path
            self.errors.setdefault(f"{outer}.segment_id", []).append(
                f"In segment “{name}”, {inner}: {message}"
            )
        else:
            self.errors.setdefault(path, []).append(message)

    def param(self, value: Any) -> str:
        """A placeholder for a bound value. Named while the SQL is built, so fragments can be
        composed in any order; finish() turns them into positional %s in order of appearance."""
        key = f"v{len(self.values)}"
        self.values[key] = value
        return f"%({key})s"

    def finish(self, sql: str) -> tuple[str, list[Any]]:
        params: list[Any] = []

        def positional(match: re.Match[str]) -> str:
            params.append(self.values[match.group(1)])
            return "%s"

        return _PLACEHOLDER.sub(positional, sql), params

    # -- the tree -------------------------------------------------------------------------------
    def node(self, node: dict[str, Any], path: str, *, negated: bool) -> str:
        kind = node["type"]
        if kind == "group":
            return self.group(node, path, negated=negated)
        if kind == "segment":
            return self.segment(node, path, negated=negated)
        if kind == "property":
            subject = self.profile_subject(node["property"])
            return self.property(subject, node, path, negated=negated)
        if kind == "event":
            return self.event(node, path, negated=negated)
        if kind == "label_sent":
            label = node["label_id"]
            if label > _MAX_INT:
                return "TRUE" if negated else "FALSE"
            match = (
                f"e.label_ids IS NOT NULL AND e.label_ids @> ARRAY[{self.param(label)}]::integer[]"
            )
            return self.sent(match, node, negated=negated)
        campaign = node["campaign_id"]
        if campaign > _MAX_BIGINT:
            return "TRUE" if negated else "FALSE"
        return self.sent(f"e.campaign_id = {self.param(campaign)}", node, negated=negated)

    def group(self, node: dict[str, Any], path: str, *, negated: bool) -> str:
        negated = negated != bool(node.get("negate", False))
        children = node["conditions"]
        if not children:
            # An empty group is everyone, whichever its match (the editor's "Everyone").
            return "FALSE" if negated else "TRUE"
        # De Morgan: not (a and b) = (not a) or (not b), and the other way round.
        joiner = " AND " if (node["match"] == "all") != negated else " OR "
        parts = [
            self.node(child, f"{path}.conditions[{i}]", negated=negated)
            for i, child in enumerate(children)
        ]
        return "(" + joiner.join(parts) + ")"

    def segment(self, node: dict[str, Any], path: str, *, negated: bool) -> str:
        pk = node["segment_id"]
        name, definition = self.segments[pk]  # validate_who made sure it exists
        self._inside.append((path, name))
        try:
            return self.group(definition, "definition", negated=negated)
        finally:
            self._inside.pop()

    # -- property conditions --------------------------------------------------------------------
    def profile_subject(self, name: str) -> _Subject:
        if name in BUILTIN_FIELDS:
            column, kind = BUILTIN_FIELDS[name]
            return _Subject(name, None, column, kind)
        return _Subject(name, "p.properties", None, self.types.get(name))

    def property(self, subject: _Subject, node: dict[str, Any], path: str, *, negated: bool) -> str:
        op = node["op"]
        base = COMPLEMENTS.get(op, op)
        negated = negated != (op in COMPLEMENTS)
        if base == "exists":
            sql = self.exists(subject)
        else:
            kind = subject.type or _inferred_type(op, node.get("value"))
            if kind is None:
                self.error(f"{path}.value", f"'{op}' compares numbers or dates (as YYYY-MM-DD).")
                return "FALSE"
            if kind != "text_or_list" and op not in OPS_BY_TYPE[kind]:
                what = _TYPE_WORDS[kind]
                self.error(
                    f"{path}.op",
                    f"'{op}' does not apply to {subject.name}, a {what} property."
                    if subject.type
                    else f"'{op}' does not apply to {what} values.",
                )
                return "FALSE"
            value = self.coerce(kind, op, node.get("value"), f"{path}.value")
            if value is _BAD:
                return "FALSE"
            sql = self.compare(subject, kind, base, value)
        return f"NOT ({sql})" if negated else sql

    def coerce(self, kind: str, op: str, value: Any, path: str) -> Any:
        try:
            if op == "within_days":
                if value > _MAX_DAYS:
                    raise ValueError(f"At most {_MAX_DAYS} days.")
                return value
            if op in ("in", "not_in"):
                return [_coerce(kind, v) for v in value]
            if op == "between":
                low, high = (_coerce(kind, v) for v in value)
                if low > high:
                    raise ValueError("The first value must not be greater than the second.")
                return [low, high]
            return _coerce(kind, value)
        except ValueError as exc:
            self.error(path, str(exc))
            return _BAD

    def exists(self, subject: _Subject) -> str:
        if subject.column is not None:
            # created_at always exists; a blank text column is "not set".
            return "TRUE" if subject.type == PropertyType.DATE else f"{subject.column} <> ''"
        key = self.param(subject.name)
        return f"coalesce(jsonb_typeof({subject.doc} -> {key}), 'null') <> 'null'"

    def compare(self, subject: _Subject, kind: str, op: str, value: Any) -> str:
        """The positive condition (eq, in, contains, gt..., between, within_days): never NULL, so
        that NOT of it is exactly its complement."""
        if subject.column is not None:
            return self.compare_column(subject, kind, op, value)
        doc = subject.doc
        if kind == PropertyType.DATE:
            text = self.date_text(subject)
            return f"coalesce({self.date_compare(text, op, value)}, false)"
        if op in ("eq", "in"):
            values = value if op == "in" else [value]
            # Containment, so the GIN (jsonb_path_ops) index on profile properties serves it.
            wrap = (lambda v: [v]) if kind == PropertyType.LIST else (lambda v: v)
            parts = [
                f"{doc} @> {self.param(json.dumps({subject.name: wrap(v)}))}::jsonb" for v in values
            ]
            return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"
        if op == "contains":
            holds = f"{doc} @> {self.param(json.dumps({subject.name: [value]}))}::jsonb"
            if kind == PropertyType.LIST:
                return holds
            if kind == "text_or_list":
                # Without a type: a list holding the value, or text containing it.
                if not isinstance(value, str):
                    return holds
                return f"({holds} OR {self.text_like(subject, value)})"
            return self.text_like(subject, value)
        # Numbers: gt, gte, lt, lte, between.
        key = self.param(subject.name)
        number = (
            f"CASE WHEN jsonb_typeof({doc} -> {key}) = 'number' THEN ({doc} ->> {key})::numeric END"
        )
        if op == "between":
            low, high = self.param(value[0]), self.param(value[1])
            return f"coalesce({number} BETWEEN {low} AND {high}, false)"
        return f"coalesce({number} {_SQL_COMPARE[op]} {self.param(value)}, false)"

    def text_like(self, subject: _Subject, value: Any) -> str:
        """Text containing the value, ignoring case (ILIKE, with % and _ taken literally)."""
        doc, key = subject.doc, self.param(subject.name)
        text = f"CASE WHEN jsonb_typeof({doc} -> {key}) = 'string' THEN {doc} ->> {key} END"
        return f"coalesce({text} ILIKE {self.param(_like_pattern(value))}, false)"

    def date_text(self, subject: _Subject) -> str:
        """The calendar date a date property holds (its first ten characters), or NULL."""
        doc, key = subject.doc, self.param(subject.name)
        return (
            f"CASE WHEN jsonb_typeof({doc} -> {key}) = 'string' "
            f"AND ({doc} ->> {key}) ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}' "
            f"THEN left({doc} ->> {key}, 10) END"
        )

    def date_compare(self, text: str, op: str, value: Any) -> str:
        """Dates as YYYY-MM-DD text compare in calendar order."""
        if op == "within_days":
            today = timezone.localdate(self.now, timezone.get_default_timezone())
            low, high = today.isoformat(), (today + dt.timedelta(days=value)).isoformat()
            return f"{text} BETWEEN {self.param(low)} AND {self.param(high)}"
        if op == "between":
            return f"{text} BETWEEN {self.param(value[0])} AND {self.param(value[1])}"
        if op == "in":
            return f"{text} = ANY({self.param(list(value))}::text[])"
        if op == "eq":
            return f"{text} = {self.param(value)}"
        return f"{text} {_SQL_COMPARE[op]} {self.param(value)}"

    def compare_column(self, subject: _Subject, kind: str, op: str, value: Any) -> str:
        column = subject.column
        if kind == PropertyType.DATE:
            # The day the profile was created, in HERALD_TIME_ZONE.
            zone = timezone.get_default_timezone_name()
            day = f"(({column} AT TIME ZONE {self.param(zone)})::date)::text"
            return self.date_compare(day, op, value)
        if op == "eq":
            return f"{column} = {self.param(value)}"
        if op == "in":
            return f"{column} = ANY({self.param(list(value))}::text[])"
        return f"{column} ILIKE {self.param(_like_pattern(value))}"

    # -- events ---------------------------------------------------------------------------------
    def event(self, node: dict[str, Any], path: str, *, negated: bool) -> str:
        predicates = [f"e.name = {self.param(node['event'])}"]
        predicates += self.window(node.get("window"))
        for i, item in enumerate(node.get("filters", [])):
            subject = _Subject(item["property"], "e.properties", None, None)
            predicates.append(self.property(subject, item, f"{path}.filters[{i}]", negated=False))
        count = node.get("count", {"op": "gte", "value": 1})
        op, n = count["op"], count["value"]
        # Every count becomes "in" or "not in" one set of profiles: at least n, or exactly n.
        if op == "gte" and n == 0:
            positive, at_least, exactly = True, None, None
        elif op == "gte":
            positive, at_least, exactly = True, n, None
        elif op == "lte":
            positive, at_least, exactly = False, n + 1, None
        elif n == 0:  # eq 0
            positive, at_least, exactly = False, 1, None
        else:
            positive, at_least, exactly = True, None, n
        positive = positive ^ (not node.get("did", True)) ^ negated
        if at_least is None and exactly is None:
            return "TRUE" if positive else "FALSE"
        where = " AND ".join(predicates)
        if at_least == 1:
            sql = f"EXISTS (SELECT 1 FROM audience_event e WHERE e.profile_id = p.id AND {where})"
            return sql if positive else f"NOT {sql}"
        having = (
            f"count(*) >= {self.param(at_least)}"
            if at_least
            else (f"count(*) = {self.param(exactly)}")
        )
        grouped = (
            f"SELECT e.profile_id FROM audience_event e WHERE {where} "
            f"GROUP BY e.profile_id HAVING {having}"
        )
        # EXISTS over the grouped set, not IN: at the top of the WHERE it is the same semi- or
        # anti-join; under an OR its fallback, when the set's hash would not fit in work_mem, is
        # one index look-up per profile (the join condition goes into the grouped query), where
        # IN's would rescan the whole set for every profile.
        exists = f"EXISTS (SELECT 1 FROM ({grouped}) c WHERE c.profile_id = p.id)"
        return exists if positive else f"NOT {exists}"

    def window(self, window: dict[str, Any] | None) -> list[str]:
        """`last_days: n` is the n x 24 hours up to now; `from`/`to` are whole days, both
        included, in HERALD_TIME_ZONE."""
        if not window:
            return []
        if "last_days" in window:
            start = self.now - dt.timedelta(days=window["last_days"])
            return [f"e.ts >= {self.param(start)}", f"e.ts <= {self.param(self.now)}"]
        zone = timezone.get_default_timezone()
        first = dt.date.fromisoformat(window["from"])
        last = dt.date.fromisoformat(window["to"])
        start = dt.datetime.combine(first, dt.time(), tzinfo=zone)
        predicates = [f"e.ts >= {self.param(start)}"]
        if last < dt.date.max:
            end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=zone)
            predicates.append(f"e.ts < {self.param(end)}")
        return predicates

    def sent(self, match: str, node: dict[str, Any], *, negated: bool) -> str:
        """Was sent a campaign with this label / this campaign: a Notification Sent event, whose
        label ids are those the campaign had at send time."""
        predicates = [f"e.name = {self.param(NOTIFICATION_SENT)}", match]
        predicates += self.window(node.get("window"))
        sql = (
            "EXISTS (SELECT 1 FROM audience_event e WHERE e.profile_id = p.id AND "
            + " AND ".join(predicates)
            + ")"
        )
        return f"NOT {sql}" if negated else sql


_BAD = object()


def _like_pattern(value: Any) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", str(value)) + "%"


_TYPE_WORDS = {
    PropertyType.STRING: "text",
    PropertyType.NUMBER: "number",
    PropertyType.BOOLEAN: "yes/no",
    PropertyType.DATE: "date",
    PropertyType.LIST: "list",
    "text_or_list": "text",
}


def _inferred_type(op: str, value: Any) -> str | None:
    """The type of a property without a definition (event properties, profile properties not seen
    yet), read from the value compared with."""
    if op == "within_days":
        return PropertyType.DATE
    sample = value[0] if isinstance(value, list) and value else value
    if op in ("contains", "not_contains"):
        return "text_or_list"
    if isinstance(sample, bool):
        return PropertyType.BOOLEAN
    if isinstance(sample, int | float):
        return PropertyType.NUMBER
    if op in _COMPARE:
        return PropertyType.DATE if _is_date(sample) else None
    return PropertyType.STRING


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or not _DATE_TEXT.match(value):
        return False
    try:
        dt.date.fromisoformat(value[:10])
    except ValueError:
        return False
    return True


def _coerce(kind: str, value: Any) -> Any:
    """The value as the property's type stores it, or ValueError saying what to give."""
    if kind in (PropertyType.STRING,):
        if isinstance(value, bool):
            raise ValueError("Give text.")
        return value if isinstance(value, str) else str(value)
    if kind == PropertyType.NUMBER:
        if isinstance(value, bool):
            raise ValueError("Give a number.")
        if isinstance(value, int | float):
            return value
        if isinstance(value, str) and _NUMBER_TEXT.match(value.strip()):
            text = value.strip()
            return float(text) if "." in text else int(text)
        raise ValueError("Give a number.")
    if kind == PropertyType.BOOLEAN:
        if isinstance(value, bool):
            return value
        raise ValueError("Give true or false.")
    if kind == PropertyType.DATE:
        if _is_date(value):
            return value[:10]
        raise ValueError("Give a date as YYYY-MM-DD.")
    # A list's element, or a value compared with text-or-list: any scalar.
    return value
