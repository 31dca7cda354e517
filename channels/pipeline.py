"""One batch of a run: decide, render, send, record, exactly once.

A batch task (channels.tasks.send_batch) holds the batch under a lease with a token; every write it
makes first checks the token (the fence), so a worker that lost its lease (it was too slow, or a
sweeper gave the batch to another worker) writes nothing. Within the batch:

1. Recipients that already have a ledger row (an earlier attempt) are skipped.
2. The recipients of a provider call that an earlier holder was making when it died
   (`inflight_ids`) have an unknown outcome: an idempotent adapter (the provider deduplicates by
   the delivery's key) sends them again; any other records them as failed "outcome_unknown"
   rather than risk a second message.
3. The rest are decided: dropped (no address, no consent, frequency cap, quiet hours, control
   group), delayed (quiet hours, to a new batch at their end), failed (a template that fails for
   their data), or to send. Final rows for the first kinds are written at once with COPY.
4. To-send recipients go to the adapter chunk by chunk: before a call the chunk's ids are stored
   in `inflight_ids` (committed; idempotent adapters skip this); after it, one transaction COPYs
   their ledger rows, inserts their Notification Sent events and clears `inflight_ids`. Between
   chunks the run's status is read, so a stop halts the batch within one chunk.
5. The batch is marked done and the run's done-count bumped; the last batch finishes the run.

The ledger's primary key (run, profile) makes a second row impossible; the fence and the in-flight
list make a second provider call for the same recipient impossible except for idempotent adapters.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import io
import json
import logging
import re
import threading
import uuid
import zoneinfo
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audience import partitions
from audience.models import NOTIFICATION_SENT
from audience.segments import DEVICE_REACHABLE_SQL, REACHABLE_SQL
from channels.adapters.base import Adapter, Message, ProviderNotConfigured, Result, deliver
from channels.models import Batch, DeliveryStatus, FrequencyCap, QuietHours, RunStatus
from channels.providers import adapter_for
from channels.render import CONTROL, Plan, RenderError, template_paths

log = logging.getLogger(__name__)

# Drop and failure reasons, as the ledger and the run's figures name them.
NO_ADDRESS = "no_address"
CONSENT = "consent"
FREQUENCY_CAP = "frequency_cap"
DND = "dnd"
CONTROL_GROUP = "control_group"
NO_PROFILE = "no_profile"
OUTCOME_UNKNOWN = "outcome_unknown"
NOT_CONFIGURED = "not_configured"

ADDRESS_COLUMN = {"email": "email", "sms": "phone", "whatsapp": "phone"}
DEVICE_KINDS = {"push": "push", "web_push": "web_push"}


class LeaseLost(Exception):
    """Another worker holds the batch now: this one stops without writing."""


@dataclass(slots=True)
class Recipient:
    profile_id: int
    identity: str
    address: str
    tz: str
    properties: dict[str, Any]
    problem: str  # "" when reachable, else NO_ADDRESS or CONSENT
    devices: list[tuple[int, str]] = field(default_factory=list)


@dataclass(slots=True)
class Row:
    """One ledger row: (profile, status, reason, variant, provider id, attempts)."""

    profile_id: int
    status: str
    reason: str = ""
    variant: str = ""
    provider_id: str = ""
    attempts: int = 0


# ----------------------------------------------------------------------------------------------
# Bulk writes
# ----------------------------------------------------------------------------------------------
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    return str(value).translate(_ESCAPES)


def id_array(ids: Iterable[int]) -> str:
    """Profile ids as one array literal ('{1,2,3}', bound as a parameter with ::bigint[]): a
    Python list would be sent as ARRAY[1, 2, 3, ...], an expression of thousands of constants
    PostgreSQL parses one by one (about 20 ms for 5,000), where an array literal takes a
    fraction of a millisecond."""
    return "{" + ",".join(map(str, ids)) + "}"


def copy_rows(table: str, columns: Sequence[str], lines: Iterable[str]) -> None:
    """COPY pre-formatted text lines (tab-separated, escaped with _copy_text) into `table`."""
    buffer = io.StringIO()
    buffer.writelines(lines)
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


def write_ledger(run_id: int, rows: Sequence[Row], now: dt.datetime) -> None:
    if not rows:
        return
    head, tail = f"{run_id}\t", f"\t{now.isoformat()}\n"
    # A batch's rows share a few (status, reason, variant) triples: each is escaped once.
    middles: dict[tuple[str, str, str], str] = {}

    def lines() -> Iterator[str]:
        for r in rows:
            key = (r.status, r.reason, r.variant)
            middle = middles.get(key)
            if middle is None:
                middle = middles[key] = (
                    f"\t{r.status}\t{_copy_text(r.reason[:300])}\t{_copy_text(r.variant[:40])}\t"
                )
            yield f"{head}{r.profile_id}{middle}{_copy_text(r.provider_id[:200])}\t{r.attempts}{tail}"

    copy_rows(
        "channels_delivery",
        [
            "run_id",
            "profile_id",
            "status",
            "reason",
            "variant",
            "provider_id",
            "attempts",
            "created_at",
        ],
        lines(),
    )


def write_sent_events(
    snapshot: dict[str, Any], run_id: int, sent: Sequence[Row], now: dt.datetime
) -> None:
    """One Notification Sent per sent row, with the labels as the run recorded them.

    One INSERT ... SELECT unnest(ids) per variant: the properties (the same for every recipient of
    a variant) are sent and parsed once, where COPY would parse the same JSON on every row.
    """
    if not sent:
        return
    labels = snapshot["labels"]
    by_variant: dict[str, list[int]] = {}
    for row in sent:
        by_variant.setdefault(row.variant, []).append(row.profile_id)
    partitions.ensure_for([now])
    with connection.cursor() as cursor:
        for variant, ids in by_variant.items():
            properties = {
                "campaign_id": snapshot["campaign_id"],
                "campaign_name": snapshot["name"],
                "channel": snapshot["channel"],
                "variant": variant or None,
                "labels": labels,
                "run_id": run_id,
            }
            cursor.execute(
                "INSERT INTO audience_event (profile_id, name, ts, properties, campaign_id, "
                "label_ids) SELECT unnest(%s::bigint[]), %s, %s, %s::jsonb, %s, %s::integer[]",
                [
                    id_array(ids),
                    NOTIFICATION_SENT,
                    now,
                    json.dumps(properties, ensure_ascii=False),
                    snapshot["campaign_id"],
                    [label["id"] for label in labels] or None,
                ],
            )


# ----------------------------------------------------------------------------------------------
# The batch
# ----------------------------------------------------------------------------------------------
@dataclass
class Claim:
    batch_id: int
    run_id: int
    token: str
    profile_ids: list[int]
    inflight: list[int]
    attempts: int


def claim(batch_id: int, now: dt.datetime) -> Claim | None:
    """Take the batch if it is due and free (queued, or its holder's lease expired)."""
    token = uuid.uuid4().hex
    lease = now + dt.timedelta(seconds=settings.HERALD_DISPATCH_LEASE)
    with connection.cursor() as cursor:
        cursor.execute(
            ASYNC_COMMIT  # noqa: S608 - constants; values are parameters
            + "UPDATE channels_batch SET status = 'claimed', token = %s, lease_until = %s, "
            "attempts = attempts + 1 WHERE id = %s AND not_before <= %s AND "
            "(status = 'queued' OR (status = 'claimed' AND lease_until < %s)) "
            "RETURNING run_id, profile_ids, inflight_ids, attempts",
            [token, lease, batch_id, now, now],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return Claim(batch_id, row[0], token, list(row[1]), list(row[2] or []), row[3])


# Every transaction of a batch starts with a fence or a claim, which also turns off waiting for
# the commit's WAL flush (synchronous_commit), except the one that records a non-idempotent
# provider call as in flight. After a PostgreSQL crash, asynchronous commits are lost as a
# suffix, in order: a lost claim, decision or result is redone by the next holder, and a result
# whose commit was lost is still covered by its durable in-flight record (outcome unknown, never
# resent). Waiting for the flush cost several milliseconds a commit.
ASYNC_COMMIT = "SET LOCAL synchronous_commit TO OFF; "


def fence(held: Claim, *, inflight: Sequence[int] | None = None, clear: bool = False) -> str:
    """Renew the lease if still held (else LeaseLost); optionally set or clear inflight_ids.
    Returns the run's status, so every fence is also the stop check."""
    lease = timezone.now() + dt.timedelta(seconds=settings.HERALD_DISPATCH_LEASE)
    sets, params = ["lease_until = %s"], [lease]
    if inflight is not None:
        sets.append("inflight_ids = %s::bigint[]")
        params.append(id_array(inflight))
    elif clear:
        sets.append("inflight_ids = NULL")
    # This module's own SQL; values are parameters.
    sql = f"UPDATE channels_batch b SET {', '.join(sets)} FROM channels_run r "  # noqa: S608
    sql += "WHERE b.id = %s AND b.token = %s AND b.status = 'claimed' AND r.id = b.run_id "
    sql += "RETURNING r.status"
    with connection.cursor() as cursor:
        cursor.execute(
            ("" if inflight is not None else ASYNC_COMMIT) + sql,
            [*params, held.batch_id, held.token],
        )
        row = cursor.fetchone()
    if row is None:
        raise LeaseLost(f"batch {held.batch_id}")
    return row[0]


def _load_recipients(
    channel: str, ids: Sequence[int], properties: Sequence[str] | None = None
) -> dict[int, Recipient]:
    """The batch's profiles with their address and why they cannot be reached ("" when they
    can). `properties`: the property keys the message needs (None: all of them), so a batch
    reads and decodes only those."""
    column = ADDRESS_COLUMN.get(channel)
    if column is not None:
        rule = REACHABLE_SQL[channel]
        address = f"p.{column}"
        problem = f"CASE WHEN p.{column} = '' THEN '{NO_ADDRESS}' WHEN NOT ({rule}) THEN '{CONSENT}' ELSE '' END"
    else:
        address, problem = "''", "''"
    # Only the keys the message needs, one column each (`->`: cheaper for PostgreSQL than
    # building an object of them, measured); every key when None.
    keys = list(properties) if properties is not None else None
    # As text: psycopg2 hands text over in C, where jsonb goes through a Python typecaster.
    props = (
        ", p.properties::text"
        if keys is None
        else "".join(", (p.properties->%s)::text" for _ in keys)
    )
    # The interpolated parts are constants of this module and audience's; keys are parameters.
    sql = (
        f"SELECT p.id, p.identity, {address}, p.timezone, {problem}{props} "  # noqa: S608
        "FROM audience_profile p WHERE p.id = ANY(%s::bigint[])"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*(keys or ()), id_array(ids)])
        if keys is None:
            found = {
                row[0]: Recipient(row[0], row[1], row[2], row[3], _json(row[5]) or {}, row[4])
                for row in cursor.fetchall()
            }
        else:
            found: dict[int, Recipient] = {}
            loads = orjson.loads
            for row in cursor.fetchall():
                # A key the profile lacks comes out as NULL and stays missing (profiles never
                # store a JSON null: ingestion removes a property given as null). Fewer than 20
                # characters cannot hold an integer orjson would read as a float.
                values: dict[str, Any] = {}
                for key, value in zip(keys, row[5:], strict=True):
                    if value is not None and value != "null":
                        values[key] = loads(value) if len(value) < 20 else _json(value)
                found[row[0]] = Recipient(row[0], row[1], row[2], row[3], values, row[4])
        kind = DEVICE_KINDS.get(channel)
        if kind is not None:
            cursor.execute(
                "SELECT d.profile_id, d.id, d.token FROM audience_device d "  # noqa: S608
                f"WHERE d.profile_id = ANY(%s::bigint[]) AND d.kind = %s AND {DEVICE_REACHABLE_SQL} "
                "ORDER BY d.id",
                [id_array(ids), kind],
            )
            for profile_id, device_id, token in cursor.fetchall():
                found[profile_id].devices.append((device_id, token))
            for recipient in found.values():
                if not recipient.devices and not recipient.problem:
                    recipient.problem = NO_ADDRESS
    return found


# orjson reads an integer beyond 64 bits as a float; json keeps it exact (jsonb stores it so).
_LONG_NUMBER = re.compile(r"\d{20}")


def _json(text: str | None) -> Any:
    """A jsonb value as PostgreSQL sent it, decoded: by orjson (~7x faster than json on a
    profile's few small values), by json where orjson would turn an integer beyond 64 bits into
    a float or refuses the text."""
    if not text:
        return None
    if _LONG_NUMBER.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def _over_cap(channel: str, ids: Sequence[int], now: dt.datetime) -> set[int]:
    cap = FrequencyCap.objects.filter(channel=channel).first()
    if cap is None or not ids:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT profile_id FROM audience_event WHERE name = %s AND profile_id = ANY(%s::bigint[]) "
            "AND ts > %s AND properties->>'channel' = %s "
            "GROUP BY profile_id HAVING count(*) >= %s",
            [
                NOTIFICATION_SENT,
                id_array(ids),
                now - dt.timedelta(days=cap.days),
                channel,
                cap.max_messages,
            ],
        )
        return {row[0] for row in cursor.fetchall()}


