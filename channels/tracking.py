"""Tracking links in messages: opens, clicks and unsubscribes.

A link carries a token signed with django.core.signing (HERALD_TRACKING_KEY, else SECRET_KEY, and
one salt per purpose, so an open token cannot unsubscribe anyone): the run, the profile and the
campaign, and for a click the address it leads to, as "run.profile.campaign[.base64url(url)]"
followed by "." and the signature. A token is URL-safe and never expires (an unsubscribe link must
work years later); a changed byte makes it invalid, so nobody records an event for someone else,
unsubscribes them, or turns Herald into an open redirect.

Recording: opens and clicks are Notification Viewed / Notification Clicked events in the audience
event stream; an unsubscribe opts the profile out of e-mail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings
from django.core import signing
from django.db import connection
from django.db.models import Q
from django.db.models.functions import Coalesce, Now
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes

from audience import partitions
from audience.models import NOTIFICATION_CLICKED, NOTIFICATION_VIEWED, Consent, Profile
from channels.adapters.base import Message

Purpose = Literal["open", "click", "unsubscribe"]
URL_NAMES: dict[Purpose, str] = {
    "open": "channels_tracking:open",
    "click": "channels_tracking:click",
    "unsubscribe": "channels_tracking:unsubscribe",
}
# "." is unreserved in URLs, and in neither digits nor the base64url alphabet.
SEPARATOR = "."
_ID = re.compile(r"[1-9][0-9]{0,18}")
_PLACEHOLDER = "TOKEN"


class _Signer(signing.Signer):
    """django.core.signing.Signer making the same signatures with its HMAC key derived once
    (Django derives it again for every token; an e-mail has a dozen tokens)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(algorithm="sha256", **kwargs)
        derived = hashlib.sha256(force_bytes(self.salt + "signer") + force_bytes(self.key)).digest()
        self._mac = hmac.new(derived, digestmod=hashlib.sha256)

    def signature(self, value: str | bytes, key: str | bytes | None = None) -> str:
        if key is not None and key != self.key:
            return super().signature(value, key)
        mac = self._mac.copy()
        mac.update(force_bytes(value))
        return signing.b64_encode(mac.digest()).decode()


@dataclass(frozen=True, slots=True)
class Target:
    """Who a token is about: one message of one run."""

    run_id: int
    profile_id: int
    campaign_id: int
    url: str = ""


class Tracker:
    """Builds the tracking links of many messages: the signers and URL prefixes are made once,
    which matters when an adapter signs a dozen links for each of thousands of recipients."""

    def __init__(self) -> None:
        # A key of its own has no fallbacks; SECRET_KEY keeps SECRET_KEY_FALLBACKS (rotation).
        own = settings.HERALD_TRACKING_KEY
        key = own or settings.SECRET_KEY
        fallbacks = [] if own else list(settings.SECRET_KEY_FALLBACKS)
        self._signers = {
            purpose: _Signer(
                key=key, salt=f"herald.tracking.{purpose}", sep=SEPARATOR, fallback_keys=fallbacks
            )
            for purpose in URL_NAMES
        }
        # A campaign's links are the same for every recipient: encoded once.
        self._encoded_urls: dict[str, str] = {}
        base = settings.HERALD_BASE_URL.rstrip("/")
        self._urls: dict[str, tuple[str, str]] = {}
        for purpose, name in URL_NAMES.items():
            before, after = reverse(name, args=[_PLACEHOLDER]).split(_PLACEHOLDER)
            self._urls[purpose] = (base + before, after)

    def prefixes(self) -> tuple[str, ...]:
        """Where Herald's own tracking links start (an adapter must not wrap them again)."""
        return tuple(before for before, _ in self._urls.values())

    def token(self, purpose: Purpose, target: Target) -> str:
        value = f"{target.run_id}.{target.profile_id}.{target.campaign_id}"
        if purpose == "click":
            encoded = self._encoded_urls.get(target.url)
            if encoded is None:
                if len(self._encoded_urls) > 1000:
                    self._encoded_urls.clear()
                encoded = signing.b64_encode(target.url.encode()).decode()
                self._encoded_urls[target.url] = encoded
            value = f"{value}.{encoded}"
        return self._signers[purpose].sign(value)

    def url(self, purpose: Purpose, target: Target) -> str:
        before, after = self._urls[purpose]
        return before + self.token(purpose, target) + after

    def read(self, purpose: Purpose, token: str) -> Target | None:
        """The target of a genuine token of this purpose; None for anything else."""
        try:
            parts = self._signers[purpose].unsign(token).split(SEPARATOR)
        except signing.BadSignature:
            return None
        if len(parts) != (4 if purpose == "click" else 3):
            return None
        if not all(_ID.fullmatch(part) for part in parts[:3]):
            return None
        url = ""
        if purpose == "click":
            try:
                url = signing.b64_decode(parts[3].encode()).decode()
            except (ValueError, UnicodeError):
                return None
            if not url.lower().startswith(("http://", "https://")):
                return None
        return Target(int(parts[0]), int(parts[1]), int(parts[2]), url)


