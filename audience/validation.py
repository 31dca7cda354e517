"""Per-record validation for the ingestion API (and the CSV import, which shares profiles_upsert).

Each function takes one record as decoded from JSON and returns either a clean record or the
errors of its fields, as {"field.path": ["message", ...]}, so that one bad record never stops the
others of its batch. Nothing here touches the database: property types are checked against
PropertyDefinition in audience.services, which reads (and fixes) the batch's definitions at once.

Events are the hot path (1,000 records a request, 20,000 a second): their checks are plain type
tests and one JSON dump per record, no regular expressions and no exceptions on good input.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import zoneinfo
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from audience.models import SYSTEM_EVENTS, Consent, DeviceKind, PropertyType

MAX_BATCH = 1000
MAX_IDENTITY = 200  # Profile.identity
MAX_EVENT_NAME = 120  # Event.name
MAX_RECORD_ID = 200  # IngestRecord.key
MAX_PROPERTY_NAME = 120  # PropertyDefinition.name
MAX_PROPERTIES = 200
MAX_TEXT = 2048
MAX_LIST_ITEMS = 100
MAX_DEVICES = 20
MAX_PLATFORM = 32  # Device.platform
MAX_TOKEN = 2048  # Device.token
MAX_EMAIL = 254
# An event may be stamped a little ahead of Herald's clock (clients' clocks drift), not more.
FUTURE_TOLERANCE = dt.timedelta(minutes=10)
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

EVENT_FIELDS = frozenset({"identity", "name", "ts", "properties", "record_id"})
PROFILE_FIELDS = frozenset(
    {"identity", "email", "phone", "timezone", "properties", "consent", "devices"}
)
CONSENT_CHANNELS = ("email", "sms", "whatsapp")
CONSENT_VALUES = (Consent.OPTED_IN.value, Consent.OPTED_OUT.value)
_SYSTEM_NAMES = frozenset(name.lower() for name in SYSTEM_EVENTS)
_SCALARS = (str, int, float, bool)
# "Looks like a date": YYYY-MM-DD, optionally with a time. Such text fixes a new property as a
# date; text of other shapes is a string.
_DATE_LIKE = re.compile(
    r"\d{4}-\d{2}-\d{2}"  # the date
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"  # a time
    r"(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"  # its offset
)
_BASE64URL = re.compile(r"[A-Za-z0-9_\-]+=*")
_email_validator = EmailValidator()
# Built once: json.dumps(..., separators=...) builds an encoder on every call.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

Errors = dict[str, list[str]]


class FieldInvalid(Exception):
    """One field's problem, raised by the small checks here and caught per field."""


def _add(errors: Errors, path: str, message: str) -> None:
    errors.setdefault(path, []).append(message)


def text_field(value: Any, *, max_length: int, what: str, allow_int: bool = False) -> str:
    """A non-empty string (trimmed) of at most max_length characters PostgreSQL can store."""
    if allow_int and type(value) is int:
        value = str(value)
    if not isinstance(value, str):
        raise FieldInvalid(f"Give {what} as text.")
    value = value.strip()
    if not value:
        raise FieldInvalid(f"Give {what}; it cannot be empty.")
    if len(value) > max_length:
        raise FieldInvalid(f"At most {max_length} characters ({len(value)} given).")
    _storable(value)
    return value


def _storable(value: str) -> None:
    """PostgreSQL stores no NUL character, and UTF-8 has no lone surrogate (JSON's \\ud800)."""
    if "\x00" in value:
        raise FieldInvalid("Text cannot contain the NUL character (\\u0000).")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise FieldInvalid("Text contains an unpaired UTF-16 surrogate.") from None


def _unknown_fields(record: dict[str, Any], known: frozenset[str], errors: Errors) -> None:
    for name in record.keys() - known:
        _add(errors, str(name), f"Unknown field; the fields are {', '.join(sorted(known))}.")


