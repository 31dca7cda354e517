"""The campaign pages. Each view checks the role, fetches what the user may see, calls one service
and renders; the rules and their reasons come from campaigns.rules, never from here."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import role_required
from accounts.roles import Perm, has_perm
from campaigns import examples, rules, selectors, services
from campaigns.choices import Action, CampaignType, Channel, Delivery, Section, Status
from campaigns.forms import BulkForm, BulkLabelsForm, CampaignForm, json_text
from campaigns.models import Campaign
from config.errors import DomainError
from labels import rules as label_rules
from labels import services as label_services
from labels.forms import unique_names
from labels.models import Label
from labels.selectors import label_choices

PAGE_SIZE = 50
BULK_RESULTS_KEY = "herald_bulk_results"


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def report_error(request: HttpRequest, exc: DomainError) -> None:
    """The one place a domain error becomes something the user reads."""
    details = [f"{path}: {m}" for path, msgs in exc.errors.items() for m in msgs]
    text = exc.message if not details else f"{exc.message} {'; '.join(details)}"
    messages.error(request, text)


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _get_campaign(request: HttpRequest, pk: int) -> Campaign:
    try:
        return selectors.campaign_detail(user=request.user, campaign_id=pk)
    except Campaign.DoesNotExist:
        raise Http404("No such campaign.") from None


def _go(request: HttpRequest, url: str) -> HttpResponse:
    """Redirect; for an htmx request, make the whole page navigate instead of swapping a page in."""
    if _is_htmx(request):
        return HttpResponse(headers={"HX-Redirect": url})
    return redirect(url)


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


@dataclass(frozen=True)
class Button:
    action: Action
    allowed: bool
    reason: str

    @property
    def key(self) -> str:
        return str(self.action.value)

    @property
    def label(self) -> str:
        return self.action.name.title()


ACTION_PERMS: dict[Action, Perm] = {
    Action.EDIT: Perm.EDIT,
    Action.PUBLISH: Perm.PUBLISH,
    Action.STOP: Perm.STOP,
    Action.CLONE: Perm.CLONE,
    Action.ARCHIVE: Perm.ARCHIVE,
}


def _verdict(user: Any, campaign: Campaign, action: Action) -> rules.Verdict:
    """The state's verdict, then the role's: a page shows one reason per refused action."""
    perm = ACTION_PERMS[action]
    if not has_perm(user, perm):
        return rules.Verdict(False, f"Your role does not allow you to {perm.value} campaigns.")
    return rules.action_verdict(campaign, action)


# ---------------------------------------------------------------------------------------------
# All Campaigns
# ---------------------------------------------------------------------------------------------
@role_required(Perm.VIEW)
def campaign_list(request: HttpRequest) -> HttpResponse:
    labels = label_choices()
    # Ids of labels deleted since the link was made are dropped, and the page says so.
    filters = selectors.CampaignFilters.from_query(request.GET).known_labels(pk for pk, _ in labels)
    counts = selectors.status_counts(user=request.user, filters=filters)
    paginator = Paginator(selectors.campaign_list(user=request.user, filters=filters), PAGE_SIZE)
    # The quick-filter counts already hold the total: no second COUNT(*) over the same rows.
    paginator.count = counts.get(filters.status, 0) if filters.status else sum(counts.values())
    page = paginator.get_page(request.GET.get("page"))
    # (status for the query string, label, count, current); None drops status from the URL.
    quick_filters = [(None, "All", sum(counts.values()), not filters.status)] + [
        (status.value, status.label, counts.get(status.value, 0), filters.status == status.value)
        for status in Status
    ]
    return render(
        request,
        "campaigns/list.html",
        {
            "page": page,
            "page_range": page.paginator.get_elided_page_range(
                page.number, on_each_side=2, on_ends=1
            ),
            "filters": filters,
            "quick_filters": quick_filters,
            "channels": Channel.choices,
            "types": CampaignType.choices,
            "deliveries": Delivery.choices,
            "labels": labels,
            "label_summary": _label_summary(labels, filters.labels),
            "bulk_results": request.session.pop(BULK_RESULTS_KEY, None),
            "can": {
                perm: has_perm(request.user, Perm(perm))
                for perm in ("create", "edit", "stop", "archive", "clone")
            },
        },
    )


def _label_summary(labels: list[tuple[int, str]], selected: tuple[int, ...]) -> str:
    """What the label filter's button says: "All labels", a name, two names, or "Name +3"."""
    if not selected:
        return "All labels"
    wanted = set(selected)
    names = [name for pk, name in labels if pk in wanted]
    if len(names) <= 2:
        return ", ".join(names)
    return f"{names[0]} +{len(names) - 1}"


