"""A campaign's content as data, and the readable difference between two versions of it.

An approver reads a revision as a list of changes against the live version: the name, labels, and
each value inside Who, What and When by its path ("what.variants[1].body"), old next to new.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from campaigns.choices import Section
from campaigns.rules import FIELD_SECTIONS

if TYPE_CHECKING:
    from campaigns.models import Campaign

# The content a request proposes, in the order a diff lists it.
CONTENT_FIELDS = ("name", "labels", "channel", "type", "delivery", "who", "what", "when")
JSON_FIELDS = ("who", "what", "when")
_MISSING = object()


def snapshot(campaign: Campaign) -> dict[str, Any]:
    """The campaign's content as it is now: the fields CONTENT_FIELDS name, labels as sorted ids."""
    data = {key: getattr(campaign, key) for key in CONTENT_FIELDS if key != "labels"}
    data["labels"] = sorted(campaign.labels.values_list("pk", flat=True))
    return data


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The fields whose value differs, with the new value (labels compared as sets)."""
    out: dict[str, Any] = {}
    for key in CONTENT_FIELDS:
        if key not in new:
            continue
        before, after = old.get(key), new[key]
        if key == "labels":
            before, after = sorted(before or []), sorted(after or [])
        if before != after:
            out[key] = new[key]
    return out


@dataclass(frozen=True)
class Change:
    field: str  # name, labels, channel, ... or who/what/when
    section: str  # the edit rules' section (Who, What, When, Name, Labels)
    path: str  # "name", "what.body", "who.conditions[0].value"
    kind: str  # added, removed, changed
    old: Any = None
    new: Any = None

    @property
    def old_text(self) -> str:
        return _text(self.old) if self.kind != "added" else ""

    @property
    def new_text(self) -> str:
        return _text(self.new) if self.kind != "removed" else ""


def _text(value: Any) -> str:
    import json

    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _walk(path: str, old: Any, new: Any, out: list[tuple[str, str, Any, Any]]) -> None:
    if old is _MISSING:
        out.append((path, "added", None, new))
    elif new is _MISSING:
        out.append((path, "removed", old, None))
    elif isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            _walk(f"{path}.{key}", old.get(key, _MISSING), new.get(key, _MISSING), out)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _walk(f"{path}[{i}]", a, b, out)
    elif old != new:
        out.append((path, "changed", old, new))


def diff(
    old: dict[str, Any], new: dict[str, Any], label_names: dict[int, str] | None = None
) -> list[Change]:
    """Every difference from `old` to `new`, field by field, then inside Who/What/When by path.

    `old` may be empty (a campaign never live): then every field of `new` is "added". Labels are
    compared as sets and shown by name (`label_names`), a deleted label as "#id".
    """
    names = label_names or {}
    changes: list[Change] = []
    for key in CONTENT_FIELDS:
        if key not in new and key not in old:
            continue
        section = str(FIELD_SECTIONS[key].value)
        before = old.get(key, _MISSING)
        after = new.get(key, _MISSING)
        if key == "labels":
            was = set(before) if before is not _MISSING else set()
            now = set(after) if after is not _MISSING else set()
            for pk in sorted(now - was, key=lambda i: names.get(i, "").lower()):
                changes.append(Change(key, section, key, "added", new=names.get(pk, f"#{pk}")))
            for pk in sorted(was - now, key=lambda i: names.get(i, "").lower()):
                changes.append(Change(key, section, key, "removed", old=names.get(pk, f"#{pk}")))
            continue
        found: list[tuple[str, str, Any, Any]] = []
        if key in JSON_FIELDS and before is not _MISSING and after is not _MISSING:
            _walk(key, before, after, found)
        elif before is _MISSING and after is not _MISSING:
            found.append((key, "added", None, after))
        elif after is _MISSING:
            found.append((key, "removed", before, None))
        elif before != after:
            found.append((key, "changed", before, after))
        changes.extend(Change(key, section, *item) for item in found)
    return changes


def label_names_for(*versions: dict[str, Any]) -> dict[int, str]:
    from labels.models import Label

    ids = {pk for version in versions for pk in version.get("labels", [])}
    return dict(Label.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}


def sections_changed(old: dict[str, Any], new: dict[str, Any]) -> set[Section]:
    return {FIELD_SECTIONS[key] for key in changed_fields(old, new)}
