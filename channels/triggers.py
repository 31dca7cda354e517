"""Sends that follow events and calls: Action and Inaction triggers, and the API trigger.

Action: an event named by `when.trigger` (whose properties pass its filters) sends the message
`delay_minutes` later. Inaction: such an event starts a window of `window_minutes`; the message
is sent when it closes unless the profile did `when.absent_event` (with its filters) inside it.

Ingestion calls `match_events` in the transaction that writes the events, so an event is stored
together with its Trigger rows or not at all. The dispatch tick calls `start_due_triggers`: it
claims due rows (FOR UPDATE SKIP LOCKED), turns them into one run per campaign and deletes them in
the same transaction, so each trigger starts exactly one run (a crash before the commit leaves the
rows for the next tick). The run's ledger key is (run, profile): a profile triggered twice within
one tick gets one message, personalised with its latest event.

API campaigns send when called: `campaign_trigger` (POST /api/v1/campaigns/{id}/trigger/)
creates a run for the Who or for the listed recipients, idempotent on the caller's key.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from accounts.roles import Perm, has_perm
from audience.segments import event_filter_condition
from campaigns.choices import Delivery, Status
from campaigns.models import LISTENING_TO_EVENTS, Campaign, CampaignAudit
from campaigns.validation import _aware, json_problem
from channels import scheduler
from channels.models import Run, RunKind, Trigger
from channels.pipeline import _copy_text, copy_rows
from config.errors import Forbidden, Invalid, NotFound, Refused

if TYPE_CHECKING:
    from audience.validation import EventRecord

log = logging.getLogger(__name__)

# Due triggers claimed per tick: one run per campaign among them; the rest wait for the next tick.
TRIGGERS_PER_TICK = 5_000
# The API trigger's limits.
MAX_RECIPIENTS = 1_000
MAX_DATA_CHARS = 10_000
MAX_IDEMPOTENCY_KEY = 200

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


# ----------------------------------------------------------------------------------------------
# Matching events as they are ingested
# ----------------------------------------------------------------------------------------------
@dataclass
class _Listener:
    """A live Action or Inaction campaign, as the matcher needs it."""

    campaign_id: int
    filters: list[Any]
    # Events before this do not trigger: the start, or when the campaign went live (a backfill
    # of last year's events sends nothing).
    since: dt.datetime | None
    # Nor events whose message would be due after the campaign's end.
    end: dt.datetime | None
    wait: dt.timedelta


def _end(when: dict[str, Any]) -> dt.datetime | None:
    return _aware(when["end_at"], when.get("timezone")) if "end_at" in when else None


@functools.cache
def listening_query() -> tuple[str, tuple[Any, ...]]:
    """The live Action and Inaction campaigns (the partial index's own condition, so it is
    read through campaign_listening), with when each went live. Built once per process: a
    constant statement costs ingestion no ORM work per batch."""
    went_live = (
        CampaignAudit.objects.filter(
            campaign=OuterRef("pk"), to_status__in=[Status.RUNNING, Status.SCHEDULED]
        )
        .order_by("created_at")
        .values("created_at")[:1]
    )
    query = (
        Campaign.objects.filter(LISTENING_TO_EVENTS)
        .order_by()
        .annotate(went_live=Subquery(went_live))
        .values_list("pk", "delivery", "when", "status", "live_status", "went_live")
        .query
    )
    sql, params = query.sql_with_params()
    return sql, tuple(params)


def _listeners(names: set[str], now: dt.datetime) -> dict[str, list[_Listener]]:
    """Live triggered campaigns listening to one of these event names, by name: one query on
    the partial index campaign_listening, a handful of rows whatever the number of campaigns
    (the names are compared here, so the statement never changes)."""
    sql, params = listening_query()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    found: dict[str, list[_Listener]] = {}
    for pk, delivery, raw_when, status, live_status, went_live in rows:
        # Django leaves jsonb undecoded on raw queries.
        when = json.loads(raw_when) if isinstance(raw_when, str) else raw_when
        if when.get("trigger", {}).get("event") not in names:
            continue
        tz = when.get("timezone")
        start = _aware(when["start_at"], tz) if "start_at" in when else None
        if (live_status or status) != Status.RUNNING and (start is None or start > now):
            continue  # Scheduled, before its start
        since = max((m for m in (start, went_live) if m is not None), default=None)
        end = _end(when)
        # Action: the delay; Inaction: the window, at whose end the message is due.
        minutes = (
            when.get("delay_minutes", 0) if delivery == Delivery.ACTION else when["window_minutes"]
        )
        trigger = when["trigger"]
        listener = _Listener(
            pk, trigger.get("filters", []), since, end, dt.timedelta(minutes=minutes)
        )
        found.setdefault(trigger["event"], []).append(listener)
    return found


def match_events(
    events: Sequence[tuple[int, dt.datetime, EventRecord]], *, now: dt.datetime | None = None
) -> int:
    """Write the Trigger rows these just-written events start (inside ingestion's transaction).

    `events` are (profile id, ts, record). Costs one query (a handful of index rows) when no
    campaign listens to the batch's event names; else one more for the property filters of all
    campaigns together, and one COPY. Returns the number of triggers written.
    """
    if not events:
        return 0
    now = now or timezone.now()
    listeners = _listeners({record.name for _, _, record in events}, now)
    if not listeners:
        return 0
    # (listener, profile id, ts, due, record) for every event inside a listener's bounds.
    candidates = []
    for profile_id, ts, record in events:
        for listener in listeners.get(record.name, ()):
            due = ts + listener.wait
            if listener.since is not None and ts < listener.since:
                continue
            if listener.end is not None and due > listener.end:
                continue
            candidates.append((listener, profile_id, ts, due, record))
    if not candidates:
        return 0
    passing = _passing_filters(candidates, now)
    rows = [
        (
            listener.campaign_id,
            profile_id,
            ts,
            due,
            # {"event": {name, ts, properties}}: the properties are already JSON text.
            f'{{"event":{{"name":{_dumps(record.name)},"ts":{_dumps(ts.isoformat())},'
            f'"properties":{record.properties}}}}}',
        )
        for i, (listener, profile_id, ts, due, record) in enumerate(candidates)
        if i in passing
    ]
    if rows:
        # COPY: for a batch that triggers hundreds, a third of the time of a multi-row INSERT.
        copy_rows(
            "channels_trigger",
            ["campaign_id", "profile_id", "event_ts", "due_at", "data"],
            (
                f"{campaign_id}\t{profile_id}\t{ts.isoformat()}\t{due.isoformat()}\t"
                f"{_copy_text(data)}\n"
                for campaign_id, profile_id, ts, due, data in rows
            ),
        )
    return len(rows)


def _passing_filters(candidates: list[Any], now: dt.datetime) -> set[int]:
    """Indexes of the candidates whose event passes its campaign's filters: the filters are the
    segment engine's own SQL (audience.segments.event_filter_condition), run for every campaign
    at once over the candidate events' properties."""
    passing: set[int] = set()
    groups: dict[int, tuple[_Listener, list[int]]] = {}
    for i, (listener, *_rest) in enumerate(candidates):
        if not listener.filters:
            passing.add(i)
        else:
            groups.setdefault(listener.campaign_id, (listener, []))[1].append(i)
    parts: list[str] = []
    params: list[Any] = []
    for listener, indexes in groups.values():
        try:
            where, where_params = event_filter_condition(listener.filters, now=now)
        except Invalid as exc:
            log.warning(
                "campaign %s: trigger filters refused, no event matches: %s",
                listener.campaign_id,
                exc.errors,
            )
            continue
        # The segment engine's SQL; every value is a parameter.
        parts.append(
            "SELECT e.k FROM unnest(%s::int[], %s::jsonb[]) AS e(k, properties) "  # noqa: S608
            f"WHERE {where}"
        )
        params += [indexes, [candidates[i][4].properties for i in indexes], *where_params]
    if parts:
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(parts), params)
            passing.update(row[0] for row in cursor.fetchall())
    return passing