BULK_TEXT: dict[str, dict[str, str]] = {
    "stop": {
        "verb": "stop",
        "done": "stopped",
        "title": "Stop campaigns",
        "warning": "Stopping is final: stopped campaigns cannot be resumed or paused, only cloned.",
    },
    "archive": {
        "verb": "archive",
        "done": "archived",
        "title": "Archive campaigns",
        "warning": "Archived campaigns become read-only; clone one to work on it again.",
    },
    "clone": {
        "verb": "clone",
        "done": "cloned",
        "title": "Clone campaigns",
        "warning": "Each clone is a new draft named “Copy of …”; the originals do not change.",
    },
}


@role_required(Perm.VIEW)
@require_POST
def campaign_bulk(request: HttpRequest) -> HttpResponse:
    """Step 1 (no `confirm`): say what would happen to each selected campaign. Step 2: do it."""
    back = _safe_next(request, reverse("campaigns:list"))
    form = BulkForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return _go(request, back)
    action, ids = form.cleaned_data["action"], form.cleaned_data["ids"]

    if "confirm" not in request.POST:
        campaigns = selectors.campaigns_by_ids(user=request.user, ids=ids)
        rows = [(c, _verdict(request.user, c, Action(action))) for c in campaigns]
        refusals: dict[str, int] = {}
        for _, verdict in rows:
            if not verdict.allowed:
                refusals[verdict.reason] = refusals.get(verdict.reason, 0) + 1
        context = {
            "action": action,
            "text": BULK_TEXT[action],
            "rows": rows,
            "next": back,
            "allowed_count": sum(1 for _, v in rows if v.allowed),
            "refusals": refusals,
            "in_dialog": _is_htmx(request),
        }
        template = (
            "campaigns/_bulk_confirm.html" if _is_htmx(request) else "campaigns/bulk_confirm.html"
        )
        return render(request, template, context)

    names = {c.pk: c.name for c in selectors.campaigns_by_ids(user=request.user, ids=ids)}
    try:
        results = services.campaigns_bulk(actor=request.user, action=action, ids=ids)
    except DomainError as exc:
        report_error(request, exc)
        return redirect(back)
    request.session[BULK_RESULTS_KEY] = {
        "action": action,
        "title": BULK_TEXT[action]["title"],
        "done": sum(1 for r in results if r.ok),
        "refused": sum(1 for r in results if not r.ok),
        "rows": [
            {
                "id": r.id,
                "name": r.name or names.get(r.id, f"Campaign {r.id}"),
                "ok": r.ok,
                "message": r.message,
                "clone_id": r.extra.get("clone_id"),
                "clone_name": r.extra.get("clone_name"),
            }
            for r in results
        ],
    }
    return redirect(back)


# ---------------------------------------------------------------------------------------------
# Add / remove labels on the selected campaigns
# ---------------------------------------------------------------------------------------------
LABELS_TEXT: dict[str, dict[str, str]] = {
    "add": {
        "title": "Add labels",
        "verb": "add",
        "lead": "Choose labels to add to",
        "button": "Add labels",
    },
    "remove": {
        "title": "Remove labels",
        "verb": "remove",
        "lead": "Choose labels to remove from",
        "button": "Remove labels",
    },
}


@dataclass(frozen=True)
class LabelOption:
    pk: int
    name: str
    on: int  # how many of the selected campaigns carry it


def _form_errors(form: forms.Form) -> list[str]:
    return [str(error) for errors in form.errors.values() for error in errors]


def _domain_errors(exc: DomainError) -> list[str]:
    details = [m for msgs in exc.errors.values() for m in msgs if m != exc.message]
    return [exc.message, *details]


