"""Who / What / When validation (campaigns/validation.py): what is accepted, and which field each
refusal names. Pure functions: no database. The JSON examples in docs/campaign-lifecycle.md are
validated here too, so the documented formats cannot drift from the schemas."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from campaigns.choices import CampaignType, Channel, Delivery
from campaigns.validation import (
    MAX_WHO_CONDITIONS,
    MAX_WHO_DEPTH,
    MESSAGE_SCHEMAS,
    WHEN_SCHEMAS,
    check_template,
    first_run_at,
    sms_segments,
    validate_campaign,
    validate_what,
    validate_when,
    validate_who,
    who_label_ids,
)
from config.errors import Invalid

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)  # a Monday


def group(*conditions: dict[str, Any], match: str = "all", **extra: Any) -> dict[str, Any]:
    return {"type": "group", "match": match, "conditions": list(conditions), **extra}


def prop(op: str, value: Any = ..., name: str = "city") -> dict[str, Any]:
    node: dict[str, Any] = {"type": "property", "property": name, "op": op}
    if value is not ...:
        node["value"] = value
    return node


def nested(depth: int) -> dict[str, Any]:
    """A Who tree whose innermost group sits at `depth` (the root group is depth 1)."""
    node = group(prop("eq", "Pune"))
    for _ in range(depth - 1):
        node = group(node)
    return node


# ------------------------------------------------------------------------------------------------
# Who
# ------------------------------------------------------------------------------------------------
VALID_WHO = {
    "everyone": group(),
    "property equals": group(prop("eq", "Pune")),
    "any of, negated": group(prop("in", ["Pune", "Goa"]), prop("exists"), match="any", negate=True),
    "between": group(prop("between", [18, 30], name="age")),
    "within days": group(prop("within_days", 30, name="signed_up")),
    "event with count and window": group(
        {
            "type": "event",
            "event": "Charged",
            "did": True,
            "count": {"op": "gte", "value": 2},
            "window": {"last_days": 30},
            "filters": [prop("gt", 100, name="amount")],
        }
    ),
    "did not do event between dates": group(
        {
            "type": "event",
            "event": "App Launched",
            "did": False,
            "window": {"from": "2026-01-01", "to": "2026-01-31"},
        }
    ),
    "was sent a label": group({"type": "label_sent", "label_id": 3, "window": {"last_days": 7}}),
    "was sent a campaign": group({"type": "campaign_sent", "campaign_id": 9}),
    f"{MAX_WHO_DEPTH} levels deep": nested(MAX_WHO_DEPTH),
    f"{MAX_WHO_CONDITIONS} conditions": group(*[prop("eq", i) for i in range(MAX_WHO_CONDITIONS)]),
}


@pytest.mark.parametrize("who", VALID_WHO.values(), ids=VALID_WHO.keys())
def test_valid_who_is_accepted(who: dict[str, Any]) -> None:
    assert validate_who(who) == {}


BAD_WHO: list[tuple[str, Any, str]] = [
    ("not an object", None, "who"),
    ("root is not a group", prop("eq", "Pune"), "who.type"),
    ("unknown match", group(match="most"), "who.match"),
    ("unknown node type", group({"type": "cohort"}), "who.conditions[0].type"),
    ("unknown operator", group(prop("like", "P%")), "who.conditions[0].op"),
    ("missing operator", group({"type": "property", "property": "city"}), "who.conditions[0].op"),
    ("unknown field", group({**prop("eq", 1), "extra": 2}), "who.conditions[0]"),
    ("eq without value", group(prop("eq")), "who.conditions[0].value"),
    ("exists with a value", group(prop("exists", 1)), "who.conditions[0].value"),
    ("in with a scalar", group(prop("in", "Pune")), "who.conditions[0].value"),
    ("in with an empty list", group(prop("in", [])), "who.conditions[0].value"),
    ("between with three values", group(prop("between", [1, 2, 3])), "who.conditions[0].value"),
    ("within_days zero", group(prop("within_days", 0)), "who.conditions[0].value"),
    ("within_days boolean", group(prop("within_days", True)), "who.conditions[0].value"),
    ("eq with a list", group(prop("eq", ["a"])), "who.conditions[0].value"),
    (
        "event filter without value",
        group({"type": "event", "event": "x", "filters": [prop("eq")]}),
        "who.conditions[0].filters[0].value",
    ),
    (
        "window with both forms",
        group(
            {
                "type": "event",
                "event": "x",
                "window": {"last_days": 3, "from": "2026-01-01", "to": "2026-01-02"},
            }
        ),
        "who.conditions[0].window",
    ),
    (
        "event window ends before it starts",
        group(
            {"type": "event", "event": "x", "window": {"from": "2026-02-01", "to": "2026-01-01"}}
        ),
        "who.conditions[0].window.to",
    ),
    (
        "label window ends before it starts",
        group(
            {
                "type": "label_sent",
                "label_id": 1,
                "window": {"from": "2026-02-01", "to": "2026-01-01"},
            }
        ),
        "who.conditions[0].window.to",
    ),
    (
        "campaign window ends before it starts",
        group(
            {
                "type": "campaign_sent",
                "campaign_id": 1,
                "window": {"from": "2026-02-01", "to": "2026-01-01"},
            }
        ),
        "who.conditions[0].window.to",
    ),
    (
        "window date that is not a date",
        group(
            {"type": "event", "event": "x", "window": {"from": "2026-02-30", "to": "2026-03-01"}}
        ),
        "who.conditions[0].window.from",
    ),
    ("label id zero", group({"type": "label_sent", "label_id": 0}), "who.conditions[0].label_id"),
    ("too deep", nested(MAX_WHO_DEPTH + 1), "who" + ".conditions[0]" * MAX_WHO_DEPTH),
    ("too many conditions", group(*[prop("eq", i) for i in range(MAX_WHO_CONDITIONS + 1)]), "who"),
]


@pytest.mark.parametrize(("case", "who", "field"), BAD_WHO, ids=[c for c, _, _ in BAD_WHO])
def test_invalid_who_names_the_field(case: str, who: Any, field: str) -> None:
    errors = validate_who(who)
    assert field in errors, errors


def test_who_label_ids_finds_labels_at_any_depth() -> None:
    who = group(
        {"type": "label_sent", "label_id": 4},
        group({"type": "label_sent", "label_id": 7}, prop("eq", 1)),
    )
    assert who_label_ids(who) == {4, 7}


# ------------------------------------------------------------------------------------------------
# What
# ------------------------------------------------------------------------------------------------
MINIMAL_MESSAGES: dict[Channel, dict[str, Any]] = {
    Channel.PUSH: {"title": "Hi {{ profile.first_name }}", "body": "Your order shipped."},
    Channel.IN_APP: {"title": "Sale", "body": "20% off today", "layout": "cover"},
    Channel.APP_INBOX: {"title": "News", "body": "Read it", "tags": ["offers"]},
    Channel.EMAIL: {"subject": "Hello", "from_email": "news@example.com", "html": "<p>Hi</p>"},
    Channel.WEB_PUSH: {
        "title": "Back in stock",
        "body": "Grab it",
        "url": "https://shop.example.com/p/1",
    },
    Channel.WEB_POPUP: {"title": "Join", "body": "Sign up"},
    Channel.WEB_EXIT_INTENT: {"title": "Wait", "body": "10% off"},
    Channel.NATIVE_DISPLAY: {"title": "Banner", "body": "New"},
    Channel.WEB_NATIVE_DISPLAY: {"title": "Banner", "body": "New"},
    Channel.WEBHOOK: {"url": "https://hooks.example.com/x", "method": "POST"},
    Channel.SMS: {"body": "Your code is {{ code }}"},
    Channel.WHATSAPP: {"template_name": "order_update", "language": "en"},
    Channel.FACEBOOK_AUDIENCE: {"audience_name": "Lapsed", "ad_account_id": "act_1"},
    Channel.GOOGLE_ADS: {"audience_name": "Lapsed", "ad_account_id": "123"},
    Channel.TIKTOK_AUDIENCE: {"audience_name": "Lapsed", "ad_account_id": "tt1"},
    Channel.PARTNER: {"partner": "acme"},
}


def test_every_channel_has_a_message_schema() -> None:
    assert set(MESSAGE_SCHEMAS) == set(Channel)
    assert set(MINIMAL_MESSAGES) == set(Channel)


@pytest.mark.parametrize("channel", list(Channel), ids=[c.value for c in Channel])
def test_a_minimal_message_is_valid_on_every_channel_and_type(channel: Channel) -> None:
    message = MINIMAL_MESSAGES[channel]
    assert validate_what(channel, CampaignType.SINGLE_MESSAGE, {"message": message}) == {}
    ab = {
        "variants": [
            {"name": "A", "split": 50, "message": message},
            {"name": "B", "split": 50, "message": message},
        ],
        "control_group": 10,
    }
    assert validate_what(channel, CampaignType.AB_TEST, ab) == {}
    by_property = {
        "property": "tier",
        "messages": [{"value": "gold", "message": message}],
        "default": message,
    }
    assert validate_what(channel, CampaignType.MESSAGE_ON_USER_PROPERTY, by_property) == {}


def _variants(*splits: int, names: str = "ABCDEFGHIJK") -> dict[str, Any]:
    message = MINIMAL_MESSAGES[Channel.PUSH]
    return {
        "variants": [
            {"name": names[i], "split": s, "message": message} for i, s in enumerate(splits)
        ]
    }


PUSH_MESSAGE = MINIMAL_MESSAGES[Channel.PUSH]
BAD_WHAT: list[tuple[str, str, str, Any, str]] = [
    ("not an object", "push", "single_message", None, "what"),
    ("no message", "push", "single_message", {}, "what.message"),
    ("missing body", "push", "single_message", {"message": {"title": "t"}}, "what.message.body"),
    (
        "empty title",
        "push",
        "single_message",
        {"message": {"title": "", "body": "b"}},
        "what.message.title",
    ),
    (
        "unknown field",
        "push",
        "single_message",
        {"message": {**PUSH_MESSAGE, "sound": "x"}},
        "what.message",
    ),
    (
        "bad deep link",
        "push",
        "single_message",
        {"message": {**PUSH_MESSAGE, "deep_link": "not a url"}},
        "what.message.deep_link",
    ),
    (
        "bad e-mail sender",
        "email",
        "single_message",
        {"message": {"subject": "s", "from_email": "nobody", "html": "h"}},
        "what.message.from_email",
    ),
    (
        "template that does not parse",
        "push",
        "single_message",
        {"message": {"title": "Hi {{ profile.name", "body": "b"}},
        "what.message.title",
    ),
    (
        "template error in a key-value",
        "push",
        "single_message",
        {"message": {**PUSH_MESSAGE, "custom_kv": {"k": "{% if %}"}}},
        "what.message.custom_kv",
    ),
    (
        "template error in a list",
        "app_inbox",
        "single_message",
        {"message": {"title": "t", "body": "b", "tags": ["{{ x"]}},
        "what.message.tags",
    ),
    ("splits add up to 90", "push", "ab_test", _variants(50, 40), "what.variants"),
    ("splits add up to 110", "push", "ab_test", _variants(60, 50), "what.variants"),
    ("a zero split", "push", "ab_test", _variants(0, 100), "what.variants[0].split"),
    ("a single variant", "push", "ab_test", _variants(100), "what.variants"),
    ("eleven variants", "push", "ab_test", _variants(*[9] * 10, 10), "what.variants"),
    ("same variant names", "push", "ab_test", _variants(50, 50, names="aA"), "what.variants"),
    (
        "control group too big",
        "push",
        "ab_test",
        {**_variants(50, 50), "control_group": 95},
        "what.control_group",
    ),
    (
        "template error in a variant",
        "push",
        "ab_test",
        {
            "variants": [
                {"name": "A", "split": 50, "message": {"title": "{{", "body": "b"}},
                {"name": "B", "split": 50, "message": PUSH_MESSAGE},
            ]
        },
        "what.variants[0].message.title",
    ),
    (
        "no default message",
        "push",
        "message_on_user_property",
        {"property": "tier", "messages": [{"value": "gold", "message": PUSH_MESSAGE}]},
        "what.default",
    ),
    (
        "two messages for one value",
        "push",
        "message_on_user_property",
        {
            "property": "tier",
            "default": PUSH_MESSAGE,
            "messages": [
                {"value": "Gold", "message": PUSH_MESSAGE},
                {"value": "gold", "message": PUSH_MESSAGE},
            ],
        },
        "what.messages",
    ),
]


@pytest.mark.parametrize(
    ("case", "channel", "kind", "what", "field"), BAD_WHAT, ids=[c[0] for c in BAD_WHAT]
)
def test_invalid_what_names_the_field(
    case: str, channel: str, kind: str, what: Any, field: str
) -> None:
    errors = validate_what(channel, kind, what)
    assert field in errors, errors


def test_split_error_says_what_the_splits_add_up_to() -> None:
    errors = validate_what("push", "ab_test", _variants(50, 40))
    assert errors == {"what.variants": ["Variant splits must add up to 100; they add up to 90."]}


def test_identifier_fields_are_not_parsed_as_templates() -> None:
    what = {"message": {"template_name": "{{ not a template", "language": "en"}}
    assert validate_what("whatsapp", "single_message", what) == {}


def test_check_template_reports_the_line() -> None:
    assert check_template("Hello {{ name }}") is None
    assert check_template("line one\n{% if x %}never closed").startswith(
        "Template error on line 2:"
    )


# ------------------------------------------------------------------------------------------------
# When
# ------------------------------------------------------------------------------------------------
VALID_WHEN: dict[str, tuple[Delivery, dict[str, Any]]] = {
    "send now": (Delivery.ONE_TIME, {"send": "now"}),
    "send later": (
        Delivery.ONE_TIME,
        {"send": "later", "start_at": "2026-07-01T09:00", "timezone": "Asia/Kolkata"},
    ),
    "on a date property": (
        Delivery.DATE_TIME,
        {"date_property": "birthday", "offset_days": -1, "send_time": "10:00"},
    ),
    "daily": (
        Delivery.RECURRING,
        {
            "start_at": "2026-07-01T00:00",
            "frequency": "daily",
            "send_time": "09:30",
            "end_after_runs": 10,
        },
    ),
    "weekly": (
        Delivery.RECURRING,
        {
            "start_at": "2026-07-01T00:00",
            "frequency": "weekly",
            "send_time": "09:30",
            "weekdays": ["mo", "th"],
            "end_at": "2026-12-31T00:00",
        },
    ),
    "monthly": (
        Delivery.RECURRING,
        {
            "start_at": "2026-07-01T00:00",
            "frequency": "monthly",
            "send_time": "09:30",
            "month_days": [1, 15],
            "end_after_runs": 6,
        },
    ),
    "multiple dates": (
        Delivery.MULTIPLE_DATES,
        {"dates": ["2026-07-01T09:00Z", "2026-08-01T09:00+05:30"]},
    ),
    "action": (Delivery.ACTION, {"trigger": {"event": "Added To Cart"}, "delay_minutes": 30}),
    "inaction": (
        Delivery.INACTION,
        {
            "trigger": {"event": "Added To Cart"},
            "absent_event": {"event": "Charged"},
            "window_minutes": 60,
        },
    ),
    "api": (Delivery.API, {}),
    "api with bounds": (
        Delivery.API,
        {"start_at": "2026-07-01T00:00Z", "end_at": "2026-07-02T00:00Z"},
    ),
}


def test_every_delivery_has_a_schedule_schema() -> None:
    assert set(WHEN_SCHEMAS) == set(Delivery)
    assert {d for d, _ in VALID_WHEN.values()} == set(Delivery)


@pytest.mark.parametrize(("delivery", "when"), VALID_WHEN.values(), ids=VALID_WHEN.keys())
def test_valid_when_is_accepted_and_publishable_before_its_times(
    delivery: Delivery, when: dict[str, Any]
) -> None:
    assert validate_when(delivery, when) == {}
    assert validate_when(delivery, when, for_publish=True, now=NOW) == {}


BAD_WHEN: list[tuple[str, Delivery, Any, str]] = [
    ("not an object", Delivery.ONE_TIME, None, "when"),
    ("later without a time", Delivery.ONE_TIME, {"send": "later"}, "when.start_at"),
    (
        "now with a time",
        Delivery.ONE_TIME,
        {"send": "now", "start_at": "2026-07-01T09:00"},
        "when.start_at",
    ),
    ("unknown send", Delivery.ONE_TIME, {"send": "soon"}, "when.send"),
    (
        "not a date",
        Delivery.ONE_TIME,
        {"send": "later", "start_at": "next tuesday"},
        "when.start_at",
    ),
    (
        "no such day",
        Delivery.ONE_TIME,
        {"send": "later", "start_at": "2027-02-30T10:00"},
        "when.start_at",
    ),
    (
        "unknown time zone",
        Delivery.ONE_TIME,
        {"send": "later", "start_at": "2026-07-01T09:00", "timezone": "Mars/Olympus"},
        "when.timezone",
    ),
    (
        "end on a one-time send",
        Delivery.ONE_TIME,
        {"send": "now", "end_at": "2026-07-01T09:00"},
        "when",
    ),
    (
        "12-hour send time",
        Delivery.RECURRING,
        {
            "start_at": "2026-07-01T00:00",
            "frequency": "daily",
            "send_time": "9:30",
            "end_after_runs": 1,
        },
        "when.send_time",
    ),
    (
        "weekly without weekdays",
        Delivery.RECURRING,
        {
            "start_at": "2026-07-01T00:00",
            "frequency": "weekly",
            "send_time": "09:30",
            "end_after_runs": 1,
        },
        "when.weekdays",
    ),
    (
        "daily with weekdays",
        Delivery.RECURRING,
        {
            "start_at": "2026-07-01T00:00",
            "frequency": "daily",
            "send_time": "09:30",
            "end_after_runs": 1,
            "weekdays": ["mo"],
        },
        "when.weekdays",
    ),
    (
        "weekly with days of the month",
        Delivery.RECURRING,
        {
            "start_at": "2026-07-01T00:00",
            "frequency": "weekly",
            "send_time": "09:30",
            "end_after_runs": 1,
            "weekdays": ["mo"],
            "month_days": [1],
        },
        "when.month_days",
    ),
    (
        "recurring without an end",
        Delivery.RECURRING,
        {"start_at": "2026-07-01T00:00", "frequency": "daily", "send_time": "09:30"},
        "when.end_at",
    ),
    (
        "end before start",
        Delivery.RECURRING,
        {
            "start_at": "2026-07-02T00:00",
            "end_at": "2026-07-01T00:00",
            "frequency": "daily",
            "send_time": "09:30",
        },
        "when.end_at",
    ),
    ("no dates", Delivery.MULTIPLE_DATES, {"dates": []}, "when.dates"),
    (
        "the same date twice",
        Delivery.MULTIPLE_DATES,
        {"dates": ["2026-07-01T09:00", "2026-07-01T09:00"]},
        "when.dates",
    ),
    (
        "a date that is not a date",
        Delivery.MULTIPLE_DATES,
        {"dates": ["2026-07-01T09:00", "2026-13-01T09:00"]},
        "when.dates[1]",
    ),
    ("action without trigger", Delivery.ACTION, {}, "when.trigger"),
    (
        "inaction on its own trigger",
        Delivery.INACTION,
        {"trigger": {"event": "x"}, "absent_event": {"event": "x"}, "window_minutes": 5},
        "when.absent_event.event",
    ),
    (
        "inaction without a window",
        Delivery.INACTION,
        {"trigger": {"event": "x"}, "absent_event": {"event": "y"}},
        "when.window_minutes",
    ),
    (
        "date property without send time",
        Delivery.DATE_TIME,
        {"date_property": "birthday"},
        "when.send_time",
    ),
]


@pytest.mark.parametrize(
    ("case", "delivery", "when", "field"), BAD_WHEN, ids=[c[0] for c in BAD_WHEN]
)
def test_invalid_when_names_the_field(case: str, delivery: Delivery, when: Any, field: str) -> None:
    errors = validate_when(delivery, when)
    assert field in errors, errors


PAST_WHEN: list[tuple[Delivery, dict[str, Any], str]] = [
    (Delivery.ONE_TIME, {"send": "later", "start_at": "2026-06-01T11:59Z"}, "when.start_at"),
    (
        Delivery.RECURRING,
        {
            "start_at": "2026-05-01T00:00Z",
            "frequency": "daily",
            "send_time": "09:00",
            "end_after_runs": 3,
        },
        "when.start_at",
    ),
    (Delivery.MULTIPLE_DATES, {"dates": ["2026-07-01T09:00Z", "2026-05-01T09:00Z"]}, "when.dates"),
    (
        Delivery.ACTION,
        {"trigger": {"event": "x"}, "start_at": "2026-05-01T00:00Z"},
        "when.start_at",
    ),
    (
        Delivery.INACTION,
        {
            "trigger": {"event": "x"},
            "absent_event": {"event": "y"},
            "window_minutes": 5,
            "start_at": "2026-05-01T00:00Z",
        },
        "when.start_at",
    ),
    (Delivery.API, {"start_at": "2026-05-01T00:00Z"}, "when.start_at"),
    (
        Delivery.DATE_TIME,
        {"date_property": "birthday", "send_time": "09:00", "start_at": "2026-05-01T00:00Z"},
        "when.start_at",
    ),
    (Delivery.API, {"end_at": "2026-05-01T00:00Z"}, "when.end_at"),
    # 14:00 in Kolkata is 08:30 UTC: already past at 12:00 UTC, although 14:00 UTC would not be.
    (
        Delivery.ONE_TIME,
        {"send": "later", "start_at": "2026-06-01T14:00", "timezone": "Asia/Kolkata"},
        "when.start_at",
    ),
]


@pytest.mark.parametrize(
    ("delivery", "when", "field"), PAST_WHEN, ids=[f"{d.value}-{f}" for d, _, f in PAST_WHEN]
)
def test_publishing_refuses_times_in_the_past(
    delivery: Delivery, when: dict[str, Any], field: str
) -> None:
    assert validate_when(delivery, when) == {}
    assert validate_when(delivery, when, for_publish=True, now=NOW)[field] == [
        "Every date must be in the future." if field == "when.dates" else "Must be in the future."
    ]


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


FIRST_RUNS: list[tuple[str, Delivery, dict[str, Any], dt.datetime | None]] = [
    ("send now is now", Delivery.ONE_TIME, {"send": "now"}, NOW),
    (
        "send later in its time zone",
        Delivery.ONE_TIME,
        {"send": "later", "start_at": "2026-06-02T09:00", "timezone": "Asia/Kolkata"},
        at("2026-06-02T03:30+00:00"),
    ),
    (
        "earliest of multiple dates",
        Delivery.MULTIPLE_DATES,
        {"dates": ["2026-08-01T09:00Z", "2026-07-01T09:00Z"]},
        at("2026-07-01T09:00+00:00"),
    ),
    (
        "daily, send time after the start time: same day",
        Delivery.RECURRING,
        {
            "start_at": "2026-06-02T08:00Z",
            "frequency": "daily",
            "send_time": "09:00",
            "end_after_runs": 3,
        },
        at("2026-06-02T09:00+00:00"),
    ),
    (
        "daily, send time before the start time: next day",
        Delivery.RECURRING,
        {
            "start_at": "2026-06-02T12:00Z",
            "frequency": "daily",
            "send_time": "09:00",
            "end_after_runs": 3,
        },
        at("2026-06-03T09:00+00:00"),
    ),
    (
        "weekly on Mondays from a Wednesday",
        Delivery.RECURRING,
        {
            "start_at": "2026-06-03T00:00Z",
            "frequency": "weekly",
            "weekdays": ["mo"],
            "send_time": "09:00",
            "end_after_runs": 3,
        },
        at("2026-06-08T09:00+00:00"),
    ),
    (
        "monthly on the 15th",
        Delivery.RECURRING,
        {
            "start_at": "2026-06-20T00:00Z",
            "frequency": "monthly",
            "month_days": [15],
            "send_time": "09:00",
            "end_after_runs": 3,
        },
        at("2026-07-15T09:00+00:00"),
    ),
    (
        "send time in the campaign's time zone",
        Delivery.RECURRING,
        {
            "start_at": "2026-06-02T00:00Z",
            "timezone": "Asia/Kolkata",
            "frequency": "daily",
            "send_time": "09:00",
            "end_after_runs": 3,
        },
        at("2026-06-02T09:00+05:30"),
    ),
    ("action without a start follows events", Delivery.ACTION, {"trigger": {"event": "x"}}, None),
    (
        "action with a start",
        Delivery.ACTION,
        {"trigger": {"event": "x"}, "start_at": "2026-06-05T00:00Z"},
        at("2026-06-05T00:00+00:00"),
    ),
    ("api without a start follows calls", Delivery.API, {}, None),
]


@pytest.mark.parametrize(
    ("case", "delivery", "when", "expected"), FIRST_RUNS, ids=[c[0] for c in FIRST_RUNS]
)
def test_first_run_at(
    case: str, delivery: Delivery, when: dict[str, Any], expected: dt.datetime | None
) -> None:
    assert validate_when(delivery, when, for_publish=True, now=NOW) == {}
    assert first_run_at(delivery, when, NOW) == expected


# ------------------------------------------------------------------------------------------------
# The whole campaign, and SMS segments.
# ------------------------------------------------------------------------------------------------
def test_validate_campaign_reports_every_section_at_once() -> None:
    with pytest.raises(Invalid) as caught:
        validate_campaign(
            channel="fax", type="poll", delivery="whenever", who={"type": "group"}, what={}, when={}
        )
    assert set(caught.value.errors) == {
        "channel",
        "type",
        "delivery",
        "who.match",
        "who.conditions",
    }
    assert caught.value.code == "invalid"


def test_validate_campaign_checks_what_against_the_channel() -> None:
    with pytest.raises(Invalid) as caught:
        validate_campaign(
            channel="sms",
            type="single_message",
            delivery="one_time",
            who=group(),
            what={"message": PUSH_MESSAGE},
            when={"send": "now"},
        )
    assert set(caught.value.errors) == {"what.message"}


SMS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "160 GSM-7 characters fit one segment",
        "a" * 160,
        {"encoding": "GSM-7", "characters": 160, "segments": 1},
    ),
    ("161 need two of 153", "a" * 161, {"encoding": "GSM-7", "characters": 161, "segments": 2}),
    (
        "extended characters count twice",
        "€" * 80,
        {"encoding": "GSM-7", "characters": 160, "segments": 1},
    ),
    (
        "70 UCS-2 characters fit one segment",
        "é" * 69 + "ж",
        {"encoding": "UCS-2", "characters": 70, "segments": 1},
    ),
    ("71 need two of 67", "ж" * 71, {"encoding": "UCS-2", "characters": 71, "segments": 2}),
    ("emoji take two units", "🎉" * 35, {"encoding": "UCS-2", "characters": 70, "segments": 1}),
]


@pytest.mark.parametrize(("case", "body", "expected"), SMS, ids=[c[0] for c in SMS])
def test_sms_segments(case: str, body: str, expected: dict[str, Any]) -> None:
    assert sms_segments(body) == expected


# ------------------------------------------------------------------------------------------------
# The documented JSON examples are valid.
# ------------------------------------------------------------------------------------------------
DOC = Path(__file__).resolve().parents[2] / "docs" / "campaign-lifecycle.md"
_EXAMPLE = re.compile(
    r"<!-- example: (?P<section>who|what|when)(?P<args>[^>]*)-->\s*```json\n(?P<json>.*?)```", re.S
)


def _doc_examples() -> list[tuple[str, dict[str, str], Any]]:
    found = []
    for m in _EXAMPLE.finditer(DOC.read_text(encoding="utf-8")):
        args = dict(pair.split("=", 1) for pair in m["args"].split())
        found.append((m["section"], args, json.loads(m["json"])))
    return found


def test_the_doc_has_an_example_for_every_section_type_and_delivery() -> None:
    examples = _doc_examples()
    assert {a["type"] for s, a, _ in examples if s == "what"} == set(CampaignType.values)
    assert {a["delivery"] for s, a, _ in examples if s == "when"} == set(Delivery.values)
    assert any(s == "who" for s, _, _ in examples)


@pytest.mark.parametrize("section,args,data", _doc_examples())
def test_documented_example_is_valid(section: str, args: dict[str, str], data: Any) -> None:
    if section == "who":
        assert validate_who(data) == {}
    elif section == "what":
        assert validate_what(args["channel"], args["type"], data) == {}
    else:
        assert validate_when(args["delivery"], data) == {}
