"""The dispatch tick and the life of a run: start, resolve into batches, finish, stop.

One beat entry runs `tick` every HERALD_DISPATCH_TICK seconds. Nothing waits in Celery ETAs: every
due thing is a row (a campaign's next_run_at, a batch's not_before, a trigger's due_at), claimed
with `SELECT ... FOR UPDATE SKIP LOCKED`, so any number of workers, two ticks at once or a
restarted beat start each occurrence once (a run's unique (campaign, scheduled_for) makes sure).

The tick also sweeps: a batch whose holder's lease expired, a run whose resolution stalled, a run
whose last batch finished without finishing it, are queued again. Tasks only ever take ids and
re-read rows, so a redelivered message finds the work done and does nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from audience.segments import compile_condition, evaluation_cursor
from campaigns import schedule
from campaigns.choices import Action, Delivery, Status
from campaigns.models import Campaign
from channels.models import Batch, BatchStatus, Run, RunKind, RunStatus
from channels.pipeline import id_array
from labels.services import label_snapshot_for

log = logging.getLogger(__name__)

DUE_PER_TICK = 50
# Resolution reads this many batches' worth of profiles per transaction (fewer round trips and
# commits; the first batches still start after the first step).
PAGES_PER_STEP = 4
LIVE = (Status.SCHEDULED, Status.RUNNING, Status.AWAITING_NEXT_RUN)


def _enqueue_batch(batch_id: int) -> None:
    from channels.tasks import send_batch

    send_batch.delay(batch_id)


def _enqueue_resolve(run_id: int) -> None:
    from channels.tasks import resolve_run

    resolve_run.delay(run_id)


# ----------------------------------------------------------------------------------------------
# Runs
# ----------------------------------------------------------------------------------------------
def snapshot_of(campaign: Campaign) -> dict[str, Any]:
    """What a run sends, frozen at its start: later edits of What apply to the next run."""
    return {
        "campaign_id": campaign.pk,
        "name": campaign.name,
        "channel": campaign.channel,
        "type": campaign.type,
        "delivery": campaign.delivery,
        "who": campaign.who,
        "what": campaign.what,
        "when": campaign.when,
        "labels": label_snapshot_for(campaign),
    }


def create_run(
    campaign: Campaign,
    *,
    kind: str,
    scheduled_for: dt.datetime,
    recipients: dict[str, Any] | None = None,
    idempotency_key: str = "",
) -> Run:
    """A new run (call inside a transaction); it is resolved by a task once the caller commits.

    `recipients` ({"<profile id>": data}) sends to those profiles instead of the Who.
    """
    run = Run.objects.create(
        campaign=campaign,
        kind=kind,
        scheduled_for=scheduled_for,
        snapshot=snapshot_of(campaign),
        recipients=recipients,
        idempotency_key=idempotency_key,
        lease_until=timezone.now() + dt.timedelta(seconds=settings.HERALD_DISPATCH_LEASE),
    )
    if kind != RunKind.SCHEDULED:
        # A scheduled run moves its campaign in the tick (_start); calls and triggers count here.
        now = timezone.now()
        Campaign.objects.filter(pk=campaign.pk).update(
            last_run_at=now, last_active_at=now, runs_count=F("runs_count") + 1
        )
    transaction.on_commit(lambda: _enqueue_resolve(run.pk))
    return run


def add_batch(run_id: int, profile_ids: list[int], *, not_before: dt.datetime) -> int:
    """One more batch of a run (inside a transaction). Counted in batches_total at once, so the
    run cannot finish before it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE channels_run SET batches_total = batches_total + 1 WHERE id = %s "
            "RETURNING batches_total",
            [run_id],
        )
        seq = cursor.fetchone()[0]
        now = timezone.now()
        due = not_before <= now
        # The ids as an array literal (pipeline.id_array): the ORM would send 5,000 constants.
        cursor.execute(
            "INSERT INTO channels_batch (run_id, seq, profile_ids, not_before, status, token, "
            "attempts, enqueued_at, counts) VALUES (%s, %s, %s::bigint[], %s, 'queued', '', 0, "
            "%s, '{}') RETURNING id",
            [run_id, seq, id_array(profile_ids), not_before, now if due else None],
        )
        batch_id = cursor.fetchone()[0]
    if due:
        transaction.on_commit(lambda: _enqueue_batch(batch_id))
    return batch_id