@role_required(Perm.EDIT)
@require_POST
def campaign_bulk_labels(request: HttpRequest) -> HttpResponse:
    """The label picker for the selected campaigns (`op` add or remove), and, with `apply`,
    the change: new names are created first (all or none), then each campaign is changed in
    its own transaction and reported on, like the other bulk actions."""
    back = _safe_next(request, reverse("campaigns:list"))
    form = BulkLabelsForm(request.POST)
    form.is_valid()
    if "op" in form.errors or "ids" in form.errors:
        for error in form.errors.get("op", []) + form.errors.get("ids", []):
            messages.error(request, error)
        return _go(request, back)
    op, ids = form.cleaned_data["op"], form.cleaned_data["ids"]
    campaigns = selectors.campaigns_by_ids(user=request.user, ids=ids)
    if not campaigns:
        messages.error(request, "None of the selected campaigns exist any more.")
        return _go(request, back)
    rows = [(c, rules.editable_sections(c)[Section.LABELS]) for c in campaigns]

    errors: list[str] = []
    if "apply" in request.POST:
        if not form.is_valid():
            errors = _form_errors(form)
        elif not any(reason is None for _, reason in rows):
            errors = [
                "None of the selected campaigns can change labels now; nothing was created "
                "or changed."
            ]
        else:
            names = {c.pk: c.name for c in campaigns}
            outcome = _apply_labels(request, form, back, names)
            if isinstance(outcome, HttpResponse):
                return outcome
            errors = outcome

    counts = selectors.label_counts_on(campaign_ids=[c.pk for c in campaigns])
    if op == "add":
        options = [
            LabelOption(pk, name, counts.get(pk, ("", 0))[1]) for pk, name in label_choices()
        ]
    else:
        options = [LabelOption(pk, name, n) for pk, (name, n) in counts.items()]
    posted_new = form.cleaned_data.get("new") or _posted_names(request)
    refusals: dict[str, int] = {}
    for _, reason in rows:
        if reason:
            refusals[reason] = refusals.get(reason, 0) + 1
    context = {
        "op": op,
        "text": LABELS_TEXT[op],
        "rows": rows,
        "allowed_count": sum(1 for _, reason in rows if reason is None),
        "refusals": refusals,
        "options": options,
        "checked": set(form.cleaned_data.get("label") or _posted_ids(request)),
        # Valid new names come back ticked in the list; a broken one back in the input.
        "new_names": [n for n in posted_new if not label_rules.name_problems(n)],
        "typed_name": next((n for n in posted_new if label_rules.name_problems(n)), ""),
        "errors": errors,
        "next": back,
        "in_dialog": _is_htmx(request),
        "rules_text": label_rules.RULES_TEXT,
    }
    template = (
        "campaigns/_labels_picker.html" if _is_htmx(request) else "campaigns/labels_picker.html"
    )
    return render(request, template, context)


def _posted_ids(request: HttpRequest) -> list[int]:
    """The ticked label ids as posted, for showing the picker again after an error."""
    return [int(v) for v in request.POST.getlist("label") if v.isascii() and v.isdigit()]


def _posted_names(request: HttpRequest) -> list[str]:
    return unique_names(request.POST.getlist("new"))[:50]


def _apply_labels(
    request: HttpRequest, form: BulkLabelsForm, back: str, campaign_names: dict[int, str]
) -> HttpResponse | list[str]:
    """Create the new names, apply, keep the per-campaign results for the list; or the errors."""
    op, ids = form.cleaned_data["op"], form.cleaned_data["ids"]
    chosen: list[int] = form.cleaned_data["label"]
    names: list[str] = form.cleaned_data["new"]
    created: list[str] = []
    if names:
        before = set(Label.objects.values_list("pk", flat=True))
        try:
            # All the new names or none: the 901st label refuses the ones before it too.
            with transaction.atomic():
                found = label_services.labels_get_or_create(actor=request.user, names=names)
        except DomainError as exc:
            return _domain_errors(exc)
        created = [label.name for label in found if label.pk not in before]
        chosen = chosen + [label.pk for label in found if label.pk not in chosen]
    add, remove = (chosen, []) if op == "add" else ([], chosen)
    try:
        results = services.campaigns_bulk_labels(
            actor=request.user, ids=ids, add=add, remove=remove
        )
    except DomainError as exc:
        return _domain_errors(exc)
    names_by_id = dict(Label.objects.filter(pk__in=chosen).values_list("pk", "name"))
    chosen_names = ", ".join(names_by_id[pk] for pk in chosen if pk in names_by_id)
    request.session[BULK_RESULTS_KEY] = {
        "action": "labels",
        "title": f"{LABELS_TEXT[op]['title']} ({chosen_names})",
        "done": sum(1 for r in results if r.ok and r.code == "done"),
        "unchanged": sum(1 for r in results if r.ok and r.code == "unchanged"),
        "refused": sum(1 for r in results if not r.ok),
        "note": (
            f"Created the new label{'s' if len(created) != 1 else ''} "
            + ", ".join(f"“{name}”" for name in created)
            + "."
            if created
            else ""
        ),
        "rows": [
            {
                "id": r.id,
                "name": r.name or campaign_names.get(r.id, f"Campaign {r.id}"),
                "ok": r.ok,
                "code": r.code,
                "message": r.message,
            }
            for r in results
        ],
    }
    return _go(request, back)