def _zone(name: str, fallback: zoneinfo.ZoneInfo) -> zoneinfo.ZoneInfo:
    if not name:
        return fallback
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return fallback


def quiet_until(quiet: QuietHours, tz: zoneinfo.ZoneInfo, now: dt.datetime) -> dt.datetime | None:
    """The end of the recipient's quiet hours if `now` falls in them (their own time zone)."""
    local = now.astimezone(tz)
    start, end, at = quiet.start, quiet.end, local.time()
    inside = (start <= at < end) if start < end else (at >= start or at < end)
    if not inside:
        return None
    day = local.date() if at < end else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, end, tzinfo=tz)


def _context(
    recipient: Recipient, campaign: dict[str, Any], data: dict[str, Any]
) -> dict[str, Any]:
    # The recipient's own properties dict (read for this batch alone), not a copy; `campaign` is
    # one dict for the whole batch (templates and adapters read contexts, never change them).
    profile = recipient.properties
    profile["id"] = recipient.profile_id
    profile["identity"] = recipient.identity
    if recipient.address:
        profile["email" if "@" in recipient.address else "phone"] = recipient.address
    return {
        "profile": profile,
        "campaign": campaign,
        "data": data,
        "event": data.get("event", {}) if isinstance(data, dict) else {},
    }


