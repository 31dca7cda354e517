"""Settings > API keys: the project API keys the ingestion API takes, for Admins.

A new key's secret is shown once: the form that creates it hands it to the page it redirects to
through the session, which drops it as that page reads it (so reloading neither shows it again nor
creates a second key). Only its SHA-256 is stored; the list shows each key's first characters.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import role_required
from accounts.roles import Perm
from audience import services
from audience.models import IngestKey
from config.errors import DomainError


class KeyNameForm(forms.Form):
    name = forms.CharField(
        max_length=services.MAX_KEY_NAME,
        label="Name",
        help_text="What the key is for: the app or server that will send data with it.",
        error_messages={"required": "Give the key a name."},
    )


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


# The session key holding a new key's id and secret until the list shows it.
_NEW_KEY = "audience.new_ingest_key"


def _render_list(
    request: HttpRequest, *, form: KeyNameForm | None = None, status: int = 200
) -> HttpResponse:
    new = request.session.pop(_NEW_KEY, None)
    created = IngestKey.objects.filter(pk=new["id"]).first() if new else None
    secret = new["secret"] if created else ""
    context: dict[str, Any] = {
        "keys": IngestKey.objects.select_related("created_by"),
        "form": form or KeyNameForm(),
        "created": created,
        "secret": secret,
        "ingest_url": request.build_absolute_uri(reverse("ingest-events")),
    }
    response = render(request, "audience/keys.html", context, status=status)
    if secret:
        # The one page that holds the secret: not kept by the browser's cache or history.
        response["Cache-Control"] = "no-store"
    return response


@role_required(Perm.MANAGE_SETTINGS)
@require_GET
def key_list(request: HttpRequest) -> HttpResponse:
    return _render_list(request)


@role_required(Perm.MANAGE_SETTINGS)
@require_POST
def key_create(request: HttpRequest) -> HttpResponse:
    form = KeyNameForm(request.POST)
    if form.is_valid():
        try:
            key, secret = services.ingest_key_create(
                actor=request.user, name=form.cleaned_data["name"]
            )
        except DomainError as exc:
            for text in exc.errors.get("name") or [exc.message]:
                form.add_error("name", text)
        else:
            request.session[_NEW_KEY] = {"id": key.pk, "secret": secret}
            return redirect("ingest_keys:list")
    return _render_list(request, form=form, status=400)


@role_required(Perm.MANAGE_SETTINGS)
@require_http_methods(["GET", "POST"])
def key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: a confirmation (in the page's dialog with htmx). POST: revoke."""
    if request.method == "GET":
        key = IngestKey.objects.filter(pk=pk).first()
        if key is None or key.revoked_at is not None:
            messages.info(request, "That key is already revoked, or no longer exists.")
            return _back(request)
        in_dialog = _is_htmx(request)
        template = "audience/_key_revoke_confirm.html" if in_dialog else "audience/key_revoke.html"
        return render(request, template, {"key": key, "in_dialog": in_dialog})
    try:
        key = services.ingest_key_revoke(actor=request.user, key_id=pk)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Revoked the key “{key.name}” ({key.prefix}…): requests sending it are refused.",
        )
    return redirect("ingest_keys:list")


def _back(request: HttpRequest) -> HttpResponse:
    url = reverse("ingest_keys:list")
    if _is_htmx(request):
        return HttpResponse(headers={"HX-Redirect": url})
    return redirect(url)