def _page_sql(snapshot: dict[str, Any], scheduled_for: dt.datetime) -> tuple[str, list[Any]]:
    """The run's audience as keyset pages: (id, timezone) after a cursor."""
    where, params = compile_condition(snapshot["who"], now=scheduled_for)
    when = snapshot["when"]
    if snapshot["delivery"] == Delivery.DATE_TIME:
        # Who has the date property `offset_days` after (or before, when negative) the day of
        # the send: a renewal on the 10th, offset -3, is sent on the 7th.
        day = scheduled_for.astimezone(schedule.zone(when)).date()
        target = day - dt.timedelta(days=when.get("offset_days", 0))
        where = f"({where}) AND left(p.properties->>%s, 10) = %s"
        params = [*params, when["date_property"], target.isoformat()]
    # compile_condition's SQL; every value is a parameter.
    sql = (
        f"SELECT p.id, p.timezone FROM audience_profile p WHERE {where} AND p.id > %s "  # noqa: S608
        "ORDER BY p.id LIMIT %s"
    )
    return sql, params


def _not_before(snapshot: dict[str, Any], run: Run, tz_name: str, now: dt.datetime) -> dt.datetime:
    """When a recipient's message may go: now, or their own wall-clock time for sends in each
    user's time zone."""
    when = snapshot["when"]
    if not when.get("user_timezone"):
        return run.scheduled_for
    home = schedule.zone(when)
    if snapshot["delivery"] == Delivery.DATE_TIME:
        day = run.scheduled_for.astimezone(home).date()
        hour, minute = (int(x) for x in when["send_time"].split(":"))
        wall = dt.datetime.combine(day, dt.time(hour, minute))
    else:
        wall = schedule.user_wall_time(when)
        if wall is None:
            return run.scheduled_for
    try:
        tz = zoneinfo.ZoneInfo(tz_name) if tz_name else home
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = home
    return wall.replace(tzinfo=tz)


def resolve(run_id: int) -> str:
    """Turn the run's audience into batches, page by page, each page in its own transaction.

    The run row is locked while a page is added and the cursor moves with it, so two resolvers
    (a slow one and the one the sweeper queued) interleave pages without repeating one.
    """
    size = settings.HERALD_DISPATCH_BATCH
    step = size * PAGES_PER_STEP
    frozen = Run.objects.only("snapshot", "scheduled_for", "recipients").get(pk=run_id)
    if frozen.recipients is None:
        sql, params = _page_sql(frozen.snapshot, frozen.scheduled_for)
    while True:
        with transaction.atomic():
            run = Run.objects.select_for_update().only("status", "cursor").get(pk=run_id)
            if run.status != RunStatus.RESOLVING:
                return run.status
            now = timezone.now()
            if frozen.recipients is not None:
                ids = sorted(int(k) for k in frozen.recipients)
                page = [(pid, "") for pid in ids if pid > run.cursor][:step]
            else:
                with evaluation_cursor(timeout_ms=None) as cursor:
                    cursor.execute(sql, [*params, run.cursor, step])
                    page = cursor.fetchall()
            groups: dict[dt.datetime, list[int]] = {}
            if not frozen.snapshot["when"].get("user_timezone"):
                groups[frozen.scheduled_for] = [row[0] for row in page]
            else:
                for pid, tz_name in page:
                    when = _not_before(frozen.snapshot, frozen, tz_name, now)
                    groups.setdefault(when, []).append(pid)
            for not_before, ids in sorted(groups.items()):
                for start in range(0, len(ids), size):
                    add_batch(
                        run_id,
                        ids[start : start + size],
                        not_before=max(not_before, frozen.scheduled_for),
                    )
            fields: dict[str, Any] = {
                "lease_until": now + dt.timedelta(seconds=settings.HERALD_DISPATCH_LEASE)
            }
            if page:
                fields["cursor"] = page[-1][0]
                fields["targeted"] = F("targeted") + len(page)
            if len(page) < step:
                fields.update(resolved=True, status=RunStatus.SENDING, lease_until=None)
            Run.objects.filter(pk=run_id).update(**fields)
            if len(page) < step:
                transaction.on_commit(lambda: _finish_if_empty(run_id))
                return "resolved"


def _finish_if_empty(run_id: int) -> None:
    if Run.objects.filter(pk=run_id, batches_total=F("batches_done"), resolved=True).exists():
        finish_run(run_id)


def batch_done(run_id: int) -> bool:
    """Count a finished batch (inside the batch's last transaction); True when it was the last."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE channels_run SET batches_done = batches_done + 1 WHERE id = %s "
            "RETURNING resolved AND batches_done >= batches_total",
            [run_id],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def batch_counters(run_ids: list[int]) -> dict[int, dict[str, int]]:
    """Each run's batch counters summed ({"sent": n, "dropped:consent": n, ...}), in one query."""
    if not run_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT b.run_id, kv.key, SUM(kv.value::bigint) FROM channels_batch b "
            "CROSS JOIN LATERAL jsonb_each_text(b.counts) kv WHERE b.run_id = ANY(%s) "
            "GROUP BY b.run_id, kv.key",
            [run_ids],
        )
        out: dict[int, dict[str, int]] = {}
        for run_id, key, n in cursor.fetchall():
            out.setdefault(run_id, {})[key] = int(n)
    return out


