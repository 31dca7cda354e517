"""Exactly once under faults, with real workers, real receivers and a real broker.

- A worker SIGKILLed in the middle of a batch: a new worker finishes the run once the dead one's
  lease expires. E-mail (not idempotent) records the chunk that was in flight as failed
  "outcome_unknown" and never sends it again; webhooks (idempotent) send it again with the same
  webhook-id, which the receiver deduplicates.
- A redelivered send_batch message for a finished batch changes nothing.
- A Redis restart loses every queued message: the tick's sweeper queues the work again.
- A stop while sending halts the provider calls within one chunk.

Receivers answer slowly (a few tens of milliseconds per message), so a batch takes seconds and
the kill, the restart or the stop lands in the middle of it.
"""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest
from django.utils import timezone

from audience.models import Profile
from campaigns import services
from campaigns.choices import Channel, Delivery, Status
from campaigns.models import Campaign
from channels.models import Batch, Run, RunStatus
from channels.models import Delivery as Ledger
from tests.integration.dispatch_worker import (  # noqa: F401 - fixtures
    EMAIL,
    LEASE,
    Dispatch,
    RedisServer,
    WebhookReceiver,
    assert_exactly_once,
    dispatch_fixture,
    email_env,
    ledger,
    report,
    sent_events,
    slow_smtp_server,
    webhook_env,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def people(count: int) -> dict[str, int]:
    """{e-mail address: profile id}"""
    made = Profile.objects.bulk_create(
        [Profile(identity=f"u{i}", email=f"u{i}@example.com") for i in range(count)]
    )
    return {p.email: p.pk for p in made}


def webhook_what(url: str) -> dict:
    return {"message": {"url": url}}


def publish_now(campaign_factory, marketer, channel: str, what: dict) -> Campaign:
    campaign = campaign_factory(
        channel=channel, delivery=Delivery.ONE_TIME, when={"send": "now"}, what=what
    )
    services.campaign_publish(actor=marketer, campaign_id=campaign.pk)
    return campaign


def rows_of(campaign: Campaign) -> int:
    return Ledger.objects.filter(run__campaign=campaign).count()


def wait_for_rows(dispatch: Dispatch, campaign: Campaign, at_least: int, total: int) -> int:
    """Wait (without ticking: the worker is busy) until some rows exist but not all."""

    def some() -> int:
        n = rows_of(campaign)
        assert n < total, "the run finished before the fault could land in the middle of it"
        return n if n >= at_least else 0

    return dispatch.wait(some, tick=False, every=0.05, timeout=60, what=f"{at_least} rows")


# ----------------------------------------------------------------------------------------------
# SIGKILL
# ----------------------------------------------------------------------------------------------
def test_sigkill_mid_batch_email_is_never_sent_twice(
    dispatch: Dispatch, campaign_factory, marketer, settings
) -> None:
    total = 600
    settings.HERALD_DISPATCH_BATCH = 300
    with slow_smtp_server(delay=0.02) as (inbox, port):
        env = {**email_env(port), "HERALD_DISPATCH_BATCH": "300"}
        first = dispatch.start(**env)
        address_of = people(total)
        campaign = publish_now(campaign_factory, marketer, Channel.EMAIL, EMAIL)

        # A chunk of 100 takes about 2 s: kill the worker after the first chunk, mid-batch.
        at_kill = wait_for_rows(dispatch, campaign, 1, total)
        dispatch.kill(first)
        killed_at = time.monotonic()
        rows_at_kill = rows_of(campaign)
        received_at_kill = len(inbox.addresses())

        dispatch.start(**env)
        [run] = dispatch.run_done(campaign.pk, timeout=120)
        recovered_in = time.monotonic() - killed_at

    assert run.status == RunStatus.DONE
    rows = assert_exactly_once(run, campaign.pk, set(address_of.values()))
    received = Counter(inbox.addresses())
    # Never twice.
    assert max(received.values()) == 1, [a for a, n in received.items() if n > 1]
    by_profile = {pid: address for address, pid in address_of.items()}
    sent = {by_profile[pid] for pid, (status, _) in rows.items() if status == "sent"}
    unknown = {by_profile[pid] for pid, row in rows.items() if row == ("failed", "outcome_unknown")}
    assert {status for status, _ in rows.values()} <= {"sent", "failed"}
    assert len(sent) + len(unknown) == total, "no failure but the unknown outcomes"
    # Every sent row was received; what was received and is not "sent" was the killed chunk.
    assert sent <= set(received)
    assert set(received) - sent <= unknown
    assert 0 < len(unknown) <= 100, "at most the one chunk in flight has an unknown outcome"
    assert run.totals["failed_reasons"] == {"outcome_unknown": len(unknown)}
    # The killed worker's batch was claimed again by the new worker once its lease expired.
    assert max(Batch.objects.filter(run=run).values_list("attempts", flat=True)) >= 2
    report(
        f"SIGKILL e-mail: {at_kill} rows when waiting ended, {rows_at_kill} at the kill, "
        f"{received_at_kill} received at the kill; outcome_unknown={len(unknown)} "
        f"(received anyway: {len(set(received) & unknown)}), sent={len(sent)}, "
        f"recovered in {recovered_in:.1f}s (lease {LEASE}s)"
    )


def test_sigkill_mid_batch_webhooks_are_resent_with_the_same_id(
    dispatch: Dispatch, campaign_factory, marketer, settings
) -> None:
    total = 800
    settings.HERALD_DISPATCH_BATCH = 400
    receiver = WebhookReceiver(delay=0.05)
    try:
        env = {**webhook_env(), "HERALD_DISPATCH_BATCH": "400"}
        first = dispatch.start(**env)
        address_of = people(total)
        campaign = publish_now(
            campaign_factory, marketer, Channel.WEBHOOK, webhook_what(receiver.url)
        )

        # A chunk of 200 at 8 requests at a time takes about 1.3 s.
        wait_for_rows(dispatch, campaign, 1, total)
        time.sleep(0.4)  # well inside the next chunk
        dispatch.kill(first)
        dispatch.start(**env)
        [run] = dispatch.run_done(campaign.pk, timeout=120)
        received = receiver.snapshot()
    finally:
        receiver.close()

    assert not receiver.refused, receiver.refused[:3]
    rows = assert_exactly_once(run, campaign.pk, set(address_of.values()))
    assert {row for row in rows.values()} == {("sent", "")}, (
        "no outcome is unknown when resending is safe"
    )
    ids = Counter(r.webhook_id for r in received)
    provider_ids = set(Ledger.objects.filter(run=run).values_list("provider_id", flat=True))
    # The receiver saw each delivery under one id; the duplicates are the in-flight resends.
    assert set(ids) == provider_ids and len(ids) == total
    assert {r.webhook_id: r.profile_id for r in received} == {
        f"msg_{run.pk}-{pid}": pid for pid in address_of.values()
    }
    resent = sum(n - 1 for n in ids.values())
    assert resent <= 200, "only the chunk in flight is sent again"
    report(f"SIGKILL webhooks: {len(received)} requests, {len(ids)} distinct ids, {resent} resent")


# ----------------------------------------------------------------------------------------------
# Redelivery
# ----------------------------------------------------------------------------------------------
def answers(log: str, task: str) -> list[str]:
    """What the worker's runs of a task returned, in order (Celery logs each success)."""
    return re.findall(rf"Task channels\.tasks\.{task}\[[^\]]+\] succeeded in [^:]+: '([^']*)'", log)


def _state(run: Run) -> tuple:
    return (
        sorted(Ledger.objects.filter(run=run).values_list("profile_id", "status", "attempts")),
        sorted(
            Batch.objects.filter(run=run).values_list(
                "pk", "status", "attempts", "counts", "finished_at"
            )
        ),
        Run.objects.filter(pk=run.pk)
        .values_list("status", "batches_done", "totals", "finished_at")
        .get(),
        sorted(sent_events(run.campaign_id)),
    )


def test_a_redelivered_message_changes_nothing(
    dispatch: Dispatch, campaign_factory, marketer, settings
) -> None:
    settings.HERALD_DISPATCH_BATCH = 5
    worker = dispatch.start(HERALD_DISPATCH_BATCH="5")
    ids = people(12)
    campaign = publish_now(campaign_factory, marketer, Channel.EMAIL, EMAIL)
    [run] = dispatch.run_done(campaign.pk)
    assert_exactly_once(run, campaign.pk, set(ids.values()))
    before = _state(run)
    batches = list(Batch.objects.filter(run=run).values_list("pk", flat=True))
    assert len(batches) == 3

    # The same messages again, as a broker redelivers them (and a late resolve too).
    sends, resolves = (
        answers(worker.log_text(), "send_batch"),
        answers(worker.log_text(), "resolve_run"),
    )
    for pk in batches:
        dispatch.app.send_task("channels.tasks.send_batch", args=[pk], queue=dispatch.queue)
    dispatch.app.send_task("channels.tasks.resolve_run", args=[run.pk], queue=dispatch.queue)

    def answered() -> bool:
        log = worker.log_text()
        return (
            len(answers(log, "send_batch")) == len(sends) + len(batches)
            and len(answers(log, "resolve_run")) == len(resolves) + 1
        )

    dispatch.wait(answered, tick=False, what="the redelivered messages")
    log = worker.log_text()
    assert answers(log, "send_batch")[len(sends) :] == ["not claimed"] * len(batches)
    assert answers(log, "resolve_run")[len(resolves) :] == [RunStatus.DONE]
    assert _state(run) == before


# ----------------------------------------------------------------------------------------------
# Redis restart
# ----------------------------------------------------------------------------------------------
def test_a_redis_restart_loses_no_recipient_and_doubles_none(
    dispatch: Dispatch, campaign_factory, marketer, settings, tmp_path
) -> None:
    total = 600
    settings.HERALD_DISPATCH_BATCH = 100
    broker = RedisServer(tmp_path)
    receiver = WebhookReceiver(delay=0.05)
    try:
        dispatch.use_broker(broker.url)
        worker = dispatch.start(**webhook_env(), HERALD_DISPATCH_BATCH="100")
        address_of = people(total)
        campaign = publish_now(
            campaign_factory, marketer, Channel.WEBHOOK, webhook_what(receiver.url)
        )

        # Six batches queued in Redis; the first is being sent.
        wait_for_rows(dispatch, campaign, 1, total)
        queued = Batch.objects.filter(run__campaign=campaign, status="queued").count()
        broker.restart()
        restarted_at = time.monotonic()
        restarted = timezone.now()
        [run] = dispatch.run_done(campaign.pk, timeout=120)
        recovered_in = time.monotonic() - restarted_at
        received = receiver.snapshot()
    finally:
        receiver.close()
        broker.stop()

    assert queued > 0, "the restart should have lost queued batches"
    # The same worker reconnected; the lost messages were queued again by the tick's sweeper.
    assert worker.alive()
    assert Batch.objects.filter(run=run, enqueued_at__gt=restarted).exists()
    rows = assert_exactly_once(run, campaign.pk, set(address_of.values()))
    assert {row for row in rows.values()} == {("sent", "")}
    ids = Counter(r.webhook_id for r in received)
    assert len(ids) == total
    report(
        f"Redis restart: {queued} batches were queued, run done {recovered_in:.1f}s after, "
        f"{sum(n - 1 for n in ids.values())} webhooks resent"
    )


# ----------------------------------------------------------------------------------------------
# Stop
# ----------------------------------------------------------------------------------------------
def test_stop_during_a_run_halts_sending_within_seconds(
    dispatch: Dispatch, campaign_factory, marketer, settings
) -> None:
    total = 600
    settings.HERALD_DISPATCH_BATCH = 300
    with slow_smtp_server(delay=0.02) as (inbox, port):
        dispatch.start(**email_env(port), HERALD_DISPATCH_BATCH="300")
        address_of = people(total)
        campaign = publish_now(campaign_factory, marketer, Channel.EMAIL, EMAIL)
        wait_for_rows(dispatch, campaign, 1, total)

        services.campaign_stop(actor=marketer, campaign_id=campaign.pk)
        stopped_at = time.time()
        [run] = dispatch.run_done(campaign.pk)
        time.sleep(LEASE + 2)  # anything still going would be received by now
        for _ in range(4):
            dispatch.tick()
        received = Counter(inbox.addresses())
        last = max(inbox.times)

    run.refresh_from_db()
    assert run.status == RunStatus.STOPPED and run.stopped_by == marketer
    campaign.refresh_from_db()
    assert campaign.status == Status.STOPPED
    assert last - stopped_at < 5, f"a message went {last - stopped_at:.1f}s after the stop"
    rows = ledger(run.pk)
    assert max(received.values()) == 1
    by_profile = {pid: address for address, pid in address_of.items()}
    sent = {by_profile[pid] for pid, (status, _) in rows.items() if status == "sent"}
    # The ledger says exactly who got it.
    assert sent == set(received)
    assert {status for status, _ in rows.values()} == {"sent"}
    assert len(sent) < total
    assert sorted(pid for pid, _ in sent_events(campaign.pk)) == sorted(address_of[a] for a in sent)
    assert not Batch.objects.filter(run=run).exclude(status="done").exists()
    report(
        f"Stop: {len(sent)} of {total} sent; last message {last - stopped_at:+.2f}s after the stop"
    )
