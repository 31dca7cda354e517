"""Each recipient's message: which variant or property message they get, and its templates rendered.

A run's snapshot (what, type, channel) becomes a Plan once per batch: templates compiled once, A/B
splits as cumulative buckets. `Plan.message_for(profile)` then costs a hash and the renders; text
without template syntax is used as it is, without Jinja.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateError, Undefined, nodes
from jinja2.sandbox import SandboxedEnvironment

from campaigns.choices import CampaignType

_text_env = SandboxedEnvironment(autoescape=False, undefined=Undefined)
# E-mail HTML: values from profiles are escaped, so a property cannot inject markup.
_html_env = SandboxedEnvironment(autoescape=True, undefined=Undefined)
HTML_FIELDS = frozenset({"html"})
# Fields that are identifiers or choices, never templates (campaigns.validation._NOT_TEMPLATES).
NOT_TEMPLATES = frozenset(
    {"layout", "method", "language", "template_name", "audience_name", "ad_account_id", "partner"}
)
CONTROL = "control"


class RenderError(Exception):
    """A template that fails for one recipient's data: that recipient fails with the reason."""


MEMO_SIZE = 10_000
_DICT_ATTRS = frozenset(dir(dict))


class Compiled:
    """A template, and when its output depends only on `root.attr` lookups (`profile.first_name`,
    `data.code`) without calls: those paths, so equal inputs render once (a memo per template).
    Rendering is most of a recipient's cost, and real audiences repeat values a lot."""

    __slots__ = ("memo", "paths", "template")

    def __init__(self, template: Template, paths: tuple[tuple[str, str], ...] | None) -> None:
        self.template, self.paths, self.memo = template, paths, {}

    def render(self, context: dict[str, Any]) -> str:
        if self.paths is None:
            return self.template.render(context)
        key = _memo_key(self.paths, context)
        try:
            found = self.memo.get(key)
        except TypeError:  # a list or dict value: no memo
            return self.template.render(context)
        if found is None:
            if len(self.memo) >= MEMO_SIZE:
                self.memo.clear()
            found = self.memo[key] = self.template.render(context)
        return found


_MISSING = object()  # a missing value renders as Undefined, unlike None


def _memo_key(paths: tuple[tuple[str, str], ...], context: dict[str, Any]) -> tuple[Any, ...]:
    """The values a template reads, each with its type: 0, 0.0 and False are equal keys but
    render differently. Unhashable when a value is a list or a dict (no memo then)."""
    key = []
    for root, attr in paths:
        value = context.get(root, _MISSING)
        if type(value) is dict:
            value = value.get(attr, _MISSING)
        key.append(type(value))
        key.append(value)
    return tuple(key)


def _pure_paths(ast: nodes.Template) -> tuple[tuple[str, str], ...] | None:
    """The (name, attribute) pairs a template reads, when that is all it reads (else None)."""
    paths: set[tuple[str, str]] = set()

    def walk(node: nodes.Node, parent: nodes.Node | None) -> bool:
        if isinstance(node, nodes.Call | nodes.Macro | nodes.CallBlock | nodes.Import):
            return False
        if isinstance(node, nodes.Filter | nodes.Test) and node.name == "random":
            return False
        if isinstance(node, nodes.Name) and node.ctx == "load":
            if isinstance(parent, nodes.Getattr) and parent.attr not in _DICT_ATTRS:
                paths.add((node.name, parent.attr))
            elif isinstance(parent, nodes.Getitem) and isinstance(parent.arg, nodes.Const):
                paths.add((node.name, str(parent.arg.value)))
            else:
                return False
        return all(walk(child, node) for child in node.iter_child_nodes())

    return tuple(sorted(paths)) if walk(ast, None) else None


@lru_cache(maxsize=512)
def _compile(source: str, html: bool) -> Compiled | None:
    if "{" not in source:
        return None
    env = _html_env if html else _text_env
    return Compiled(env.from_string(source), _pure_paths(env.parse(source)))


def _render_value(field: str, value: Any, context: dict[str, Any]) -> Any:
    if isinstance(value, str):
        compiled = _compile(value, field in HTML_FIELDS)
        return value if compiled is None else compiled.render(context)
    if isinstance(value, list):
        return [_render_value(field, item, context) for item in value]
    if isinstance(value, dict):
        return {k: _render_value(field, v, context) for k, v in value.items()}
    return value