def totals_from_counts(counts: dict[str, int], targeted: int) -> dict[str, Any]:
    """{"targeted", "sent", "failed", "dropped": {reason: n}, "failed_reasons": {...}, "pending"}
    from summed batch counters."""
    totals: dict[str, Any] = {
        "targeted": targeted,
        "sent": counts.get("sent", 0),
        "failed": 0,
        "dropped": {},
        "failed_reasons": {},
    }
    for key, n in counts.items():
        status, _, reason = key.partition(":")
        if status == "dropped":
            totals["dropped"][reason] = totals["dropped"].get(reason, 0) + n
        elif status == "failed":
            totals["failed_reasons"][reason] = totals["failed_reasons"].get(reason, 0) + n
            totals["failed"] += n
    done = totals["sent"] + totals["failed"] + sum(totals["dropped"].values())
    totals["pending"] = max(0, targeted - done)
    return totals


def run_totals(run: Run, counters: dict[int, dict[str, int]] | None = None) -> dict[str, Any]:
    """The run's figures: those a finished run recorded, else its batches' counters now (one
    row per batch, never the ledger). `counters`: batch_counters of a page of runs, read once."""
    if run.status == RunStatus.DONE and run.totals:
        return run.totals
    if counters is None:
        counters = batch_counters([run.pk])
    return totals_from_counts(counters.get(run.pk, {}), run.targeted)


def finish_run(run_id: int) -> None:
    """The run is over: every batch is done. Record its figures and move the campaign on."""
    with transaction.atomic():
        campaign_id = Run.objects.filter(pk=run_id).values_list("campaign_id", flat=True).first()
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        run = Run.objects.select_for_update().get(pk=run_id)
        if run.status != RunStatus.SENDING or run.batches_done < run.batches_total:
            return
        now = timezone.now()
        run.status = RunStatus.DONE
        run.finished_at = now
        run.totals = totals_from_counts(batch_counters([run_id]).get(run_id, {}), run.targeted)
        run.save(update_fields=["status", "finished_at", "totals"])
        if run.kind == RunKind.SCHEDULED:
            _campaign_run_finished(campaign, now)


def _live(campaign: Campaign) -> str:
    return campaign.live_status or campaign.status


def _set_live(
    campaign: Campaign, status: Status, action: Action, now: dt.datetime, **fields: Any
) -> None:
    from campaigns.services import scheduler_move

    scheduler_move(campaign, action=action, to=status, now=now, **fields)


def _campaign_run_finished(campaign: Campaign, now: dt.datetime) -> None:
    if _live(campaign) != Status.RUNNING:
        return
    delivery = Delivery(campaign.delivery)
    if delivery == Delivery.DATE_TIME:
        if campaign.next_run_at is None:
            _set_live(campaign, Status.COMPLETED, Action.RUN_FINISH, now)
        return
    if campaign.next_run_at is not None:
        _set_live(campaign, Status.AWAITING_NEXT_RUN, Action.RUN_FINISH, now)
    else:
        _set_live(campaign, Status.COMPLETED, Action.RUN_FINISH, now)


def stop_runs(campaign: Campaign, actor: Any) -> int:
    """Stop the campaign's unfinished runs (inside the stop's transaction): their batches see it
    at their next chunk. Waiting triggers are dropped."""
    from channels.models import Trigger

    Trigger.objects.filter(campaign=campaign).delete()
    return Run.objects.filter(
        campaign=campaign, status__in=[RunStatus.RESOLVING, RunStatus.SENDING]
    ).update(
        status=RunStatus.STOPPED,
        finished_at=timezone.now(),
        stopped_by=actor if getattr(actor, "pk", None) else None,
    )


# ----------------------------------------------------------------------------------------------
# The tick
# ----------------------------------------------------------------------------------------------
def start_due_campaigns(now: dt.datetime) -> int:
    """Start the runs that are due; a triggered campaign's start moves it to Running."""
    started = 0
    with transaction.atomic():
        due = list(
            Campaign.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(next_run_at__lte=now, archived_at__isnull=True)
            .filter(Q(status__in=LIVE) | Q(live_status__in=LIVE))
            .order_by("next_run_at")[:DUE_PER_TICK]
        )
        for campaign in due:
            started += _start(campaign, now)
    return started


