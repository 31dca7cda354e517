"""Every delivery type end to end through a real Celery worker (Redis, PostgreSQL, nothing eager):
the test process is the beat (`scheduler.tick()`), the worker resolves runs and sends batches.

The worker's clock cannot be frozen, so time passes by moving the schedule: a campaign's
next_run_at, a batch's not_before or the quiet hours are put where they would be had the time
come. Channels send with the dry-run adapter (everything but the network call) unless a test
needs a receiver.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from audience import partitions
from audience.models import Profile
from campaigns import services
from campaigns.choices import Action, Channel, Delivery, Status
from campaigns.models import Campaign, CampaignAudit
from channels.models import Batch, FrequencyCap, QuietHours, Run, RunKind, RunStatus, Trigger
from tests.integration.dispatch_worker import (  # noqa: F401 - fixtures
    EMAIL,
    Dispatch,
    WebhookReceiver,
    assert_exactly_once,
    dispatch_fixture,
    ledger,
    sent_events,
    webhook_env,
)

pytestmark = [
    pytest.mark.slow,
    # transaction: the worker's own connection sees only committed rows. serialized_rollback:
    # the test starts with the rows migrations made (the role groups), which a flush removes.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def people(count: int, prefix: str = "u", **fields) -> list[int]:
    made = Profile.objects.bulk_create(
        [
            Profile(identity=f"{prefix}{i}", email=f"{prefix}{i}@example.com", **fields)
            for i in range(count)
        ]
    )
    return [p.pk for p in made]


def email_campaign(campaign_factory, delivery: Delivery, when: dict, **kwargs) -> Campaign:
    return campaign_factory(
        channel=Channel.EMAIL, delivery=delivery, when=when, what=EMAIL, **kwargs
    )


def moves(campaign: Campaign) -> list[tuple[str, str, str]]:
    """The campaign's status changes, oldest first: (action, from, to)."""
    return list(
        CampaignAudit.objects.filter(campaign=campaign)
        .order_by("pk")
        .values_list("action", "from_status", "to_status")
    )


def in_past(seconds: float = 60) -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=seconds)


def all_sent(rows: dict) -> bool:
    return {status for status, _ in rows.values()} == {"sent"}


# ----------------------------------------------------------------------------------------------
# Delivery types
# ----------------------------------------------------------------------------------------------
def test_one_time_now(dispatch: Dispatch, campaign_factory, marketer) -> None:
    dispatch.start()
    ids = people(7)
    Profile.objects.create(identity="nomail")
    campaign = email_campaign(campaign_factory, Delivery.ONE_TIME, {"send": "now"})

    # Publishing queues a tick (tick_soon) on the worker's queue: nothing else is needed.
    services.campaign_publish(actor=marketer, campaign_id=campaign.pk)
    [run] = dispatch.run_done(campaign.pk)

    assert run.status == RunStatus.DONE
    nomail = Profile.objects.get(identity="nomail").pk
    rows = assert_exactly_once(run, campaign.pk, {*ids, nomail})
    assert rows.pop(nomail) == ("dropped", "no_address")
    assert all_sent(rows)
    campaign.refresh_from_db()
    assert campaign.status == Status.COMPLETED
    assert run.totals["sent"] == 7 and run.totals["dropped"] == {"no_address": 1}
    assert moves(campaign)[-2:] == [
        (Action.PUBLISH, Status.DRAFT, Status.RUNNING),
        (Action.RUN_FINISH, Status.RUNNING, Status.COMPLETED),
    ]