# ----------------------------------------------------------------------------------------------
# The tick: due triggers become runs
# ----------------------------------------------------------------------------------------------
def _listening(campaign: Campaign) -> bool:
    return (
        campaign.archived_at is None
        and campaign.delivery in (Delivery.ACTION, Delivery.INACTION)
        and (campaign.live_status or campaign.status) == Status.RUNNING
    )


def start_due_triggers(now: dt.datetime) -> int:
    """Turn due triggers into one run per campaign; returns the number of runs started.

    The campaigns are locked first (FOR NO KEY UPDATE SKIP LOCKED: a campaign being stopped
    waits for the next tick, and ingestion, whose trigger inserts only key-share the campaign,
    is not held up), then their due triggers (FOR UPDATE SKIP LOCKED), in the same order as a
    stop takes them, so the two never deadlock. Each campaign's run and the deletion of its
    triggers share a savepoint: a campaign that fails leaves its triggers for the next tick.
    """
    started = 0
    with transaction.atomic():
        due_for = set(
            Trigger.objects.filter(due_at__lte=now)
            .order_by("due_at")
            .values_list("campaign_id", flat=True)[:TRIGGERS_PER_TICK]
        )
        if not due_for:
            return 0
        campaigns = {
            c.pk: c
            for c in Campaign.objects.select_for_update(no_key=True, skip_locked=True).filter(
                pk__in=due_for
            )
        }
        claimed = list(
            Trigger.objects.select_for_update(skip_locked=True)
            .filter(due_at__lte=now, campaign_id__in=list(campaigns))
            .order_by("due_at")[:TRIGGERS_PER_TICK]
        )
        by_campaign: dict[int, list[Trigger]] = {}
        for trigger in claimed:
            by_campaign.setdefault(trigger.campaign_id, []).append(trigger)
        for campaign_id, triggers in by_campaign.items():
            try:
                with transaction.atomic():
                    started += _start(campaigns[campaign_id], triggers, now)
            except Exception:
                log.exception("campaign %s: due triggers left for the next tick", campaign_id)
    return started


