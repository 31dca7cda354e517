"""Action and Inaction campaigns: events ingested through the API become triggers in the same
transaction, and the tick sends each due trigger once (tasks eager, commits run through captured
on-commit callbacks, the dry-run e-mail adapter)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from audience.models import Profile
from audience.services import events_ingest
from campaigns import services
from campaigns.choices import Channel, Delivery, Status
from campaigns.models import Campaign
from campaigns.validation import validate_when
from channels import pipeline, triggers
from channels.models import Delivery as Ledger
from channels.models import Run, RunKind, Trigger
from tests.channels.trigger_support import (  # noqa: F401 - fixtures
    BASE,
    EMAIL_WHAT,
    clock_fixture,
    dry_run_email_fixture,
    ingest_fixture,
    send_event,
    tick,
)
from tests.concurrency import run_together

pytestmark = pytest.mark.django_db

MINUTE = dt.timedelta(minutes=1)
PRO = [{"type": "property", "property": "plan", "op": "eq", "value": "pro"}]


def action(campaign_factory, marketer, **when):
    """An Action e-mail campaign published (so Running from now)."""
    campaign = campaign_factory(
        channel=Channel.EMAIL,
        delivery=Delivery.ACTION,
        what=EMAIL_WHAT,
        when={"trigger": {"event": "Cart Abandoned"}, "delay_minutes": 30, **when},
    )
    services.campaign_publish(actor=marketer, campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == Status.RUNNING
    return campaign


def inaction(campaign_factory, marketer, **when):
    campaign = campaign_factory(
        channel=Channel.EMAIL,
        delivery=Delivery.INACTION,
        what=EMAIL_WHAT,
        when={
            "trigger": {"event": "Cart Abandoned"},
            "absent_event": {"event": "Purchased"},
            "window_minutes": 60,
            **when,
        },
    )
    services.campaign_publish(actor=marketer, campaign_id=campaign.pk)
    return campaign


def person(identity="u1"):
    return Profile.objects.create(identity=identity, email=f"{identity}@example.com")


def ledger(campaign):
    return sorted(
        (row.profile_id, row.status, row.reason)
        for row in Ledger.objects.filter(run__campaign=campaign)
    )


# --- matching at ingestion ------------------------------------------------------------------------
def test_a_matching_event_ingested_through_the_api_creates_a_trigger_due_after_the_delay(
    clock, ingest, campaign_factory, marketer
):
    campaign = action(
        campaign_factory, marketer, trigger={"event": "Cart Abandoned", "filters": PRO}
    )
    who = person()
    at = BASE + 2 * MINUTE

    send_event(ingest, "u1", "Cart Abandoned", at, {"plan": "pro", "item": "Red shoes"})

    trigger = Trigger.objects.get()
    assert (trigger.campaign_id, trigger.profile_id) == (campaign.pk, who.pk)
    assert trigger.event_ts == at
    assert trigger.due_at == at + 30 * MINUTE
    assert trigger.data == {
        "event": {
            "name": "Cart Abandoned",
            "ts": at.isoformat(),
            "properties": {"plan": "pro", "item": "Red shoes"},
        }
    }


@pytest.mark.parametrize(
    ("name", "properties"),
    [
        ("Cart Abandoned", {"plan": "free"}),
        ("Cart Abandoned", {}),
        ("Cart Abandoned", {"plan": ["pro"]}),
        ("Cart Viewed", {"plan": "pro"}),
    ],
    ids=["other value", "no property", "a list is not the text", "another event"],
)
def test_an_event_that_does_not_match_creates_no_trigger(
    clock, ingest, campaign_factory, marketer, name, properties
):
    action(campaign_factory, marketer, trigger={"event": "Cart Abandoned", "filters": PRO})
    send_event(ingest, "u1", name, BASE + MINUTE, properties)
    assert not Trigger.objects.exists()


# The filters mean what they mean in a Who's event condition (audience.segments compiles both).
FILTER_CASES = [
    ({"property": "total", "op": "gt", "value": 50}, {"total": 80}, True),
    ({"property": "total", "op": "gt", "value": 50}, {"total": 20}, False),
    ({"property": "total", "op": "gt", "value": 50}, {"total": "80"}, False),
    ({"property": "total", "op": "between", "value": [10, 20]}, {"total": 15.5}, True),
    ({"property": "item", "op": "contains", "value": "SHOE"}, {"item": "Red shoes"}, True),
    ({"property": "tags", "op": "contains", "value": "sale"}, {"tags": ["new", "sale"]}, True),
    ({"property": "plan", "op": "in", "value": ["pro", "team"]}, {"plan": "team"}, True),
    ({"property": "plan", "op": "neq", "value": "pro"}, {}, True),
    ({"property": "plan", "op": "not_exists"}, {"plan": None}, True),
    ({"property": "plan", "op": "exists"}, {"plan": "free"}, True),
    ({"property": "gift", "op": "eq", "value": True}, {"gift": True}, True),
    ({"property": "on", "op": "gte", "value": "2026-11-30"}, {"on": "2026-12-01"}, True),
]


@pytest.mark.parametrize(("condition", "properties", "matches"), FILTER_CASES)
def test_trigger_filters_mean_what_they_mean_in_a_who(
    clock, campaign_factory, marketer, condition, properties, matches
):
    action(
        campaign_factory,
        marketer,
        trigger={"event": "Cart Abandoned", "filters": [{"type": "property", **condition}]},
    )
    events_ingest(
        [{"identity": "u1", "name": "Cart Abandoned", "properties": properties}], source="test"
    )
    assert Trigger.objects.exists() is matches


@pytest.mark.parametrize("key", ["trigger", "absent_event"])
def test_publishing_checks_trigger_filters_as_a_who_checks_its_conditions(key):
    when = {
        "trigger": {"event": "Cart Abandoned"},
        "absent_event": {"event": "Purchased"},
        "window_minutes": 60,
    }
    when[key]["filters"] = [{"type": "property", "property": "plan", "op": "in", "value": "pro"}]
    errors = validate_when(Delivery.INACTION, when)
    assert errors == {f"when.{key}.filters[0].value": ["'in' takes a non-empty list."]}


def test_events_outside_the_campaigns_bounds_do_not_trigger(
    clock, ingest, campaign_factory, marketer
):
    campaign_factory(
        channel=Channel.EMAIL,
        delivery=Delivery.ACTION,
        what=EMAIL_WHAT,
        when={
            "trigger": {"event": "Cart Abandoned"},
            "delay_minutes": 30,
            "start_at": (BASE + 60 * MINUTE).isoformat(),
            "end_at": (BASE + 180 * MINUTE).isoformat(),
        },
    )
    campaign = Campaign.objects.get()
    services.campaign_publish(actor=marketer, campaign_id=campaign.pk)
    person()
    # Before its start it is Scheduled: events then send nothing.
    send_event(ingest, "u1", "Cart Abandoned", BASE + MINUTE)
    clock.move_to(BASE + 61 * MINUTE)
    # Started (even before the tick moves it to Running), events from before the start are
    # still too early, and a message due after the end is not triggered.
    send_event(ingest, "u1", "Cart Abandoned", BASE + 59 * MINUTE)
    clock.move_to(BASE + 170 * MINUTE)
    send_event(ingest, "u1", "Cart Abandoned", BASE + 160 * MINUTE)
    assert not Trigger.objects.exists()
    send_event(ingest, "u1", "Cart Abandoned", BASE + 150 * MINUTE)
    assert Trigger.objects.get().due_at == BASE + 180 * MINUTE


def test_events_from_before_the_campaign_went_live_do_not_trigger(
    clock, ingest, campaign_factory, marketer
):
    """A backfill of last week's events messages nobody."""
    clock.move_to(BASE + 60 * MINUTE)
    action(campaign_factory, marketer)
    person()
    send_event(ingest, "u1", "Cart Abandoned", BASE)
    assert not Trigger.objects.exists()
    send_event(ingest, "u1", "Cart Abandoned", BASE + 60 * MINUTE)
    assert Trigger.objects.count() == 1