def test_one_time_later(dispatch: Dispatch, campaign_factory, marketer) -> None:
    dispatch.start()
    ids = people(4)
    start = (timezone.now() + dt.timedelta(hours=1)).replace(second=0, microsecond=0)
    campaign = email_campaign(
        campaign_factory,
        Delivery.ONE_TIME,
        {"send": "later", "start_at": start.isoformat(), "timezone": "UTC"},
    )
    services.campaign_publish(actor=marketer, campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert (campaign.status, campaign.next_run_at) == (Status.SCHEDULED, start)

    # Before its time: ticks start nothing.
    for _ in range(4):
        assert dispatch.tick()["started"] == 0
    assert not Run.objects.filter(campaign=campaign).exists()

    # Its time comes.
    Campaign.objects.filter(pk=campaign.pk).update(next_run_at=in_past())
    [run] = dispatch.run_done(campaign.pk)
    assert all_sent(assert_exactly_once(run, campaign.pk, set(ids)))
    campaign.refresh_from_db()
    assert campaign.status == Status.COMPLETED and campaign.next_run_at is None
    assert moves(campaign)[-3:] == [
        (Action.PUBLISH, Status.DRAFT, Status.SCHEDULED),
        (Action.RUN_START, Status.SCHEDULED, Status.RUNNING),
        (Action.RUN_FINISH, Status.RUNNING, Status.COMPLETED),
    ]


def test_one_time_in_each_users_time_zone(dispatch: Dispatch, campaign_factory, marketer) -> None:
    """10:00 in each user's zone: where it is already past, now; elsewhere at their 10:00."""
    dispatch.start()
    # A wall-clock time two hours ahead in UTC: passed at UTC+14, still ahead at UTC-11 and UTC.
    wall = (timezone.now() + dt.timedelta(hours=2)).replace(second=0, microsecond=0, tzinfo=None)
    early = people(3, "kiri", timezone="Pacific/Kiritimati")  # UTC+14
    late = people(2, "pago", timezone="Pacific/Pago_Pago")  # UTC-11
    home = people(2, "home")  # no zone: the campaign's (UTC)
    campaign = email_campaign(
        campaign_factory,
        Delivery.ONE_TIME,
        {
            "send": "later",
            "start_at": wall.isoformat(timespec="minutes"),
            "timezone": "UTC",
            "user_timezone": True,
        },
    )
    services.campaign_publish(actor=marketer, campaign_id=campaign.pk)

    def early_sent():
        run = Run.objects.filter(campaign=campaign).first()
        rows = ledger(run.pk) if run else {}
        return run if set(rows) == set(early) else None

    run = dispatch.wait(early_sent, what="the UTC+14 recipients")
    assert all_sent(ledger(run.pk))
    waiting = {
        tuple(sorted(b.profile_ids)): b.not_before
        for b in Batch.objects.filter(run=run).exclude(status="done")
    }
    assert waiting == {
        tuple(sorted(late)): wall.replace(tzinfo=dt.timezone(dt.timedelta(hours=-11))),
        tuple(sorted(home)): wall.replace(tzinfo=dt.UTC),
    }
    dispatch.tick()
    run.refresh_from_db()
    assert run.status == RunStatus.SENDING
    campaign.refresh_from_db()
    assert campaign.status == Status.RUNNING

    # Their 10:00 comes.
    Batch.objects.filter(run=run).exclude(status="done").update(not_before=in_past())
    [run] = dispatch.run_done(campaign.pk)
    assert all_sent(assert_exactly_once(run, campaign.pk, {*early, *late, *home}))
    campaign.refresh_from_db()
    assert campaign.status == Status.COMPLETED


def test_on_a_date_time(dispatch: Dispatch, campaign_factory, marketer) -> None:
    """Three days before each profile's renewal date: today's send is for renewals in 3 days."""
    dispatch.start()
    today = timezone.now().astimezone(dt.UTC).date()
    due = people(3, "due", properties={"renewal": (today + dt.timedelta(days=3)).isoformat()})
    people(2, "later", properties={"renewal": (today + dt.timedelta(days=4)).isoformat()})
    people(1, "none")
    campaign = email_campaign(
        campaign_factory,
        Delivery.DATE_TIME,
        {"date_property": "renewal", "offset_days": -3, "send_time": "00:00", "timezone": "UTC"},
    )
    services.campaign_publish(actor=marketer, campaign_id=campaign.pk)
    campaign.refresh_from_db()
    tomorrow = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(0, 0), tzinfo=dt.UTC)
    assert campaign.next_run_at == tomorrow

    # As if it were today's 00:00 send.
    midnight = tomorrow - dt.timedelta(days=1)
    Campaign.objects.filter(pk=campaign.pk).update(next_run_at=midnight)
    [run] = dispatch.run_done(campaign.pk)
    assert run.scheduled_for == midnight
    assert all_sent(assert_exactly_once(run, campaign.pk, set(due)))
    campaign.refresh_from_db()
    # A date/time campaign runs every day until its end.
    assert (campaign.status, campaign.next_run_at) == (Status.RUNNING, tomorrow)


