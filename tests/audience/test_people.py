"""Find People: the search (identity exact or prefix, e-mail ignoring case, phone in E.164), a
profile's typed properties and reachability, and its timeline, keyset-paged, with every
Notification Sent showing its campaign and the labels as they were at send time."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.utils import timezone

from audience import partitions
from audience.models import Device, Profile, PropertyDefinition
from audience.people import (
    decode_cursor,
    encode_cursor,
    normalise_phone,
    profile_properties,
    reachability,
    search_profiles,
    timeline,
)
from audience.services import record_notification_sent
from campaigns.choices import Status
from config.errors import Invalid
from labels.services import label_delete, label_rename

pytestmark = pytest.mark.django_db


def add_event(profile: Profile, name: str, ts: dt.datetime, **properties) -> None:
    partitions.ensure_for([ts])
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audience_event (profile_id, name, ts, properties) "
            "VALUES (%s, %s, %s, %s::jsonb)",
            [profile.pk, name, ts, json.dumps(properties)],
        )


@pytest.fixture
def people():
    rows = [
        ("u-100", "Maya@Example.com", "+12025550143"),
        ("u-1000", "omar@example.com", ""),
        ("u-1001", "", "+442079460123"),
        ("u-2", "other@example.com", ""),
        ("x-u-100", "", ""),
    ]
    return {
        identity: Profile.objects.create(identity=identity, email=email, phone=phone)
        for identity, email, phone in rows
    }


def identities(query: str) -> list[str]:
    return [p.identity for p in search_profiles(query).profiles]


# ---------------------------------------------------------------------------------------------
# Search
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("u-100", ["u-100", "u-1000", "u-1001"]),  # exact first, then the prefix matches
        ("u-1000", ["u-1000"]),
        ("  u-1001 ", ["u-1001"]),  # trimmed
        ("u-", ["u-100", "u-1000", "u-1001", "u-2"]),  # prefix only: not x-u-100
        ("U-100", []),  # identities are case-sensitive (they are the app's ids)
        ("maya@example.com", ["u-100"]),  # e-mail ignoring case
        ("MAYA@EXAMPLE.COM", ["u-100"]),
        ("maya@example", []),  # e-mail is exact
        ("+1 202-555-0143", ["u-100"]),  # phone normalised to E.164
        ("001 (202) 555 0143", ["u-100"]),
        ("+44 20 7946 0123", ["u-1001"]),
        ("2025550143", []),  # no country code: not guessed
        ("nobody", []),
        ("%", []),  # LIKE wildcards are plain characters
        ("_-100", []),
    ],
)
def test_search_matches_identity_prefix_email_and_phone(people, query, expected):
    assert identities(query) == expected


def test_an_email_match_comes_before_other_prefix_matches(people):
    Profile.objects.create(identity="maya@example.com.old")

    assert identities("maya@example.com") == ["u-100", "maya@example.com.old"]


def test_a_short_prefix_is_cut_at_the_limit_and_says_so(db):
    Profile.objects.bulk_create(Profile(identity=f"p{i:03d}") for i in range(60))

    result = search_profiles("p", limit=50)

    assert len(result.profiles) == 50 and result.more
    assert result.profiles[0].identity == "p000" and result.profiles[-1].identity == "p049"


def test_empty_and_unprintable_queries_find_nothing(people):
    assert search_profiles("   ").profiles == []
    assert search_profiles("u-\x00").profiles == []


def test_the_search_is_two_index_queries(people, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        search_profiles("maya@example.com")


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+1 (202) 555-0143", "+12025550143"),
        ("0044 20 7946 0123", "+442079460123"),
        ("+44 (0)20 7946 0123", "+442079460123"),
        ("202 555 0143", None),
        ("+1 555", None),
        ("hello", None),
    ],
)
def test_phone_queries_are_read_as_e164(raw, e164):
    assert normalise_phone(raw) == e164


# ---------------------------------------------------------------------------------------------
# Properties and reachability
# ---------------------------------------------------------------------------------------------
def test_properties_are_listed_with_their_types(db):
    for name, kind in [("age", "number"), ("vip", "boolean"), ("tags", "list"), ("since", "date")]:
        PropertyDefinition.objects.create(name=name, type=kind)
    profile = Profile.objects.create(
        identity="u1",
        properties={
            "age": 31.0,
            "vip": False,
            "tags": ["a", "b"],
            "since": "2024-05-01",
            "Team": "Arsenal",
        },
    )

    rows = {row.name: (row.type, row.text) for row in profile_properties(profile)}

    assert rows == {
        "age": ("number", "31"),
        "vip": ("boolean", "No"),
        "tags": ("list", "a, b"),
        "since": ("date", "2024-05-01"),
        "Team": ("string", "Arsenal"),
    }
    assert [row.name for row in profile_properties(profile)] == [
        "age",
        "since",
        "tags",
        "Team",
        "vip",
    ]


def test_reachability_per_channel_follows_consent(db):
    now = timezone.now()
    profile = Profile.objects.create(
        identity="u1",
        email="u1@example.com",
        email_consent="unknown",
        phone="+12025550143",
        sms_consent="opted_in",
        whatsapp_consent="opted_out",
        whatsapp_unsubscribed_at=now,
    )
    Device.objects.create(profile=profile, kind="push", token="t1", platform="android")
    Device.objects.create(
        profile=profile, kind="push", token="t2", disabled_at=now, disabled_reason="UNREGISTERED"
    )
    Device.objects.create(
        profile=profile,
        kind="web_push",
        token="https://push.example.com/1",
        push_consent="opted_out",
    )

    reach = {item.channel: item for item in reachability(profile)}

    assert {c: r.reachable for c, r in reach.items()} == {
        "email": True,  # no consent given is fine for e-mail
        "sms": True,
        "whatsapp": False,
        "push": True,  # one of its two devices
        "web_push": False,
    }
    assert reach["whatsapp"].unsubscribed_at == now
    assert reach["push"].detail == "1 of 2 devices can receive it."
    assert len(reach["push"].devices) == 2


def test_a_profile_without_contact_details_is_reachable_nowhere(db):
    profile = Profile.objects.create(identity="u1", sms_consent="opted_in")

    reach = {item.channel: item for item in reachability(profile)}

    assert not any(item.reachable for item in reach.values())
    assert reach["email"].detail == "No e-mail address."
    assert reach["sms"].detail == "No phone number."


def test_the_profile_page_and_the_estimate_count_the_same_people_reachable(db):
    """The rule is written twice, in Python for the page's reasons and in SQL for counting:
    every combination of address, consent and unsubscription must agree."""
    import itertools

    from audience.segments import estimate

    now = timezone.now()
    combos = itertools.product(
        ["", "a@example.com"], ["unknown", "opted_in", "opted_out"], [None, now]
    )
    for i, (address, consent, unsubscribed_at) in enumerate(combos):
        profile = Profile.objects.create(
            identity=f"u{i}",
            email=address,
            email_consent=consent,
            email_unsubscribed_at=unsubscribed_at,
            phone=address and "+12025550143",
            sms_consent=consent,
            sms_unsubscribed_at=unsubscribed_at,
            whatsapp_consent=consent,
            whatsapp_unsubscribed_at=unsubscribed_at,
        )
        for kind, push_consent, disabled_at in itertools.product(
            ["push", "web_push"], ["opted_in", "opted_out"], [None, now]
        ):
            if (i + len(kind) + len(push_consent) + (disabled_at is None)) % 3:
                Device.objects.create(
                    profile=profile,
                    kind=kind,
                    token=f"{kind}-{i}-{push_consent}-{disabled_at is None}",
                    push_consent=push_consent,
                    disabled_at=disabled_at,
                )

    page = {}
    for profile in Profile.objects.all():
        for item in reachability(profile):
            page[item.channel] = page.get(item.channel, 0) + item.reachable
    everyone = {"type": "group", "match": "all", "conditions": []}

    assert estimate(everyone)["reachable"] == page
    assert 0 < page["email"] < Profile.objects.count()


# ---------------------------------------------------------------------------------------------
# The timeline
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def sent_profile(campaign_factory, label_factory):
    """A profile sent the "Welcome" campaign (labelled Onboarding and Promo) on 2 March, with an
    app launch on either side."""
    profile = Profile.objects.create(identity="u1")
    campaign = campaign_factory(name="Welcome", status=Status.RUNNING)
    onboarding, promo = label_factory(name="Onboarding"), label_factory(name="Promo")
    campaign.labels.add(onboarding, promo)
    add_event(profile, "App Launched", dt.datetime(2025, 3, 1, 9, tzinfo=dt.UTC))
    record_notification_sent(
        profile_id=profile.pk,
        campaign=campaign,
        channel="push",
        variant="B",
        ts=dt.datetime(2025, 3, 2, 9, tzinfo=dt.UTC),
    )
    add_event(profile, "App Launched", dt.datetime(2025, 3, 3, 9, tzinfo=dt.UTC), screen="home")
    return profile, campaign, onboarding, promo


def test_the_timeline_is_newest_first_with_the_send_and_its_labels(sent_profile):
    profile, campaign, onboarding, promo = sent_profile

    page = timeline(profile.pk)

    assert [item.event.name for item in page.items] == [
        "App Launched",
        "Notification Sent",
        "App Launched",
    ]
    launched, sent, _ = page.items
    assert launched.other_properties == {"screen": "home"} and not launched.is_notification
    assert sent.is_notification and sent.campaign_exists
    assert (sent.campaign_id, sent.campaign_name, sent.channel, sent.variant) == (
        campaign.pk,
        "Welcome",
        "push",
        "B",
    )
    assert {label["name"] for label in sent.labels} == {"Onboarding", "Promo"}
    assert page.next_cursor is None


def test_the_timeline_shows_labels_and_campaign_as_they_were_at_send_time(sent_profile, admin):
    profile, campaign, onboarding, promo = sent_profile
    label_rename(actor=admin, label_id=onboarding.pk, name="Activation")
    label_delete(actor=admin, label_id=promo.pk)
    campaign.name = "Welcome (v2)"
    campaign.save()

    sent = timeline(profile.pk).items[1]

    assert sorted(label["name"] for label in sent.labels) == ["Onboarding", "Promo"]
    assert (sent.campaign_name, sent.campaign_name_now) == ("Welcome", "Welcome (v2)")

    campaign.delete()
    sent = timeline(profile.pk).items[1]
    assert not sent.campaign_exists and sent.campaign_name == "Welcome"


def test_the_timeline_pages_by_keyset_without_gaps_or_repeats(db):
    profile = Profile.objects.create(identity="u1")
    moment = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    # Pairs of events at the same instant: the id breaks the tie.
    for i in range(25):
        add_event(profile, "Product Viewed", moment + dt.timedelta(minutes=i // 2), n=i)
    add_event(Profile.objects.create(identity="u2"), "Product Viewed", moment)

    seen, cursor, pages = [], "", 0
    while True:
        page = timeline(profile.pk, cursor=cursor, limit=10)
        seen += [item.event.properties["n"] for item in page.items]
        pages += 1
        if not page.next_cursor:
            break
        cursor = page.next_cursor

    assert pages == 3
    assert sorted(seen) == list(range(25)) and len(seen) == 25
    stamps = [(item.event.ts, item.event.id) for item in timeline(profile.pk, limit=50).items]
    assert stamps == sorted(stamps, reverse=True)


def test_a_timeline_page_never_uses_offset(db, django_assert_max_num_queries):
    profile = Profile.objects.create(identity="u1")
    add_event(profile, "A", dt.datetime(2025, 3, 1, tzinfo=dt.UTC))
    cursor = encode_cursor(dt.datetime(2025, 4, 1, tzinfo=dt.UTC), 10**9)

    with django_assert_max_num_queries(1) as captured:
        timeline(profile.pk, cursor=cursor)

    sql = captured.captured_queries[0]["sql"].upper()
    assert "OFFSET" not in sql and "LIMIT 51" in sql


@pytest.mark.parametrize(
    "cursor", ["garbage", "e30", encode_cursor(dt.datetime(2025, 1, 1, tzinfo=dt.UTC), 1)[:-3]]
)
def test_a_tampered_cursor_is_refused(cursor):
    with pytest.raises(Invalid) as refused:
        decode_cursor(cursor)
    assert "cursor" in refused.value.errors
