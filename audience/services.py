"""Every write of the audience app: profiles and events from the ingestion API (and the CSV import),
the Notification Sent events of the dispatch pipeline, and the project API keys.

Batches are validated record by record (audience.validation) and written in a handful of bulk
statements in one transaction: a record is written whole or not at all, and the valid records of a
batch are written even when others are refused. The ORM would do one INSERT or UPDATE per record;
these statements do one per batch (multi-row VALUES through psycopg2's execute_values, array
parameters, and COPY for events).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from psycopg2.extras import execute_values

from accounts.roles import Perm, has_perm
from audience import partitions, validation
from audience.models import NOTIFICATION_SENT, IngestKey, PropertyDefinition
from audience.validation import EventRecord, FieldInvalid, ProfileRecord
from config.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from labels.services import label_snapshot_for

log = logging.getLogger(__name__)


@dataclass
class BatchResult:
    """What became of each record of a batch, by its index in the batch.

    accepted: events {index, record_id, duplicate}, profiles {index, id, identity, created};
    rejected: {index, errors: {field: [messages]}}.
    """

    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "rejected": self.rejected}


def _check_batch(records: Any) -> None:
    if not isinstance(records, list):
        raise Invalid("Send the records as a list.", errors={"records": ["Give a list."]})
    if len(records) > validation.MAX_BATCH:
        message = (
            f"At most {validation.MAX_BATCH:,} records a request; this one has {len(records):,}. "
            "Nothing was written: split the batch."
        )
        raise Invalid(message, errors={"records": [message]})


def _reject(result: BatchResult, index: int, errors: dict[str, list[str]]) -> None:
    result.rejected.append({"index": index, "errors": errors})


# ---------------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------------
# COPY's text format: a backslash starts an escape, a tab ends a column, a newline a row.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def events_ingest(records: list[Any], *, source: str) -> BatchResult:
    """Validate each event on its own and insert the valid ones in one transaction.

    Idempotent on record_id: a record id already ingested (in this batch or an earlier one, for
    audience.tasks.INGEST_KEY_DAYS) is accepted as a duplicate and adds nothing. The ids are
    claimed (INSERT ... ON CONFLICT DO NOTHING RETURNING) in the events' own transaction, so two
    concurrent copies of a batch add each event once. Unknown identities get a profile, as
    engagement platforms do: events often arrive before the profile does.
    """
    _check_batch(records)
    now = timezone.now()
    result = BatchResult()
    clean: list[EventRecord] = []
    for index, record in enumerate(records):
        item = validation.clean_event(record, index, now=now)
        if isinstance(item, EventRecord):
            clean.append(item)
        else:
            _reject(result, index, item)
    if clean:
        result.accepted = _write_events(clean)
    log.debug(
        "events_ingest source=%s accepted=%s rejected=%s",
        source,
        len(result.accepted),
        len(result.rejected),
    )
    return result


def _write_events(clean: list[EventRecord]) -> list[dict[str, Any]]:
    # Partitions first, in their own short transaction: creating one locks the whole table.
    partitions.ensure_for(_spanning(record.ts for record in clean))
    # Django's cursor (not the bare psycopg2 one) so that its query log and wrappers see these
    # statements too; execute_values and copy_expert reach psycopg2 through it.
    with transaction.atomic(), connection.cursor() as cursor:
        fresh = _claim_record_ids(cursor, {r.record_id for r in clean if r.record_id is not None})
        new: list[EventRecord] = []
        for record in clean:
            if record.record_id is None:
                new.append(record)
            elif record.record_id in fresh:
                # The first record of the batch with this id is the one written.
                fresh.discard(record.record_id)
                new.append(record)
        if new:
            copied = _copy_events(cursor, new)
            # Action and Inaction campaigns listening to these events: their triggers are
            # written with the events or not at all.
            from channels.triggers import match_events

            match_events(copied)
    written = {record.index for record in new}
    return [
        {
            "index": record.index,
            "record_id": record.record_id,
            "duplicate": record.index not in written,
        }
        for record in clean
    ]


def _copy_events(
    cursor: Any, records: list[EventRecord]
) -> list[tuple[int, dt.datetime, EventRecord]]:
    """Insert the events with COPY: for 1,000 rows about half the time of a multi-row INSERT.
    Returns them as (profile id, ts, record).

    Rows go in (profile, time) order, so the (profile_id, name, ts) index is written page by page
    rather than at random. The events' ids are not read back (drawing them from the sequence
    first would cost a fifth more): a client knows its events by index and record_id.
    """
    profiles = _profile_ids(cursor, {record.identity for record in records})
    rows = sorted(((profiles[r.identity], r.ts, r) for r in records), key=lambda row: row[:2])
    lines = [
        f"{profile_id}\t{record.name.translate(_COPY_ESCAPES)}\t{ts.isoformat()}"
        f"\t{record.properties.translate(_COPY_ESCAPES)}\n"
        for profile_id, ts, record in rows
    ]
    cursor.copy_expert(
        "COPY audience_event (profile_id, name, ts, properties) FROM STDIN",
        io.StringIO("".join(lines)),
    )
    return rows


def _spanning(moments: Iterable[dt.datetime]) -> list[dt.datetime]:
    """Moments in the same months as these: the first and the last when no month lies between
    them (a batch usually spans minutes), else all of them."""
    every = list(moments)
    first, last = min(every), max(every)
    if partitions.next_month(partitions.month_start(first)) >= partitions.month_start(last):
        return [first, last]
    return every


def _claim_record_ids(cursor: Any, record_ids: set[str]) -> set[str]:
    """The record ids never seen before, now remembered (sorted: concurrent batches lock the
    same keys in the same order, so they wait for each other instead of deadlocking)."""
    if not record_ids:
        return set()
    # One array parameter rather than 1,000 VALUES rows: less to build and to parse.
    cursor.execute(
        "INSERT INTO audience_ingestrecord (key, created_at) SELECT unnest(%s::text[]), now() "
        "ON CONFLICT (key) DO NOTHING RETURNING key",
        [sorted(record_ids)],
    )
    returned = cursor.fetchall()
    return {row[0] for row in returned}


_PROFILE_IDS = "SELECT identity, id FROM audience_profile WHERE identity = ANY(%s::text[])"


def _profile_ids(cursor: Any, identities: set[str]) -> dict[str, int]:
    """Profile id per identity, creating the profiles that do not exist yet (empty ones)."""
    cursor.execute(_PROFILE_IDS, [list(identities)])
    found = dict(cursor.fetchall())
    missing = sorted(identities - found.keys())
    if missing:
        cursor.execute(
            "INSERT INTO audience_profile (identity, email, phone, timezone, properties, "
            "email_consent, sms_consent, whatsapp_consent, created_at, updated_at) "
            "SELECT unnest(%s::text[]), '', '', '', '{}', 'unknown', 'unknown', 'unknown', "
            "now(), now() ON CONFLICT (identity) DO NOTHING RETURNING identity, id",
            [missing],
        )
        created = cursor.fetchall()
        found.update(created)
        if len(found) < len(identities):
            # Created meanwhile by a concurrent batch (ON CONFLICT waited for it to commit).
            cursor.execute(_PROFILE_IDS, [sorted(identities - found.keys())])
            found.update(cursor.fetchall())
    return found


# ---------------------------------------------------------------------------------------------
# Profiles
# ---------------------------------------------------------------------------------------------
# The fields of a record that a statement sets: None leaves a column as it is ("" clears text).
_PROFILE_VALUES = (
    "v(identity, email, phone, timezone, patch, email_consent, sms_consent, whatsapp_consent)"
)
_PROFILE_ROW = "(%s, %s, %s, %s, %s::jsonb, %s, %s, %s)"


def _unsubscribed(channel: str) -> str:
    """Opting out stamps the time (kept when already out); opting in clears it."""
    return (
        f"{channel}_unsubscribed_at = CASE"
        f" WHEN v.{channel}_consent = 'opted_out' AND p.{channel}_consent = 'opted_out'"
        f" THEN COALESCE(p.{channel}_unsubscribed_at, now())"
        f" WHEN v.{channel}_consent = 'opted_out' THEN now()"
        f" WHEN v.{channel}_consent = 'opted_in' THEN NULL"
        f" ELSE p.{channel}_unsubscribed_at END"
    )


# jsonb_strip_nulls drops the properties the record sets to null; stored values are never null
# (and lists, whose nulls it would keep, hold none).
_UPDATE_PROFILES = f"""
UPDATE audience_profile AS p SET
    email = COALESCE(v.email, p.email),
    phone = COALESCE(v.phone, p.phone),
    timezone = COALESCE(v.timezone, p.timezone),
    properties = CASE WHEN v.patch IS NULL THEN p.properties
                      ELSE jsonb_strip_nulls(p.properties || v.patch) END,
    email_consent = COALESCE(v.email_consent, p.email_consent),
    {_unsubscribed("email")},
    sms_consent = COALESCE(v.sms_consent, p.sms_consent),
    {_unsubscribed("sms")},
    whatsapp_consent = COALESCE(v.whatsapp_consent, p.whatsapp_consent),
    {_unsubscribed("whatsapp")},
    updated_at = now()