# Profile keys that come from columns, not properties.
_PROFILE_COLUMNS = frozenset({"id", "identity", "email", "phone"})


def needed_properties(snapshot: dict[str, Any]) -> list[str] | None:
    """The property keys the run's messages read, when the templates say (render.Compiled.paths);
    None when anything may be read: a template the memo cannot analyse, or a webhook without its
    own payload (the default payload carries the whole profile)."""
    what = snapshot["what"]
    keys: set[str] = set()
    if snapshot["type"] == "message_on_user_property":
        keys.add(what["property"])
        messages = [m["message"] for m in what["messages"]] + [what["default"]]
    elif snapshot["type"] == "ab_test":
        messages = [v["message"] for v in what["variants"]]
    else:
        messages = [what["message"]]
    for message in messages:
        if snapshot["channel"] == "webhook" and not message.get("payload"):
            return None
        for name, value in message.items():
            paths = template_paths(name, value)
            if paths is None:
                return None
            keys.update(attr for root, attr in paths if root == "profile")
    return sorted(keys - _PROFILE_COLUMNS)


@dataclass
class Decided:
    final: list[Row] = field(default_factory=list)
    to_send: list[Message] = field(default_factory=list)
    delayed: dict[dt.datetime, list[int]] = field(default_factory=dict)