# ---------------------------------------------------------------------------------------------
# One campaign
# ---------------------------------------------------------------------------------------------
@role_required(Perm.VIEW)
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _get_campaign(request, pk)
    buttons = []
    for action in rules.USER_ACTIONS:
        verdict = _verdict(request.user, campaign, action)
        buttons.append(Button(action, verdict.allowed, verdict.reason))
    return render(
        request,
        "campaigns/detail.html",
        {
            "campaign": campaign,
            # Keyed by plain strings so templates can say sections.what.
            "sections": {str(s.value): r for s, r in rules.editable_sections(campaign).items()},
            "buttons": buttons,
            "timeline": selectors.campaign_timeline(campaign=campaign),
        },
    )


@role_required(Perm.CREATE)
def campaign_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = CampaignForm(request.POST)
        if form.is_valid():
            try:
                with transaction.atomic():
                    data = _with_new_labels(request, form)
                    campaign = services.campaign_create(actor=request.user, **data)
            except DomainError as exc:
                form.add_service_errors(exc.errors, exc.message)
            else:
                messages.success(request, f"“{campaign.name}” was created as a draft.")
                return redirect("campaigns:detail", pk=campaign.pk)
    else:
        channel, kind, delivery = Channel.PUSH, CampaignType.SINGLE_MESSAGE, Delivery.ONE_TIME
        form = CampaignForm(
            initial={
                "channel": channel,
                "type": kind,
                "delivery": delivery,
                "who": examples.example_who(),
                "what": examples.example_what(channel, kind),
                "when": examples.example_when(delivery),
            }
        )
    return _render_form(request, form, None)


