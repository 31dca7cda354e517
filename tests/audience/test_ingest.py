"""Profiles and events written by the ingestion services: partial acceptance, upsert and merge,
property types, consent, devices, idempotency and partitions on demand."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from audience import partitions
from audience.models import Device, Event, IngestRecord, Profile, PropertyDefinition
from audience.services import events_ingest, profiles_upsert
from audience.validation import MAX_BATCH
from config.errors import Invalid

pytestmark = pytest.mark.django_db


def iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def an_hour_ago() -> str:
    return iso(timezone.now() - dt.timedelta(hours=1))


def launch(identity: str = "u1", **fields):
    return {"identity": identity, "name": "App Launched", "ts": an_hour_ago(), **fields}


# --- events --------------------------------------------------------------------------------------
def test_events_are_written_and_unknown_identities_get_a_profile():
    Profile.objects.create(identity="known")
    result = events_ingest(
        [launch("known", properties={"build": 42}), launch("new-user")], source="test"
    )
    assert result.rejected == []
    assert [item["index"] for item in result.accepted] == [0, 1]
    events = {e.profile.identity: e for e in Event.objects.select_related("profile")}
    assert set(events) == {"known", "new-user"}
    assert events["known"].properties == {"build": 42}
    assert events["known"].name == "App Launched"
    assert result.accepted == [
        {"index": 0, "record_id": None, "duplicate": False},
        {"index": 1, "record_id": None, "duplicate": False},
    ]
    new = Profile.objects.get(identity="new-user")
    assert (new.email, new.properties, new.email_consent) == ("", {}, "unknown")


def test_valid_events_are_written_even_when_others_are_refused():
    records = [
        launch("a"),
        launch("b", ts="2999-01-01T00:00:00Z"),
        launch("c", name="Notification Sent"),
        launch("d", properties={"cart": {"items": 2}}),
        "not a record",
        launch("e"),
    ]
    result = events_ingest(records, source="test")
    assert [item["index"] for item in result.accepted] == [0, 5]
    assert [item["index"] for item in result.rejected] == [1, 2, 3, 4]
    assert result.rejected[0]["errors"] == {
        "ts": ["The time is more than 10 minutes ahead of Herald's clock."]
    }
    assert "properties.cart" in result.rejected[2]["errors"]
    assert sorted(Event.objects.values_list("profile__identity", flat=True)) == ["a", "e"]
    # A refused record leaves nothing behind: not even its profile.
    assert not Profile.objects.filter(identity__in=["b", "c", "d"]).exists()


def test_a_batch_over_the_limit_is_refused_whole():
    records = [launch(f"u{i}") for i in range(MAX_BATCH + 1)]
    with pytest.raises(Invalid) as caught:
        events_ingest(records, source="test")
    assert caught.value.errors["records"] == [
        "At most 1,000 records a request; this one has 1,001. Nothing was written: split the batch."
    ]
    assert not Event.objects.exists() and not Profile.objects.exists()


def test_a_batch_of_exactly_the_limit_is_accepted():
    result = events_ingest([launch(f"u{i % 10}") for i in range(MAX_BATCH)], source="test")
    assert len(result.accepted) == MAX_BATCH
    assert Event.objects.count() == MAX_BATCH
    assert Profile.objects.count() == 10


def test_the_same_batch_twice_counts_its_events_once():
    records = [launch("u1", record_id="r1"), launch("u2", record_id="r2"), launch("u3")]
    first = events_ingest(records, source="test")
    second = events_ingest(records, source="test")
    assert [item["duplicate"] for item in first.accepted] == [False, False, False]
    # Without a record id there is nothing to recognise a retry by.
    assert [item["duplicate"] for item in second.accepted] == [True, True, False]
    assert Event.objects.filter(profile__identity__in=["u1", "u2"]).count() == 2
    assert set(IngestRecord.objects.values_list("key", flat=True)) == {"r1", "r2"}


def test_a_retried_batch_with_new_records_adds_only_the_new_ones():
    events_ingest([launch("u1", record_id="r1"), launch("u2", record_id="r2")], source="test")
    retry = [
        launch("u1", record_id="r1"),
        launch("u2", record_id="r2"),
        launch("u3", record_id="r3"),
        launch("u4", record_id="r4"),
    ]
    result = events_ingest(retry, source="test")
    assert [(item["record_id"], item["duplicate"]) for item in result.accepted] == [
        ("r1", True),
        ("r2", True),
        ("r3", False),
        ("r4", False),
    ]
    assert Event.objects.count() == 4
    assert sorted(Event.objects.values_list("profile__identity", flat=True)) == [
        "u1",
        "u2",
        "u3",
        "u4",
    ]


def test_a_record_id_repeated_in_one_batch_is_written_once():
    result = events_ingest(
        [launch("u1", record_id="same"), launch("u2", record_id="same")], source="test"
    )
    assert [item["duplicate"] for item in result.accepted] == [False, True]
    assert list(Event.objects.values_list("profile__identity", flat=True)) == ["u1"]


def test_a_refused_record_does_not_use_up_its_record_id():
    bad = launch("u1", record_id="r1", ts="2999-01-01T00:00:00Z")
    assert events_ingest([bad], source="test").rejected
    fixed = events_ingest([launch("u1", record_id="r1")], source="test")
    assert fixed.accepted[0]["duplicate"] is False
    assert Event.objects.count() == 1


def _drop_partition(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'DROP TABLE IF EXISTS "{name}"')


def test_events_of_an_old_month_get_their_partition_on_demand():
    month = dt.date(2003, 2, 1)
    name = partitions.partition_name(month)
    _drop_partition(name)  # in the test's transaction: rolled back with it
    assert name not in partitions.existing()

    result = events_ingest(
        [launch("u1", ts="2003-02-14T10:00:00+01:00"), launch("u2", ts="2003-02-28T23:30:00Z")],
        source="test",
    )

    assert result.rejected == []
    assert name in partitions.existing()
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{name}"')  # noqa: S608 - our own name
        assert cursor.fetchone()[0] == 2


def test_events_across_months_land_in_each_month_partition():
    names = [partitions.partition_name(dt.date(2004, m, 1)) for m in (1, 2)]
    for name in names:
        _drop_partition(name)
    events_ingest(
        [launch("u1", ts="2004-01-31T23:59:59Z"), launch("u1", ts="2004-02-01T00:00:00Z")],
        source="test",
    )
    assert set(names) <= partitions.existing()


def test_event_timestamps_keep_their_instant():
    events_ingest([launch("u1", ts="2025-01-01T10:00:00+05:30")], source="test")
    assert Event.objects.get().ts == dt.datetime(2025, 1, 1, 4, 30, tzinfo=dt.UTC)


# --- profiles ------------------------------------------------------------------------------------
def upsert(*records):
    return profiles_upsert(list(records), source="test")


def test_profiles_are_created_with_every_field():
    result = upsert(
        {
            "identity": "u1",
            "email": "ada@example.com",
            "phone": "+44 20 7946 0958",
            "timezone": "Europe/London",
            "properties": {"plan": "pro", "age": 36, "vip": True, "tags": ["a"]},
            "consent": {"email": "opted_in", "sms": "opted_out"},
        }
    )
    profile = Profile.objects.get(identity="u1")
    assert result.accepted == [{"index": 0, "id": profile.pk, "identity": "u1", "created": True}]
    assert (profile.email, profile.phone, profile.timezone) == (
        "ada@example.com",
        "+442079460958",
        "Europe/London",
    )
    assert profile.properties == {"plan": "pro", "age": 36, "vip": True, "tags": ["a"]}
    assert (profile.email_consent, profile.email_unsubscribed_at) == ("opted_in", None)
    assert profile.sms_consent == "opted_out" and profile.sms_unsubscribed_at is not None
    assert profile.whatsapp_consent == "unknown"


def test_an_update_merges_properties_and_leaves_other_fields_alone():
    upsert(
        {
            "identity": "u1",
            "email": "ada@example.com",
            "timezone": "Europe/London",
            "properties": {"plan": "free", "age": 36, "city": "London"},
        }
    )
    result = upsert({"identity": "u1", "properties": {"plan": "pro", "city": None, "score": 1.5}})
    assert result.accepted[0]["created"] is False
    profile = Profile.objects.get(identity="u1")
    assert profile.properties == {"plan": "pro", "age": 36, "score": 1.5}
    assert (profile.email, profile.timezone) == ("ada@example.com", "Europe/London")


def test_null_or_blank_clears_a_field():
    upsert({"identity": "u1", "email": "ada@example.com", "phone": "+33612345678"})
    upsert({"identity": "u1", "email": None, "phone": ""})
    profile = Profile.objects.get(identity="u1")
    assert (profile.email, profile.phone) == ("", "")


def test_removing_a_property_of_a_new_profile_stores_nothing_for_it():
    upsert({"identity": "u1", "properties": {"gone": None, "kept": 1}})
    assert Profile.objects.get(identity="u1").properties == {"kept": 1}


def test_the_first_value_of_a_property_fixes_its_type():
    upsert({"identity": "u1", "properties": {"age": 36, "signed_up": "2025-04-30"}})
    types = dict(PropertyDefinition.objects.values_list("name", "type"))
    assert types == {"age": "number", "signed_up": "date"}

    result = upsert(
        {"identity": "u2", "properties": {"age": "thirty"}},
        {"identity": "u3", "properties": {"age": 40, "signed_up": "next week"}},
        {"identity": "u4", "properties": {"age": 41}},
    )
    assert [item["identity"] for item in result.accepted] == ["u4"]
    assert result.rejected == [
        {
            "index": 0,
            "errors": {
                "properties.age": [
                    "“age” is a number property (its first value fixed that); this value is text."
                ]
            },
        },
        {
            "index": 1,
            "errors": {
                "properties.signed_up": [
                    "“signed_up” is a date property (its first value fixed that); "
                    "this value is text."
                ]
            },
        },
    ]
    # A record refused for one property writes none of the others.
    assert not Profile.objects.filter(identity__in=["u2", "u3"]).exists()


def test_in_one_batch_the_first_accepted_record_defines_a_new_property():
    result = upsert(
        {"identity": "u1", "email": "not-an-email", "properties": {"level": "gold"}},
        {"identity": "u2", "properties": {"level": 3}},
        {"identity": "u3", "properties": {"level": "silver"}},
    )
    assert PropertyDefinition.objects.get(name="level").type == "number"
    assert [item["index"] for item in result.accepted] == [1]
    assert [item["index"] for item in result.rejected] == [0, 2]


def test_date_properties_are_stored_as_iso_text():
    upsert({"identity": "u1", "properties": {"seen": "2025-04-30T22:00:00-02:00"}})
    upsert({"identity": "u2", "properties": {"seen": "2025-05-02"}})
    assert Profile.objects.get(identity="u1").properties == {"seen": "2025-05-01T00:00:00+00:00"}
    assert Profile.objects.get(identity="u2").properties == {"seen": "2025-05-02"}


def test_a_string_property_takes_text_shaped_like_a_date_as_it_is():
    upsert({"identity": "u1", "properties": {"code": "ABC"}})
    result = upsert({"identity": "u2", "properties": {"code": "2025-02-30"}})
    assert result.rejected == []
    assert Profile.objects.get(identity="u2").properties == {"code": "2025-02-30"}


def test_unknown_property_types_are_refused():
    result = upsert({"identity": "u1", "properties": {"address": {"city": "Paris"}}})
    assert result.rejected == [
        {
            "index": 0,
            "errors": {
                "properties.address": [
                    "Objects are not a property type; use one property per field (address_city)."
                ]
            },
        }
    ]
    assert not Profile.objects.exists() and not PropertyDefinition.objects.exists()


def test_opting_out_stamps_the_time_and_opting_in_clears_it():
    upsert({"identity": "u1", "consent": {"email": "opted_out"}})
    first = Profile.objects.get(identity="u1").email_unsubscribed_at
    assert first is not None
    upsert({"identity": "u1", "consent": {"email": "opted_out", "whatsapp": "opted_out"}})
    profile = Profile.objects.get(identity="u1")
    assert profile.email_unsubscribed_at == first  # still the first time they opted out
    assert profile.whatsapp_unsubscribed_at is not None
    upsert({"identity": "u1", "consent": {"email": "opted_in"}})
    profile = Profile.objects.get(identity="u1")
    assert (profile.email_consent, profile.email_unsubscribed_at) == ("opted_in", None)
    assert profile.whatsapp_consent == "opted_out"


def test_devices_are_upserted_on_their_token():
    web = {
        "kind": "web_push",
        "platform": "firefox",
        "endpoint": "https://updates.push.services.mozilla.com/wpush/v2/abc",
        "keys": {
            "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQ",
            "auth": "tBHItJI5svbpez7KI4CCXg",
        },
    }
    upsert(
        {
            "identity": "u1",
            "devices": [{"kind": "push", "platform": "ios", "token": "tok-1"}, web],
        }
    )
    assert Device.objects.filter(profile__identity="u1").count() == 2
    subscription = Device.objects.get(kind="web_push")
    assert subscription.token == web["endpoint"] and subscription.keys == web["keys"]
    assert subscription.push_consent == "opted_in"

    # The phone changes hands: the token follows the new profile; consent changes only when given.
    Device.objects.filter(token="tok-1").update(
        disabled_at=timezone.now(), disabled_reason="unregistered", push_consent="opted_out"
    )
    upsert({"identity": "u2", "devices": [{"kind": "push", "token": "tok-1"}]})
    device = Device.objects.get(token="tok-1")
    assert device.profile.identity == "u2"
    assert (device.platform, device.push_consent) == ("ios", "opted_out")
    assert device.disabled_at is None and device.last_seen_at is not None
    upsert(
        {"identity": "u2", "devices": [{"kind": "push", "token": "tok-1", "consent": "opted_in"}]}
    )
    assert Device.objects.get(token="tok-1").push_consent == "opted_in"
    assert Device.objects.count() == 2


def test_records_of_the_same_identity_in_one_batch_apply_in_order():
    result = upsert(
        {"identity": "u1", "email": "first@example.com", "properties": {"a": 1, "b": 1}},
        {"identity": "u2"},
        {"identity": "u1", "email": "second@example.com", "properties": {"b": 2, "c": 3}},
        {"identity": "u1", "properties": {"a": None}},
    )
    assert [item["created"] for item in result.accepted] == [True, True, False, False]
    assert len({item["id"] for item in result.accepted if item["identity"] == "u1"}) == 1
    profile = Profile.objects.get(identity="u1")
    assert profile.email == "second@example.com"
    assert profile.properties == {"b": 2, "c": 3}


def test_a_device_named_twice_in_a_batch_ends_with_the_last_record():
    upsert(
        {"identity": "u1", "devices": [{"kind": "push", "token": "tok"}]},
        {"identity": "u2", "devices": [{"kind": "push", "token": "tok", "platform": "android"}]},
    )
    device = Device.objects.get()
    assert (device.profile.identity, device.platform) == ("u2", "android")


def test_profile_batches_over_the_limit_are_refused_whole():
    with pytest.raises(Invalid):
        profiles_upsert([{"identity": str(i)} for i in range(MAX_BATCH + 1)], source="test")
    assert not Profile.objects.exists()


def test_a_profile_batch_of_the_limit_takes_a_few_statements(django_assert_max_num_queries):
    records = [
        {"identity": f"u{i}", "email": f"u{i}@example.com", "properties": {"n": i}}
        for i in range(MAX_BATCH)
    ]
    upsert({"identity": "u0", "properties": {"n": 0}})
    # Definitions read, updated, inserted: not one statement per record.
    with django_assert_max_num_queries(10):
        result = profiles_upsert(records, source="test")
    assert len(result.accepted) == MAX_BATCH
    assert Profile.objects.count() == MAX_BATCH


def test_text_with_tabs_newlines_and_backslashes_is_stored_as_sent():
    name = "Said\t“hi”\\n\nthen left"
    properties = {"path": "C:\\temp\\new", "note": "line 1\nline 2\ttab\r", "quote": '"\\"'}
    result = events_ingest([launch("u1", name=name, properties=properties)], source="test")
    assert result.rejected == []
    event = Event.objects.get()
    assert (event.name, event.properties) == (name, properties)


def test_a_refused_record_defines_no_property():
    result = upsert(
        {"identity": "u1", "properties": {"tier": 1}},
        # Refused for "tier" (a number now): its new "color" is not defined by it.
        {"identity": "u2", "properties": {"color": "red", "tier": "gold"}},
        {"identity": "u3", "properties": {"color": 7}},
    )
    assert [item["index"] for item in result.accepted] == [0, 2]
    assert dict(PropertyDefinition.objects.values_list("name", "type")) == {
        "tier": "number",
        "color": "number",
    }


def test_a_batch_spanning_years_gets_every_month_it_needs_and_no_other():
    months = [dt.date(2006, 1, 1), dt.date(2006, 2, 1), dt.date(2006, 3, 1), dt.date(2009, 7, 1)]
    for month in months:
        _drop_partition(partitions.partition_name(month))
    events_ingest(
        [
            launch("u1", ts="2006-01-31T23:00:00-02:00"),  # February in UTC
            launch("u1", ts="2009-07-04T12:00:00Z"),
            launch("u1", ts="2006-03-01T00:00:00Z"),
        ],
        source="test",
    )
    have = partitions.existing()
    assert {partitions.partition_name(m) for m in months} & have == {
        partitions.partition_name(dt.date(2006, 2, 1)),
        partitions.partition_name(dt.date(2006, 3, 1)),
        partitions.partition_name(dt.date(2009, 7, 1)),
    }