def template_paths(field: str, value: Any) -> set[tuple[str, str]] | None:
    """What a message field's templates read ((name, attribute) pairs), or None when they may
    read anything."""
    if field in NOT_TEMPLATES:
        return set()
    if isinstance(value, str):
        compiled = _compile(value, field in HTML_FIELDS)
        if compiled is None:
            return set()
        return None if compiled.paths is None else set(compiled.paths)
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    found: set[tuple[str, str]] = set()
    for item in items:
        paths = template_paths(field, item)
        if paths is None:
            return None
        found |= paths
    return found


class MessageTemplate:
    """A whole message rendered at once. When every field's output depends only on attribute
    lookups (template_paths), the message is rendered once per distinct set of those values
    and the same dict is handed out again (adapters read messages, never change them)."""

    def __init__(self, message: dict[str, Any]) -> None:
        self.message = message
        paths: set[tuple[str, str]] | None = set()
        for name, value in message.items():
            found = template_paths(name, value)
            if found is None or paths is None:
                paths = None
            else:
                paths |= found
        self.paths = None if paths is None else tuple(sorted(paths))
        self.memo: dict[tuple[Any, ...], dict[str, Any]] = {}

    def render(self, context: dict[str, Any]) -> dict[str, Any]:
        if self.paths is None:
            return render_message(self.message, context)
        key = _memo_key(self.paths, context)
        try:
            found = self.memo.get(key)
        except TypeError:  # a list or dict value: no memo
            return render_message(self.message, context)
        if found is None:
            if len(self.memo) >= MEMO_SIZE:
                self.memo.clear()
            found = self.memo[key] = render_message(self.message, context)
        return found


def render_message(message: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    try:
        return {
            field: value if field in NOT_TEMPLATES else _render_value(field, value, context)
            for field, value in message.items()
        }
    except TemplateError as exc:
        raise RenderError(f"template_error: {exc}") from exc
    except (TypeError, ValueError, ArithmeticError, AttributeError, KeyError) as exc:
        raise RenderError(f"template_error: {type(exc).__name__}: {exc}") from exc


def bucket(campaign_id: int, profile_id: int, salt: str) -> int:
    """0..9999, the same for a campaign and a profile on every run, machine and process."""
    digest = hashlib.blake2b(f"{campaign_id}:{profile_id}:{salt}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % 10_000


@dataclass
class Plan:
    campaign_id: int
    campaign_type: str
    what: dict[str, Any]

    def __post_init__(self) -> None:
        self._templates: dict[int, MessageTemplate] = {}
        self.control = int(self.what.get("control_group", 0)) * 100
        self.cumulative: list[tuple[int, str, dict[str, Any]]] = []
        if self.campaign_type == CampaignType.AB_TEST:
            total = 0
            for variant in self.what["variants"]:
                total += variant["split"] * 100
                self.cumulative.append((total, variant["name"], variant["message"]))
        elif self.campaign_type == CampaignType.MESSAGE_ON_USER_PROPERTY:
            self.by_value = {str(m["value"]).lower(): m["message"] for m in self.what["messages"]}

    def render(self, message: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        """`message` (one that choose returned, so it lives as long as the plan) rendered for
        `context`; RenderError says why not."""
        template = self._templates.get(id(message))
        if template is None:
            template = self._templates[id(message)] = MessageTemplate(message)
        return template.render(context)

    def choose(
        self, profile_id: int, properties: dict[str, Any]
    ) -> tuple[str, dict[str, Any] | None]:
        """(variant name, the message) for a recipient; the control group gets (CONTROL, None).

        A/B: the control group first (its own hash), then the variants by their splits, so the
        share of each stays as set whatever the control group is.
        """
        if self.campaign_type == CampaignType.AB_TEST:
            if self.control and bucket(self.campaign_id, profile_id, "control") < self.control:
                return CONTROL, None
            point = bucket(self.campaign_id, profile_id, "variant")
            for upper, name, message in self.cumulative:
                if point < upper:
                    return name, message
            return self.cumulative[-1][1], self.cumulative[-1][2]
        if self.campaign_type == CampaignType.MESSAGE_ON_USER_PROPERTY:
            value = properties.get(self.what["property"])
            key = str(value).lower() if value is not None else None
            if key is not None and key in self.by_value:
                return f"{self.what['property']}={value}", self.by_value[key]
            return "default", self.what["default"]
        return "", self.what["message"]