def test_stopped_and_draft_campaigns_do_not_listen(clock, ingest, campaign_factory, marketer):
    stopped = action(campaign_factory, marketer)
    services.campaign_stop(actor=marketer, campaign_id=stopped.pk)
    campaign_factory(
        channel=Channel.EMAIL,
        delivery=Delivery.ACTION,
        what=EMAIL_WHAT,
        when={"trigger": {"event": "Cart Abandoned"}},
    )
    send_event(ingest, "u1", "Cart Abandoned", BASE)
    assert not Trigger.objects.exists()


def _copied(records):
    """Events as ingestion hands them to the matcher: (profile id, ts, record)."""
    from audience.validation import clean_event

    clean = [clean_event(r, i, now=timezone.now()) for i, r in enumerate(records)]
    ids = {
        p.identity: p.pk
        for p in Profile.objects.bulk_create(
            Profile(identity=identity) for identity in {r.identity for r in clean}
        )
    }
    return [(ids[r.identity], r.ts, r) for r in clean]


def test_with_no_listening_campaign_matching_costs_one_small_query(
    clock, campaign_factory, django_assert_num_queries
):
    campaign_factory(status=Status.RUNNING)  # a Running push, not triggered
    events = _copied([{"identity": f"u{i}", "name": "Cart Abandoned"} for i in range(100)])
    with django_assert_num_queries(1):
        assert triggers.match_events(events) == 0