@role_required(Perm.EDIT)
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _get_campaign(request, pk)
    verdict = rules.action_verdict(campaign, Action.EDIT)
    if not verdict.allowed:
        messages.error(request, verdict.reason)
        return redirect("campaigns:detail", pk=campaign.pk)
    form = CampaignForm.for_campaign(campaign, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                data = _with_new_labels(request, form)
                services.campaign_update(actor=request.user, campaign_id=campaign.pk, data=data)
        except DomainError as exc:
            form.add_service_errors(exc.errors, exc.message)
        else:
            messages.success(request, "Your changes were saved.")
            return redirect("campaigns:detail", pk=campaign.pk)
    return _render_form(request, form, campaign)


def _with_new_labels(request: HttpRequest, form: CampaignForm) -> dict[str, Any]:
    """The form's data for the service, with the labels typed into "New labels" created (or
    found, ignoring case) and added. Run it in the transaction that saves the campaign, so a
    refused save leaves no new labels behind."""
    data = form.service_data()
    names = form.new_label_names
    if names:
        try:
            found = label_services.labels_get_or_create(actor=request.user, names=names)
        except DomainError as exc:
            # The labels service names the field "name"; on this form it is "New labels".
            texts = [m for msgs in exc.errors.values() for m in msgs] or [exc.message]
            raise type(exc)(exc.message, errors={"new_labels": texts}) from exc
        data["labels"] = list(
            dict.fromkeys([*data.get("labels", []), *(label.pk for label in found)])
        )
    return data


JSON_HELP = {
    "who": "The audience: a group of conditions on events, profile properties and past campaigns.",
    "what": "The message. Changing the channel or type fills in an example, unless you edited it.",
    "when": "The schedule. Changing the delivery fills in an example, unless you edited it.",
}


def _render_form(
    request: HttpRequest, form: CampaignForm, campaign: Campaign | None
) -> HttpResponse:
    json_fields = [
        (form[name], JSON_HELP[name], form[f"{name}_pristine"].value()) for name in JSON_HELP
    ]
    return render(
        request,
        "campaigns/form.html",
        {"form": form, "campaign": campaign, "json_fields": json_fields},
    )


@role_required(Perm.VIEW)
@require_POST
def campaign_example(request: HttpRequest) -> HttpResponse:
    """The What or When textarea with the example for the chosen channel/type or delivery.

    The user's own text is kept: the example replaces only a section that is empty or still holds
    the example it was last filled with. (POST, because a section can be longer than a URL may be.)
    """
    part = request.POST.get("part")
    if part not in ("what", "when"):
        raise Http404("Examples exist for What and When.")
    if part == "what":
        example = examples.example_what(
            request.POST.get("channel", ""), request.POST.get("type", "")
        )
    else:
        example = examples.example_when(request.POST.get("delivery", ""))
    current = request.POST.get(part, "")
    pristine = request.POST.get(f"{part}_pristine", "")
    form = CampaignForm(initial={part: example})
    if _same_json(current, pristine) or not current.strip():
        value, pristine, note = json_text(example), json_text(example), ""
    else:
        value, note = current, "Your edits were kept; clear the field to get the example."
    return render(
        request,
        "campaigns/_json_field.html",
        {
            "field": form[part],
            "value": value,
            "pristine": pristine,
            "note": note,
        },
    )


def _same_json(a: str, b: str) -> bool:
    try:
        return json.loads(a) == json.loads(b)
    except (json.JSONDecodeError, TypeError):
        return a.strip() == b.strip()


# ---------------------------------------------------------------------------------------------
# Actions on one campaign: GET asks for confirmation where one is needed, POST does it.
# ---------------------------------------------------------------------------------------------
ACTION_TEXT: dict[Action, dict[str, str]] = {
    Action.STOP: {
        "title": "Stop this campaign?",
        "warning": "Stopping is final: the campaign cannot be resumed or paused. "
        "To send it again, clone it.",
        "button": "Stop campaign",
    },
    Action.ARCHIVE: {
        "title": "Archive this campaign?",
        "warning": "Archived campaigns are read-only. To work on it again, clone it.",
        "button": "Archive campaign",
    },
}


def _action_view(
    action: Action, service: Callable[..., Campaign], success: str
) -> Callable[..., HttpResponse]:
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        campaign = _get_campaign(request, pk)
        if request.method == "GET":
            if action not in ACTION_TEXT:
                return redirect("campaigns:detail", pk=campaign.pk)
            context = {
                "campaign": campaign,
                "action": action.value,
                "text": ACTION_TEXT[action],
                "verdict": rules.action_verdict(campaign, action),
                "in_dialog": _is_htmx(request),
            }
            template = (
                "campaigns/_action_confirm.html"
                if _is_htmx(request)
                else "campaigns/action_confirm.html"
            )
            return render(request, template, context)
        try:
            result = service(actor=request.user, campaign_id=campaign.pk)
        except DomainError as exc:
            report_error(request, exc)
            return redirect("campaigns:detail", pk=campaign.pk)
        messages.success(
            request, success.format(campaign=result, status=result.get_status_display())
        )
        return HttpResponseRedirect(reverse("campaigns:detail", kwargs={"pk": result.pk}))

    view.__name__ = view.__qualname__ = f"campaign_{action.value}"
    return role_required(ACTION_PERMS[action])(require_http_methods(["GET", "POST"])(view))


campaign_publish = _action_view(
    Action.PUBLISH, services.campaign_publish, "Published: the campaign is now {status}."
)
campaign_stop = _action_view(
    Action.STOP, services.campaign_stop, "The campaign was stopped for good."
)
campaign_clone = _action_view(
    Action.CLONE, services.campaign_clone, "Cloned: this is the new draft “{campaign.name}”."
)
campaign_archive = _action_view(
    Action.ARCHIVE, services.campaign_archive, "The campaign was archived; it is read-only now."
)