def test_recurring_runs_until_its_number_of_runs(
    dispatch: Dispatch, campaign_factory, marketer
) -> None:
    dispatch.start()
    ids = people(5)
    start = (timezone.now() + dt.timedelta(hours=1)).replace(second=0, microsecond=0)
    campaign = email_campaign(
        campaign_factory,
        Delivery.RECURRING,
        {
            "start_at": start.isoformat(),
            "frequency": "daily",
            "send_time": start.strftime("%H:%M"),
            "end_after_runs": 2,
            "timezone": "UTC",
        },
    )
    services.campaign_publish(actor=marketer, campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert (campaign.status, campaign.next_run_at) == (Status.SCHEDULED, start)

    Campaign.objects.filter(pk=campaign.pk).update(next_run_at=in_past(60))
    [first] = dispatch.run_done(campaign.pk)
    assert all_sent(assert_exactly_once(first, campaign.pk, set(ids)))
    campaign.refresh_from_db()
    assert campaign.status == Status.AWAITING_NEXT_RUN
    assert campaign.next_run_at == start and campaign.runs_count == 1
    for _ in range(3):  # its next run is an hour away
        dispatch.tick()
    assert Run.objects.filter(campaign=campaign).count() == 1

    Campaign.objects.filter(pk=campaign.pk).update(next_run_at=in_past(30))
    first_run, second = dispatch.run_done(campaign.pk, count=2)
    assert first_run.pk == first.pk
    assert all_sent(assert_exactly_once(second, campaign.pk, set(ids)))
    campaign.refresh_from_db()
    assert (campaign.status, campaign.next_run_at, campaign.runs_count) == (
        Status.COMPLETED,
        None,
        2,
    )
    assert [m[1:] for m in moves(campaign)[-5:]] == [
        (Status.DRAFT, Status.SCHEDULED),
        (Status.SCHEDULED, Status.RUNNING),
        (Status.RUNNING, Status.AWAITING_NEXT_RUN),
        (Status.AWAITING_NEXT_RUN, Status.RUNNING),
        (Status.RUNNING, Status.COMPLETED),
    ]
    # Two runs, two Notification Sent per profile, each with its run.
    assert sorted(sent_events(campaign.pk)) == sorted(
        [(pid, first.pk) for pid in ids] + [(pid, second.pk) for pid in ids]
    )


def test_multiple_dates(dispatch: Dispatch, campaign_factory, marketer) -> None:
    dispatch.start()
    ids = people(3)
    now = timezone.now().replace(microsecond=0)
    dates = [now + dt.timedelta(hours=1), now + dt.timedelta(hours=2)]
    campaign = email_campaign(
        campaign_factory,
        Delivery.MULTIPLE_DATES,
        {"dates": [d.isoformat() for d in dates], "timezone": "UTC"},
    )
    services.campaign_publish(actor=marketer, campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert (campaign.status, campaign.next_run_at) == (Status.SCHEDULED, dates[0])

    def time_passes(first: dt.datetime, second: dt.datetime, due: dt.datetime) -> None:
        """The whole schedule moves earlier, as if the clock had moved on to `due`."""
        when = {**campaign.when, "dates": [first.isoformat(), second.isoformat()]}
        Campaign.objects.filter(pk=campaign.pk).update(when=when, next_run_at=due)

    first_date = in_past(60)
    time_passes(first_date, dates[1], first_date)
    [first] = dispatch.run_done(campaign.pk)
    campaign.refresh_from_db()
    assert (campaign.status, campaign.next_run_at) == (Status.AWAITING_NEXT_RUN, dates[1])

    second_date = in_past(30)
    time_passes(in_past(120), second_date, second_date)
    runs = dispatch.run_done(campaign.pk, count=2)
    assert len(runs) == 2
    for run in runs:
        assert all_sent(assert_exactly_once(run, campaign.pk, set(ids)))
    campaign.refresh_from_db()
    assert (campaign.status, campaign.next_run_at) == (Status.COMPLETED, None)


def test_api_trigger(dispatch: Dispatch, campaign_factory, marketer, api) -> None:
    """POST /api/v1/campaigns/{id}/trigger/ with recipients and their data; a retry with the
    same key sends nothing more. The real webhook adapter shows each recipient's data arrived."""
    receiver = WebhookReceiver(delay=0)
    try:
        dispatch.start(**webhook_env())
        ids = people(4)
        campaign = campaign_factory(
            channel=Channel.WEBHOOK,
            delivery=Delivery.API,
            when={},
            what={"message": {"url": receiver.url}},
        )
        services.campaign_publish(actor=marketer, campaign_id=campaign.pk)
        campaign.refresh_from_db()
        assert campaign.status == Status.RUNNING

        url = f"/api/v1/campaigns/{campaign.pk}/trigger/"
        body = {
            "recipients": [
                {"identity": "u0", "data": {"coupon": "C-0"}},
                {"identity": "u1", "data": {"coupon": "C-1"}},
                {"identity": "nobody"},
            ],
            "idempotency_key": "order-1",
        }
        answer = api.post(url, body, format="json")
        assert answer.status_code == 201, answer.content
        assert answer.json()["unknown"] == ["nobody"]
        [run] = dispatch.run_done(campaign.pk)
        assert run.kind == RunKind.API
        assert all_sent(assert_exactly_once(run, campaign.pk, set(ids[:2])))

        # The caller retries (a timeout on its side): the same run, nothing sent again.
        again = api.post(url, body, format="json")
        assert again.status_code == 200 and again.json()["replayed"] is True
        for _ in range(8):
            dispatch.tick()
        assert Run.objects.filter(campaign=campaign).count() == 1
        received = receiver.snapshot()
    finally:
        receiver.close()
    assert sorted((r.profile_id, r.data.get("coupon")) for r in received) == [
        (ids[0], "C-0"),
        (ids[1], "C-1"),
    ]
    campaign.refresh_from_db()
    # An API campaign stays live for the next call.
    assert campaign.status == Status.RUNNING


def test_action_trigger_after_its_delay(dispatch: Dispatch, campaign_factory, marketer) -> None:
    """An ingested event that matches the trigger (and its filter) sends `delay_minutes` later."""
    from audience.services import events_ingest

    dispatch.start()
    [buyer] = people(1, "buyer")
    [cheap] = people(1, "cheap")
    people(1, "idle")
    campaign = email_campaign(
        campaign_factory,
        Delivery.ACTION,
        {
            "trigger": {
                "event": "Cart Abandoned",
                "filters": [{"type": "property", "property": "total", "op": "gt", "value": 50}],
            },
            "delay_minutes": 30,
        },
    )
    services.campaign_publish(actor=marketer, campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == Status.RUNNING
    events_ingest(
        [
            {"identity": "buyer0", "name": "Cart Abandoned", "properties": {"total": 80}},
            {"identity": "cheap0", "name": "Cart Abandoned", "properties": {"total": 5}},
            {"identity": "idle0", "name": "App Opened", "properties": {}},
        ],
        source="test",
    )
    [trigger] = Trigger.objects.filter(campaign=campaign)
    assert trigger.profile_id == buyer
    assert trigger.due_at > timezone.now() + dt.timedelta(minutes=29)
    for _ in range(4):  # not due yet
        dispatch.tick()
    assert not Run.objects.filter(campaign=campaign).exists()

    Trigger.objects.filter(pk=trigger.pk).update(due_at=in_past())
    [run] = dispatch.run_done(campaign.pk)
    assert run.kind == RunKind.TRIGGER
    assert all_sent(assert_exactly_once(run, campaign.pk, {buyer}))
    assert not Trigger.objects.exists()
    assert cheap not in ledger(run.pk)
    campaign.refresh_from_db()
    assert campaign.status == Status.RUNNING


# ----------------------------------------------------------------------------------------------
# Frequency caps and quiet hours
# ----------------------------------------------------------------------------------------------
def _prior_sends(profile_ids: list[int], channel: str, count: int) -> None:
    now = timezone.now()
    partitions.ensure_for([now])
    with connection.cursor() as cursor:
        for pid in profile_ids:
            for i in range(count):
                cursor.execute(
                    "INSERT INTO audience_event (profile_id, name, ts, properties) "
                    "VALUES (%s, 'Notification Sent', %s, %s::jsonb)",
                    [pid, now - dt.timedelta(hours=i + 1), f'{{"channel": "{channel}"}}'],
                )


def test_frequency_cap_drops_who_had_enough(dispatch: Dispatch, campaign_factory, marketer) -> None:
    dispatch.start()
    FrequencyCap.objects.create(channel=Channel.EMAIL, max_messages=2, days=7)
    capped = people(3, "capped")
    fresh = people(3, "fresh")
    _prior_sends(capped, "email", 2)
    _prior_sends(fresh, "email", 1)
    _prior_sends(fresh, "sms", 3)  # another channel's sends do not count

    campaign = email_campaign(campaign_factory, Delivery.ONE_TIME, {"send": "now"})
    services.campaign_publish(actor=marketer, campaign_id=campaign.pk)
    [run] = dispatch.run_done(campaign.pk)
    rows = assert_exactly_once(run, campaign.pk, {*capped, *fresh})
    assert {rows[pid] for pid in capped} == {("dropped", "frequency_cap")}
    assert {rows[pid] for pid in fresh} == {("sent", "")}
    assert run.totals["dropped"] == {"frequency_cap": 3}

    # A campaign that ignores the caps reaches everyone.
    exempt = email_campaign(
        campaign_factory, Delivery.ONE_TIME, {"send": "now", "ignore_frequency_caps": True}
    )
    services.campaign_publish(actor=marketer, campaign_id=exempt.pk)
    [run] = dispatch.run_done(exempt.pk)
    assert all_sent(assert_exactly_once(run, exempt.pk, {*capped, *fresh}))


def _quiet_now_in_utc() -> QuietHours:
    """Quiet hours from an hour ago to an hour ahead in UTC (so not at UTC+12)."""
    now = timezone.now().astimezone(dt.UTC)
    quiet = QuietHours.current()
    quiet.enabled = True
    quiet.start = (now - dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    quiet.end = (now + dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    quiet.channels = ["email"]
    quiet.save()
    return quiet


def test_quiet_hours_drop(dispatch: Dispatch, campaign_factory, marketer) -> None:
    dispatch.start()
    _quiet_now_in_utc()
    asleep = people(2, "asleep", timezone="UTC")
    awake = people(2, "awake", timezone="Etc/GMT-12")  # UTC+12
    campaign = email_campaign(campaign_factory, Delivery.ONE_TIME, {"send": "now", "dnd": "drop"})
    services.campaign_publish(actor=marketer, campaign_id=campaign.pk)
    [run] = dispatch.run_done(campaign.pk)
    rows = assert_exactly_once(run, campaign.pk, {*asleep, *awake})
    assert {rows[pid] for pid in asleep} == {("dropped", "dnd")}
    assert {rows[pid] for pid in awake} == {("sent", "")}


def test_quiet_hours_delay(dispatch: Dispatch, campaign_factory, marketer) -> None:
    dispatch.start()
    quiet = _quiet_now_in_utc()
    asleep = people(2, "asleep", timezone="UTC")
    awake = people(2, "awake", timezone="Etc/GMT-12")
    campaign = email_campaign(campaign_factory, Delivery.ONE_TIME, {"send": "now", "dnd": "delay"})
    services.campaign_publish(actor=marketer, campaign_id=campaign.pk)

    def awake_sent():
        run = Run.objects.filter(campaign=campaign).first()
        return run if run and set(ledger(run.pk)) == set(awake) else None

    run = dispatch.wait(awake_sent, what="the recipients outside quiet hours")
    [later] = Batch.objects.filter(run=run).exclude(status="done")
    today = timezone.now().astimezone(dt.UTC).date()
    end = dt.datetime.combine(today, quiet.end, tzinfo=dt.UTC)
    if end < timezone.now():
        end += dt.timedelta(days=1)
    assert sorted(later.profile_ids) == sorted(asleep)
    assert later.not_before == end
    for _ in range(3):
        dispatch.tick()
    run.refresh_from_db()
    assert run.status == RunStatus.SENDING and set(ledger(run.pk)) == set(awake)

    # The quiet hours end: the clock is past them, and the delayed batch is due.
    quiet.start = (timezone.now() - dt.timedelta(hours=3)).time()
    quiet.end = (timezone.now() - dt.timedelta(hours=2)).time()
    quiet.save()
    Batch.objects.filter(pk=later.pk).update(not_before=in_past())
    [run] = dispatch.run_done(campaign.pk)
    assert all_sent(assert_exactly_once(run, campaign.pk, {*asleep, *awake}))
    campaign.refresh_from_db()
    assert campaign.status == Status.COMPLETED