FROM (VALUES %s) AS {_PROFILE_VALUES}
WHERE p.identity = v.identity
RETURNING v.identity, p.id
"""  # noqa: S608 - only this module's constants are interpolated

_INSERT_PROFILES = f"""
INSERT INTO audience_profile (
    identity, email, phone, timezone, properties,
    email_consent, email_unsubscribed_at, sms_consent, sms_unsubscribed_at,
    whatsapp_consent, whatsapp_unsubscribed_at, created_at, updated_at
)
SELECT v.identity, COALESCE(v.email, ''), COALESCE(v.phone, ''), COALESCE(v.timezone, ''),
    jsonb_strip_nulls(COALESCE(v.patch, '{{}}'::jsonb)),
    COALESCE(v.email_consent, 'unknown'),
    CASE WHEN v.email_consent = 'opted_out' THEN now() END,
    COALESCE(v.sms_consent, 'unknown'),
    CASE WHEN v.sms_consent = 'opted_out' THEN now() END,
    COALESCE(v.whatsapp_consent, 'unknown'),
    CASE WHEN v.whatsapp_consent = 'opted_out' THEN now() END,
    now(), now()
FROM (VALUES %s) AS {_PROFILE_VALUES}
ON CONFLICT (identity) DO NOTHING
RETURNING identity, id
"""  # noqa: S608 - only this module's constants are interpolated


def profiles_upsert(records: list[Any], *, source: str) -> BatchResult:
    """Create or update profiles by identity, each record validated on its own.

    Fields a record leaves out stay as they are; null or "" clears one. Properties merge into the
    stored ones (null removes a property); the first value a property ever gets fixes its type
    (PropertyDefinition), and a record giving another type is refused whole. Concurrent batches
    touching the same profile both land: the merge is done by the UPDATE, on the locked row.
    """
    _check_batch(records)
    result = BatchResult()
    clean: list[ProfileRecord] = []
    for index, record in enumerate(records):
        item = validation.clean_profile(record, index)
        if isinstance(item, ProfileRecord):
            clean.append(item)
        else:
            _reject(result, index, item)
    if clean:
        with transaction.atomic(), connection.cursor() as cursor:
            clean = _typed(cursor, clean, result)
            ids, created = _write_profiles(cursor, clean)
            _write_devices(cursor, clean, ids)
        result.accepted = [
            {
                "index": record.index,
                "id": ids[record.index],
                "identity": record.identity,
                "created": record.index in created,
            }
            for record in clean
        ]
        result.rejected.sort(key=lambda item: item["index"])
    log.debug(
        "profiles_upsert source=%s accepted=%s rejected=%s",
        source,
        len(result.accepted),
        len(result.rejected),
    )
    return result


def _typed(cursor: Any, clean: list[ProfileRecord], result: BatchResult) -> list[ProfileRecord]:
    """The records whose property values match their properties' types, each value replaced by
    what is stored for it; the others are rejected.

    A property seen for the first time is defined by the first record (in batch order) that gives
    it a value and is itself accepted: a refused record defines nothing. The definitions are
    inserted in this transaction, ON CONFLICT DO NOTHING, then read back: if a concurrent batch
    defined a name first, its type wins and our records are checked against it.
    """
    names = {name for record in clean for name in record.properties}
    if not names:
        return clean
    stored = dict(PropertyDefinition.objects.filter(name__in=names).values_list("name", "type"))
    types = dict(stored)
    kept = []
    for record in clean:
        proposed = {
            name: value.kind
            for name, value in record.properties.items()
            if name not in types and value.kind != validation.DATE_LIKE
        }
        if _check_types(record, {**types, **proposed}, result):
            types.update(proposed)
            kept.append(record)
    new = sorted((name, kind) for name, kind in types.items() if name not in stored)
    if not new:
        return kept
    execute_values(
        cursor,
        "INSERT INTO audience_propertydefinition (name, type, created_at) VALUES %s "
        "ON CONFLICT (name) DO NOTHING",
        new,
        template="(%s, %s, now())",
    )
    defined = dict(
        PropertyDefinition.objects.filter(name__in=[name for name, _ in new]).values_list(
            "name", "type"
        )
    )
    if all(defined[name] == kind for name, kind in new):
        return kept
    types.update(defined)
    return [record for record in kept if _check_types(record, types, result)]


def _check_types(record: ProfileRecord, types: dict[str, str], result: BatchResult) -> bool:
    """Note what is stored for each value under its property's type; or reject the record."""
    errors: dict[str, list[str]] = {}
    typed: dict[str, Any] = {}
    for name, value in record.properties.items():
        try:
            typed[name] = validation.typed_value(name, value, types.get(name))
        except FieldInvalid as exc:
            errors[f"properties.{name}"] = [str(exc)]
    if errors:
        _reject(result, record.index, errors)
        return False
    record.typed = typed
    return True


