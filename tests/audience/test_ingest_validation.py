"""Each field of an ingested record, good and bad, checked on its own (no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from audience.models import PropertyType
from audience.validation import (
    DATE_LIKE,
    MAX_LIST_ITEMS,
    MAX_PROPERTIES,
    MAX_TEXT,
    EventRecord,
    FieldInvalid,
    ProfileRecord,
    clean_event,
    clean_profile,
    typed_value,
)

NOW = dt.datetime(2025, 5, 1, 12, 0, tzinfo=dt.UTC)


def event(**fields):
    record = {"identity": "u1", "name": "Product Viewed", "ts": "2025-05-01T11:00:00Z"}
    record.update(fields)
    return clean_event({k: v for k, v in record.items() if v is not ...}, 0, now=NOW)


def event_errors(**fields):
    result = event(**fields)
    assert isinstance(result, dict), f"expected errors, got {result}"
    return result


# --- events --------------------------------------------------------------------------------------
def test_a_valid_event_is_cleaned():
    result = event(
        properties={"sku": "A-1", "price": 9.5, "tags": ["new", 2, True]}, record_id="r1"
    )
    assert isinstance(result, EventRecord)
    assert result.identity == "u1" and result.name == "Product Viewed"
    assert result.ts == dt.datetime(2025, 5, 1, 11, 0, tzinfo=dt.UTC)
    assert result.properties == '{"sku":"A-1","price":9.5,"tags":["new",2,true]}'
    assert result.record_id == "r1"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(" u1 ", "u1"), (42, "42"), ("x" * 200, "x" * 200)],
)
def test_event_identity_accepts_text_and_whole_numbers(value, expected):
    assert event(identity=value).identity == expected


@pytest.mark.parametrize("value", [..., None, "", "   ", True, 4.5, "x" * 201, ["u1"], "a\x00b"])
def test_event_identity_must_be_given_as_text(value):
    assert "identity" in event_errors(identity=value)


@pytest.mark.parametrize("value", [..., "", 5, "x" * 121])
def test_event_name_is_1_to_120_characters(value):
    assert "name" in event_errors(name=value)


@pytest.mark.parametrize(
    "value",
    ["Notification Sent", "Notification Viewed", "Notification Clicked", "notification sent"],
)
def test_system_event_names_are_refused(value):
    assert event_errors(name=value)["name"] == [
        f"“{value}” is a system event: only Herald records it."
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-05-01T11:00:00Z", dt.datetime(2025, 5, 1, 11, tzinfo=dt.UTC)),
        ("2025-05-01T13:00:00+02:00", dt.datetime(2025, 5, 1, 11, tzinfo=dt.UTC)),
        ("2025-05-01T11:59:59.123456+00:00", dt.datetime(2025, 5, 1, 11, 59, 59, 123456, dt.UTC)),
        ("2000-01-01T00:00:00Z", dt.datetime(2000, 1, 1, tzinfo=dt.UTC)),
        # Clients' clocks drift: up to 10 minutes ahead is fine.
        ("2025-05-01T12:09:59Z", dt.datetime(2025, 5, 1, 12, 9, 59, tzinfo=dt.UTC)),
    ],
)
def test_event_time_is_iso_8601_with_a_time_zone(value, expected):
    assert event(ts=value).ts == expected


def test_event_time_defaults_to_now():
    assert event(ts=...).ts == NOW


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2025-05-01T11:00:00", "Give the time zone too"),
        ("2025-05-01", "Give the time zone too"),
        ("yesterday", "is not an ISO 8601 date-time"),
        ("2025-13-01T00:00:00Z", "is not an ISO 8601 date-time"),
        (1714560000, "Give the time as ISO 8601 text"),
        ("1999-12-31T23:59:59Z", "before 2000-01-01"),
        ("2025-05-01T12:10:01Z", "more than 10 minutes ahead"),
        ("2030-01-01T00:00:00Z", "more than 10 minutes ahead"),
    ],
)
def test_event_time_is_refused_when_unreadable_or_out_of_range(value, message):
    (error,) = event_errors(ts=value)["ts"]
    assert message in error


@pytest.mark.parametrize(
    "properties",
    [None, {}, {"a": None, "b": "", "c": 0, "d": -1.5, "e": False, "f": [], "g": ["x", 1, 2.5]}],
)
def test_event_properties_are_a_flat_object(properties):
    assert isinstance(event(properties=properties), EventRecord)


@pytest.mark.parametrize(
    ("properties", "field"),
    [
        ({"address": {"city": "Paris"}}, "properties.address"),
        ({"items": [{"sku": "A"}]}, "properties.items"),
        ({"items": [["nested"]]}, "properties.items"),
        ({"items": [None]}, "properties.items"),
        ({"items": list(range(MAX_LIST_ITEMS + 1))}, "properties.items"),
        ({"note": "x" * (MAX_TEXT + 1)}, "properties.note"),
        ({"note": "a\x00b"}, "properties.note"),
        ({"big": float("inf")}, "properties.big"),
        ({"": 1}, "properties"),
        ({f"p{i}": i for i in range(MAX_PROPERTIES + 1)}, "properties"),
        (["not", "an", "object"], "properties"),
        ("text", "properties"),
        ({"bad": "\ud800"}, "properties"),
    ],
)
def test_event_properties_refuse_what_cannot_be_stored(properties, field):
    assert field in event_errors(properties=properties)


@pytest.mark.parametrize("value", ["", "x" * 201, 1.5, {"id": 1}])
def test_event_record_id_is_1_to_200_characters(value):
    assert "record_id" in event_errors(record_id=value)


def test_event_record_id_may_be_a_number():
    assert event(record_id=7).record_id == "7"


def test_unknown_event_fields_are_named():
    errors = event_errors(timestamp="2025-05-01T11:00:00Z")
    assert errors == {
        "timestamp": ["Unknown field; the fields are identity, name, properties, record_id, ts."]
    }


@pytest.mark.parametrize("record", [None, "u1", 5, ["u1", "Launched"]])
def test_a_record_that_is_not_an_object_is_refused(record):
    assert clean_event(record, 0, now=NOW) == {
        "non_field_errors": ["Each record must be a JSON object."]
    }
    assert clean_profile(record, 0) == {"non_field_errors": ["Each record must be a JSON object."]}


def test_every_bad_field_of_an_event_is_reported_at_once():
    errors = event_errors(identity="", name="Notification Sent", ts="soon", properties={"a": {}})
    assert set(errors) == {"identity", "name", "ts", "properties.a"}


# --- profiles ------------------------------------------------------------------------------------
def profile(**fields):
    return clean_profile({"identity": "u1", **fields}, 0)


def profile_errors(**fields):
    result = profile(**fields)
    assert isinstance(result, dict), f"expected errors, got {result}"
    return result


def test_a_profile_with_only_an_identity_changes_nothing_else():
    result = profile()
    assert isinstance(result, ProfileRecord)
    assert (result.email, result.phone, result.timezone) == (None, None, None)
    assert result.properties == {} and result.consent == {} and result.devices == []


@pytest.mark.parametrize("value", [..., "", None, False, "x" * 201])
def test_profile_identity_is_required(value):
    record = {} if value is ... else {"identity": value}
    assert "identity" in clean_profile(record, 0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ada@example.com", "ada@example.com"),
        (" ada@example.com ", "ada@example.com"),
        ("", ""),
        (None, ""),
    ],
)
def test_profile_email_is_validated_and_blank_clears_it(value, expected):
    assert profile(email=value).email == expected


@pytest.mark.parametrize("value", ["ada", "ada@", "@example.com", "a b@example.com", 5])
def test_profile_email_refuses_garbage(value):
    assert "email" in profile_errors(email=value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+44 20 7946 0958", "+442079460958"),
        ("0044 20 7946 0958", "+442079460958"),
        ("+1 (415) 555-0123", "+14155550123"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("", ""),
    ],
)
def test_profile_phone_is_normalised_to_e164(value, expected):
    assert profile(phone=value).phone == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("020 7946 0958", "international format"),
        ("call me", "international format"),
        ("+12", "is not a phone number"),
        ("+999 1234567", "is not a phone number"),
        ("+1 000 000 0000", "is not a valid phone number"),
        ("+44 20 7946 0958 1234", "is not a valid phone number"),
        (4420794609, "as text"),
    ],
)
def test_profile_phone_refuses_garbage(value, message):
    (error,) = profile_errors(phone=value)["phone"]
    assert message in error


@pytest.mark.parametrize("value", ["Europe/Paris", "America/New_York", "UTC", "Asia/Kolkata"])
def test_profile_timezone_is_an_iana_name(value):
    assert profile(timezone=value).timezone == value


@pytest.mark.parametrize("value", ["Mars/Olympus_Mons", "europe/paris", "+02:00", "CEST", 2])
def test_profile_timezone_refuses_other_names(value):
    assert "timezone" in profile_errors(timezone=value)


@pytest.mark.parametrize(
    ("value", "kind", "stored"),
    [
        ("pro", PropertyType.STRING, "pro"),
        (3, PropertyType.NUMBER, 3),
        (2.5, PropertyType.NUMBER, 2.5),
        (True, PropertyType.BOOLEAN, True),
        ("2025-04-30", PropertyType.DATE, "2025-04-30"),
        ("2025-04-30T22:00:00-02:00", PropertyType.DATE, "2025-05-01T00:00:00+00:00"),
        ("2025-04-30T10:00:00Z", PropertyType.DATE, "2025-04-30T10:00:00+00:00"),
        (["a", "b"], PropertyType.LIST, ["a", "b"]),
        ("2025-02-30", DATE_LIKE, "2025-02-30"),
        ("2025-04-30T10:00:00", DATE_LIKE, "2025-04-30T10:00:00"),
    ],
)
def test_profile_property_values_are_typed(value, kind, stored):
    result = profile(properties={"p": value}).properties["p"]
    assert (result.kind, result.stored) == (kind, stored)


def test_profile_property_null_removes_it():
    assert profile(properties={"plan": None}).removed == ["plan"]


@pytest.mark.parametrize(
    "value",
    [{"city": "Paris"}, [{"a": 1}], [["a"]], [None], "x" * (MAX_TEXT + 1), "\x00"],
)
def test_profile_property_refuses_unsupported_values(value):
    assert "properties.p" in profile_errors(properties={"p": value})


@pytest.mark.parametrize(
    ("value", "defined", "stored"),
    [
        ("2025-04-30", PropertyType.STRING, "2025-04-30"),
        ("2025-04-30T10:00:00+02:00", PropertyType.STRING, "2025-04-30T10:00:00+02:00"),
        ("2025-02-30", PropertyType.STRING, "2025-02-30"),
        ("2025-04-30T10:00:00+02:00", PropertyType.DATE, "2025-04-30T08:00:00+00:00"),
        (5, PropertyType.NUMBER, 5),
    ],
)
def test_a_value_fits_its_property_type(value, defined, stored):
    item = profile(properties={"p": value}).properties["p"]
    assert typed_value("p", item, defined) == stored


@pytest.mark.parametrize(
    ("value", "defined", "message"),
    [
        (
            "5",
            PropertyType.NUMBER,
            "“p” is a number property (its first value fixed that); this value is text.",
        ),
        (
            5,
            PropertyType.STRING,
            "“p” is a string property (its first value fixed that); this value is a number.",
        ),
        (True, PropertyType.NUMBER, "this value is true/false."),
        ("soon", PropertyType.DATE, "this value is text."),
        ("2025-02-30", PropertyType.DATE, "“2025-02-30” is not a valid date"),
        ("2025-02-30", None, "“2025-02-30” is not a valid date"),
        (["a"], PropertyType.STRING, "this value is a list."),
    ],
)
def test_a_value_of_another_type_is_refused(value, defined, message):
    item = profile(properties={"p": value}).properties["p"]
    with pytest.raises(FieldInvalid, match=message.replace("(", r"\(").replace(")", r"\)")):
        typed_value("p", item, defined)


def test_profile_consent_is_given_per_channel():
    result = profile(consent={"email": "opted_in", "sms": "opted_out", "whatsapp": "opted_in"})
    assert result.consent == {"email": "opted_in", "sms": "opted_out", "whatsapp": "opted_in"}


@pytest.mark.parametrize(
    ("consent", "field"),
    [
        ({"email": "yes"}, "consent.email"),
        ({"email": "unknown"}, "consent.email"),
        ({"push": "opted_in"}, "consent.push"),
        ({"fax": "opted_in"}, "consent.fax"),
        ("opted_in", "consent"),
    ],
)
def test_profile_consent_refuses_other_values(consent, field):
    assert field in profile_errors(consent=consent)


def test_profile_devices_push_and_web_push():
    result = profile(
        devices=[
            {"kind": "push", "platform": "ios", "token": "tok-1"},
            {
                "kind": "web_push",
                "platform": "chrome",
                "endpoint": "https://fcm.googleapis.com/fcm/send/abc",
                "keys": {"p256dh": "BOr_x-1=", "auth": "k8JV6sjdbhAi"},
                "consent": "opted_out",
            },
        ]
    )
    push, web = result.devices
    assert (push.kind, push.token, push.platform, push.keys, push.consent) == (
        "push",
        "tok-1",
        "ios",
        {},
        None,
    )
    assert web.token == "https://fcm.googleapis.com/fcm/send/abc"
    assert web.keys == {"p256dh": "BOr_x-1=", "auth": "k8JV6sjdbhAi"}
    assert web.consent == "opted_out"


@pytest.mark.parametrize(
    ("device", "field"),
    [
        ({"kind": "sms", "token": "x"}, "devices[0].kind"),
        ({"token": "x"}, "devices[0].kind"),
        ({"kind": "push"}, "devices[0].token"),
        ({"kind": "push", "token": "x" * 2049}, "devices[0].token"),
        ({"kind": "push", "token": "x", "endpoint": "https://e"}, "devices[0].endpoint"),
        ({"kind": "push", "token": "x", "consent": "maybe"}, "devices[0].consent"),
        ({"kind": "push", "token": "x", "platform": "p" * 33}, "devices[0].platform"),
        (
            {
                "kind": "web_push",
                "endpoint": "http://push.example.com/x",
                "keys": {"p256dh": "a", "auth": "b"},
            },
            "devices[0].endpoint",
        ),
        ({"kind": "web_push", "endpoint": "https://push.example.com/x"}, "devices[0].keys"),
        (
            {"kind": "web_push", "endpoint": "https://push.example.com/x", "keys": {"p256dh": "a"}},
            "devices[0].keys.auth",
        ),
        (
            {
                "kind": "web_push",
                "endpoint": "https://push.example.com/x",
                "keys": {"p256dh": "a b", "auth": "c"},
            },
            "devices[0].keys.p256dh",
        ),
        ("tok", "devices[0]"),
    ],
)
def test_profile_devices_refuse_bad_ones(device, field):
    assert field in profile_errors(devices=[device])


def test_profile_devices_are_a_short_list():
    assert "devices" in profile_errors(devices={"kind": "push"})
    assert "devices" in profile_errors(
        devices=[{"kind": "push", "token": str(i)} for i in range(21)]
    )


def test_unknown_profile_fields_are_named():
    assert "emial" in profile_errors(emial="ada@example.com")
