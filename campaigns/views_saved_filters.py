"""The All Campaigns page's saved filters: save the current filter, rename one, delete one.

Each endpoint is a POST from templates/campaigns/_saved_filters.html. With htmx it answers with
that partial again (errors inside it, and status 200, since htmx swaps only successful answers);
without JavaScript it redirects to the list, saying what happened in a flash message. The rules
live in campaigns.saved_filters; each view calls one of its services.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.decorators import role_required
from accounts.roles import Perm
from campaigns import saved_filters
from config.errors import DomainError, NotFound

PARTIAL = "campaigns/_saved_filters.html"


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _current(request: HttpRequest) -> str:
    """The list's filter as the page posted it (the hidden `query`), normalised."""
    try:
        return saved_filters.saved_filter_query(request.POST.get("query", ""))
    except DomainError:
        return ""


def _list_url(query: str) -> str:
    # Only the normalised query goes after the fixed path: nothing posted can redirect elsewhere.
    base = reverse("campaigns:list")
    return f"{base}?{query}" if query else base


def _field_errors(exc: DomainError) -> list[str]:
    return exc.errors.get("name") or [exc.message]


def _partial(request: HttpRequest, current: str, **context: Any) -> HttpResponse:
    context.update(
        saved_filters=saved_filters.saved_filters_for(request.user), current_query=current
    )
    return render(request, PARTIAL, context)


def _done(request: HttpRequest, current: str, note: str, target: str | None = None) -> HttpResponse:
    if _is_htmx(request):
        return _partial(request, current, sf_note=note)
    messages.success(request, note)
    return redirect(target or _list_url(current))


def _refused(request: HttpRequest, current: str, exc: DomainError, **form: Any) -> HttpResponse:
    """The partial with the form as typed and why it was refused, or back to the list saying so.

    A filter that is gone (or never was the user's) has no form left to show the error in."""
    if not _is_htmx(request):
        messages.error(request, " ".join(dict.fromkeys([exc.message, *_field_errors(exc)])))
        return redirect(_list_url(current))
    if isinstance(exc, NotFound) or not form:
        return _partial(request, current, sf_error=exc.message)
    return _partial(
        request, current, **{k: {**v, "errors": _field_errors(exc)} for k, v in form.items()}
    )


@role_required(Perm.VIEW)
@require_POST
def saved_filter_create(request: HttpRequest) -> HttpResponse:
    """Save the list's current filter (the posted `query`) under the posted name."""
    current = _current(request)
    name = request.POST.get("name", "")
    try:
        saved = saved_filters.saved_filter_create(actor=request.user, name=name, query=current)
    except DomainError as exc:
        return _refused(request, current, exc, sf_save={"name": name})
    return _done(
        request, current, f"Saved the filter “{saved.name}”.", target=saved.get_absolute_url()
    )


@role_required(Perm.VIEW)
@require_POST
def saved_filter_rename(request: HttpRequest, pk: int) -> HttpResponse:
    current = _current(request)
    name = request.POST.get("name", "")
    try:
        old = saved_filters.saved_filter_get(user=request.user, saved_filter_id=pk).name
        saved = saved_filters.saved_filter_rename(actor=request.user, saved_filter_id=pk, name=name)
    except DomainError as exc:
        return _refused(request, current, exc, sf_rename={"pk": pk, "name": name})
    note = f"Renamed “{old}” to “{saved.name}”." if saved.name != old else "The name is unchanged."
    return _done(request, current, note)


@role_required(Perm.VIEW)
@require_POST
def saved_filter_delete(request: HttpRequest, pk: int) -> HttpResponse:
    current = _current(request)
    try:
        deleted = saved_filters.saved_filter_delete(actor=request.user, saved_filter_id=pk)
    except DomainError as exc:
        return _refused(request, current, exc)
    return _done(request, current, f"Deleted the saved filter “{deleted.name}”.")