def _profile_row(record: ProfileRecord) -> tuple[Any, ...]:
    patch: dict[str, Any] = dict(record.typed)
    for name in record.removed:
        patch[name] = None
    return (
        record.identity,
        record.email,
        record.phone,
        record.timezone,
        json.dumps(patch, ensure_ascii=False) if patch else None,
        record.consent.get("email"),
        record.consent.get("sms"),
        record.consent.get("whatsapp"),
    )


def _rounds(records: list[ProfileRecord]) -> list[list[ProfileRecord]]:
    """The records split so that no statement sees an identity twice (an UPDATE would apply only
    one of them): round n holds each identity's n-th record, so later records apply last."""
    rounds: list[list[ProfileRecord]] = []
    seen: dict[str, int] = {}
    for record in records:
        n = seen.get(record.identity, 0)
        seen[record.identity] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(record)
    return rounds


def _write_profiles(cursor: Any, clean: list[ProfileRecord]) -> tuple[dict[int, int], set[int]]:
    """Update the profiles that exist, insert the others; (profile id per record index, indexes
    of the records that created their profile)."""
    ids: dict[int, int] = {}
    created: set[int] = set()
    for batch in _rounds(clean):
        pending = {record.identity: record for record in sorted(batch, key=lambda r: r.identity)}
        # An insert can lose to a concurrent one (then the update applies), and an update can
        # miss a profile deleted meanwhile (then the insert does): a few passes settle it.
        for _attempt in range(3):
            rows = [_profile_row(record) for record in pending.values()]
            for identity, pk in execute_values(
                cursor,
                _UPDATE_PROFILES,
                rows,
                template=_PROFILE_ROW,
                page_size=len(rows),
                fetch=True,
            ):
                ids[pending.pop(identity).index] = pk
            if not pending:
                break
            rows = [_profile_row(record) for record in pending.values()]
            for identity, pk in execute_values(
                cursor,
                _INSERT_PROFILES,
                rows,
                template=_PROFILE_ROW,
                page_size=len(rows),
                fetch=True,
            ):
                index = pending.pop(identity).index
                ids[index] = pk
                created.add(index)
            if not pending:
                break
        if pending:
            raise Conflict("Profiles changed under the batch; send it again.")
    return ids, created