def decide(
    run_id: int,
    snapshot: dict[str, Any],
    recipients_data: dict[str, Any] | None,
    ids: Sequence[int],
    now: dt.datetime,
) -> Decided:
    channel = snapshot["channel"]
    when = snapshot["when"]
    plan = Plan(snapshot["campaign_id"], snapshot["type"], snapshot["what"])
    found = _load_recipients(channel, ids, needed_properties(snapshot))
    out = Decided()
    reachable = [pid for pid in ids if pid in found and not found[pid].problem]
    capped = set() if when.get("ignore_frequency_caps") else _over_cap(channel, reachable, now)
    # E-mail templates may show the one-click unsubscribe link ({{ links.unsubscribe }}).
    tracker = None
    if channel == "email" and "links.unsubscribe" in json.dumps(snapshot["what"]):
        from channels.tracking import Target, Tracker

        tracker = Tracker()
    quiet = QuietHours.current()
    quiet_here = quiet.enabled and channel in quiet.channels
    home = zoneinfo.ZoneInfo(when.get("timezone") or settings.TIME_ZONE)
    campaign_id = snapshot["campaign_id"]
    campaign = {"id": campaign_id, "name": snapshot["name"]}
    recipients_data = recipients_data or {}
    for pid in ids:
        recipient = found.get(pid)
        if recipient is None:
            out.final.append(Row(pid, DeliveryStatus.DROPPED, NO_PROFILE))
            continue
        if recipient.problem:
            out.final.append(Row(pid, DeliveryStatus.DROPPED, recipient.problem))
            continue
        variant, message = plan.choose(pid, recipient.properties)
        if message is None:
            out.final.append(Row(pid, DeliveryStatus.DROPPED, CONTROL_GROUP, CONTROL))
            continue
        if pid in capped:
            out.final.append(Row(pid, DeliveryStatus.DROPPED, FREQUENCY_CAP, variant))
            continue
        if quiet_here:
            until = quiet_until(quiet, _zone(recipient.tz, home), now)
            if until is not None:
                if when.get("dnd", "delay") == "drop":
                    out.final.append(Row(pid, DeliveryStatus.DROPPED, DND, variant))
                else:
                    out.delayed.setdefault(until, []).append(pid)
                continue
        data = recipients_data.get(str(pid), {}) if recipients_data else {}
        context = _context(recipient, campaign, data)
        if tracker is not None:
            target = Target(run_id, pid, campaign_id)
            context["links"] = {"unsubscribe": tracker.url("unsubscribe", target)}
        try:
            content = plan.render(message, context)
        except RenderError as exc:
            out.final.append(Row(pid, DeliveryStatus.FAILED, str(exc), variant))
            continue
        # Message(key, run_id, campaign_id, profile_id, to, content, devices, context, variant)
        out.to_send.append(
            Message(
                f"{run_id}-{pid}",
                run_id,
                campaign_id,
                pid,
                recipient.address,
                content,
                recipient.devices,
                context,
                variant,
            )
        )
    return out


