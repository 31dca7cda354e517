"""Saved segments in the dashboard: the list (counts fetched per row as they scroll into view),
the builder with its live estimate, delete with confirmation; and the estimate fragment the
campaign editor's Who section shows too.

Each view checks the role, calls one service (audience.segment_services) or the engine
(audience.segments) and renders; the rules and their messages come from there.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import role_required
from accounts.roles import Perm, has_perm
from audience import segment_services as services
from audience.models import Segment
from audience.segments import EvaluationTooSlow, estimate, segment_count
from config.errors import DomainError, Invalid

EXAMPLE_DEFINITION = {
    "type": "group",
    "match": "all",
    "conditions": [
        {"type": "event", "event": "App Launched", "window": {"last_days": 30}},
    ],
}
CHANNEL_WORDS = [
    ("email", "e-mail"),
    ("sms", "SMS"),
    ("whatsapp", "WhatsApp"),
    ("push", "push"),
    ("web_push", "web push"),
]


def _definition_text(definition: Any) -> str:
    return json.dumps(definition, indent=2, ensure_ascii=False)


class SegmentForm(forms.Form):
    name = forms.CharField(
        max_length=1000,  # the service says what is too long, in its own words
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "e.g. Repeat buyers"}),
        error_messages={"required": services.NAME_REQUIRED},
    )
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=10_000
    )
    definition = forms.CharField(
        label="Who",
        widget=forms.Textarea(attrs={"class": "mono", "rows": 16, "spellcheck": "false"}),
        error_messages={"required": "Give the definition (a Who group)."},
        help_text="A Who group, as in the campaign editor; use saved segments with "
        '{"type": "segment", "segment_id": n}.',
    )

    def clean_definition(self) -> Any:
        return _parse_json(self.cleaned_data["definition"])

    def add_service_errors(self, exc: DomainError) -> None:
        """The service's field errors next to their fields (a definition's path in the message)."""
        placed = False
        for key, texts in exc.errors.items():
            field = key.split(".", 1)[0].split("[", 1)[0]
            for text in texts:
                if field in self.fields:
                    where = key[len(field) :].lstrip(".")
                    self.add_error(field, f"{where}: {text}" if where else text)
                    placed = True
        if not placed:
            self.add_error(None, exc.message)


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise forms.ValidationError(
            f"Not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}."
        ) from None


# ----------------------------------------------------------------------------------------------
# Pages
# ----------------------------------------------------------------------------------------------
@role_required(Perm.VIEW)
@require_GET
def segment_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:200]
    rows = list(services.segments_list(q=q))
    return render(
        request,
        "audience/segments.html",
        {"rows": rows, "q": q, "can_create": has_perm(request.user, Perm.CREATE)},
    )


@role_required(Perm.VIEW)
@require_GET
def segment_count_view(request: HttpRequest, pk: int) -> HttpResponse:
    """One row's count, fetched by the list as the row scrolls into view."""
    segment = _segment_or_404(pk)
    try:
        count = segment_count(segment.definition)
    except DomainError as exc:
        return render(request, "audience/segments_count.html", {"problem": exc.message})
    return render(request, "audience/segments_count.html", {"count": count})


@role_required(Perm.CREATE)
@require_http_methods(["GET", "POST"])
def segment_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = SegmentForm(request.POST)
        if form.is_valid():
            try:
                segment = services.segment_create(actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, f"Segment “{segment.name}” was saved.")
                return redirect("audience:segment", pk=segment.pk)
    else:
        form = SegmentForm(initial={"definition": _definition_text(EXAMPLE_DEFINITION)})
    return render(
        request,
        "audience/segments_form.html",
        {"form": form, "segment": None, "who_builder": services.who_builder_options()},
    )


@role_required(Perm.VIEW)
@require_http_methods(["GET", "POST"])
def segment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    segment = _segment_or_404(pk)
    can_edit = has_perm(request.user, Perm.EDIT)
    if request.method == "POST" and can_edit:
        form = SegmentForm(request.POST)
        if form.is_valid():
            try:
                services.segment_update(actor=request.user, segment_id=pk, **form.cleaned_data)
            except DomainError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, "Your changes were saved.")
                return redirect("audience:segment", pk=pk)
    else:
        form = SegmentForm(
            initial={
                "name": segment.name,
                "description": segment.description,
                "definition": _definition_text(segment.definition),
            }
        )
    campaigns, segments = services.segment_users(segment.pk)
    return render(
        request,
        "audience/segments_form.html",
        {
            "form": form,
            "segment": segment,
            "can_edit": can_edit,
            "used_by_campaigns": campaigns,
            "used_by_segments": segments,
            "who_builder": services.who_builder_options(),
        },
    )


@role_required(Perm.EDIT)
@require_http_methods(["GET", "POST"])
def segment_delete(request: HttpRequest, pk: int) -> HttpResponse:
    segment = _segment_or_404(pk)
    refusal = ""
    if request.method == "POST":
        try:
            services.segment_delete(actor=request.user, segment_id=pk)
        except DomainError as exc:
            refusal = exc.message
        else:
            messages.success(request, f"Segment “{segment.name}” was deleted.")
            return redirect("audience:segments")
    campaigns, segments = services.segment_users(segment.pk)
    return render(
        request,
        "audience/segments_delete.html",
        {
            "segment": segment,
            "refusal": refusal,
            "used_by_campaigns": campaigns,
            "used_by_segments": segments,
        },
        status=409 if refusal else 200,
    )


@role_required(Perm.VIEW)
@require_POST
def estimate_fragment(request: HttpRequest) -> HttpResponse:
    """The live estimate beside a Who editor: the campaign form posts `who`, the segment form
    `definition`. Answers 200 with either the counts or the Who's problems, for htmx to show."""
    text = request.POST.get("who", request.POST.get("definition", ""))
    context: dict[str, Any] = {}
    try:
        who = _parse_json(text)
        result = estimate(who)
    except forms.ValidationError as exc:
        context["problems"] = exc.messages
    except Invalid as exc:
        context["problems"] = [f"{k}: {m}" for k, ms in exc.errors.items() for m in ms] or [
            exc.message
        ]
    except EvaluationTooSlow as exc:
        context["problems"] = [exc.message]
    else:
        context["total"] = result["total"]
        context["reachable"] = [(words, result["reachable"][key]) for key, words in CHANNEL_WORDS]
    return render(request, "audience/segments_estimate.html", context)


def _segment_or_404(pk: int) -> Segment:
    try:
        return services.segment_get(pk)
    except DomainError:
        raise Http404("No such segment.") from None