_DEVICE_ROW = "(%s, %s, %s, %s, %s::jsonb, COALESCE(%s, 'opted_in'), NULL, '', now(), now())"
_UPSERT_DEVICES = """
INSERT INTO audience_device (profile_id, kind, platform, token, keys, push_consent,
    disabled_at, disabled_reason, last_seen_at, created_at)
VALUES %s
ON CONFLICT (kind, token) DO UPDATE SET
    profile_id = EXCLUDED.profile_id,
    platform = CASE WHEN EXCLUDED.platform = '' THEN audience_device.platform
                    ELSE EXCLUDED.platform END,
    keys = EXCLUDED.keys,
    {consent}
    disabled_at = NULL,
    disabled_reason = '',
    last_seen_at = now()
"""


def _write_devices(cursor: Any, clean: list[ProfileRecord], ids: dict[int, int]) -> None:
    """Upsert on (kind, token): a token that moves to another profile follows it, and one a
    provider had disabled is live again (the app registered it anew). The last record naming a
    token wins. A device's consent is left as it is unless the record gives it."""
    latest: dict[tuple[str, str], tuple[Any, ...]] = {}
    for record in clean:
        for device in record.devices:
            latest[(device.kind, device.token)] = (
                ids[record.index],
                device.kind,
                device.platform,
                device.token,
                json.dumps(device.keys),
                device.consent,
            )
    for with_consent in (True, False):
        rows = [row for key, row in sorted(latest.items()) if (row[5] is not None) == with_consent]
        if rows:
            consent = "push_consent = EXCLUDED.push_consent," if with_consent else ""
            execute_values(
                cursor,
                _UPSERT_DEVICES.format(consent=consent),
                rows,
                template=_DEVICE_ROW,
                page_size=len(rows),
            )