def _count(rows: Iterable[Row]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for row in rows:
        counts[
            row.status
            if row.status == DeliveryStatus.SENT
            else f"{row.status}:{row.reason.split(':')[0]}"
        ] += 1
    return counts


def _add_counts(held: Claim, counts: Counter[str]) -> None:
    if not counts:
        return
    batch = Batch.objects.select_for_update().only("counts").get(pk=held.batch_id)
    merged = Counter(batch.counts)
    merged.update(counts)
    Batch.objects.filter(pk=held.batch_id).update(counts=dict(merged))


def _disable_devices(results: Sequence[Result], now: dt.datetime) -> None:
    gone = [device for result in results for device in result.disabled_devices]
    if gone:
        from audience.models import Device

        Device.objects.filter(pk__in=gone, disabled_at__isnull=True).update(
            disabled_at=now, disabled_reason="The provider said the token is no longer valid."
        )


@contextlib.contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """A batch allocates a few objects per recipient, none in reference cycles, all freed by
    reference counting when the batch ends; Python's cyclic collector would meanwhile walk the
    worker's whole heap again and again (a quarter of a batch's time, measured). It runs again
    after the batch."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def send_batch(batch_id: int) -> str:
    """Work on one batch until it is done (or stopped, or another worker holds it)."""
    from channels import scheduler

    now = timezone.now()
    with transaction.atomic():
        held = claim(batch_id, now)
    if held is None:
        return "not claimed"
    try:
        with _without_cyclic_gc():
            return _work(held, scheduler)
    except LeaseLost:
        log.warning("batch %s: lease lost, another worker has it", batch_id)
        return "lease lost"


def _work(held: Claim, scheduler: Any) -> str:
    from channels.models import Run

    run = Run.objects.only("id", "status", "snapshot", "recipients").get(pk=held.run_id)
    snapshot = run.snapshot
    if run.status == RunStatus.STOPPED:
        return _done(held, scheduler, stopped=True)
    recorded: set[int] = set()
    if held.attempts > 1:
        # An earlier holder may have recorded some (on a first claim nobody has).
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT profile_id FROM channels_delivery WHERE run_id = %s "
                "AND profile_id = ANY(%s::bigint[])",
                [held.run_id, id_array(held.profile_ids)],
            )
            recorded = {row[0] for row in cursor.fetchall()}
    try:
        adapter: Adapter | None = adapter_for(snapshot["channel"])
    except ProviderNotConfigured as exc:
        adapter, not_configured = None, str(exc)
    unknown = [pid for pid in held.inflight if pid not in recorded]
    now = timezone.now()
    todo = [pid for pid in held.profile_ids if pid not in recorded]
    with transaction.atomic():
        fence(held, clear=True)
        if unknown and (adapter is None or not adapter.idempotent):
            write_ledger(
                held.run_id,
                [Row(pid, DeliveryStatus.FAILED, OUTCOME_UNKNOWN) for pid in unknown],
                now,
            )
            _add_counts(held, Counter({f"failed:{OUTCOME_UNKNOWN}": len(unknown)}))
            skip = set(unknown)
            todo = [pid for pid in todo if pid not in skip]
    decided = decide(held.run_id, snapshot, run.recipients, todo, now)
    if adapter is None:
        decided.final.extend(
            Row(
                m.profile_id,
                DeliveryStatus.FAILED,
                f"{NOT_CONFIGURED}: {not_configured}",
                m.variant,
            )
            for m in decided.to_send
        )
        decided.to_send = []
    with transaction.atomic():
        fence(held)
        write_ledger(held.run_id, decided.final, now)
        _add_counts(held, _count(decided.final))
        for until, ids in sorted(decided.delayed.items()):
            scheduler.add_batch(held.run_id, ids, not_before=until)
    if adapter is not None:
        with adapter:
            stopped = _send_chunks(held, adapter, snapshot, decided.to_send)
        if stopped:
            return _done(held, scheduler, stopped=True)
    return _done(held, scheduler)


def _send_chunks(
    held: Claim, adapter: Adapter, snapshot: dict[str, Any], messages: list[Message]
) -> bool:
    """Send chunk by chunk; True when the run was stopped before the last chunk."""
    size = max(1, adapter.chunk_size)
    for start in range(0, len(messages), size):
        chunk = messages[start : start + size]
        # An idempotent adapter resends unknown outcomes with the same key: no list needed.
        inflight = None if adapter.idempotent else [m.profile_id for m in chunk]
        with transaction.atomic():
            status = fence(held, inflight=inflight)
        if status == RunStatus.STOPPED:
            with transaction.atomic():
                fence(held, clear=True)
            return True
        with _Heartbeat(held):
            results = deliver(adapter, chunk, should_stop=lambda: _run_stopped(held.run_id))
        now = timezone.now()
        rows = [
            Row(
                m.profile_id,
                DeliveryStatus.SENT if r.ok else DeliveryStatus.FAILED,
                "" if r.ok else f"provider: {r.error}",
                m.variant,
                r.provider_id,
                r.attempts,
            )
            for m, r in zip(chunk, results, strict=True)
        ]
        with transaction.atomic():
            fence(held, clear=True)
            write_ledger(held.run_id, rows, now)
            write_sent_events(
                snapshot, held.run_id, [r for r in rows if r.status == DeliveryStatus.SENT], now
            )
            _add_counts(held, _count(rows))
            _disable_devices(results, now)
    return False


class _Heartbeat:
    """Keeps the batch's lease while a provider call runs (slow providers, timeouts and retries
    can take longer than a lease): renewed from a thread, with its own connection, every third
    of the lease. Without it a slow chunk would be taken over and its messages, delivered,
    recorded as of unknown outcome."""

    def __init__(self, held: Claim) -> None:
        self.held = held
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="herald-lease", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()

    def _beat(self) -> None:
        interval = settings.HERALD_DISPATCH_LEASE / 3
        try:
            while not self.done.wait(interval):
                lease = timezone.now() + dt.timedelta(seconds=settings.HERALD_DISPATCH_LEASE)
                renewed = Batch.objects.filter(
                    pk=self.held.batch_id, token=self.held.token, status="claimed"
                ).update(lease_until=lease)
                if not renewed:
                    return
        except Exception:  # the batch's own fences notice a lost lease; this is best effort
            log.exception("batch %s: could not renew the lease", self.held.batch_id)
        finally:
            connection.close()


def _run_stopped(run_id: int) -> bool:
    from channels.models import Run

    return Run.objects.filter(pk=run_id, status=RunStatus.STOPPED).exists()


def _done(held: Claim, scheduler: Any, *, stopped: bool = False) -> str:
    with transaction.atomic():
        fence(held)
        Batch.objects.filter(pk=held.batch_id).update(
            status="done", finished_at=timezone.now(), lease_until=None, inflight_ids=None
        )
        finished = scheduler.batch_done(held.run_id)
    if finished:
        scheduler.finish_run(held.run_id)
    return "stopped" if stopped else "done"