def _start(campaign: Campaign, triggers: list[Trigger], now: dt.datetime) -> int:
    ids = [t.pk for t in triggers]
    if not _listening(campaign):
        if (
            campaign.archived_at is None
            and (campaign.live_status or campaign.status) == Status.SCHEDULED
        ):
            return 0  # it starts soon: the tick moves it to Running, these wait for that
        Trigger.objects.filter(pk__in=ids).delete()
        return 0
    end = _end(campaign.when)
    live = [t for t in triggers if end is None or t.due_at <= end]
    if campaign.delivery == Delivery.INACTION:
        done = _did_absent_event(campaign, live, now)
        live = [t for t in live if t.pk not in done]
    recipients: dict[str, Any] = {}
    for trigger in sorted(live, key=lambda t: (t.event_ts, t.pk)):
        recipients[str(trigger.profile_id)] = trigger.data  # the latest event wins
    if recipients:
        scheduler.create_run(
            campaign, kind=RunKind.TRIGGER, scheduled_for=now, recipients=recipients
        )
    Trigger.objects.filter(pk__in=ids).delete()
    return 1 if recipients else 0


def _did_absent_event(campaign: Campaign, triggers: list[Trigger], now: dt.datetime) -> set[int]:
    """The triggers whose profile did the absent event (with its filters) in their window, from
    the trigger event's time to the window's end, both included: one query through the events'
    (profile_id, name, ts) index."""
    if not triggers:
        return set()
    absent = campaign.when["absent_event"]
    try:
        where, params = event_filter_condition(absent.get("filters", []), now=now)
    except Invalid as exc:
        # Whether they did it cannot be told: sending could be wrong, so nothing is sent.
        log.error("campaign %s: absent event filters refused: %s", campaign.pk, exc.errors)
        return {t.pk for t in triggers}
    # The segment engine's SQL; every value is a parameter.
    sql = (
        "SELECT t.id FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[], "  # noqa: S608
        "%s::timestamptz[]) AS t(id, profile_id, since, until) WHERE EXISTS ("
        "SELECT 1 FROM audience_event e WHERE e.profile_id = t.profile_id AND e.name = %s "
        f"AND e.ts >= t.since AND e.ts <= t.until AND {where})"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                [t.pk for t in triggers],
                [t.profile_id for t in triggers],
                [t.event_ts for t in triggers],
                [t.due_at for t in triggers],
                absent["event"],
                *params,
            ],
        )
        return {row[0] for row in cursor.fetchall()}


# ----------------------------------------------------------------------------------------------
# The API trigger
# ----------------------------------------------------------------------------------------------
@dataclass
class Triggered:
    run: Run
    # True when the idempotency key named an earlier call's run: nothing new was sent.
    replayed: bool
    # The identities given that have no profile (not sent).
    unknown: list[str]


