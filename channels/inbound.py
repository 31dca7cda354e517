"""Replies to our SMS: STOP and START keywords change the sender's SMS (or WhatsApp) consent.

Two doors, no login: Twilio's incoming-message webhook (a form POST signed with
X-Twilio-Signature) and a generic gateway's POST of JSON {"from", "body"} with the gateway token
as a Bearer token. Only the whole message counts as a keyword ("stop" is; "stop it" is not), as
carriers and Twilio's own opt-out handling read it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Coalesce, Now
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from audience.models import Consent, Profile
from audience.validation import FieldInvalid, clean_phone
from channels.providers import provider_for

log = logging.getLogger(__name__)

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def consent_from_reply(*, phone: str, body: str, channel: str = "sms") -> tuple[str, int]:
    """Applies a reply's keyword to every profile with that phone number (E.164).

    STOP words opt them out of `channel` (keeping the first opt-out's time for profiles already
    out), START words opt them in and clear the time. Returns the consent set ("" when the body
    is no keyword or the number is not a phone number) and how many profiles changed."""
    keyword = body.strip().upper()
    if keyword not in STOP_WORDS and keyword not in START_WORDS:
        return "", 0
    number = phone.strip()
    if number.isdigit():
        # Gateways often send the MSISDN without its "+".
        number = "+" + number
    try:
        number = clean_phone(number)
    except FieldInvalid:
        return "", 0
    consent_field, at_field = f"{channel}_consent", f"{channel}_unsubscribed_at"
    profiles = Profile.objects.filter(phone=number)
    if keyword in STOP_WORDS:
        consent = Consent.OPTED_OUT
        changed = profiles.filter(
            ~Q(**{consent_field: consent}) | Q(**{f"{at_field}__isnull": True})
        ).update(
            **{consent_field: consent, at_field: Coalesce(at_field, Now()), "updated_at": Now()}
        )
    else:
        consent = Consent.OPTED_IN
        changed = profiles.update(**{consent_field: consent, at_field: None, "updated_at": Now()})
    log.info("%s reply %s: %s profile(s) now %s", channel, keyword, changed, consent)
    return str(consent), changed


def twilio_signature(url: str, params: QueryDict | dict[str, list[str]], auth_token: str) -> str:
    """Twilio's X-Twilio-Signature: base64(HMAC-SHA1(auth token, URL + each POST parameter's
    name and value, names sorted, a repeated name's values sorted))."""
    signed = url
    for name in sorted(set(params)):
        values = params.getlist(name) if isinstance(params, QueryDict) else params[name]
        for value in sorted(set(values)):
            signed += name + value
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _url_variants(url: str) -> set[str]:
    """The URL as given, without its port, and with the scheme's default port when it has none:
    Twilio signs the URL as it was configured, and a proxy may have added or dropped the port."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    variants = {url, urlunsplit(parts._replace(netloc=host))}
    default = {"https": 443, "http": 80}.get(parts.scheme)
    if parts.port is None and default:
        variants.add(urlunsplit(parts._replace(netloc=f"{host}:{default}")))
    return variants


def _signed_urls(request: HttpRequest) -> set[str]:
    """Where Twilio may have believed it was posting: HERALD_BASE_URL (the public address
    behind a proxy) or the address the request arrived at."""
    urls: set[str] = set()
    for url in (settings.HERALD_BASE_URL + request.get_full_path(), request.build_absolute_uri()):
        urls |= _url_variants(url)
    return urls


def _configured(secret: str, channels: Iterable[str]) -> list[str]:
    values = []
    for channel in channels:
        choice = provider_for(channel)
        value = choice.secrets.get(secret) if choice else ""
        if value and value not in values:
            values.append(str(value))
    return values


def twilio_request_is_signed(request: HttpRequest) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    return any(
        hmac.compare_digest(twilio_signature(url, request.POST, token), signature)
        for token in _configured("auth_token", ("sms", "whatsapp"))
        for url in _signed_urls(request)
    )


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    """Twilio's "A message comes in" webhook. Answers an empty TwiML document: no reply is
    sent from here (Twilio's Advanced Opt-Out sends its own confirmation)."""
    if not twilio_request_is_signed(request):
        return HttpResponse("Invalid signature.", status=403, content_type="text/plain")
    sender = request.POST.get("From", "")
    channel = "whatsapp" if sender.startswith("whatsapp:") else "sms"
    consent_from_reply(
        phone=sender.removeprefix("whatsapp:"), body=request.POST.get("Body", ""), channel=channel
    )
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


def _bearer_is_valid(request: HttpRequest) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    return any(
        hmac.compare_digest(given.strip().encode(), token.encode())
        for token in _configured("gateway_token", ("sms",))
    )


@csrf_exempt
@require_POST
def gateway_inbound(request: HttpRequest) -> HttpResponse:
    """A generic gateway's incoming message: JSON {"from": "+14155550123", "body": "STOP"}.
    Answers {"consent": "opted_out" | "opted_in" | null, "profiles": <how many changed>}."""
    if not _bearer_is_valid(request):
        response = JsonResponse({"error": "Give the gateway token as a Bearer token."}, status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("from"), str)
        or not isinstance(data.get("body"), str)
    ):
        return JsonResponse(
            {"error": 'Send a JSON object with "from" and "body" strings.'}, status=400
        )
    consent, changed = consent_from_reply(phone=data["from"], body=data["body"])
    return JsonResponse({"consent": consent or None, "profiles": changed})
