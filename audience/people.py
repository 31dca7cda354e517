"""Find People: looking a profile up, and what its page shows (typed properties, reachability and
consent per channel, the timeline of its events).

Reads only. Every lookup is an index lookup: identity through the unique index (exact) and the
pattern index (prefix), e-mail through lower(email), phone through its E.164 index. The timeline
is keyset-paged on (ts, id), newest first, so page 100 costs what page 1 costs.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.db.models.functions import Collate, Lower

from audience.models import (
    NOTIFICATION_SENT,
    SYSTEM_EVENTS,
    Consent,
    Device,
    DeviceKind,
    Event,
    Profile,
    PropertyDefinition,
    PropertyType,
)
from audience.validation import FieldInvalid, clean_phone
from campaigns.models import Campaign
from config.errors import Invalid

MAX_QUERY = 254
SEARCH_LIMIT = 50
TIMELINE_PAGE = 50


def normalise_phone(raw: str) -> str | None:
    """The query as an E.164 number (+14155550123), as ingestion stores phones, or None when it
    is not a phone number written with its country code."""
    try:
        return clean_phone(raw)
    except FieldInvalid:
        return None


@dataclass(frozen=True)
class SearchResult:
    query: str
    profiles: list[Profile]
    # More profiles match than are shown (a short identity prefix): the user should type more.
    more: bool
    phone: str | None  # the query read as a phone number, when it is one


def search_profiles(query: str, *, limit: int = SEARCH_LIMIT) -> SearchResult:
    """Profiles whose identity is the query or starts with it, whose e-mail is the query
    (ignoring case), or whose phone is the query read as E.164: the exact identity first, then
    e-mail and phone matches, then the other identities in order.

    Two queries, each one index range scan: identities in the "C" collation (migration 0002),
    read in index order and stopped at the limit however short the prefix; then e-mail and phone.
    """
    q = query.strip()[:MAX_QUERY]
    if not q or "\x00" in q:
        return SearchResult(query=q, profiles=[], more=False, phone=None)
    by_identity = list(
        Profile.objects.alias(identity_c=Collate("identity", "C"))
        .filter(identity_c__startswith=q)
        .order_by("identity_c")[: limit + 1]
    )
    phone = normalise_phone(q)
    contact = Q()
    if "@" in q:
        # ~Q(email="") is the index's own condition, so PostgreSQL can use it.
        contact |= Q(email_lower=q.lower()) & ~Q(email="")
    if phone:
        contact |= Q(phone=phone) & ~Q(phone="")
    # No ORDER BY here: with one, PostgreSQL may walk the identity index in order instead of
    # looking the address up. The matches of one e-mail or phone are few; they are sorted below.
    by_contact = (
        sorted(
            Profile.objects.alias(email_lower=Lower("email"))
            .filter(contact)
            .order_by()[: limit + 1],
            key=lambda p: p.identity,
        )
        if contact
        else []
    )
    exact = [p for p in by_identity if p.identity == q]
    rows: list[Profile] = []
    seen: set[int] = set()
    for profile in [*exact, *by_contact, *by_identity]:
        if profile.pk not in seen:
            seen.add(profile.pk)
            rows.append(profile)
    return SearchResult(query=q, profiles=rows[:limit], more=len(rows) > limit, phone=phone)


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PropertyRow:
    name: str
    type: str  # a PropertyType value; "string" for a property without a definition
    value: Any
    text: str  # the value as the page shows it


def _as_text(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == PropertyType.BOOLEAN and isinstance(value, bool):
        return "Yes" if value else "No"
    if kind == PropertyType.LIST and isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if kind == PropertyType.NUMBER and isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def profile_properties(profile: Profile) -> list[PropertyRow]:
    """The profile's custom properties by name, each with its type from PropertyDefinition."""
    props = profile.properties if isinstance(profile.properties, dict) else {}
    types = dict(PropertyDefinition.objects.filter(name__in=props).values_list("name", "type"))
    rows = []
    for name in sorted(props, key=str.lower):
        kind = types.get(name, PropertyType.STRING)
        rows.append(PropertyRow(name, kind, props[name], _as_text(props[name], kind)))
    return rows


# ---------------------------------------------------------------------------------------------
# Reachability
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reach:
    """Whether a channel reaches the profile now, and why (or why not)."""

    channel: str  # email, sms, whatsapp, push, web_push
    title: str
    reachable: bool
    consent: str  # the consent as a person reads it
    detail: str
    unsubscribed_at: dt.datetime | None = None
    devices: list[Device] = field(default_factory=list)


def _contact_reach(
    channel: str,
    title: str,
    *,
    address: str,
    consent: str,
    unsubscribed_at: dt.datetime | None,
    needs_opt_in: bool,
) -> Reach:
    label = Consent(consent).label if consent in Consent.values else consent
    if not address:
        detail, ok = ("No e-mail address." if channel == "email" else "No phone number."), False
    elif unsubscribed_at is not None or consent == Consent.OPTED_OUT:
        detail, ok = "Opted out.", False
    elif needs_opt_in and consent != Consent.OPTED_IN:
        detail, ok = "Not opted in: this channel needs an explicit opt-in.", False
    else:
        detail, ok = address, True
    return Reach(channel, title, ok, label, detail, unsubscribed_at)


