"""Admins' dispatch settings: each channel's provider (Settings › Channels), frequency caps and
quiet hours (Settings › Delivery).

Each function checks the actor may manage settings, validates everything it is given and writes
in one transaction, or raises Invalid naming the fields and writes nothing. What each provider
takes is the table PROVIDER_SETTINGS, which the page's form is built from.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction

from accounts.roles import Perm, has_perm
from channels.models import FrequencyCap, ProviderConfig, QuietHours
from channels.providers import DRY_RUN, PROVIDERS
from config.errors import Forbidden, Invalid

log = logging.getLogger(__name__)

SAVE_FAILED = "Nothing was saved: fix the fields marked below."
MAX_SECRET = 20_000
MAX_CAP_MESSAGES = 1000
MAX_CAP_DAYS = 365


def _check_admin(actor: Any) -> None:
    if not has_perm(actor, Perm.MANAGE_SETTINGS):
        raise Forbidden("Only Admins change dispatch settings.")


# ----------------------------------------------------------------------------------------------
# What each provider takes
# ----------------------------------------------------------------------------------------------
def _url(value: Any) -> str:
    text = str(value).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"\s", text):
        raise ValueError("Enter an http:// or https:// URL.")
    return text.rstrip("/") if parts.path in ("", "/") else text


def _account_sid(value: Any) -> str:
    text = str(value).strip()
    if not re.fullmatch(r"AC[0-9a-fA-F]{32}", text):
        raise ValueError("A Twilio account SID is AC followed by 32 hexadecimal characters.")
    return text


E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def _sender(value: Any) -> str:
    text = str(value).strip()
    if E164.fullmatch(text) or re.fullmatch(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}", text):
        return text
    raise ValueError(
        "Enter a phone number in international format (+14155550100) or an alphanumeric "
        "sender ID of at most 11 letters and digits."
    )


def _whatsapp_sender(value: Any) -> str:
    text = str(value).strip().removeprefix("whatsapp:")
    if not E164.fullmatch(text):
        raise ValueError(
            "Enter the WhatsApp-enabled number in international format (+14155550100)."
        )
    return text


def _project_id(value: Any) -> str:
    text = str(value).strip()
    if not re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", text):
        raise ValueError(
            "A Firebase project ID has 6 to 30 lowercase letters, digits and hyphens, "
            "starting with a letter."
        )
    return text


def _timeout(value: Any) -> float:
    try:
        seconds = float(str(value).strip())
    except ValueError:
        raise ValueError("Enter a number of seconds.") from None
    if not 1 <= seconds <= 120:
        raise ValueError("Give between 1 and 120 seconds.")
    return seconds


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "on", "yes")


def _dotted_path(value: Any) -> str:
    text = str(value).strip()
    if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+", text):
        raise ValueError(
            "Enter the backend's dotted path, e.g. anymail.backends.mailgun.EmailBackend."
        )
    return text


def _token(value: Any) -> str:
    text = str(value).strip()
    if re.search(r"\s", text) or len(text) > 500:
        raise ValueError("A token has no spaces and at most 500 characters.")
    return text


SERVICE_ACCOUNT_KEYS = ("client_email", "private_key", "token_uri")


def _service_account(value: Any) -> str:
    """The JSON key file of a Google service account, checked the way the push adapter will use
    it: it parses, has the fields the OAuth exchange needs, and its private key loads."""
    text = str(value).strip()
    try:
        info = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"This is not valid JSON ({exc.msg} on line {exc.lineno}, column {exc.colno}). "
            "Paste the whole key file."
        ) from None
    if not isinstance(info, dict):
        raise ValueError("The key file is a JSON object; paste the whole file.")
    missing = [key for key in SERVICE_ACCOUNT_KEYS if not info.get(key)]
    if missing:
        raise ValueError("This is not a service account key: it has no " + ", ".join(missing) + ".")
    try:
        _url(info["token_uri"])
    except ValueError:
        raise ValueError("The key's token_uri is not an http(s) URL.") from None
    from google.oauth2 import service_account

    try:
        service_account.Credentials.from_service_account_info(info)
    except (ValueError, TypeError, KeyError):
        raise ValueError("The key's private_key is not a readable PEM private key.") from None
    return text


def _signing_secret(value: Any) -> str:
    text = str(value).strip()
    if not text.startswith("whsec_"):
        raise ValueError("A Standard Webhooks signing secret starts with whsec_.")
    from standardwebhooks import Webhook

    try:
        Webhook(text)
    except Exception:  # noqa: BLE001 - the library raises several kinds for a bad secret
        raise ValueError("A signing secret is whsec_ followed by base64.") from None
    return text


@dataclass(frozen=True)
class Setting:
    """One option or secret a provider takes: how it is checked and how the page shows it."""

    name: str
    label: str
    clean: Callable[[Any], Any]
    required: bool = False
    secret: bool = False
    multiline: bool = False
    flag: bool = False
    help: str = ""
    placeholder: str = ""


_TIMEOUT = Setting(
    "timeout",
    "Timeout (seconds)",
    _timeout,
    help="How long one request may take before it is retried. Empty: 10 seconds.",
    placeholder="10",
)
_TWILIO = [
    Setting(
        "base_url",
        "API base URL",
        _url,
        help="Empty: Twilio's own (https://api.twilio.com).",
        placeholder="https://api.twilio.com",
    ),
    Setting("account_sid", "Account SID", _account_sid, required=True, placeholder="AC…"),
]
_AUTH_TOKEN = Setting(
    "auth_token",
    "Auth token",
    _token,
    required=True,
    secret=True,
    help="The account's auth token (Twilio Console › Account info).",
)

PROVIDER_SETTINGS: dict[tuple[str, str], list[Setting]] = {
    ("email", "django"): [],
    ("email", "anymail"): [
        Setting(
            "backend",
            "Anymail backend",
            _dotted_path,
            required=True,
            help="The ESP's backend; its credentials come from the ANYMAIL setting.",
            placeholder="anymail.backends.mailgun.EmailBackend",
        ),
    ],
    ("sms", "twilio"): [
        *_TWILIO,
        Setting(
            "from",
            "From",
            _sender,
            help="The sender number or alphanumeric ID; a message's own sender ID wins.",
            placeholder="+14155550100",
        ),
        _TIMEOUT,
        _AUTH_TOKEN,
    ],
    ("sms", "http"): [
        Setting(
            "gateway_url",
            "Gateway URL",
            _url,
            required=True,
            help="Herald POSTs {to, from, body, reference} as JSON to this URL.",
            placeholder="https://sms.example.com/send",
        ),
        Setting("from", "From", _sender, placeholder="+14155550100"),
        _TIMEOUT,
        Setting(
            "gateway_token",
            "Gateway token",
            _token,
            secret=True,
            help="Sent as Authorization: Bearer <token>. Empty: no Authorization header.",
        ),
    ],
    ("whatsapp", "twilio"): [
        *_TWILIO,
        Setting(
            "from",
            "WhatsApp sender",
            _whatsapp_sender,
            required=True,
            help="The WhatsApp-enabled number of the Twilio account.",
            placeholder="+14155550100",
        ),
        _TIMEOUT,
        _AUTH_TOKEN,
    ],
    ("push", "fcm"): [
        Setting(
            "project_id",
            "Project ID",
            _project_id,
            help="Empty: the service account's project_id.",
            placeholder="my-app-12345",
        ),
        Setting(
            "base_url",
            "API base URL",
            _url,
            help="Empty: FCM's own (https://fcm.googleapis.com).",
            placeholder="https://fcm.googleapis.com",
        ),
        _TIMEOUT,
        Setting(
            "service_account",
            "Service account key (JSON)",
            _service_account,
            required=True,
            secret=True,
            multiline=True,
            help="Firebase console › Project settings › Service accounts › Generate new private "
            "key: paste the whole file.",
        ),
    ],
    ("webhook", "http"): [
        _TIMEOUT,
        Setting(
            "allow_private",
            "Allow private network targets",
            _flag,
            flag=True,
            help="Let webhooks reach private, loopback and link-local addresses (only for "
            "receivers inside your own network).",
        ),
        Setting(
            "signing_secret",
            "Signing secret",
            _signing_secret,
            required=True,
            secret=True,
            help="whsec_ followed by base64: receivers verify each request's webhook-signature "
            "with it.",
        ),
    ],
}


def provider_choices(channel: str) -> list[str]:
    """What an Admin may pick for a channel: "" (the environment's), its providers, dry run."""
    return ["", *PROVIDERS.get(channel, []), DRY_RUN]


def settings_for(channel: str, provider: str) -> list[Setting]:
    return PROVIDER_SETTINGS.get((channel, provider), [])


# ----------------------------------------------------------------------------------------------
# Settings › Channels
# ----------------------------------------------------------------------------------------------
@transaction.atomic
def provider_config_update(
    *,
    actor: Any,
    channel: str,
    provider: str,
    options: Mapping[str, Any],
    secrets: Mapping[str, Any],
    clear: Iterable[str] = (),
) -> ProviderConfig:
    """Set the channel's provider and its options; all or nothing.

    A secret left empty keeps the stored one; one named in `clear` is removed. Options and secrets
    the chosen provider does not take are dropped. Provider "" hands the channel back to the
    environment's configuration (the stored options and secrets go). Records the actor.
    """
    _check_admin(actor)
    if channel not in PROVIDERS:
        raise Invalid(f"{channel} has no provider to configure.", errors={"channel": ["Unknown."]})
    if provider not in provider_choices(channel):
        raise Invalid(SAVE_FAILED, errors={"provider": ["Choose one of the providers listed."]})
    # A new row starts as "the environment's" (rolled back with the rest on an error), so two
    # first saves at once queue on its lock instead of colliding on the unique channel.
    ProviderConfig.objects.get_or_create(channel=channel, defaults={"provider": ""})
    row = ProviderConfig.objects.select_for_update().get(channel=channel)
    stored = dict(row.secrets) if row.provider == provider else {}
    cleared = set(clear)
    errors: dict[str, list[str]] = {}
    new_options: dict[str, Any] = {}
    new_secrets: dict[str, Any] = {}
    for setting in settings_for(channel, provider):
        raw = (secrets if setting.secret else options).get(setting.name)
        given = raw is not None and (raw is True or raw is False or str(raw).strip() != "")
        if setting.secret and setting.name in cleared and given:
            errors[setting.name] = ["Enter a new value or clear the stored one, not both."]
            continue
        if given:
            try:
                value = setting.clean(raw)
            except ValueError as exc:
                errors[setting.name] = [str(exc)]
                continue
            (new_secrets if setting.secret else new_options)[setting.name] = value
        elif setting.secret and setting.name not in cleared and stored.get(setting.name):
            new_secrets[setting.name] = stored[setting.name]
        elif setting.required and not setting.secret:
            errors[setting.name] = ["Required."]
        elif setting.required and setting.name in cleared:
            errors[setting.name] = ["Required: it cannot be cleared, only replaced."]
        elif setting.required:
            errors[setting.name] = ["Required: none is stored, enter it."]
    if (channel, provider) == ("push", "fcm") and "project_id" not in new_options:
        key = new_secrets.get("service_account")
        info = json.loads(key) if isinstance(key, str) else dict(key or {})
        if key and not info.get("project_id"):
            errors.setdefault("project_id", []).append(
                "Required: the service account key names no project."
            )
    if errors:
        raise Invalid(SAVE_FAILED, errors=errors)
    row.provider = provider
    row.options = new_options
    row.secrets = new_secrets
    row.updated_by = actor
    row.save()
    log.info(
        "provider for %s set to %r by user %s (options %s, secrets %s)",
        channel,
        provider,
        actor.pk,
        sorted(new_options),
        sorted(new_secrets),
    )
    return row


# ----------------------------------------------------------------------------------------------
# Settings › Delivery
# ----------------------------------------------------------------------------------------------
def dispatch_channels() -> list[str]:
    """The channels Herald sends itself (those with an adapter), in the registry's order."""
    return list(PROVIDERS)


def _count(value: Any, *, low: int, high: int, what: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(f"Enter a whole number of {what}.") from None
    if not low <= number <= high:
        raise ValueError(f"Give between {low} and {high} {what}.")
    return number


@transaction.atomic
def frequency_caps_update(
    *, actor: Any, caps: Mapping[str, tuple[Any, Any] | None]
) -> dict[str, FrequencyCap | None]:
    """Set, change or remove (None, or both values empty) the frequency cap of each channel
    given; channels not given are left alone. All or nothing.

    Errors are keyed "<channel>.max_messages" / "<channel>.days"."""
    _check_admin(actor)
    errors: dict[str, list[str]] = {}
    wanted: dict[str, tuple[int, int] | None] = {}
    for channel, pair in caps.items():
        if channel not in PROVIDERS:
            errors[f"{channel}.max_messages"] = ["Herald does not send on this channel."]
            continue
        raw_n, raw_d = pair if pair is not None else (None, None)
        empty_n = raw_n is None or str(raw_n).strip() == ""
        empty_d = raw_d is None or str(raw_d).strip() == ""
        if empty_n and empty_d:
            wanted[channel] = None
            continue
        if empty_n or empty_d:
            key = f"{channel}.{'max_messages' if empty_n else 'days'}"
            errors[key] = ["Give both the number of messages and the days, or neither."]
            continue
        try:
            n = _count(raw_n, low=1, high=MAX_CAP_MESSAGES, what="messages")
        except ValueError as exc:
            errors[f"{channel}.max_messages"] = [str(exc)]
        try:
            d = _count(raw_d, low=1, high=MAX_CAP_DAYS, what="days")
        except ValueError as exc:
            errors[f"{channel}.days"] = [str(exc)]
        if f"{channel}.max_messages" not in errors and f"{channel}.days" not in errors:
            wanted[channel] = (n, d)
    if errors:
        raise Invalid(SAVE_FAILED, errors=errors)
    result: dict[str, FrequencyCap | None] = {}
    for channel, value in wanted.items():
        if value is None:
            FrequencyCap.objects.filter(channel=channel).delete()
            result[channel] = None
        else:
            cap, _ = FrequencyCap.objects.update_or_create(
                channel=channel, defaults={"max_messages": value[0], "days": value[1]}
            )
            result[channel] = cap
    log.info("frequency caps changed by user %s: %s", actor.pk, wanted)
    return result


def frequency_cap_remove(*, actor: Any, channel: str) -> bool:
    """Remove the channel's cap; False when it had none."""
    _check_admin(actor)
    removed, _ = FrequencyCap.objects.filter(channel=channel).delete()
    if removed:
        log.info("frequency cap of %s removed by user %s", channel, actor.pk)
    return bool(removed)


@transaction.atomic
def quiet_hours_update(
    *,
    actor: Any,
    enabled: bool,
    start: dt.time | None,
    end: dt.time | None,
    channels: Iterable[str],
) -> QuietHours:
    """Set the quiet hours (one row, created on first save). Hours run from `start` to `end` in
    each recipient's time zone, across midnight when end is earlier than start."""
    _check_admin(actor)
    chosen = list(dict.fromkeys(channels))
    errors: dict[str, list[str]] = {}
    if start is None:
        errors["start"] = ["Give the time quiet hours start."]
    if end is None:
        errors["end"] = ["Give the time quiet hours end."]
    if start is not None and end is not None and start == end:
        errors["end"] = ["Quiet hours must end at another time than they start."]
    unknown = [c for c in chosen if c not in PROVIDERS]
    if unknown:
        errors["channels"] = ["Herald does not send on " + ", ".join(unknown) + "."]
    elif enabled and not chosen:
        errors["channels"] = ["Choose the channels quiet hours apply to."]
    if errors:
        raise Invalid(SAVE_FAILED, errors=errors)
    row = QuietHours.objects.select_for_update().order_by("pk").first() or QuietHours()
    row.enabled = enabled
    row.start = start
    row.end = end
    row.channels = chosen
    row.save()
    log.info("quiet hours changed by user %s", actor.pk)
    return row