# ---------------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------------
@dataclass(slots=True)
class EventRecord:
    index: int
    identity: str
    name: str
    ts: dt.datetime
    properties: str  # JSON text, as inserted
    record_id: str | None


def parse_timestamp(value: Any, *, now: dt.datetime) -> dt.datetime:
    """An ISO 8601 date-time with a time zone, from 2000-01-01 to 10 minutes past `now`."""
    if not isinstance(value, str):
        raise FieldInvalid(
            'Give the time as ISO 8601 text with a time zone ("2025-05-01T09:30:00Z").'
        )
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise FieldInvalid(
            f'"{value[:40]}" is not an ISO 8601 date-time ("2025-05-01T09:30:00Z").'
        ) from None
    if moment.tzinfo is None:
        raise FieldInvalid('Give the time zone too: "Z" for UTC, or an offset such as "+02:00".')
    if moment < EARLIEST:
        raise FieldInvalid("Events from before 2000-01-01 are refused.")
    if moment > now + FUTURE_TOLERANCE:
        raise FieldInvalid("The time is more than 10 minutes ahead of Herald's clock.")
    return moment


def _flat_value_problem(value: Any) -> str | None:
    """Why an event property's value cannot be stored, or None: scalars, null and flat lists."""
    kind = type(value)
    if kind is str:
        if len(value) > MAX_TEXT:
            return f"Text of at most {MAX_TEXT} characters ({len(value)} given)."
        if "\x00" in value:
            return "Text cannot contain the NUL character (\\u0000)."
        return None
    if kind is int or kind is bool or value is None:
        return None
    if kind is float:
        return None if math.isfinite(value) else "Numbers must be finite."
    if kind is list:
        if len(value) > MAX_LIST_ITEMS:
            return f"Lists of at most {MAX_LIST_ITEMS} items ({len(value)} given)."
        for item in value:
            if type(item) not in _SCALARS:
                return "List items must be text, numbers or true/false (no objects, lists or null)."
            problem = _flat_value_problem(item)
            if problem:
                return problem
        return None
    return "Values are text, numbers, true/false, null or lists of those; objects are refused."


def _event_properties(value: Any, errors: Errors) -> str:
    if value is None:
        return "{}"
    if type(value) is not dict:
        _add(errors, "properties", "Give the properties as a JSON object.")
        return "{}"
    if len(value) > MAX_PROPERTIES:
        _add(errors, "properties", f"At most {MAX_PROPERTIES} properties ({len(value)} given).")
        return "{}"
    for key, item in value.items():
        if not key or len(key) > MAX_PROPERTY_NAME or "\x00" in key:
            _add(errors, "properties", f"Property names have 1 to {MAX_PROPERTY_NAME} characters.")
            continue
        problem = _flat_value_problem(item)
        if problem:
            _add(errors, f"properties.{key}", problem)
    text = _dumps(value)
    try:
        text.encode()
    except UnicodeEncodeError:
        _add(errors, "properties", "Text contains an unpaired UTF-16 surrogate.")
    return text


def clean_event(record: Any, index: int, *, now: dt.datetime) -> EventRecord | Errors:
    """One event record: identity, name, ts (default: now), properties, record_id."""
    if type(record) is not dict:
        return {"non_field_errors": ["Each record must be a JSON object."]}
    errors: Errors = {}
    if len(record) > len(EVENT_FIELDS) or not record.keys() <= EVENT_FIELDS:
        _unknown_fields(record, EVENT_FIELDS, errors)

    identity = name = ""
    try:
        identity = text_field(
            record.get("identity"), max_length=MAX_IDENTITY, what="the identity", allow_int=True
        )
    except FieldInvalid as exc:
        _add(errors, "identity", str(exc))
    try:
        name = text_field(record.get("name"), max_length=MAX_EVENT_NAME, what="the event's name")
        if name.lower() in _SYSTEM_NAMES:
            raise FieldInvalid(f"“{name}” is a system event: only Herald records it.")
    except FieldInvalid as exc:
        _add(errors, "name", str(exc))

    ts = now
    raw_ts = record.get("ts")
    if raw_ts is not None:
        try:
            ts = parse_timestamp(raw_ts, now=now)
        except FieldInvalid as exc:
            _add(errors, "ts", str(exc))

    properties = _event_properties(record.get("properties"), errors)

    record_id = None
    raw_id = record.get("record_id")
    if raw_id is not None:
        try:
            record_id = text_field(
                raw_id, max_length=MAX_RECORD_ID, what="the record id", allow_int=True
            )
        except FieldInvalid as exc:
            _add(errors, "record_id", str(exc))

    if errors:
        return errors
    return EventRecord(index, identity, name, ts, properties, record_id)


