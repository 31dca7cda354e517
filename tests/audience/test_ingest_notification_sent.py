"""Notification Sent: the event the dispatch pipeline records per delivered message, with the
campaign and its labels as they were at send time."""

from __future__ import annotations

import datetime as dt

import pytest

from audience import partitions
from audience.models import NOTIFICATION_SENT, Event, Profile
from audience.services import events_ingest, record_notification_sent
from campaigns.choices import Status
from labels.services import label_delete, label_rename

pytestmark = pytest.mark.django_db


@pytest.fixture
def profile():
    return Profile.objects.create(identity="u1")


def test_the_event_carries_the_campaign_and_its_labels(profile, campaign_factory, label_factory):
    campaign = campaign_factory(name="Welcome series", status=Status.RUNNING)
    onboarding, promo = label_factory(name="Onboarding"), label_factory(name="Promo")
    campaign.labels.add(onboarding, promo)
    sent_at = dt.datetime(2025, 3, 4, 9, 0, tzinfo=dt.UTC)

    record_notification_sent(
        profile_id=profile.pk, campaign=campaign, channel="push", variant="B", ts=sent_at
    )

    event = Event.objects.get()
    assert (event.profile_id, event.name, event.ts) == (profile.pk, NOTIFICATION_SENT, sent_at)
    assert event.campaign_id == campaign.pk
    assert event.label_ids == sorted([onboarding.pk, promo.pk])
    assert event.properties == {
        "campaign_id": campaign.pk,
        "campaign_name": "Welcome series",
        "channel": "push",
        "variant": "B",
        "labels": sorted(
            [{"id": onboarding.pk, "name": "Onboarding"}, {"id": promo.pk, "name": "Promo"}],
            key=lambda label: label["id"],
        ),
    }


def test_labels_renamed_or_deleted_later_keep_their_send_time_names(
    profile, admin, campaign_factory, label_factory
):
    campaign = campaign_factory(name="Welcome series")
    onboarding, promo = label_factory(name="Onboarding"), label_factory(name="Promo")
    campaign.labels.add(onboarding, promo)
    record_notification_sent(
        profile_id=profile.pk, campaign=campaign, channel="email", variant=None
    )

    label_rename(actor=admin, label_id=onboarding.pk, name="Activation")
    label_delete(actor=admin, label_id=promo.pk)
    campaign.name = "Renamed series"
    campaign.save()

    event = Event.objects.get()
    assert [label["name"] for label in event.properties["labels"]] == ["Onboarding", "Promo"]
    assert event.properties["campaign_name"] == "Welcome series"
    assert event.label_ids == sorted([onboarding.pk, promo.pk])
    # The next send carries the labels as they are now.
    record_notification_sent(
        profile_id=profile.pk, campaign=campaign, channel="email", variant=None
    )
    latest = Event.objects.order_by("-id").first()
    assert latest.properties["labels"] == [{"id": onboarding.pk, "name": "Activation"}]
    assert latest.label_ids == [onboarding.pk]


def test_a_campaign_without_labels_leaves_label_ids_empty(profile, campaign_factory):
    campaign = campaign_factory()
    record_notification_sent(profile_id=profile.pk, campaign=campaign, channel="sms", variant="A")
    event = Event.objects.get()
    assert event.label_ids is None and event.properties["labels"] == []
    assert event.campaign_id == campaign.pk


def test_a_send_in_a_month_without_a_partition_creates_it(profile, campaign_factory):
    from django.db import connection

    name = partitions.partition_name(dt.date(2005, 6, 1))
    with connection.cursor() as cursor:
        cursor.execute(f'DROP TABLE IF EXISTS "{name}"')
    record_notification_sent(
        profile_id=profile.pk,
        campaign=campaign_factory(),
        channel="push",
        variant=None,
        ts=dt.datetime(2005, 6, 15, tzinfo=dt.UTC),
    )
    assert name in partitions.existing()


def test_the_public_api_cannot_record_it(profile):
    result = events_ingest(
        [{"identity": "u1", "name": NOTIFICATION_SENT, "properties": {"campaign_id": 1}}],
        source="test",
    )
    assert result.accepted == [] and not Event.objects.exists()