def test_a_batch_is_matched_in_two_queries_and_a_copy_whatever_its_size(
    clock, campaign_factory, marketer, django_assert_num_queries
):
    action(campaign_factory, marketer, trigger={"event": "Cart Abandoned", "filters": PRO})
    action(campaign_factory, marketer)
    events = _copied(
        [
            {
                "identity": f"u{i}",
                "name": "Cart Abandoned",
                "properties": {"plan": "pro" if i % 2 else "free"},
            }
            for i in range(200)
        ]
    )
    # The listening campaigns and the filters of all of them; the triggers go in with COPY.
    with django_assert_num_queries(2):
        assert triggers.match_events(events) == 200 + 100


def test_the_listener_query_uses_the_partial_index(clock, campaign_factory, marketer):
    """Among thousands of campaigns, the few listening ones are read from their own index."""
    action(campaign_factory, marketer)
    Campaign.objects.bulk_create(
        Campaign(
            name=f"c{i}",
            channel=Channel.PUSH,
            status=[Status.RUNNING, Status.DRAFT, Status.COMPLETED][i % 3],
            created_by=marketer,
            last_active_at=BASE,
        )
        for i in range(3000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE campaigns_campaign")
    sql, params = triggers.listening_query()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "campaign_listening" in plan


# --- the tick -------------------------------------------------------------------------------------
def test_the_delay_is_respected_and_a_trigger_sends_once(
    clock, ingest, dry_run_email, campaign_factory, marketer, django_capture_on_commit_callbacks
):
    campaign = action(campaign_factory, marketer)
    who = person()
    send_event(ingest, "u1", "Cart Abandoned", BASE, {"item": "Red shoes"})

    clock.move_to(BASE + 29 * MINUTE)
    tick(django_capture_on_commit_callbacks)
    assert not Run.objects.exists()

    clock.move_to(BASE + 31 * MINUTE)
    tick(django_capture_on_commit_callbacks)
    run = Run.objects.get()
    assert (run.kind, run.status, run.targeted) == (RunKind.TRIGGER, "done", 1)
    assert run.scheduled_for == BASE + 31 * MINUTE
    assert ledger(campaign) == [(who.pk, "sent", "")]
    assert not Trigger.objects.exists()

    clock.move_to(BASE + 40 * MINUTE)
    tick(django_capture_on_commit_callbacks)
    assert Run.objects.count() == 1
    assert ledger(campaign) == [(who.pk, "sent", "")]


def test_one_run_per_campaign_per_tick_and_one_message_per_profile(
    clock, ingest, dry_run_email, campaign_factory, marketer, django_capture_on_commit_callbacks
):
    """A profile triggered twice before one tick gets one message, with its latest event."""
    campaign = action(campaign_factory, marketer, delay_minutes=0)
    a, b = person("a"), person("b")
    send_event(ingest, "a", "Cart Abandoned", BASE, {"item": "first"})
    send_event(ingest, "a", "Cart Abandoned", BASE + MINUTE, {"item": "second"})
    send_event(ingest, "b", "Cart Abandoned", BASE + MINUTE, {"item": "other"})
    clock.move_to(BASE + 2 * MINUTE)

    tick(django_capture_on_commit_callbacks)

    run = Run.objects.get()
    assert run.recipients[str(a.pk)]["event"]["properties"] == {"item": "second"}
    assert ledger(campaign) == [(a.pk, "sent", ""), (b.pk, "sent", "")]
    # The event's properties reach the message ({{ event.properties.item }}).
    decided = pipeline.decide(run.pk, run.snapshot, run.recipients, [a.pk], timezone.now())
    assert decided.to_send[0].content["html"] == "<p>second</p>"
    assert decided.to_send[0].content["subject"] == "Hi a"


def test_triggers_of_a_campaign_no_longer_running_are_dropped(
    clock, ingest, campaign_factory, marketer, django_capture_on_commit_callbacks
):
    campaign = action(campaign_factory, marketer, delay_minutes=0)
    send_event(ingest, "u1", "Cart Abandoned", BASE)
    Campaign.objects.filter(pk=campaign.pk).update(status=Status.COMPLETED)
    clock.move_to(BASE + MINUTE)

    tick(django_capture_on_commit_callbacks, times=1)

    assert not Run.objects.exists()
    assert not Trigger.objects.exists()


def test_stopping_drops_waiting_triggers(clock, ingest, campaign_factory, marketer):
    campaign = action(campaign_factory, marketer)
    send_event(ingest, "u1", "Cart Abandoned", BASE)
    services.campaign_stop(actor=marketer, campaign_id=campaign.pk)
    assert not Trigger.objects.exists()


def test_a_run_due_by_the_end_is_sent_before_the_campaign_completes(
    clock, ingest, dry_run_email, campaign_factory, marketer, django_capture_on_commit_callbacks
):
    campaign = action(
        campaign_factory, marketer, delay_minutes=10, end_at=(BASE + 15 * MINUTE).isoformat()
    )
    who = person()
    send_event(ingest, "u1", "Cart Abandoned", BASE + 4 * MINUTE)
    clock.move_to(BASE + 20 * MINUTE)  # the tick comes after both the due time and the end

    tick(django_capture_on_commit_callbacks)

    assert ledger(campaign) == [(who.pk, "sent", "")]
    campaign.refresh_from_db()
    assert campaign.status == Status.COMPLETED


# --- inaction -------------------------------------------------------------------------------------
def test_the_absent_event_within_the_window_cancels_the_message(
    clock, ingest, dry_run_email, campaign_factory, marketer, django_capture_on_commit_callbacks
):
    campaign = inaction(campaign_factory, marketer)
    bought, left = person("bought"), person("left")
    send_event(ingest, "bought", "Cart Abandoned", BASE)
    send_event(ingest, "left", "Cart Abandoned", BASE)
    assert {t.due_at for t in Trigger.objects.all()} == {BASE + 60 * MINUTE}
    clock.move_to(BASE + 30 * MINUTE)
    send_event(ingest, "bought", "Purchased", BASE + 30 * MINUTE)

    clock.move_to(BASE + 59 * MINUTE)
    tick(django_capture_on_commit_callbacks)
    assert not Run.objects.exists()

    clock.move_to(BASE + 60 * MINUTE)
    tick(django_capture_on_commit_callbacks)
    assert ledger(campaign) == [(left.pk, "sent", "")]
    assert str(bought.pk) not in Run.objects.get().recipients
    assert not Trigger.objects.exists()


def test_an_absent_event_outside_the_window_or_failing_its_filters_does_not_cancel(
    clock, ingest, dry_run_email, campaign_factory, marketer, django_capture_on_commit_callbacks
):
    campaign = inaction(
        campaign_factory,
        marketer,
        absent_event={
            "event": "Purchased",
            "filters": [{"type": "property", "property": "total", "op": "gt", "value": 0}],
        },
    )
    before, free, late = person("before"), person("free"), person("late")
    clock.move_to(BASE + 5 * MINUTE)
    send_event(ingest, "before", "Purchased", BASE + MINUTE, {"total": 10})
    for identity in ("before", "free", "late"):
        send_event(ingest, identity, "Cart Abandoned", BASE + 2 * MINUTE)
    send_event(ingest, "free", "Purchased", BASE + 3 * MINUTE, {"total": 0})
    clock.move_to(BASE + 63 * MINUTE)
    send_event(ingest, "late", "Purchased", BASE + 63 * MINUTE, {"total": 5})

    tick(django_capture_on_commit_callbacks)

    assert ledger(campaign) == sorted(
        [(before.pk, "sent", ""), (free.pk, "sent", ""), (late.pk, "sent", "")]
    )


# --- concurrency ----------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_ticks_at_once_start_one_run(campaign_factory, marketer):
    campaign = campaign_factory(
        channel=Channel.EMAIL,
        delivery=Delivery.ACTION,
        status=Status.RUNNING,
        what=EMAIL_WHAT,
        when={"trigger": {"event": "Cart Abandoned"}},
    )
    now = timezone.now()
    Trigger.objects.bulk_create(
        Trigger(campaign=campaign, profile_id=i, event_ts=now, due_at=now) for i in range(1, 300)
    )
    results = run_together(
        lambda: triggers.start_due_triggers(now), lambda: triggers.start_due_triggers(now)
    )
    assert sorted(results) == [0, 1]
    assert len(Run.objects.get().recipients) == 299
    assert not Trigger.objects.exists()