# ---------------------------------------------------------------------------------------------
# Profiles
# ---------------------------------------------------------------------------------------------
# A value as given, before its property's type is known: what type it would fix, and what is
# stored for it under that type. DATE_LIKE is text shaped like a date that is no valid date: fine
# for a string property, refused for a date one.
DATE_LIKE = "date_like"


@dataclass(slots=True)
class PropertyValue:
    kind: str  # a PropertyType value, or DATE_LIKE
    stored: Any  # what is stored when the property has this kind (dates normalised)
    raw: Any  # the value as given (stored as-is by a string property)


@dataclass(slots=True)
class DeviceRecord:
    kind: str
    token: str  # the push token, or the web push endpoint
    platform: str
    keys: dict[str, str]
    consent: str | None  # None: leave as it is (new devices are opted in)


@dataclass(slots=True)
class ProfileRecord:
    index: int
    identity: str
    # None: not given, left as it is; "": cleared.
    email: str | None = None
    phone: str | None = None
    timezone: str | None = None
    consent: dict[str, str] = field(default_factory=dict)
    properties: dict[str, PropertyValue] = field(default_factory=dict)
    # The values as stored, once checked against their properties' types (audience.services).
    typed: dict[str, Any] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    devices: list[DeviceRecord] = field(default_factory=list)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def clean_email(value: Any) -> str:
    text = text_field(value, max_length=MAX_EMAIL, what="the e-mail address")
    try:
        _email_validator(text)
    except ValidationError:
        raise FieldInvalid(f"“{text}” is not a valid e-mail address.") from None
    return text


