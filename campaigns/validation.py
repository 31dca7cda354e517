"""Validation of a campaign's Who, What and When.

Each section is JSON checked against a JSON Schema (so the API can publish the same schema), then
against the rules a schema cannot say: template syntax, A/B splits summing to 100, schedules that
make sense. Errors come back as {"section.path.to.field": ["message", ...]}.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import zoneinfo
from collections.abc import Iterable, Iterator
from typing import Any

from dateutil.parser import isoparse
from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from jsonschema import Draft202012Validator

from campaigns.choices import CampaignType, Channel, Delivery
from config.errors import Invalid

Errors = dict[str, list[str]]

# ----------------------------------------------------------------------------------------------
# Who: a boolean tree of conditions.
# ----------------------------------------------------------------------------------------------
PROPERTY_OPS = [
    "eq",
    "neq",
    "in",
    "not_in",
    "contains",
    "not_contains",
    "gt",
    "gte",
    "lt",
    "lte",
    "between",
    "exists",
    "not_exists",
    "within_days",
]
COUNT_OPS = ["gte", "lte", "eq"]
MAX_WHO_DEPTH = 5
MAX_WHO_CONDITIONS = 100
# Saved segments referenced in a Who ({"type": "segment", "segment_id": n}) expand to their own
# definitions when the audience is evaluated: at most this many references deep (a Who using A,
# whose definition uses B, whose definition uses C), and at most this many conditions in all once
# every reference is expanded, so one query stays a size PostgreSQL plans quickly.
MAX_SEGMENT_NESTING = 3
MAX_EXPANDED_CONDITIONS = 500

_scalar = {"type": ["string", "number", "boolean"]}
_window = {
    "type": "object",
    "oneOf": [
        {"required": ["last_days"]},
        {"required": ["from", "to"]},
    ],
    "properties": {
        "last_days": {"type": "integer", "minimum": 1, "maximum": 3650},
        "from": {"type": "string", "format": "date"},
        "to": {"type": "string", "format": "date"},
    },
    "additionalProperties": False,
}
WHO_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Who: the audience of a campaign",
    "$ref": "#/$defs/group",
    "$defs": {
        "group": {
            "type": "object",
            "required": ["type", "match", "conditions"],
            "properties": {
                "type": {"const": "group"},
                "match": {"enum": ["all", "any"]},
                "negate": {"type": "boolean"},
                "conditions": {"type": "array", "items": {"$ref": "#/$defs/node"}},
            },
            "additionalProperties": False,
        },
        "node": {
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {
                    "enum": ["group", "property", "event", "label_sent", "campaign_sent", "segment"]
                }
            },
            "allOf": [
                {
                    "if": {"properties": {"type": {"const": "group"}}},
                    "then": {"$ref": "#/$defs/group"},
                },
                {
                    "if": {"properties": {"type": {"const": "property"}}},
                    "then": {"$ref": "#/$defs/property"},
                },
                {
                    "if": {"properties": {"type": {"const": "event"}}},
                    "then": {"$ref": "#/$defs/event"},
                },
                {
                    "if": {"properties": {"type": {"const": "label_sent"}}},
                    "then": {"$ref": "#/$defs/label_sent"},
                },
                {
                    "if": {"properties": {"type": {"const": "campaign_sent"}}},
                    "then": {"$ref": "#/$defs/campaign_sent"},
                },
                {
                    "if": {"properties": {"type": {"const": "segment"}}},
                    "then": {"$ref": "#/$defs/segment"},
                },
            ],
        },
        "property": {
            "type": "object",
            "required": ["type", "property", "op"],
            "properties": {
                "type": {"const": "property"},
                "property": {"type": "string", "minLength": 1, "maxLength": 120},
                "op": {"enum": PROPERTY_OPS},
                "value": {
                    "anyOf": [_scalar, {"type": "array", "items": _scalar, "maxItems": 1000}]
                },
            },
            "additionalProperties": False,
        },
        "event": {
            "type": "object",
            "required": ["type", "event"],
            "properties": {
                "type": {"const": "event"},
                "event": {"type": "string", "minLength": 1, "maxLength": 120},
                "did": {"type": "boolean", "default": True},
                "count": {
                    "type": "object",
                    "required": ["op", "value"],
                    "properties": {
                        "op": {"enum": COUNT_OPS},
                        "value": {"type": "integer", "minimum": 0},
                    },
                    "additionalProperties": False,
                },
                "window": _window,
                "filters": {"type": "array", "items": {"$ref": "#/$defs/property"}, "maxItems": 20},
            },
            "additionalProperties": False,
        },
        "label_sent": {
            "type": "object",
            "required": ["type", "label_id"],
            "properties": {
                "type": {"const": "label_sent"},
                "label_id": {"type": "integer", "minimum": 1},
                "window": _window,
            },
            "additionalProperties": False,
        },
        "campaign_sent": {
            "type": "object",
            "required": ["type", "campaign_id"],
            "properties": {
                "type": {"const": "campaign_sent"},
                "campaign_id": {"type": "integer", "minimum": 1},
                "window": _window,
            },
            "additionalProperties": False,
        },
        "segment": {
            "type": "object",
            "required": ["type", "segment_id"],
            "properties": {
                "type": {"const": "segment"},
                "segment_id": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "A saved segment: its definition, as it is when evaluated.",
                },
            },
            "additionalProperties": False,
        },
    },
}

# Operators and the shape of their value.
_NO_VALUE_OPS = {"exists", "not_exists"}
_LIST_OPS = {"in", "not_in"}


def _path(prefix: str, parts: Iterable[Any]) -> str:
    out = prefix
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _schema_errors(validator: Draft202012Validator, data: Any, prefix: str) -> Errors:
    errors: Errors = {}
    for error in validator.iter_errors(data):
        # With if/then the useful error is the deepest one.
        leaves = list(_leaf_errors(error))
        for leaf in leaves:
            path = list(leaf.absolute_path)
            message = leaf.message
            if leaf.validator == "required":
                missing = message.split("'")[1] if "'" in message else ""
                path.append(missing)
                message = "This field is required."
            elif leaf.validator == "additionalProperties":
                message = f"Unknown field: {message.split('(')[-1].rstrip(')')}"
            elif leaf.validator in ("enum", "const"):
                allowed = leaf.validator_value
                allowed = allowed if isinstance(allowed, list) else [allowed]
                message = f"Must be one of: {', '.join(map(str, allowed))}."
            elif leaf.validator in ("pattern", "format") and "x-message" in leaf.schema:
                message = leaf.schema["x-message"]
            elif leaf.validator == "oneOf" and leaf.schema is _window:
                message = "Give either last_days, or from and to."
            errors.setdefault(_path(prefix, path), []).append(message)
    return errors


def _leaf_errors(error: Any) -> Iterator[Any]:
    if error.context and error.validator not in ("oneOf",):
        for sub in error.context:
            yield from _leaf_errors(sub)
    else:
        yield error


_who_validator = Draft202012Validator(
    WHO_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER
)


def validate_who(
    who: Any,
    *,
    segment_id: int | None = None,
    saved: bool = False,
    segments: dict[int, Any] | None = None,
) -> Errors:
    """Check a Who tree: its shape (WHO_SCHEMA), the limits, and the saved segments it refers to.

    Referenced segments must exist, must not refer back to themselves (directly or through other
    segments) and must expand within MAX_SEGMENT_NESTING and MAX_EXPANDED_CONDITIONS. `saved`
    says the tree is a saved segment's definition (itself a level of nesting) and `segment_id`
    which segment's, so a reference back to it is a cycle; `segments` gives definitions that
    replace stored ones (a segment about to be changed). Only a Who that refers to segments reads
    the database: see segment_definitions for the locking.
    """
    errors = _schema_errors(_who_validator, who, "who")
    if errors:
        return errors
    count = 0
    references: list[tuple[str, int]] = []

    def walk(node: dict[str, Any], path: str, depth: int) -> None:
        nonlocal count
        if node["type"] == "group":
            # Only groups count as nesting: a group at the deepest level still holds its conditions.
            if depth > MAX_WHO_DEPTH:
                errors.setdefault(path, []).append(f"Groups nest at most {MAX_WHO_DEPTH} deep.")
                return
            for i, child in enumerate(node["conditions"]):
                walk(child, f"{path}.conditions[{i}]", depth + 1)
            return
        count += 1
        if node["type"] == "segment":
            references.append((path, node["segment_id"]))
        elif node["type"] == "property":
            _check_property_value(node, path, errors)
        elif node["type"] == "event":
            for i, f in enumerate(node.get("filters", [])):
                _check_property_value(f, f"{path}.filters[{i}]", errors)
        # Events, labels sent and campaigns sent all take the same window.
        window = node.get("window", {})
        if "from" in window and window["from"] > window["to"]:
            errors.setdefault(f"{path}.window.to", []).append("Must not be before from.")

    walk(who, "who", 1)
    if count > MAX_WHO_CONDITIONS:
        errors.setdefault("who", []).append(f"At most {MAX_WHO_CONDITIONS} conditions.")
    if not errors and references:
        saved = saved or segment_id is not None
        _check_segments(who, references, errors, segment_id, saved, segments or {})
    return errors


# ----------------------------------------------------------------------------------------------
# Saved segments inside a Who.
# ----------------------------------------------------------------------------------------------
def segment_references(node: Any) -> list[int]:
    """The saved segments a Who tree refers to directly (not those their definitions use)."""
    found: list[int] = []

    def walk(item: Any) -> None:
        if not isinstance(item, dict):
            return
        if item.get("type") == "group" and isinstance(item.get("conditions"), list):
            for child in item["conditions"]:
                walk(child)
        elif item.get("type") == "segment" and isinstance(item.get("segment_id"), int):
            found.append(item["segment_id"])

    walk(node)
    return found


def _own_conditions(node: Any) -> int:
    """Conditions of a tree other than its segment references."""
    if not isinstance(node, dict):
        return 0
    if node.get("type") == "group":
        return sum(_own_conditions(child) for child in node.get("conditions") or [])
    return 0 if node.get("type") == "segment" else 1


def segment_definitions(
    ids: Iterable[int], overrides: dict[int, Any] | None = None
) -> dict[int, tuple[str, Any]]:
    """{id: (name, definition)} of these saved segments and of every segment their definitions
    use, in one query per level of nesting; `overrides` replace stored definitions.

    The rows are read FOR KEY SHARE: inside a transaction (a campaign or segment being saved),
    a concurrent deletion of a segment waits until it ends and then sees the reference. Missing
    ids are left out.
    """
    from django.db import connection

    overrides = overrides or {}
    found: dict[int, tuple[str, Any]] = {}
    wanted = {pk for pk in ids if 0 < pk < 2**63}  # others name no row
    while wanted:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, name, definition FROM audience_segment WHERE id = ANY(%s) "
                "ORDER BY id FOR KEY SHARE",
                [sorted(wanted)],
            )
            rows = cursor.fetchall()
        for pk, name, definition in rows:
            # Django leaves jsonb undecoded on raw queries.
            if isinstance(definition, str):
                definition = json.loads(definition)
            found[pk] = (name, overrides.get(pk, definition))
        wanted = {
            ref for pk, _, _ in rows for ref in segment_references(found[pk][1])
        } - found.keys()
    return found


class _SegmentProblem(Exception):
    pass


_NEW = 0  # a segment being created: no id yet, and no real id is 0


def _check_segments(
    who: dict[str, Any],
    references: list[tuple[str, int]],
    errors: Errors,
    segment_id: int | None,
    saved: bool,
    overrides: dict[int, Any],
) -> None:
    ids = {pk for _, pk in references}
    if segment_id is not None:
        # The segment's own row gives its name; its stored definition gives way to the new one.
        ids.add(segment_id)
        overrides = {**overrides, segment_id: who}
    definitions = segment_definitions(ids, overrides)
    if segment_id is not None:
        name = definitions.get(segment_id, ("this segment", None))[0]
        definitions[segment_id] = (name, who)
    names = {pk: name for pk, (name, _) in definitions.items()}
    names.setdefault(_NEW, "this segment")
    sizes: dict[int, int] = {}

    def chain_text(chain: list[int]) -> str:
        return " → ".join(f"“{names.get(pk, pk)}”" for pk in chain)

    def size(pk: int, chain: list[int]) -> int:
        """Conditions of segment pk once expanded; refuses cycles, depth and broken definitions."""
        if pk in chain:
            loop = chain[chain.index(pk) :] + [pk]
            raise _SegmentProblem(
                f"Saved segments refer to each other in a loop: {chain_text(loop)}."
            )
        if len(chain) + 1 > MAX_SEGMENT_NESTING:
            raise _SegmentProblem(
                f"Saved segments nest at most {MAX_SEGMENT_NESTING} deep: "
                f"{chain_text([*chain, pk])}."
            )
        if pk not in definitions:
            raise _SegmentProblem(f"Segment {pk} does not exist (used by {chain_text(chain)}).")
        if pk in sizes:
            return sizes[pk]
        definition = definitions[pk][1]
        if pk != segment_id and _schema_errors(_who_validator, definition, "who"):
            raise _SegmentProblem(
                f"Segment “{names[pk]}” has an invalid definition; correct it first."
            )
        total = _own_conditions(definition) + sum(
            size(ref, [*chain, pk]) for ref in segment_references(definition)
        )
        sizes[pk] = total
        return total

    # A saved segment's definition is itself one level: a Who using it adds the next.
    root = [segment_id if segment_id is not None else _NEW] if saved else []
    total = _own_conditions(who)
    for path, pk in references:
        if pk not in definitions:
            errors.setdefault(f"{path}.segment_id", []).append(f"Segment {pk} does not exist.")
            continue
        try:
            total += size(pk, root)
        except _SegmentProblem as problem:
            errors.setdefault(f"{path}.segment_id", []).append(str(problem))
    if not errors and total > MAX_EXPANDED_CONDITIONS:
        errors.setdefault("who", []).append(
            f"With its saved segments expanded the audience has {total} conditions; "
            f"at most {MAX_EXPANDED_CONDITIONS}."
        )


def _check_property_value(node: dict[str, Any], path: str, errors: Errors) -> None:
    op, has_value, value = node["op"], "value" in node, node.get("value")
    if op in _NO_VALUE_OPS:
        if has_value:
            errors.setdefault(f"{path}.value", []).append(f"'{op}' takes no value.")
        return
    if not has_value:
        errors.setdefault(f"{path}.value", []).append("This field is required.")
    elif op in _LIST_OPS and (not isinstance(value, list) or not value):
        errors.setdefault(f"{path}.value", []).append(f"'{op}' takes a non-empty list.")
    elif op == "between" and (not isinstance(value, list) or len(value) != 2):
        errors.setdefault(f"{path}.value", []).append("'between' takes a list of two values.")
    elif op == "within_days" and (
        isinstance(value, bool) or not isinstance(value, int) or value < 1
    ):
        errors.setdefault(f"{path}.value", []).append("'within_days' takes a whole number of days.")
    elif op not in _LIST_OPS | {"between"} and isinstance(value, list):
        errors.setdefault(f"{path}.value", []).append(f"'{op}' takes a single value.")


def who_label_ids(who: dict[str, Any]) -> set[int]:
    """Label ids that a Who tree refers to (so they can be checked to exist)."""
    found: set[int] = set()

    def walk(node: dict[str, Any]) -> None:
        if node.get("type") == "group":
            for child in node.get("conditions", []):
                walk(child)
        elif node.get("type") == "label_sent":
            found.add(node["label_id"])

    walk(who)
    return found


# ----------------------------------------------------------------------------------------------
# What: content per channel.
# ----------------------------------------------------------------------------------------------
_text = {"type": "string", "minLength": 1}
_url = {
    "type": "string",
    "minLength": 1,
    "maxLength": 2048,
    "pattern": r"^(https?://|[a-z][a-z0-9+.-]*://)\S+$",
    "x-message": "Enter a URL such as https://example.com/page or myapp://screen.",
}
_http_url = {
    "type": "string",
    "maxLength": 2048,
    "pattern": r"^https?://\S+$",
    "x-message": "Enter an http:// or https:// URL.",
}
_email = {
    "type": "string",
    "pattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
    "maxLength": 254,
    "x-message": "Enter an e-mail address.",
}
_kv = {
    "type": "object",
    "additionalProperties": {"type": "string", "maxLength": 1000},
    "maxProperties": 50,
}


def _message(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }


_popup = _message(
    ["title", "body"],
    {
        "title": {**_text, "maxLength": 200},
        "body": {**_text, "maxLength": 2000},
        "button_text": {"type": "string", "maxLength": 40},
        "url": _http_url,
        "image_url": _http_url,
    },
)
_native = _message(
    ["title", "body"],
    {
        "title": {**_text, "maxLength": 200},
        "body": {**_text, "maxLength": 2000},
        "image_url": _http_url,
        "deep_link": _url,
        "custom_kv": _kv,
    },
)
_remarketing = _message(
    ["audience_name", "ad_account_id"],
    {"audience_name": {**_text, "maxLength": 200}, "ad_account_id": {**_text, "maxLength": 100}},
)

MESSAGE_SCHEMAS: dict[Channel, dict[str, Any]] = {
    Channel.PUSH: _message(
        ["title", "body"],
        {
            "title": {**_text, "maxLength": 200},
            "body": {**_text, "maxLength": 4000},
            "deep_link": _url,
            "image_url": _http_url,
            "custom_kv": _kv,
        },
    ),
    Channel.IN_APP: _message(
        ["title", "body"],
        {
            "title": {**_text, "maxLength": 200},
            "body": {**_text, "maxLength": 2000},
            "layout": {
                "enum": ["interstitial", "half_interstitial", "header", "footer", "cover", "alert"]
            },
            "button_text": {"type": "string", "maxLength": 40},
            "deep_link": _url,
            "image_url": _http_url,
        },
    ),
    Channel.APP_INBOX: _message(
        ["title", "body"],
        {
            "title": {**_text, "maxLength": 200},
            "body": {**_text, "maxLength": 4000},
            "image_url": _http_url,
            "deep_link": _url,
            "tags": {"type": "array", "items": _text, "maxItems": 10},
        },
    ),
    Channel.EMAIL: _message(
        ["subject", "from_email", "html"],
        {
            "subject": {**_text, "maxLength": 998},
            "from_email": _email,
            "from_name": {"type": "string", "maxLength": 200},
            "reply_to": _email,
            "preheader": {"type": "string", "maxLength": 300},
            "html": {**_text, "maxLength": 500_000},
            "text": {"type": "string", "maxLength": 500_000},
        },
    ),
    Channel.WEB_PUSH: _message(
        ["title", "body", "url"],
        {
            "title": {**_text, "maxLength": 200},
            "body": {**_text, "maxLength": 1000},
            "url": {**_http_url, "minLength": 1},
            "icon_url": _http_url,
            "image_url": _http_url,
        },
    ),
    Channel.WEB_POPUP: _popup,
    Channel.WEB_EXIT_INTENT: _popup,
    Channel.NATIVE_DISPLAY: _native,
    Channel.WEB_NATIVE_DISPLAY: _native,
    Channel.WEBHOOK: _message(
        ["url"],
        {
            "url": {**_http_url, "minLength": 1},
            "method": {"enum": ["POST", "PUT", "PATCH"]},
            "headers": _kv,
            "payload": {"type": "string", "maxLength": 100_000},
            # 1: one request per recipient; more: one request carries up to this many recipients.
            "batch_size": {"type": "integer", "minimum": 1, "maximum": 1000},
        },
    ),
    Channel.SMS: _message(
        ["body"],
        {"body": {**_text, "maxLength": 1600}, "sender_id": {"type": "string", "maxLength": 15}},
    ),
    Channel.WHATSAPP: _message(
        ["template_name", "language"],
        {
            "template_name": {**_text, "maxLength": 512},
            "language": {**_text, "maxLength": 15},
            "variables": {
                "type": "array",
                "items": {"type": "string", "maxLength": 1024},
                "maxItems": 20,
            },
        },
    ),
    Channel.FACEBOOK_AUDIENCE: _remarketing,
    Channel.GOOGLE_ADS: _remarketing,
    Channel.TIKTOK_AUDIENCE: _remarketing,
    Channel.PARTNER: _message(
        ["partner"],
        {"partner": {**_text, "maxLength": 100}, "payload": _kv},
    ),
}
# Fields that are not templates (identifiers, enums, URLs of assets are templates too).
_NOT_TEMPLATES = {
    "layout",
    "method",
    "language",
    "template_name",
    "audience_name",
    "ad_account_id",
    "partner",
}

MAX_VARIANTS = 10


def what_schema(channel: Channel, campaign_type: CampaignType) -> dict[str, Any]:
    message = MESSAGE_SCHEMAS[channel]
    if campaign_type == CampaignType.AB_TEST:
        return {
            "type": "object",
            "required": ["variants"],
            "properties": {
                "variants": {
                    "type": "array",
                    "minItems": 2,
                    "maxItems": MAX_VARIANTS,
                    "items": {
                        "type": "object",
                        "required": ["name", "split", "message"],
                        "properties": {
                            "name": {**_text, "maxLength": 40},
                            "split": {"type": "integer", "minimum": 1, "maximum": 100},
                            "message": message,
                        },
                        "additionalProperties": False,
                    },
                },
                # Percent of the audience held out and sent nothing, to measure lift.
                "control_group": {"type": "integer", "minimum": 0, "maximum": 90},
            },
            "additionalProperties": False,
        }
    if campaign_type == CampaignType.MESSAGE_ON_USER_PROPERTY:
        return {
            "type": "object",
            "required": ["property", "messages", "default"],
            "properties": {
                "property": {**_text, "maxLength": 120},
                "messages": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 50,
                    "items": {
                        "type": "object",
                        "required": ["value", "message"],
                        "properties": {"value": _scalar, "message": message},
                        "additionalProperties": False,
                    },
                },
                "default": message,
            },
            "additionalProperties": False,
        }
    return {
        "type": "object",
        "required": ["message"],
        "properties": {"message": message},
        "additionalProperties": False,
    }


_template_env = SandboxedEnvironment(autoescape=False)


def check_template(source: str) -> str | None:
    """None when `source` parses as a sandboxed Jinja2 template, else the syntax error."""
    try:
        _template_env.parse(source)
    except TemplateSyntaxError as exc:
        return f"Template error on line {exc.lineno}: {exc.message}"
    return None


GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")


def sms_segments(body: str) -> dict[str, Any]:
    """How an SMS body splits into segments: GSM-7 (160 / 153 per part) or UCS-2 (70 / 67)."""
    if all(ch in GSM7 or ch in GSM7_EXTENDED for ch in body):
        units = sum(2 if ch in GSM7_EXTENDED else 1 for ch in body)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in body)
        single, multi, encoding = 70, 67, "UCS-2"
    segments = 1 if units <= single else -(-units // multi)
    return {"encoding": encoding, "characters": units, "segments": segments}


def _messages(
    what: dict[str, Any], campaign_type: CampaignType
) -> Iterator[tuple[str, dict[str, Any]]]:
    if campaign_type == CampaignType.AB_TEST:
        for i, variant in enumerate(what["variants"]):
            yield f"what.variants[{i}].message", variant["message"]
    elif campaign_type == CampaignType.MESSAGE_ON_USER_PROPERTY:
        for i, item in enumerate(what["messages"]):
            yield f"what.messages[{i}].message", item["message"]
        yield "what.default", what["default"]
    else:
        yield "what.message", what["message"]


def validate_what(channel: str, campaign_type: str, what: Any) -> Errors:
    try:
        ch, kind = Channel(channel), CampaignType(campaign_type)
    except ValueError:
        return {}  # the unknown channel or type is reported on its own field
    validator = Draft202012Validator(what_schema(ch, kind))
    errors = _schema_errors(validator, what, "what")
    if errors:
        return errors
    for path, message in _messages(what, kind):
        for field, value in message.items():
            if isinstance(value, str) and field not in _NOT_TEMPLATES:
                problem = check_template(value)
                if problem:
                    errors.setdefault(f"{path}.{field}", []).append(problem)
            elif isinstance(value, list | dict):
                items = value.values() if isinstance(value, dict) else value
                for item in items:
                    problem = check_template(item) if isinstance(item, str) else None
                    if problem:
                        errors.setdefault(f"{path}.{field}", []).append(problem)
    if kind == CampaignType.AB_TEST:
        splits = [v["split"] for v in what["variants"]]
        if sum(splits) != 100:
            errors.setdefault("what.variants", []).append(
                f"Variant splits must add up to 100; they add up to {sum(splits)}."
            )
        names = [v["name"].strip().lower() for v in what["variants"]]
        if len(set(names)) != len(names):
            errors.setdefault("what.variants", []).append("Variant names must be different.")
    if kind == CampaignType.MESSAGE_ON_USER_PROPERTY:
        values = [str(m["value"]).lower() for m in what["messages"]]
        if len(set(values)) != len(values):
            errors.setdefault("what.messages", []).append(
                "Each property value may have one message."
            )
    return errors


# ----------------------------------------------------------------------------------------------
# When: the schedule, per delivery type.
# ----------------------------------------------------------------------------------------------
_datetime = {
    "type": "string",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$",
    "x-message": "Use an ISO 8601 date and time such as 2026-12-01T10:00 (the time zone field applies).",
}
_tz = {"type": "string", "minLength": 1, "maxLength": 64}
_hhmm = {
    "type": "string",
    "pattern": r"^([01]\d|2[0-3]):[0-5]\d$",
    "x-message": "Use a 24-hour time such as 09:30.",
}
_trigger = {
    "type": "object",
    "required": ["event"],
    "properties": {
        "event": {**_text, "maxLength": 120},
        "filters": {"type": "array", "items": {"$ref": "#/$defs/property"}, "maxItems": 20},
    },
    "additionalProperties": False,
}
_bounds = {"start_at": _datetime, "end_at": _datetime, "timezone": _tz}
WEEKDAYS = ["mo", "tu", "we", "th", "fr", "sa", "su"]


# Delivery preferences every schedule may carry: what happens to a recipient in quiet hours
# (Settings › Delivery; "delay" to their end, the default, or "drop"), and opting out of the
# channel's frequency cap.
_PREFERENCES = {
    "dnd": {"enum": ["delay", "drop"]},
    "ignore_frequency_caps": {"type": "boolean"},
}


def _when(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "properties": {**properties, **_PREFERENCES},
        "additionalProperties": False,
        "$defs": {"property": WHO_SCHEMA["$defs"]["property"]},
    }


WHEN_SCHEMAS: dict[Delivery, dict[str, Any]] = {
    Delivery.ONE_TIME: _when(
        ["send"],
        {
            "send": {"enum": ["now", "later"]},
            "start_at": _datetime,
            "timezone": _tz,
            "user_timezone": {"type": "boolean"},
        },
    ),
    Delivery.DATE_TIME: _when(
        ["date_property", "send_time"],
        {
            **_bounds,
            "date_property": {**_text, "maxLength": 120},
            "offset_days": {"type": "integer", "minimum": -365, "maximum": 365},
            "send_time": _hhmm,
            "user_timezone": {"type": "boolean"},
        },
    ),
    Delivery.RECURRING: _when(
        ["start_at", "frequency", "send_time"],
        {
            **_bounds,
            "frequency": {"enum": ["daily", "weekly", "monthly"]},
            "interval": {"type": "integer", "minimum": 1, "maximum": 365},
            "send_time": _hhmm,
            "weekdays": {
                "type": "array",
                "items": {"enum": WEEKDAYS},
                "minItems": 1,
                "uniqueItems": True,
            },
            "month_days": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1, "maximum": 31},
                "minItems": 1,
                "uniqueItems": True,
            },
            # Weekdays of the month: "1mo" the first Monday, "-1fr" the last Friday.
            "month_weekdays": {
                "type": "array",
                "items": {
                    "type": "string",
                    "pattern": r"^(-1|[1-4])(mo|tu|we|th|fr|sa|su)$",
                    "x-message": "Use 1mo..4mo for the first to fourth Monday, -1mo for the last.",
                },
                "minItems": 1,
                "uniqueItems": True,
            },
            "end_after_runs": {"type": "integer", "minimum": 1, "maximum": 10_000},
        },
    ),
    Delivery.MULTIPLE_DATES: _when(
        ["dates"],
        {
            "dates": {
                "type": "array",
                "items": _datetime,
                "minItems": 1,
                "maxItems": 100,
                "uniqueItems": True,
            },
            "timezone": _tz,
        },
    ),
    Delivery.ACTION: _when(
        ["trigger"],
        {
            **_bounds,
            "trigger": _trigger,
            "delay_minutes": {"type": "integer", "minimum": 0, "maximum": 525_600},
        },
    ),
    Delivery.INACTION: _when(
        ["trigger", "absent_event", "window_minutes"],
        {
            **_bounds,
            "trigger": _trigger,
            "absent_event": _trigger,
            "window_minutes": {"type": "integer", "minimum": 1, "maximum": 525_600},
        },
    ),
    Delivery.API: _when([], {**_bounds}),
}


def _aware(value: str, tz_name: str | None) -> dt.datetime:
    moment = isoparse(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(tz_name or "UTC"))
    return moment


def _valid_tz(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def validate_when(
    delivery: str, when: Any, *, for_publish: bool = False, now: dt.datetime | None = None
) -> Errors:
    """Check a schedule; with for_publish, also that its times lie ahead of `now`."""
    try:
        kind = Delivery(delivery)
    except ValueError:
        return {}
    validator = Draft202012Validator(
        WHEN_SCHEMAS[kind], format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    errors = _schema_errors(validator, when, "when")
    if errors:
        return errors
    tz = when.get("timezone")
    if tz is not None and not _valid_tz(tz):
        errors.setdefault("when.timezone", []).append(f"Unknown time zone: {tz}.")
    stamps = [(f"when.{k}", when[k]) for k in ("start_at", "end_at") if k in when]
    stamps += [(f"when.dates[{i}]", d) for i, d in enumerate(when.get("dates", []))]
    for path, stamp in stamps:
        try:
            isoparse(stamp)
        except ValueError:
            errors.setdefault(path, []).append(f"'{stamp}' is not a real date and time.")
    if errors:
        return errors
    if kind == Delivery.ONE_TIME:
        if when["send"] == "later" and "start_at" not in when:
            errors.setdefault("when.start_at", []).append("Give the date and time to send at.")
        if when["send"] == "now" and "start_at" in when:
            errors.setdefault("when.start_at", []).append(
                "A campaign sent now takes no start time."
            )
    if kind == Delivery.RECURRING:
        if when["frequency"] == "weekly" and "weekdays" not in when:
            errors.setdefault("when.weekdays", []).append(
                "Weekly campaigns need at least one weekday."
            )
        if when["frequency"] != "weekly" and "weekdays" in when:
            errors.setdefault("when.weekdays", []).append("Only weekly campaigns take weekdays.")
        if when["frequency"] != "monthly" and "month_days" in when:
            errors.setdefault("when.month_days", []).append(
                "Only monthly campaigns take days of the month."
            )
        if when["frequency"] != "monthly" and "month_weekdays" in when:
            errors.setdefault("when.month_weekdays", []).append(
                "Only monthly campaigns take weekdays of the month."
            )
        if "month_days" in when and "month_weekdays" in when:
            errors.setdefault("when.month_weekdays", []).append(
                "Give days of the month or weekdays of the month, not both."
            )
        if "end_at" not in when and "end_after_runs" not in when:
            errors.setdefault("when.end_at", []).append("Give an end date or a number of runs.")
    if kind == Delivery.INACTION and when["trigger"]["event"] == when["absent_event"]["event"]:
        errors.setdefault("when.absent_event.event", []).append(
            "Must differ from the trigger event."
        )
    for key in ("trigger", "absent_event"):
        for i, item in enumerate(when.get(key, {}).get("filters", [])):
            _check_property_value(item, f"when.{key}.filters[{i}]", errors)
    if (
        "start_at" in when
        and "end_at" in when
        and _aware(when["end_at"], tz) <= _aware(when["start_at"], tz)
    ):
        errors.setdefault("when.end_at", []).append("Must be after the start.")
    if for_publish and not errors:
        from django.utils import timezone

        now = now or timezone.now()
        # Every delivery's start bounds its sends; one already past would start (or send) at once.
        if "start_at" in when and _aware(when["start_at"], tz) <= now:
            errors.setdefault("when.start_at", []).append("Must be in the future.")
        if "end_at" in when and _aware(when["end_at"], tz) <= now:
            errors.setdefault("when.end_at", []).append("Must be in the future.")
        if kind == Delivery.MULTIPLE_DATES and any(_aware(d, tz) <= now for d in when["dates"]):
            errors.setdefault("when.dates", []).append("Every date must be in the future.")
        if kind == Delivery.RECURRING and "end_at" in when and not errors:
            first = first_run_at(delivery, when, now)
            if first is None or first > _aware(when["end_at"], tz):
                errors.setdefault("when.end_at", []).append(
                    "The schedule ends before its first send; move the end date or the start."
                )
    return errors


def first_run_at(delivery: str, when: dict[str, Any], now: dt.datetime) -> dt.datetime | None:
    """The first scheduled send of a valid schedule, or None when sends follow events or API calls."""
    from dateutil.rrule import DAILY, MONTHLY, WEEKLY, rrule, weekdays

    tz = when.get("timezone")
    kind = Delivery(delivery)
    if kind == Delivery.ONE_TIME:
        return _aware(when["start_at"], tz) if when["send"] == "later" else now
    if kind == Delivery.MULTIPLE_DATES:
        return min(_aware(d, tz) for d in when["dates"])
    if kind == Delivery.RECURRING:
        # The send time is a wall-clock time in the campaign's time zone, and no send comes before
        # the start: the first occurrence is the first at or after start_at.
        start = _aware(when["start_at"], tz).astimezone(zoneinfo.ZoneInfo(tz or "UTC"))
        hour, minute = (int(x) for x in when["send_time"].split(":"))
        anchor = start.replace(hour=hour, minute=minute, second=0, microsecond=0)
        freq = {"daily": DAILY, "weekly": WEEKLY, "monthly": MONTHLY}[when["frequency"]]
        byweekday = [weekdays[WEEKDAYS.index(d)] for d in when.get("weekdays", [])] or [
            weekdays[WEEKDAYS.index(c[-2:])](int(c[:-2])) for c in when.get("month_weekdays", [])
        ]
        rule = rrule(
            freq,
            dtstart=anchor,
            interval=when.get("interval", 1),
            byweekday=byweekday or None,
            bymonthday=when.get("month_days"),
        )
        return rule.after(start, inc=True)
    if "start_at" in when:
        return _aware(when["start_at"], tz)
    return None


# Deeper than any valid Who tree (5 levels of groups) with room to spare: a bound on the work
# that checking an absurd document costs, and on Python's recursion.
MAX_JSON_DEPTH = 40


def json_problem(value: Any, depth: int = 0) -> str | None:
    """Why PostgreSQL's jsonb would refuse `value` (or it is absurdly deep), else None."""
    if depth > MAX_JSON_DEPTH:
        return f"Nested more than {MAX_JSON_DEPTH} levels deep."
    if isinstance(value, str):
        return "Text may not contain NUL characters." if "\x00" in value else None
    if isinstance(value, float) and not math.isfinite(value):
        return "Numbers must be finite."
    if isinstance(value, dict):
        for key, item in value.items():
            problem = json_problem(key, depth + 1) or json_problem(item, depth + 1)
            if problem:
                return problem
    if isinstance(value, list):
        for item in value:
            problem = json_problem(item, depth + 1)
            if problem:
                return problem
    return None


def validate_campaign(
    *,
    channel: str,
    type: str,
    delivery: str,
    who: Any,
    what: Any,
    when: Any,
    for_publish: bool = False,
    now: dt.datetime | None = None,
) -> None:
    """Raise Invalid with field errors unless the campaign's fields and sections are valid."""
    errors: Errors = {}
    for field, value, choices in (
        ("channel", channel, Channel),
        ("type", type, CampaignType),
        ("delivery", delivery, Delivery),
    ):
        if value not in choices.values:
            errors[field] = [
                f"Unknown {field} '{value}'. Choose one of: {', '.join(choices.values)}."
            ]
    storable = {}
    for section, value in (("who", who), ("what", what), ("when", when)):
        problem = json_problem(value)
        if problem:
            errors[section] = [problem]
        storable[section] = problem is None
    if storable["who"]:
        errors.update(validate_who(who))
    if storable["what"]:
        errors.update(validate_what(channel, type, what))
    if storable["when"]:
        errors.update(validate_when(delivery, when, for_publish=for_publish, now=now))
    if errors:
        raise Invalid("The campaign has errors.", errors=errors)
