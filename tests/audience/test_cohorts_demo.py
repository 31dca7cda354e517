"""The demo audience seed_demo loads: big enough and shaped enough that segments, estimates and
cohorts show something, written the way the real writers write, and loaded once."""

from __future__ import annotations

import io
import time

import pytest
from django.core.management import call_command
from django.db.models import Count

from audience import demo
from audience.cohorts import cohort_table, parse_spec
from audience.models import NOTIFICATION_SENT, Device, Event, Profile, PropertyDefinition
from audience.people import search_profiles
from audience.segments import estimate, segment_count
from audience.services import record_notification_sent
from campaigns.models import Campaign
from labels.models import Label

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    call_command("seed_demo", stdout=io.StringIO())


def _onboarding() -> Label:
    return Label.objects.get(name="Onboarding")


def test_the_demo_audience_has_thousands_of_profiles_and_a_realistic_event_mix(seeded):
    assert Profile.objects.filter(identity__startswith="demo-").count() == demo.PROFILES
    names = dict(Event.objects.values_list("name").order_by().annotate(n=Count("id")))
    assert names["App Launched"] > names["Product Viewed"] / 3 > 1000
    assert names["Added To Cart"] > names["Charged"] > 100
    for name in ("App Installed", "Signed Up", "Pricing Viewed", "Match Viewed"):
        assert names[name] > 50, name
    assert names[NOTIFICATION_SENT] > 1000
    assert names["Notification Viewed"] > names["Notification Clicked"] > 0
    assert Device.objects.filter(kind="push").count() > 1000
    assert Device.objects.filter(kind="web_push").exists()
    assert (
        dict(PropertyDefinition.objects.values_list("name", "type")).items()
        >= {
            "plan": "string",
            "age": "number",
            "signup_date": "date",
            "favourite_team": "string",
        }.items()
    )


def test_seeding_again_adds_nothing(seeded):
    counts = (Profile.objects.count(), Event.objects.count(), Device.objects.count())

    assert demo.seed_audience() == {}
    call_command("seed_demo", stdout=io.StringIO())

    assert (Profile.objects.count(), Event.objects.count(), Device.objects.count()) == counts


def test_sends_have_the_shape_record_notification_sent_gives(seeded):
    demo_sent = Event.objects.filter(name=NOTIFICATION_SENT).exclude(label_ids=None).first()
    campaign = Campaign.objects.get(pk=demo_sent.campaign_id)
    profile = Profile.objects.get(pk=demo_sent.profile_id)

    record_notification_sent(
        profile_id=profile.pk, campaign=campaign, channel=campaign.channel, variant=None
    )

    recorded = Event.objects.filter(name=NOTIFICATION_SENT, profile=profile).order_by("-ts").first()
    assert set(demo_sent.properties) == set(recorded.properties)
    assert demo_sent.properties["labels"] == recorded.properties["labels"]
    assert demo_sent.properties["campaign_name"] == campaign.name
    assert (demo_sent.campaign_id, demo_sent.label_ids) == (
        recorded.campaign_id,
        recorded.label_ids,
    )


def test_sends_come_only_from_campaigns_that_went_live(seeded):
    sent_by = set(
        Event.objects.filter(name=NOTIFICATION_SENT).values_list("campaign_id", flat=True)
    )
    statuses = set(Campaign.objects.filter(pk__in=sent_by).values_list("status", flat=True))

    assert statuses <= {"running", "awaiting_next_run", "completed", "pending_approval"}
    assert Campaign.objects.filter(pk__in=sent_by, labels__name="Onboarding").count() >= 2


def test_segments_and_estimates_find_the_onboarding_recipients(seeded):
    who = {
        "type": "group",
        "match": "all",
        "conditions": [
            {"type": "label_sent", "label_id": _onboarding().pk, "window": {"last_days": 30}}
        ],
    }

    count = segment_count(who)
    reach = estimate(who)

    assert 100 < count < demo.PROFILES
    assert reach["total"] == count
    assert 0 < reach["reachable"]["push"] <= count


def test_the_onboarding_cohort_shows_retention(seeded):
    spec = parse_spec(
        {"qualifying": "label", "label": str(_onboarding().pk), "return_event": "App Launched"}
    )

    table = cohort_table(spec)

    assert table.total.size > 100
    day_1, day_7 = table.total.share[1], table.total.share[7]
    assert 0 < day_7 < day_1 < 1  # people come back, fewer as days pass


def test_find_people_finds_a_demo_profile_by_phone_and_email(seeded):
    profile = Profile.objects.exclude(phone="").exclude(email="").order_by("id").first()

    assert search_profiles(profile.phone).profiles == [profile]
    assert search_profiles(profile.email.upper()).profiles == [profile]


def test_the_demo_audience_loads_in_a_few_seconds(db):
    call_command("seed_demo", stdout=io.StringIO())
    Profile.objects.filter(identity__startswith="demo-").delete()
    Event.objects.all().delete()

    started = time.perf_counter()
    created = demo.seed_audience()
    elapsed = time.perf_counter() - started

    assert created["profiles"] == demo.PROFILES
    assert elapsed < 10, f"{elapsed:.1f} s for {created}"