def clean_phone(value: Any) -> str:
    """The number in E.164 (+14155550123), from any usual international writing of it."""
    text = text_field(value, max_length=40, what="the phone number")
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.startswith("+"):
        raise FieldInvalid("Give the number in international format: + and the country code first.")
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise FieldInvalid(f"“{text}” is not a phone number.") from None
    if not phonenumbers.is_valid_number(number):
        raise FieldInvalid(f"“{text}” is not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def clean_timezone(value: Any) -> str:
    text = text_field(value, max_length=64, what="the time zone")
    if text not in _time_zones():
        raise FieldInvalid(f"“{text}” is not an IANA time zone (such as Europe/Paris).")
    return text


def _date_value(text: str) -> PropertyValue:
    """Text shaped like a date: a date (YYYY-MM-DD) or a date-time with a time zone, stored as
    ISO text (date-times in UTC) so that text order is time order."""
    try:
        if len(text) == 10:
            return PropertyValue(PropertyType.DATE, dt.date.fromisoformat(text).isoformat(), text)
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return PropertyValue(DATE_LIKE, text, text)
    if moment.tzinfo is None:
        return PropertyValue(DATE_LIKE, text, text)
    return PropertyValue(PropertyType.DATE, moment.astimezone(dt.UTC).isoformat(), text)


def property_value(value: Any) -> PropertyValue:
    """What type a profile property's value has (raises FieldInvalid for unsupported values)."""
    kind = type(value)
    if kind is bool:
        return PropertyValue(PropertyType.BOOLEAN, value, value)
    if kind is int or kind is float:
        if kind is float and not math.isfinite(value):
            raise FieldInvalid("Numbers must be finite.")
        return PropertyValue(PropertyType.NUMBER, value, value)
    if kind is str:
        if len(value) > MAX_TEXT:
            raise FieldInvalid(f"Text of at most {MAX_TEXT} characters ({len(value)} given).")
        _storable(value)
        if _DATE_LIKE.fullmatch(value):
            return _date_value(value)
        return PropertyValue(PropertyType.STRING, value, value)
    if kind is list:
        problem = _flat_value_problem(value)
        if problem:
            raise FieldInvalid(problem)
        for item in value:
            if type(item) is str:
                _storable(item)
        return PropertyValue(PropertyType.LIST, value, value)
    if kind is dict:
        raise FieldInvalid(
            "Objects are not a property type; use one property per field (address_city)."
        )
    raise FieldInvalid("Unsupported value.")


def _profile_properties(value: Any, clean: ProfileRecord, errors: Errors) -> None:
    if value is None:
        return
    if type(value) is not dict:
        _add(errors, "properties", "Give the properties as a JSON object.")
        return
    if len(value) > MAX_PROPERTIES:
        _add(errors, "properties", f"At most {MAX_PROPERTIES} properties ({len(value)} given).")
        return
    for name, item in value.items():
        path = f"properties.{name}"
        if not name.strip() or len(name) > MAX_PROPERTY_NAME or "\x00" in name:
            _add(errors, "properties", f"Property names have 1 to {MAX_PROPERTY_NAME} characters.")
            continue
        if item is None:
            clean.removed.append(name)
            continue
        try:
            clean.properties[name] = property_value(item)
        except FieldInvalid as exc:
            _add(errors, path, str(exc))


def _consent(value: Any, clean: ProfileRecord, errors: Errors) -> None:
    if value is None:
        return
    if type(value) is not dict:
        _add(errors, "consent", 'Give consent per channel: {"email": "opted_in", ...}.')
        return
    for channel, choice in value.items():
        path = f"consent.{channel}"
        if channel not in CONSENT_CHANNELS:
            _add(
                errors,
                path,
                "Consent is given per channel: email, sms or whatsapp (push consent goes with "
                "each device).",
            )
        elif choice not in CONSENT_VALUES:
            _add(errors, path, "Give opted_in or opted_out.")
        else:
            clean.consent[channel] = choice


def _device(value: Any, path: str) -> DeviceRecord | Errors:
    if type(value) is not dict:
        return {path: ["Give each device as a JSON object."]}
    errors: Errors = {}
    kind = value.get("kind")
    if kind == DeviceKind.PUSH:
        known = frozenset({"kind", "platform", "token", "consent"})
    elif kind == DeviceKind.WEB_PUSH:
        known = frozenset({"kind", "platform", "endpoint", "keys", "consent"})
    else:
        return {f"{path}.kind": ["Give push (a mobile push token) or web_push."]}
    for name in value.keys() - known:
        _add(errors, f"{path}.{name}", f"Unknown field for a {kind} device.")

    platform = ""
    if not _blank(value.get("platform")):
        try:
            platform = text_field(value["platform"], max_length=MAX_PLATFORM, what="the platform")
        except FieldInvalid as exc:
            _add(errors, f"{path}.platform", str(exc))
    consent = value.get("consent")
    if consent is not None and consent not in CONSENT_VALUES:
        _add(errors, f"{path}.consent", "Give opted_in or opted_out.")

    token = ""
    keys: dict[str, str] = {}
    if kind == DeviceKind.PUSH:
        try:
            token = text_field(value.get("token"), max_length=MAX_TOKEN, what="the push token")
        except FieldInvalid as exc:
            _add(errors, f"{path}.token", str(exc))
    else:
        try:
            token = text_field(value.get("endpoint"), max_length=MAX_TOKEN, what="the endpoint")
            if not token.startswith("https://") or len(token) < 12:
                raise FieldInvalid("A web push endpoint is an https:// URL.")
        except FieldInvalid as exc:
            _add(errors, f"{path}.endpoint", str(exc))
        keys = _web_push_keys(value.get("keys"), f"{path}.keys", errors)
    return errors or DeviceRecord(kind, token, platform, keys, consent)


def _web_push_keys(value: Any, path: str, errors: Errors) -> dict[str, str]:
    if type(value) is not dict:
        _add(errors, path, 'Give the subscription\'s keys: {"p256dh": "...", "auth": "..."}.')
        return {}
    keys = {}
    for name in ("p256dh", "auth"):
        key = value.get(name)
        if not isinstance(key, str) or not key or len(key) > 200 or not _BASE64URL.fullmatch(key):
            _add(errors, f"{path}.{name}", "Give the key as the browser gives it (base64url).")
        else:
            keys[name] = key
    for name in value.keys() - {"p256dh", "auth"}:
        _add(errors, f"{path}.{name}", "Unknown key; a subscription has p256dh and auth.")
    return keys


def _devices(value: Any, clean: ProfileRecord, errors: Errors) -> None:
    if value is None:
        return
    if type(value) is not list:
        _add(errors, "devices", "Give the devices as a list.")
        return
    if len(value) > MAX_DEVICES:
        _add(errors, "devices", f"At most {MAX_DEVICES} devices a record ({len(value)} given).")
        return
    for i, item in enumerate(value):
        device = _device(item, f"devices[{i}]")
        if isinstance(device, DeviceRecord):
            clean.devices.append(device)
        else:
            errors.update(device)


def _optional(record: dict[str, Any], name: str, check: Any, errors: Errors) -> str | None:
    """A field that may be absent (None: unchanged), blank or null ("": cleared) or a value."""
    if name not in record:
        return None
    value = record[name]
    if _blank(value):
        return ""
    try:
        return check(value)
    except FieldInvalid as exc:
        _add(errors, name, str(exc))
        return None


def clean_profile(record: Any, index: int) -> ProfileRecord | Errors:
    """One profile record. Its property types are checked later, against the definitions."""
    if type(record) is not dict:
        return {"non_field_errors": ["Each record must be a JSON object."]}
    errors: Errors = {}
    _unknown_fields(record, PROFILE_FIELDS, errors)
    identity = ""
    try:
        identity = text_field(
            record.get("identity"), max_length=MAX_IDENTITY, what="the identity", allow_int=True
        )
    except FieldInvalid as exc:
        _add(errors, "identity", str(exc))
    clean = ProfileRecord(index=index, identity=identity)
    clean.email = _optional(record, "email", clean_email, errors)
    clean.phone = _optional(record, "phone", clean_phone, errors)
    clean.timezone = _optional(record, "timezone", clean_timezone, errors)
    _profile_properties(record.get("properties"), clean, errors)
    _consent(record.get("consent"), clean, errors)
    _devices(record.get("devices"), clean, errors)
    return errors or clean


TYPE_WORDS = {
    PropertyType.STRING: "text",
    PropertyType.NUMBER: "a number",
    PropertyType.BOOLEAN: "true/false",
    PropertyType.DATE: "a date",
    PropertyType.LIST: "a list",
    DATE_LIKE: "text shaped like a date that is no valid date",
}


def typed_value(name: str, value: PropertyValue, defined: str | None) -> Any:
    """What is stored for the value under its property's type; raises FieldInvalid on a mismatch."""
    if value.kind == defined:
        return value.stored
    if defined == PropertyType.STRING and value.kind in (PropertyType.DATE, DATE_LIKE):
        return value.raw
    if value.kind == DATE_LIKE:
        raise FieldInvalid(
            f"“{value.raw}” is not a valid date: give YYYY-MM-DD or an ISO 8601 date-time with "
            "a time zone."
        )
    raise FieldInvalid(
        f"“{name}” is a {defined} property (its first value fixed that); "
        f"this value is {TYPE_WORDS[value.kind]}."
    )
