"""Saved filters: a user's named All Campaigns filters. Services (writes) and selectors (reads).

A saved filter is the page's query string, normalised by `saved_filter_query` (the known filter
parameters only, sorted by name, without `page`), so following one lands on the same filtered list.
Each user sees, renames and deletes only their own: another user's id is "not found", never
"forbidden", so ids do not tell who has filters. Users without a Herald role have none.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import TooManyFieldsSent
from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Lower
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict

from accounts.roles import Perm, has_perm
from campaigns.filters import FILTER_PARAMETERS
from campaigns.models import SavedFilter
from config.errors import Forbidden, Invalid, LimitReached, NotFound

MAX_NAME_LENGTH = 80
MAX_SAVED_FILTERS = 100
# Generous: a filter naming a few hundred labels still fits; anything longer is no page's URL.
MAX_QUERY_LENGTH = 16_000

# The All Campaigns page's and the list endpoint's filter parameters. Anything else in a query
# string (page, utm_source, a typo) is not part of the filter and is dropped when saving.
FILTER_PARAMS = frozenset(FILTER_PARAMETERS)

NAME_REQUIRED = "Give the filter a name."
NAME_TAKEN = "You already have a saved filter with this name (names are compared ignoring case)."
NAME_CONTROL = "A name cannot contain control characters or line breaks."
NO_ROLE = "Your account has no Herald role. Ask an Admin to give you one."


def _not_found(saved_filter_id: Any) -> NotFound:
    # The same words whether the filter never existed or is someone else's.
    return NotFound(f"Saved filter {saved_filter_id} does not exist; it may have been deleted.")


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------
def name_problems(raw: Any) -> list[str]:
    """Every rule the name breaks (empty when it may be saved); uniqueness is checked on saving."""
    if not isinstance(raw, str):
        return [NAME_REQUIRED]
    name = raw.strip()
    if not name:
        return [NAME_REQUIRED]
    problems = []
    if len(name) > MAX_NAME_LENGTH:
        problems.append(
            f"A name can be at most {MAX_NAME_LENGTH} characters; this one has {len(name)}."
        )
    # Cc: control characters, NUL among them (PostgreSQL cannot store it); Cs: lone surrogates,
    # which a JSON body can carry but UTF-8 cannot encode.
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in name):
        problems.append(NAME_CONTROL)
    return problems


def _pairs(raw: str | Mapping[str, Any] | None) -> list[tuple[str, str]]:
    if raw is None:
        return []
    if isinstance(raw, str):
        text = raw.strip()
        # A whole address pasted in ("/campaigns/?status=running#top") counts by its query.
        if "?" in text:
            text = text.split("?", 1)[1]
        text = text.split("#", 1)[0]
        try:
            raw = QueryDict(text)
        except TooManyFieldsSent:
            raise Invalid(
                "The filter has too many parameters.",
                errors={"query": ["The filter has too many parameters to be saved."]},
            ) from None
    if isinstance(raw, MultiValueDict):
        items = [(key, value) for key, values in raw.lists() for value in values]
    else:
        items = []
        for key, value in raw.items():
            values = value if isinstance(value, list | tuple) else [value]
            items.extend((str(key), str(v)) for v in values)
    return items


def saved_filter_query(raw: str | Mapping[str, Any] | None) -> str:
    """The filter part of a query string, normalised: known parameters only, `page` and empty
    values dropped, repeats removed, sorted by parameter.

    Values keep their order within a parameter (where a parameter takes one value, the page reads
    the last one), so the normalised query always shows the same campaigns as the original.
    Takes the query string itself (a leading "?" or a whole URL is fine) or a QueryDict such as
    request.GET. Raises Invalid only for text with more parameters than Django parses.
    """
    by_key: dict[str, list[str]] = {}
    for key, value in _pairs(raw):
        if key not in FILTER_PARAMS or not value.strip():
            continue
        values = by_key.setdefault(key, [])
        if value not in values:
            values.append(value)
    out = QueryDict(mutable=True)
    for key in sorted(by_key):
        out.setlist(key, by_key[key])
    try:
        return out.urlencode()
    except UnicodeEncodeError:
        # Only a lone surrogate gets here (a JSON body can carry one, no URL can): no page shows
        # such a value, so the parameters that can be written are kept.
        for key in list(out):
            out.setlist(key, [v for v in out.getlist(key) if _encodable(v)])
            if not out.getlist(key):
                del out[key]
        return out.urlencode()


def _encodable(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _require_role(actor: Any) -> None:
    if not has_perm(actor, Perm.VIEW):
        raise Forbidden(NO_ROLE)


def _clean_name(name: Any) -> str:
    problems = name_problems(name)
    if problems:
        raise Invalid(problems[0], errors={"name": problems})
    return str(name).strip()


def _lock_user(actor: Any) -> None:
    """Serialise one user's saved-filter writes, so the count and the name check hold until
    commit. FOR NO KEY UPDATE: rows that merely reference the user (campaigns they create) are
    not held up."""
    user_model = get_user_model()
    list(user_model.objects.select_for_update(no_key=True).filter(pk=actor.pk).values("pk"))


def _name_taken(actor: Any, name: str, *, exclude: int | None = None) -> bool:
    # Lower() on both sides, exactly as the unique constraint compares.
    qs = SavedFilter.objects.annotate(folded=Lower("name")).filter(
        user=actor, folded=Lower(Value(name))
    )
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    return qs.exists()


def _id(saved_filter_id: Any) -> int:
    try:
        pk = int(saved_filter_id)
    except (TypeError, ValueError, OverflowError):
        raise _not_found(saved_filter_id) from None
    if not 0 < pk < 2**63:
        raise _not_found(saved_filter_id)
    return pk


# ---------------------------------------------------------------------------------------------
# Services
# ---------------------------------------------------------------------------------------------
@transaction.atomic
def saved_filter_create(
    *, actor: Any, name: Any, query: str | Mapping[str, Any] | None
) -> SavedFilter:
    """Save `query` (normalised by saved_filter_query) under `name` for the acting user.

    All or nothing: a name that is empty, too long or already one of theirs (ignoring case), a
    query too long to keep, or the 101st filter changes nothing. Concurrent saves by one user
    are serialised, so neither the cap nor the name rule can be passed by racing.
    """
    _require_role(actor)
    errors: dict[str, list[str]] = {}
    problems = name_problems(name)
    if problems:
        errors["name"] = problems
    normalised = saved_filter_query(query if query is not None else "")
    if len(normalised) > MAX_QUERY_LENGTH:
        errors["query"] = [
            f"The filter is too long to save ({len(normalised)} characters; "
            f"at most {MAX_QUERY_LENGTH})."
        ]
    if errors:
        first = next(iter(errors.values()))[0]
        raise Invalid(first, errors=errors)
    clean = str(name).strip()

    _lock_user(actor)
    if SavedFilter.objects.filter(user=actor).count() >= MAX_SAVED_FILTERS:
        raise LimitReached(
            f"You can keep at most {MAX_SAVED_FILTERS} saved filters; "
            "delete one before saving another.",
            errors={"name": [f"The limit of {MAX_SAVED_FILTERS} saved filters is reached."]},
        )
    if _name_taken(actor, clean):
        raise Invalid(NAME_TAKEN, errors={"name": [NAME_TAKEN]})
    try:
        with transaction.atomic():
            return SavedFilter.objects.create(user=actor, name=clean, query=normalised)
    except IntegrityError:
        raise Invalid(NAME_TAKEN, errors={"name": [NAME_TAKEN]}) from None


@transaction.atomic
def saved_filter_rename(*, actor: Any, saved_filter_id: Any, name: Any) -> SavedFilter:
    """Rename one of the acting user's saved filters; its query stays as saved.

    Another user's filter is NotFound. A name breaking a rule, or taken by another of their
    filters (ignoring case), changes nothing; changing only the case of the name is a rename.
    """
    _require_role(actor)
    pk = _id(saved_filter_id)
    clean = _clean_name(name)
    _lock_user(actor)
    saved = SavedFilter.objects.select_for_update().filter(user=actor, pk=pk).first()
    if saved is None:
        raise _not_found(saved_filter_id)
    if clean == saved.name:
        return saved
    if _name_taken(actor, clean, exclude=saved.pk):
        raise Invalid(NAME_TAKEN, errors={"name": [NAME_TAKEN]})
    saved.name = clean
    try:
        with transaction.atomic():
            saved.save(update_fields=["name", "updated_at"])
    except IntegrityError:
        raise Invalid(NAME_TAKEN, errors={"name": [NAME_TAKEN]}) from None
    return saved


@transaction.atomic
def saved_filter_delete(*, actor: Any, saved_filter_id: Any) -> SavedFilter:
    """Delete one of the acting user's saved filters; returns it as it was (its pk now None).

    Another user's filter, or one already deleted, is NotFound and nothing changes. Campaigns
    are never touched: a saved filter is only a link to a view of them.
    """
    _require_role(actor)
    pk = _id(saved_filter_id)
    saved = SavedFilter.objects.select_for_update().filter(user=actor, pk=pk).first()
    if saved is None:
        raise _not_found(saved_filter_id)
    saved.delete()
    return saved


# ---------------------------------------------------------------------------------------------
# Selectors
# ---------------------------------------------------------------------------------------------
def saved_filters_for(user: Any) -> list[SavedFilter]:
    """The user's saved filters by name (ignoring case), in one query; none without a role."""
    if not has_perm(user, Perm.VIEW):
        return []
    return list(SavedFilter.objects.filter(user=user).order_by(Lower("name"), "name", "pk"))


def saved_filter_get(*, user: Any, saved_filter_id: Any) -> SavedFilter:
    """One of the user's saved filters; NotFound for any other id (someone else's too)."""
    _require_role(user)
    saved = SavedFilter.objects.filter(user=user, pk=_id(saved_filter_id)).first()
    if saved is None:
        raise _not_found(saved_filter_id)
    return saved