def _campaign_for_trigger(actor: Any, campaign_id: int) -> Campaign:
    """The campaign, key-share locked: a stop (which locks it FOR UPDATE) either comes first and
    is seen here, or waits for this call's commit and then stops the run it created."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM campaigns_campaign WHERE id = %s FOR KEY SHARE", [campaign_id]
        )
    campaign = Campaign.objects.visible_to(actor).filter(pk=campaign_id).first()
    if campaign is None:
        raise NotFound(f"Campaign {campaign_id} does not exist.")
    return campaign


def check_recipient_data(data: Any) -> str | None:
    """Why a recipient's personalisation data cannot be stored, or None."""
    if not isinstance(data, dict):
        return "Give the data as a JSON object."
    problem = json_problem(data)
    if problem:
        return problem
    try:
        text = _dumps(data)
        text.encode()
    except UnicodeEncodeError:
        return "Text contains an unpaired UTF-16 surrogate."
    except (TypeError, ValueError) as exc:
        return str(exc)
    if len(text) > MAX_DATA_CHARS:
        return f"At most {MAX_DATA_CHARS:,} characters of JSON ({len(text):,} given)."
    return None


def _check_can_send(campaign: Campaign, now: dt.datetime) -> None:
    if campaign.delivery != Delivery.API:
        raise Refused(
            f"“{campaign.name}” is not an API-triggered campaign "
            f"(its delivery is {campaign.get_delivery_display()}).",
            code="not_api_triggered",
        )
    live = campaign.live_status or campaign.status
    if campaign.archived_at is not None:
        raise Refused(f"“{campaign.name}” is archived.", code="not_running")
    if live != Status.RUNNING:
        if live == Status.SCHEDULED and campaign.next_run_at is not None:
            why = f"it starts at {campaign.next_run_at.isoformat()}"
        else:
            why = f"it is {Status(live).label}"
        raise Refused(f"“{campaign.name}” sends only while Running; {why}.", code="not_running")
    if campaign.ends_at is not None and campaign.ends_at <= now:
        raise Refused(
            f"“{campaign.name}” ended at {campaign.ends_at.isoformat()}.", code="not_running"
        )


def _unknown_in_run(run: Run, identities: list[str]) -> list[str]:
    """For a replay: the identities given that the run does not send to."""
    if not identities or run.recipients is None:
        return []
    sent_to = {
        identity for identity, pk in _profile_ids(identities).items() if str(pk) in run.recipients
    }
    return [identity for identity in identities if identity not in sent_to]


def _profile_ids(identities: list[str]) -> dict[str, int]:
    from audience.models import Profile

    return dict(Profile.objects.filter(identity__in=identities).values_list("identity", "pk"))


@transaction.atomic
def campaign_trigger(
    *,
    actor: Any,
    campaign_id: int,
    recipients: list[dict[str, Any]] | None = None,
    idempotency_key: str = "",
) -> Triggered:
    """Send an API campaign now: to its Who, or to `recipients` ([{"identity", "data"}], each
    one's data personalising their message as {{ data.* }}).

    Idempotent on `idempotency_key`: a call whose key already has a run answers with that run
    (replayed), whatever the campaign's state now; two concurrent calls with one key make one run
    (the run's unique (campaign, idempotency_key) decides, and the loser reads the winner's).
    Identities without a profile are not sent to and come back in `unknown`; when none is known,
    nothing is sent (Invalid).
    """
    if not has_perm(actor, Perm.PUBLISH):
        raise Forbidden("Your role does not allow you to send campaigns.")
    campaign = _campaign_for_trigger(actor, campaign_id)
    identities = [r["identity"] for r in recipients or []]
    if idempotency_key:
        earlier = (
            Run.objects.defer("snapshot")
            .filter(campaign=campaign, idempotency_key=idempotency_key)
            .first()
        )
        if earlier is not None:
            return Triggered(earlier, True, _unknown_in_run(earlier, identities))
    now = timezone.now()
    _check_can_send(campaign, now)
    chosen: dict[str, Any] | None = None
    unknown: list[str] = []
    if recipients is not None:
        ids = _profile_ids(identities)
        unknown = [identity for identity in identities if identity not in ids]
        if len(unknown) == len(identities):
            raise Invalid(
                "None of the recipients has a profile: nothing was sent.",
                errors={
                    f"recipients.{i}.identity": ["No profile has this identity."]
                    for i in range(len(identities))
                },
            )
        chosen = {
            str(ids[r["identity"]]): r.get("data") or {} for r in recipients if r["identity"] in ids
        }
    try:
        with transaction.atomic():
            run = scheduler.create_run(
                campaign,
                kind=RunKind.API,
                scheduled_for=now,
                recipients=chosen,
                idempotency_key=idempotency_key,
            )
    except IntegrityError:
        if not idempotency_key:
            raise
        # A concurrent call with the same key committed its run first.
        run = Run.objects.defer("snapshot").get(campaign=campaign, idempotency_key=idempotency_key)
        return Triggered(run, True, _unknown_in_run(run, identities))
    return Triggered(run, False, unknown)