def _device_reach(channel: str, title: str, devices: list[Device]) -> Reach:
    usable = [d for d in devices if d.disabled_at is None and d.push_consent == Consent.OPTED_IN]
    noun = "subscription" if channel == DeviceKind.WEB_PUSH else "device"
    if not devices:
        return Reach(channel, title, False, "—", f"No {noun}.", devices=devices)
    count = len(usable)
    detail = (
        f"{count} of {len(devices)} {noun}{'s' if len(devices) != 1 else ''} can receive it."
        if count
        else f"No {noun} can receive it (disabled or opted out)."
    )
    consent = Consent.OPTED_IN.label if count else Consent.OPTED_OUT.label
    return Reach(channel, title, bool(count), consent, detail, devices=devices)


def reachability(profile: Profile) -> list[Reach]:
    """Per channel: e-mail reaches an address not opted out (consent not given is allowed, as
    for any e-mail list); SMS and WhatsApp need a phone number and an explicit opt-in; push and
    web push need a device or subscription that is enabled and opted in."""
    devices = list(profile.devices.order_by("kind", "-last_seen_at", "id"))
    return [
        _contact_reach(
            "email",
            "E-mail",
            address=profile.email,
            consent=profile.email_consent,
            unsubscribed_at=profile.email_unsubscribed_at,
            needs_opt_in=False,
        ),
        _contact_reach(
            "sms",
            "SMS",
            address=profile.phone,
            consent=profile.sms_consent,
            unsubscribed_at=profile.sms_unsubscribed_at,
            needs_opt_in=True,
        ),
        _contact_reach(
            "whatsapp",
            "WhatsApp",
            address=profile.phone,
            consent=profile.whatsapp_consent,
            unsubscribed_at=profile.whatsapp_unsubscribed_at,
            needs_opt_in=True,
        ),
        _device_reach("push", "Push", [d for d in devices if d.kind == DeviceKind.PUSH]),
        _device_reach(
            "web_push", "Web push", [d for d in devices if d.kind == DeviceKind.WEB_PUSH]
        ),
    ]


# ---------------------------------------------------------------------------------------------
# The timeline
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TimelineItem:
    event: Event
    is_notification: bool  # Notification Sent, Viewed or Clicked: about a campaign
    is_sent: bool
    campaign_id: int | None
    # The campaign's name as recorded at send time, and now (None when it has been deleted).
    campaign_name: str
    campaign_exists: bool
    campaign_name_now: str | None
    labels: list[dict[str, Any]]  # [{id, name}] as recorded at send time
    channel: str
    variant: str
    other_properties: dict[str, Any]


@dataclass(frozen=True)
class TimelinePage:
    items: list[TimelineItem]
    next_cursor: str | None


def encode_cursor(ts: dt.datetime, event_id: int) -> str:
    raw = json.dumps([ts.isoformat(), event_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    """The (ts, id) a cursor stands for; Invalid when it was not made by encode_cursor."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        ts_text, event_id = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        ts = dt.datetime.fromisoformat(ts_text)
        if ts.tzinfo is None or isinstance(event_id, bool) or not isinstance(event_id, int):
            raise ValueError
        if not 0 < event_id < 2**63:
            raise ValueError
    except (ValueError, TypeError, UnicodeError, binascii.Error):
        raise Invalid(
            "This page of the timeline does not exist.",
            errors={"cursor": ["Not a cursor this timeline gave out; start from the first page."]},
        ) from None
    return ts, event_id


def _campaign_id(event: Event) -> int | None:
    """The event's campaign: its column, else its properties' campaign_id when that is an id."""
    if event.campaign_id is not None:
        return event.campaign_id
    props = event.properties if isinstance(event.properties, dict) else {}
    value = props.get("campaign_id")
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63:
        return value
    return None


def _item(event: Event, campaigns: dict[int, str]) -> TimelineItem:
    props = event.properties if isinstance(event.properties, dict) else {}
    is_sent = event.name == NOTIFICATION_SENT
    is_notification = event.name in SYSTEM_EVENTS
    campaign_id = _campaign_id(event)
    labels = props.get("labels") if is_sent else None
    labels = [
        label for label in (labels if isinstance(labels, list) else []) if isinstance(label, dict)
    ]
    shown = ("campaign_id", "campaign_name", "channel", "variant", "labels")
    return TimelineItem(
        event=event,
        is_notification=is_notification,
        is_sent=is_sent,
        campaign_id=campaign_id,
        campaign_name=str(props.get("campaign_name") or ""),
        campaign_exists=campaign_id in campaigns,
        campaign_name_now=campaigns.get(campaign_id) if campaign_id is not None else None,
        labels=labels,
        channel=str(props.get("channel") or ""),
        variant=str(props.get("variant") or ""),
        other_properties=(
            {k: v for k, v in props.items() if k not in shown} if is_notification else props
        ),
    )


def timeline(profile_id: int, *, cursor: str = "", limit: int = TIMELINE_PAGE) -> TimelinePage:
    """One page of the profile's events, newest first, after the cursor's (ts, id).

    Notification Sent events carry their campaign and labels as recorded at send time; the
    campaign's current name is read alongside (one query per page), so a deleted campaign shows
    as such rather than as a link to nothing.
    """
    events = Event.objects.filter(profile_id=profile_id)
    if cursor:
        ts, event_id = decode_cursor(cursor)
        # The first, redundant bound lets PostgreSQL start the index range scan at the key.
        events = events.filter(ts__lte=ts).filter(Q(ts__lt=ts) | Q(ts=ts, id__lt=event_id))
    rows = list(events.order_by("-ts", "-id")[: limit + 1])
    page, more = rows[:limit], len(rows) > limit
    ids = {item for item in (_campaign_id(e) for e in page) if item is not None}
    campaigns = dict(Campaign.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}
    next_cursor = encode_cursor(page[-1].ts, page[-1].id) if more else None
    return TimelinePage([_item(event, campaigns) for event in page], next_cursor)