def target_of(message: Message, url: str = "") -> Target:
    return Target(message.run_id, message.profile_id, message.campaign_id, url)


def open_url(message: Message) -> str:
    """The open-tracking pixel's address (/t/o/<token>.gif)."""
    return Tracker().url("open", target_of(message))


def click_url(message: Message, url: str) -> str:
    """A redirect through /t/c/<token>/ to `url` that records a click on the way."""
    return Tracker().url("click", target_of(message, url))


def unsubscribe_url(message: Message) -> str:
    """The one-click unsubscribe address (/t/u/<token>/), for List-Unsubscribe and the body."""
    return Tracker().url("unsubscribe", target_of(message))


def record_engagement(
    name: str,
    run_id: int,
    profile_id: int,
    campaign_id: int,
    properties: dict[str, Any] | None = None,
    *,
    ts: dt.datetime | None = None,
) -> None:
    """One Notification Viewed / Clicked event, as record_notification_sent writes Sent events:
    the campaign_id column is set for the segment queries; label_ids stays NULL (only Sent events
    carry labels). Every open and every click is an event: two queries, no lookups."""
    if name not in (NOTIFICATION_VIEWED, NOTIFICATION_CLICKED):
        raise ValueError(f"Not an engagement event: {name!r}")
    moment = ts or timezone.now()
    payload = {"campaign_id": campaign_id, "channel": "email", "run_id": run_id}
    payload.update(properties or {})
    partitions.ensure_for([moment])
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audience_event (profile_id, name, ts, properties, campaign_id) "
            "VALUES (%s, %s, %s, %s::jsonb, %s)",
            [profile_id, name, moment, json.dumps(payload, ensure_ascii=False), campaign_id],
        )


def record_open(target: Target) -> None:
    record_engagement(NOTIFICATION_VIEWED, target.run_id, target.profile_id, target.campaign_id)


def record_click(target: Target) -> None:
    record_engagement(
        NOTIFICATION_CLICKED,
        target.run_id,
        target.profile_id,
        target.campaign_id,
        {"url": target.url},
    )


def unsubscribe(target: Target) -> bool:
    """Opt the token's profile out of e-mail. Idempotent: an already unsubscribed profile keeps
    its first unsubscribe time and is not written again. True when this call changed it."""
    changed = (
        Profile.objects.filter(pk=target.profile_id)
        .filter(~Q(email_consent=Consent.OPTED_OUT) | Q(email_unsubscribed_at__isnull=True))
        .update(
            email_consent=Consent.OPTED_OUT,
            email_unsubscribed_at=Coalesce("email_unsubscribed_at", Now()),
            updated_at=Now(),
        )
    )
    return bool(changed)