# ---------------------------------------------------------------------------------------------
# Notification Sent
# ---------------------------------------------------------------------------------------------
def record_notification_sent(
    *,
    profile_id: int,
    campaign: Any,
    channel: str,
    variant: str | None,
    ts: dt.datetime | None = None,
) -> None:
    """One Notification Sent event for a delivered message.

    Its properties hold the campaign's id and name, the channel, the variant and the campaign's
    labels ({id, name}) as they are now, so a later rename or delete leaves the event as sent; the
    campaign_id and label_ids columns repeat them for the segment queries' indexes (label_ids is
    NULL for a campaign without labels, keeping them out of the label index).
    """
    moment = ts or timezone.now()
    labels = label_snapshot_for(campaign)
    properties = {
        "campaign_id": campaign.pk,
        "campaign_name": campaign.name,
        "channel": channel,
        "variant": variant,
        "labels": labels,
    }
    partitions.ensure_for([moment])
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audience_event (profile_id, name, ts, properties, campaign_id, label_ids) "
            "VALUES (%s, %s, %s, %s::jsonb, %s, %s::integer[])",
            [
                profile_id,
                NOTIFICATION_SENT,
                moment,
                json.dumps(properties, ensure_ascii=False),
                campaign.pk,
                [label["id"] for label in labels] or None,
            ],
        )


# ---------------------------------------------------------------------------------------------
# Project API keys
# ---------------------------------------------------------------------------------------------
KEY_PREFIX = "hk_"
# last_used_at is written at most this often per key, not on every batch.
USED_AT_RESOLUTION = dt.timedelta(minutes=1)
MAX_KEY_NAME = 100


class KeyRefused(DomainError):
    """An ingestion request whose key is unknown or revoked."""

    code = "authentication_failed"
    http_status = 401


def key_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _require_admin(actor: Any) -> None:
    if not has_perm(actor, Perm.MANAGE_SETTINGS):
        raise Forbidden("Only Admins manage API keys.")


def ingest_key_create(*, actor: Any, name: Any) -> tuple[IngestKey, str]:
    """A new key and its secret, which is shown this once: only its SHA-256 is stored."""
    _require_admin(actor)
    try:
        clean = validation.text_field(name, max_length=MAX_KEY_NAME, what="the key a name")
    except FieldInvalid as exc:
        raise Invalid(str(exc), errors={"name": [str(exc)]}) from None
    raw = KEY_PREFIX + secrets.token_urlsafe(30)
    key = IngestKey.objects.create(
        name=clean, prefix=raw[:12], digest=key_digest(raw), created_by=actor
    )
    return key, raw


@transaction.atomic
def ingest_key_revoke(*, actor: Any, key_id: Any) -> IngestKey:
    """Revoke a key at once (its next request is a 401); revoking it again changes nothing."""
    _require_admin(actor)
    key = IngestKey.objects.select_for_update().filter(pk=key_id).first()
    if key is None:
        raise NotFound(f"API key {key_id} does not exist.")
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def ingest_key_authenticate(raw: str) -> IngestKey:
    """The active key for this secret (its last use noted), or KeyRefused."""
    key = IngestKey.objects.filter(digest=key_digest(raw)).first()
    if key is None:
        raise KeyRefused("Unknown API key.")
    if key.revoked_at is not None:
        raise KeyRefused(f"This API key was revoked on {key.revoked_at:%Y-%m-%d}.")
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > USED_AT_RESOLUTION:
        IngestKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