def _start(campaign: Campaign, now: dt.datetime) -> int:
    occurrence = campaign.next_run_at
    delivery = Delivery(campaign.delivery)
    if delivery in schedule.TRIGGERED_DELIVERIES:
        # Its start: from now on events (or calls) send.
        if _live(campaign) == Status.SCHEDULED:
            _set_live(campaign, Status.RUNNING, Action.RUN_START, now, next_run_at=None)
        else:
            Campaign.objects.filter(pk=campaign.pk).update(next_run_at=None)
        return 0
    if _live(campaign) == Status.RUNNING and delivery != Delivery.DATE_TIME:
        # The previous run is still sending; this occurrence starts when it finishes.
        if Run.objects.filter(
            campaign=campaign, status__in=[RunStatus.RESOLVING, RunStatus.SENDING]
        ).exists():
            return 0
    following = schedule.occurrence_after(
        campaign.delivery, campaign.when, occurrence, runs_done=campaign.runs_count + 1
    )
    try:
        with transaction.atomic():
            create_run(campaign, kind=RunKind.SCHEDULED, scheduled_for=occurrence)
    except IntegrityError:
        # This occurrence has had its run (the schedule was set back to it): never twice.
        log.warning("campaign %s: the run for %s exists; moving on", campaign.pk, occurrence)
        Campaign.objects.filter(pk=campaign.pk).update(next_run_at=following)
        return 0
    fields = {
        "next_run_at": following,
        "last_run_at": now,
        "runs_count": campaign.runs_count + 1,
    }
    if _live(campaign) in (Status.SCHEDULED, Status.AWAITING_NEXT_RUN):
        _set_live(campaign, Status.RUNNING, Action.RUN_START, now, **fields)
    else:
        Campaign.objects.filter(pk=campaign.pk).update(last_active_at=now, **fields)
    return 1


def complete_ended_campaigns(now: dt.datetime) -> int:
    """Triggered and date/time campaigns past their end date complete (nothing more is sent)."""
    done = 0
    with transaction.atomic():
        ended = (
            Campaign.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(ends_at__lte=now, archived_at__isnull=True)
            .filter(Q(status__in=LIVE) | Q(live_status__in=LIVE))[:DUE_PER_TICK]
        )
        for campaign in ended:
            if Run.objects.filter(
                campaign=campaign, status__in=[RunStatus.RESOLVING, RunStatus.SENDING]
            ).exists():
                continue
            _set_live(campaign, Status.COMPLETED, Action.COMPLETE, now, next_run_at=None)
            done += 1
    return done


def enqueue_due_batches(now: dt.datetime) -> int:
    """Batches whose time came (user time zones, quiet hours, delays), and batches whose holder's
    lease expired or whose message was lost, go to the workers."""
    requeue = dt.timedelta(seconds=settings.HERALD_DISPATCH_REQUEUE_AFTER)
    with transaction.atomic():
        ids = list(
            Batch.objects.select_for_update(skip_locked=True)
            .filter(not_before__lte=now)
            .filter(
                Q(status=BatchStatus.QUEUED, enqueued_at__isnull=True)
                | Q(status=BatchStatus.QUEUED, enqueued_at__lt=now - requeue)
                | Q(status=BatchStatus.CLAIMED, lease_until__lt=now)
            )
            .values_list("pk", flat=True)[:500]
        )
        if ids:
            Batch.objects.filter(pk__in=ids).update(enqueued_at=now)
            transaction.on_commit(lambda: [_enqueue_batch(pk) for pk in ids])
    return len(ids)


def sweep_runs(now: dt.datetime) -> int:
    """Runs whose resolution stalled are resolved again; runs whose batches are all done are
    finished (their last worker died between the two)."""
    count = 0
    stalled = Run.objects.filter(status=RunStatus.RESOLVING, lease_until__lt=now).values_list(
        "pk", flat=True
    )
    for run_id in stalled:
        Run.objects.filter(pk=run_id).update(
            lease_until=now + dt.timedelta(seconds=settings.HERALD_DISPATCH_LEASE)
        )
        _enqueue_resolve(run_id)
        count += 1
    for run_id in Run.objects.filter(
        status=RunStatus.SENDING, resolved=True, batches_done__gte=F("batches_total")
    ).values_list("pk", flat=True):
        finish_run(run_id)
        count += 1
    return count


def tick(now: dt.datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    from channels import triggers

    # Triggers before completion: the messages due by a campaign's end are sent, and the
    # campaign completes once their run is done.
    return {
        "started": start_due_campaigns(now),
        "triggered": triggers.start_due_triggers(now),
        "completed": complete_ended_campaigns(now),
        "batches": enqueue_due_batches(now),
        "swept": sweep_runs(now),
    }
