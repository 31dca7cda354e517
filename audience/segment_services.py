"""Every write to saved segments: create, rename and describe, change the definition, delete.

A saved segment is a named Who definition that campaigns and other segments use as
{"type": "segment", "segment_id": n}. Its definition is checked like a campaign's Who, and more:
the segments it uses exist and never lead back to it, the labels it names exist, each value fits
its property's type, and every Who that uses it still stays within the limits once it changes.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, F, Func, Value

from accounts.roles import Perm, has_perm
from audience.models import Segment
from audience.segments import compile_condition
from campaigns.validation import json_problem, validate_who
from config.errors import Conflict, Forbidden, Invalid, NotFound

MAX_NAME_LENGTH = 120
MAX_DESCRIPTION_LENGTH = 2000
NAME_REQUIRED = "Give the segment a name."
_TAKEN = "A segment with this name already exists (names are compared ignoring case)."
# Serialises changes to definitions, so two segments cannot be made to use each other at once
# (each change would pass its check against the other's old definition). Any constant of ours.
_DEFINITION_LOCK_KEY = 0x48455253_45474D54  # "HERSEGMT"
_USES_SEGMENT_PATH = '$.** ? (@.type == "segment" && @.segment_id == $id)'


def _uses_segment(column: str, segment_id: int) -> Func:
    """True where the JSON in `column` holds a {"type": "segment", "segment_id": id} node."""
    return Func(
        F(column),
        Func(Value(_USES_SEGMENT_PATH), template="%(expressions)s::jsonpath"),
        Func(Value(json.dumps({"id": segment_id})), template="%(expressions)s::jsonb"),
        function="jsonb_path_exists",
        output_field=BooleanField(),
    )


# ----------------------------------------------------------------------------------------------
# Reads
# ----------------------------------------------------------------------------------------------
def segment_get(segment_id: Any) -> Segment:
    try:
        return Segment.objects.select_related("created_by").get(pk=int(segment_id))
    except (Segment.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound(f"Segment {segment_id} does not exist.") from None


def segments_list(q: str = "") -> Any:
    rows = Segment.objects.select_related("created_by").order_by("name")
    if q:
        rows = rows.filter(name__icontains=q)
    return rows


def who_builder_options() -> dict[str, list[dict[str, Any]]]:
    """The labels and saved segments the Who builder offers in its selects (two queries)."""
    from labels.selectors import label_choices

    return {
        "labels": [{"id": pk, "name": name} for pk, name in label_choices()],
        "segments": [
            {"id": pk, "name": name}
            for pk, name in Segment.objects.order_by("name").values_list("pk", "name")
        ],
    }


def segment_users(segment_id: int) -> tuple[list[str], list[str]]:
    """Names of the unarchived campaigns and of the segments whose Who uses this segment."""
    from campaigns.models import Campaign

    campaigns = (
        Campaign.objects.filter(_uses_segment("who", segment_id), archived_at__isnull=True)
        .order_by("name")
        .values_list("name", flat=True)
    )
    segments = (
        Segment.objects.filter(_uses_segment("definition", segment_id))
        .exclude(pk=segment_id)
        .order_by("name")
        .values_list("name", flat=True)
    )
    return list(campaigns), list(segments)


# ----------------------------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------------------------
def name_problems(raw: Any) -> list[str]:
    if not isinstance(raw, str) or not raw.strip():
        return [NAME_REQUIRED]
    name = raw.strip()
    problems = []
    if len(name) > MAX_NAME_LENGTH:
        problems.append(f"At most {MAX_NAME_LENGTH} characters.")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        problems.append("No control characters (tabs, line breaks).")
    return problems


def _clean_name(raw: Any) -> str:
    problems = name_problems(raw)
    if problems:
        raise Invalid(problems[0], errors={"name": problems})
    return raw.strip()


def _clean_description(raw: Any) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise Invalid("The description is text.", errors={"description": ["Give text."]})
    text = raw.strip()
    if len(text) > MAX_DESCRIPTION_LENGTH:
        message = f"At most {MAX_DESCRIPTION_LENGTH} characters."
        raise Invalid(message, errors={"description": [message]})
    if "\x00" in text:
        raise Invalid("No NUL characters.", errors={"description": ["No NUL characters."]})
    return text


def _as_definition_errors(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """A Who's errors (`who.conditions[0]...`) under the segment's field name."""
    return {
        "definition" + key[len("who") :] if key.startswith("who") else key: messages
        for key, messages in errors.items()
    }


def _check_definition(definition: Any, *, segment_id: int | None, previous: Any = None) -> None:
    """Raise Invalid (errors under `definition...`) unless the definition may be saved."""
    problem = json_problem(definition)
    if problem:
        raise Invalid("The definition has errors.", errors={"definition": [problem]})
    errors = validate_who(definition, segment_id=segment_id, saved=True)
    if errors:
        raise Invalid("The definition has errors.", errors=_as_definition_errors(errors))
    _check_labels(definition, previous)
    try:
        compile_condition(definition)  # values against property types
    except Invalid as exc:
        raise Invalid(
            "The definition has errors.", errors=_as_definition_errors(exc.errors)
        ) from None


def _check_labels(definition: Any, previous: Any) -> None:
    """Labels the definition newly names must exist. One it already named and that was deleted
    since still matches the sends made while it existed, so it stays."""
    from campaigns.validation import who_label_ids
    from labels.models import Label

    added = who_label_ids(definition) - (who_label_ids(previous) if previous else set())
    missing = added - set(Label.objects.filter(pk__in=added).values_list("pk", flat=True))
    if missing:
        raise Invalid(
            "The definition refers to labels that do not exist.",
            errors={"definition": [f"Label {pk} does not exist." for pk in sorted(missing)]},
        )


def _check_users(segment: Segment, definition: Any) -> None:
    """Every Who that uses the segment, directly or through other segments, must stay valid with
    the new definition (no loop back, within the nesting and size limits)."""
    from campaigns.models import Campaign

    override = {segment.pk: definition}
    users, frontier = set(), {segment.pk}
    while frontier:
        found = set()
        for pk in frontier:
            found |= set(
                Segment.objects.filter(_uses_segment("definition", pk)).values_list("pk", flat=True)
            )
        frontier = found - users - {segment.pk}
        users |= frontier
    for user in Segment.objects.filter(pk__in=users).order_by("name"):
        errors = validate_who(user.definition, segment_id=user.pk, segments=override)
        if errors:
            raise Invalid(
                "The change would break segments that use this one.",
                errors={
                    "definition": [
                        f"Segment “{user.name}”, which uses this one: {m}"
                        for msgs in errors.values()
                        for m in msgs
                    ]
                },
            )
    for pk in [segment.pk, *users]:
        campaigns = Campaign.objects.filter(_uses_segment("who", pk), archived_at__isnull=True)
        for campaign in campaigns.order_by("name").only("name", "who"):
            errors = validate_who(campaign.who, segments=override)
            if errors:
                raise Invalid(
                    "The change would break campaigns that use this segment.",
                    errors={
                        "definition": [
                            f"Campaign “{campaign.name}”: {m}"
                            for msgs in errors.values()
                            for m in msgs
                        ]
                    },
                )


def _require(actor: Any, perm: Perm, what: str) -> None:
    if not has_perm(actor, perm):
        raise Forbidden(f"Your role does not allow you to {what}.")


def _name_taken(name: str, *, exclude: int | None = None) -> bool:
    rows = Segment.objects.filter(name__iexact=name)
    if exclude is not None:
        rows = rows.exclude(pk=exclude)
    return rows.exists()


def _lock_definitions() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_DEFINITION_LOCK_KEY])


def _locked(segment_id: Any) -> Segment:
    try:
        return Segment.objects.select_for_update().get(pk=int(segment_id))
    except (Segment.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound(f"Segment {segment_id} does not exist.") from None


def _save(segment: Segment, fields: list[str] | None = None) -> None:
    try:
        with transaction.atomic():
            segment.save(update_fields=fields)
    except IntegrityError:
        raise Invalid(_TAKEN, errors={"name": [_TAKEN]}) from None


# ----------------------------------------------------------------------------------------------
# Writes
# ----------------------------------------------------------------------------------------------
@transaction.atomic
def segment_create(*, actor: Any, name: Any, definition: Any, description: Any = "") -> Segment:
    """Save a named definition. Every problem (name, description, definition) is reported at
    once; nothing is saved unless all is well."""
    _require(actor, Perm.CREATE, "create segments")
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for key, check in (("name", _clean_name), ("description", _clean_description)):
        try:
            clean[key] = check(name if key == "name" else description)
        except Invalid as exc:
            errors.update(exc.errors)
    if "name" in clean and _name_taken(clean["name"]):
        errors["name"] = [_TAKEN]
    _lock_definitions()
    try:
        _check_definition(definition, segment_id=None)
    except Invalid as exc:
        errors.update(exc.errors)
    if errors:
        raise Invalid("The segment has errors.", errors=errors)
    segment = Segment(created_by=actor, definition=definition, **clean)
    _save(segment)
    return segment


@transaction.atomic
def segment_update(
    *,
    actor: Any,
    segment_id: Any,
    name: Any = None,
    description: Any = None,
    definition: Any = None,
) -> Segment:
    """Change any of name, description and definition (None leaves one as it is).

    A new definition applies at once to every campaign and segment using this one; it is refused
    if any of them would then loop back or pass the limits.
    """
    _require(actor, Perm.EDIT, "edit segments")
    if definition is not None:
        _lock_definitions()
    segment = _locked(segment_id)
    errors: dict[str, list[str]] = {}
    fields = []
    try:
        if name is not None:
            clean = _clean_name(name)
            if clean != segment.name:
                if _name_taken(clean, exclude=segment.pk):
                    raise Invalid(_TAKEN, errors={"name": [_TAKEN]})
                segment.name = clean
                fields.append("name")
    except Invalid as exc:
        errors.update(exc.errors)
    try:
        if description is not None:
            segment.description = _clean_description(description)
            fields.append("description")
    except Invalid as exc:
        errors.update(exc.errors)
    if definition is not None and definition != segment.definition:
        try:
            _check_definition(definition, segment_id=segment.pk, previous=segment.definition)
            _check_users(segment, definition)
        except Invalid as exc:
            errors.update(exc.errors)
        segment.definition = definition
        fields.append("definition")
    if errors:
        raise Invalid("The segment has errors.", errors=errors)
    if fields:
        _save(segment, [*fields, "updated_at"])
    return segment


def segment_rename(*, actor: Any, segment_id: Any, name: Any) -> Segment:
    return segment_update(actor=actor, segment_id=segment_id, name=name)


@transaction.atomic
def segment_delete(*, actor: Any, segment_id: Any) -> None:
    """Delete a segment no unarchived campaign and no other segment uses (Conflict otherwise,
    naming them). The row lock waits for any save that is checking a reference to it."""
    _require(actor, Perm.EDIT, "delete segments")
    segment = _locked(segment_id)
    campaigns, segments = segment_users(segment.pk)
    if campaigns or segments:
        users = _users_text(campaigns, segments)
        raise Conflict(
            f"“{segment.name}” is used by {users}. Change those audiences first.",
            errors={"segment": [f"Used by {users}."]},
        )
    segment.delete()


def _users_text(campaigns: list[str], segments: list[str]) -> str:
    parts = []
    for kind, names in (("campaign", campaigns), ("segment", segments)):
        if names:
            shown = ", ".join(f"“{n}”" for n in names[:5])
            more = f" and {len(names) - 5} more" if len(names) > 5 else ""
            parts.append(f"{kind}{'s' if len(names) > 1 else ''} {shown}{more}")
    return " and ".join(parts)
