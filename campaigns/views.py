"""The campaign pages. Each view checks the role, fetches what the user may see, calls one service
and renders; the rules and their reasons come from campaigns.rules, never from here."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    QueryDict,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import role_required
from accounts.roles import Perm, has_perm
from approvals import display as approval_display
from approvals import policy
from approvals import services as approval_services
from approvals.forms import RequestForm
from audience import segment_services
from campaigns import examples, selectors, services
from campaigns.choices import Action, CampaignType, Channel, Delivery, Status
from campaigns.filters import (
    CHANNEL_GROUPS,
    DEFAULT_ORDERING,
    FILTER_PARAMETERS,
    QUICK_FILTERS,
    CampaignFilterSet,
    ListValueField,
    cleaned_without_errors,
    filter_errors,
)
from campaigns.forms import BulkForm, BulkLabelsForm, CampaignForm, json_text
from campaigns.models import Campaign, CampaignAudit
from campaigns.saved_filters import saved_filter_query, saved_filters_for  # saved filters
from campaigns.services import EDITABLE_FIELDS, MAX_BULK
from campaigns.templatetags.herald import audit_details
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


def error_lines(exc: DomainError, form: forms.Form | None = None) -> list[str]:
    """A domain error as the lines a form or dialog shows: its message, then each detail (those
    about one of the form's fields go next to that field instead)."""
    lines = [exc.message]
    for path, msgs in exc.errors.items():
        for message in msgs:
            if form is not None and path in form.fields:
                form.add_error(path, message)
            else:
                lines.append(f"{path}: {message}")
    return lines


# What the campaign page's buttons say, where the action's own name does not read well.
BUTTON_LABELS: dict[Action, str] = {
    Action.SUBMIT: "Send for approval",
    Action.WITHDRAW: "Withdraw request",
}
BUTTON_STYLES: dict[Action, str] = {
    Action.EDIT: "outline",
    Action.SUBMIT: "primary",
    Action.PUBLISH: "primary",
    Action.APPROVE: "primary",
    Action.REJECT: "outline danger",
    Action.STOP: "outline danger",
}


@dataclass(frozen=True)
class Button:
    action: Action
    allowed: bool
    reason: str
    url: str = ""
    # "link": a page; "dialog": a confirmation first (a page without JavaScript); "post": at once.
    kind: str = "post"

    @property
    def key(self) -> str:
        return str(self.action.value)

    @property
    def label(self) -> str:
        return BUTTON_LABELS.get(self.action, self.action.name.title())

    @property
    def style(self) -> str:
        return BUTTON_STYLES.get(self.action, "outline secondary")


ACTION_PERMS: dict[Action, Perm] = {
    Action.EDIT: Perm.EDIT,
    Action.PUBLISH: Perm.PUBLISH,
    Action.STOP: Perm.STOP,
    Action.CLONE: Perm.CLONE,
    Action.ARCHIVE: Perm.ARCHIVE,
}


def _verdict(user: Any, campaign: Campaign, action: Action) -> policy.Verdict:
    """The rules' verdict on one action for this user now (the role's refusal first)."""
    return policy.campaign_rules(campaign, user).actions[action]


# ---------------------------------------------------------------------------------------------
# All Campaigns
# ---------------------------------------------------------------------------------------------
# How a parameter is named on the page: in the active-filter chips and in the notes about values
# the filters ignored.
PARAM_TITLES: dict[str, str] = {
    "status": "Status",
    "channel": "Channel",
    "channel_group": "Channel",
    "type": "Type",
    "delivery": "Delivery",
    "created_by": "Created by",
    "label": "Label",
    "q": "Search",
    "archived": "Archived",
    "created_after": "Created from",
    "created_before": "Created until",
    "last_active_after": "Last active from",
    "last_active_before": "Last active until",
    "quick": "Quick filter",
    "ordering": "Sort",
}
# The drawer's parameters, in the order their chips are shown above the table. (`channel`, one
# channel, is the API's; a link may carry it, so it gets a chip too.)
DRAWER_PARAMS = (
    "channel_group",
    "channel",
    "type",
    "status",
    "delivery",
    "created_by",
    "label",
    "last_active_after",
    "last_active_before",
    "created_after",
    "created_before",
)
# The first click on a column header: names and statuses A→Z, dates newest first.
SORT_FIRST = {"name": "", "status": "", "last_active_at": "-", "created_at": "-"}
# Bookmarks from before the toggle said "all".
LEGACY_ARCHIVED_ON = ("1", "on", "yes")
# Parameters the filter form has no field for, sent along as they are when it is submitted.
CARRIED_PARAMS = ("quick", "ordering", "channel")


@dataclass(frozen=True)
class QuickFilter:
    value: str  # "" is "All"
    label: str
    count: int
    active: bool
    url: str


@dataclass(frozen=True)
class Chip:
    group: str
    text: str
    url: str  # this page without that one value


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    checked: bool
    count: int = 0


@dataclass(frozen=True)
class ListQuery:
    """The All Campaigns page's state, read from a query string.

    `filterset` is valid: values it could not understand were left out and are described in
    `problems`. `query` holds the parameters that remain, one value per repeat (no commas), in the
    same order every time; links, chips and the bulk form's "all matching" are built from it.
    """

    filterset: CampaignFilterSet
    query: QueryDict
    problems: list[str]

    @property
    def cleaned(self) -> dict[str, Any]:
        return self.filterset.form.cleaned_data


def _list_query(request: HttpRequest, raw: QueryDict) -> ListQuery:
    """The page's state from a query string (the page's own, or the one a bulk request sends
    for "all matching"), read by the FilterSet the API uses too."""
    data = raw.copy()
    data.pop("page", None)
    if data.get("archived", "").strip().lower() in LEGACY_ARCHIVED_ON:
        data["archived"] = "all"
    queryset = Campaign.objects.visible_to(request.user)
    problems: list[str] = []
    # Each pass leaves out the values the last one refused. Refusals can come in turns: a label
    # id is checked for its form before anyone looks it up, so with `label=abc&label=999` the
    # deleted 999 comes to light only once "abc" is gone.
    for _ in range(3):
        filterset = CampaignFilterSet(data, queryset=queryset, request=request)
        if filterset.is_valid():
            return ListQuery(filterset, _normal_query(filterset), problems)
        problems += _problems(filter_errors(filterset))
        data = _without_refused(filterset, data)
    # Never reached with the filters as they are; if it were, whole parameters go.
    filterset, errors = cleaned_without_errors(data, queryset=queryset, request=request)
    return ListQuery(filterset, _normal_query(filterset), problems + _problems(errors))


def _problems(errors: dict[str, list[str]]) -> list[str]:
    return [
        f"{PARAM_TITLES.get(name, name)}: {message}"
        for name, messages in errors.items()
        for message in messages
    ]


def _without_refused(filterset: CampaignFilterSet, data: QueryDict) -> QueryDict:
    """`data` without the values the FilterSet refused: of a list parameter only the bad values
    (each refusal names its value), of any other parameter the whole of it."""
    data = data.copy()
    for name, refusals in filterset.errors.as_data().items():
        field = filterset.form.fields.get(name)
        bad = {r.params["value"] for r in refusals if r.params and "value" in r.params}
        keep: list[str] = []
        if isinstance(field, ListValueField) and len(bad) == len(refusals):
            values = field.to_python(field.widget.value_from_datadict(data, {}, name))
            keep = [value for value in values if value not in bad]
        if keep:
            data.setlist(name, keep)
        else:
            data.pop(name, None)
    return data


def _normal_query(filterset: CampaignFilterSet) -> QueryDict:
    """The filter parameters of a valid FilterSet, lists as repeated parameters, empties left out."""
    query = QueryDict(mutable=True)
    for name in FILTER_PARAMETERS:
        field = filterset.form.fields[name]
        if isinstance(field, ListValueField):
            values = field.to_python(field.widget.value_from_datadict(filterset.data, {}, name))
            if values:
                query.setlist(name, values)
        elif value := str(filterset.data.get(name) or "").strip():
            query[name] = value
    return query


def _list_url(
    query: QueryDict,
    *,
    drop: Iterable[str] = (),
    without: tuple[str, str] | None = None,
    set_to: tuple[str, str] | None = None,
) -> str:
    """The list (page 1) with `query`, minus the parameters in `drop` or the one value
    `without`, or with one parameter `set_to` a value."""
    query = query.copy()
    for key in drop:
        query.pop(key, None)
    if without is not None:
        key, value = without
        query.setlist(key, [v for v in query.getlist(key) if v != value])
    if set_to is not None:
        query[set_to[0]] = set_to[1]
    text = query.urlencode()
    return reverse("campaigns:list") + (f"?{text}" if text else "")


@role_required(Perm.VIEW)
def campaign_list(request: HttpRequest) -> HttpResponse:
    state = _list_query(request, request.GET)
    filterset, query, cleaned = state.filterset, state.query, state.cleaned
    # The chip counts hold the page's total too: no second COUNT(*) over the same rows.
    counts = selectors.list_counts(
        user=request.user, filterset_data=query, request=request, filterset=filterset
    )
    paginator = Paginator(selectors.campaign_page_rows(filterset.qs), PAGE_SIZE)
    paginator.count = counts["total"]
    page = paginator.get_page(request.GET.get("page"))

    # "All" shows what choosing it would: the statuses ticked in the drawer, without a quick filter.
    statuses = cleaned.get("status") or Status.values
    quick = cleaned.get("quick") or ""
    quick_filters = [
        QuickFilter(
            "",
            "All",
            sum(counts["status"][s] for s in statuses),
            not quick,
            _list_url(query, drop=["quick"]),
        )
    ] + [
        QuickFilter(
            key, label, counts["quick"][key], quick == key, _list_url(query, set_to=("quick", key))
        )
        for key, label in QUICK_FILTERS.items()
    ]
    labels = label_choices()
    label_names = dict(labels)
    chips = _active_chips(query, label_names)
    clear_url = _list_url(query, drop=DRAWER_PARAMS)
    ordering = cleaned.get("ordering") or DEFAULT_ORDERING
    return render(
        request,
        "campaigns/list.html",
        {
            "page": page,
            "page_range": page.paginator.get_elided_page_range(
                page.number, on_each_side=2, on_ends=1
            ),
            "total": counts["total"],
            "query": query,
            "ordering": ordering,
            "sort_first": SORT_FIRST,
            "show_archived": cleaned.get("archived") in ("all", "true"),
            "is_filtered": bool(set(query) - {"ordering", "archived"}),
            "filter_problems": state.problems,
            "carried": [(key, value) for key in CARRIED_PARAMS for value in query.getlist(key)],
            "quick_filters": quick_filters,
            "drawer": _drawer(query, cleaned, counts["status"], label_names),
            "labels": labels,
            "active_chips": chips,
            "filter_count": len(chips),
            "clear_url": clear_url,
            "max_bulk": MAX_BULK,
            "bulk_results": request.session.pop(BULK_RESULTS_KEY, None),
            # Saved filters (templates/campaigns/_saved_filters.html): the user's, and this view's.
            "saved_filters": saved_filters_for(request.user),
            "current_query": saved_filter_query(request.GET),
            "can": {
                perm: has_perm(request.user, Perm(perm))
                for perm in ("create", "edit", "stop", "archive", "clone")
            },
        },
    )


def _drawer(
    query: QueryDict,
    cleaned: dict[str, Any],
    status_counts: dict[str, int],
    label_names: dict[int, str],
) -> dict[str, Any]:
    """The drawer's options with what is ticked, its chips and its dates."""

    def options(name: str, choices: Iterable[tuple[str, str]]) -> list[Option]:
        chosen = set(query.getlist(name))
        return [Option(value, label, value in chosen) for value, label in choices]

    label_ids = cleaned.get("label") or []
    return {
        "channel_group": options(
            "channel_group", [(key, label) for key, (label, _) in CHANNEL_GROUPS.items()]
        ),
        "type": options("type", CampaignType.choices),
        "status": [
            Option(value, label, value in query.getlist("status"), status_counts.get(value, 0))
            for value, label in Status.choices
        ],
        "delivery": options("delivery", Delivery.choices),
        # As typed (e-mails), not as resolved (user ids): that is what the chips say.
        "created_by": query.getlist("created_by"),
        "label": [(pk, label_names.get(pk, f"#{pk}")) for pk in label_ids],
        "label_ids": label_ids,
        "created_after": query.get("created_after", ""),
        "created_before": query.get("created_before", ""),
        "last_active_after": query.get("last_active_after", ""),
        "last_active_before": query.get("last_active_before", ""),
    }


def _active_chips(query: QueryDict, label_names: dict[int, str]) -> list[Chip]:
    """One removable chip per drawer value, each a link to the list without it."""
    names: dict[str, dict[str, str]] = {
        "channel_group": {key: label for key, (label, _) in CHANNEL_GROUPS.items()},
        "channel": dict(Channel.choices),
        "type": dict(CampaignType.choices),
        "status": dict(Status.choices),
        "delivery": dict(Delivery.choices),
        "label": {str(pk): name for pk, name in label_names.items()},
    }
    chips = []
    for key in DRAWER_PARAMS:
        for value in query.getlist(key):
            if key.endswith(("_after", "_before")):
                text = _day_text(value)
            else:
                text = names.get(key, {}).get(value, value)
            chips.append(Chip(PARAM_TITLES[key], text, _list_url(query, without=(key, value))))
    return chips


def _day_text(value: str) -> str:
    try:
        return dt.date.fromisoformat(value).strftime("%-d %b %Y")
    except ValueError:
        return value


# ---------------------------------------------------------------------------------------------
# The drawer's type-aheads: a fragment of options for htmx, JSON for anything else.
# ---------------------------------------------------------------------------------------------
TYPEAHEAD_LIMIT = 20


def _typeahead(request: HttpRequest, field: str, options: list[tuple[Any, str]]) -> HttpResponse:
    more = len(options) > TYPEAHEAD_LIMIT
    options = options[:TYPEAHEAD_LIMIT]
    q = request.GET.get("q", "").strip()[:200]
    if _is_htmx(request):
        return render(
            request,
            "campaigns/_typeahead_options.html",
            {"field": field, "options": options, "more": more, "q": q},
        )
    return JsonResponse(
        {"results": [{"value": value, "text": text} for value, text in options], "more": more}
    )


@role_required(Perm.VIEW)
@require_GET
def campaign_creators(request: HttpRequest) -> HttpResponse:
    """Users who created a campaign the requester may see, whose e-mail contains `q`, by e-mail;
    at most 20, leaving out those already chosen (`created_by`)."""
    q = request.GET.get("q", "").strip()[:200]
    chosen = {value.strip().lower() for value in request.GET.getlist("created_by")}
    created = Campaign.objects.visible_to(request.user).filter(created_by=OuterRef("pk"))
    users = get_user_model().objects.filter(Exists(created)).exclude(email="")
    if q:
        users = users.filter(email__icontains=q)
    emails = users.order_by("email").values_list("email", flat=True)
    found = [e for e in emails[: TYPEAHEAD_LIMIT + 1 + len(chosen)] if e.lower() not in chosen]
    return _typeahead(request, "created_by", [(e, e) for e in found])


@role_required(Perm.VIEW)
@require_GET
def campaign_label_options(request: HttpRequest) -> HttpResponse:
    """Labels whose name contains `q`, by name; at most 20, leaving out those already chosen."""
    q = request.GET.get("q", "").strip()[:200]
    chosen = [int(v) for v in request.GET.getlist("label") if v.isascii() and v.isdigit()]
    labels = Label.objects.exclude(pk__in=[pk for pk in chosen if pk < 2**63])
    if q:
        labels = labels.filter(name__icontains=q)
    rows = labels.order_by("name").values_list("pk", "name")[: TYPEAHEAD_LIMIT + 1]
    return _typeahead(request, "label", list(rows))


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


# Why a selected id is skipped when it names no campaign the user can see. The same words for a
# campaign deleted since the page was shown and one the user may not see, so ids tell nothing.
NOT_FOUND_REASON = "Not found: it does not exist, or you may not see it."
# How many names each refusal line of a confirmation lists before "and N more".
NAMES_SHOWN = 5


@dataclass(frozen=True)
class Selection:
    """The campaigns a bulk request is about, as ids in the order to act on them."""

    ids: list[str]
    matching: bool  # resolved from the list's filters ("select all N matching")
    error: str = ""


def _selection(request: HttpRequest) -> Selection:
    """The ticked boxes (`ids`, or `id_list`, comma-separated, as a confirmation sends them back:
    one field, where a thousand would pass Django's limit on fields per request); or with
    scope=matching every campaign that the list's filters (`query`) match, found with the page's
    FilterSet in the list's order, at most MAX_BULK of them."""
    if request.POST.get("scope") != "matching":
        ids = request.POST.getlist("ids")
        ids += [part.strip() for part in request.POST.get("id_list", "").split(",") if part.strip()]
        return Selection(ids, matching=False)
    state = _list_query(request, QueryDict(request.POST.get("query", "")))
    found = list(state.filterset.qs.values_list("pk", flat=True)[: MAX_BULK + 1])
    if len(found) > MAX_BULK:
        return Selection(
            [],
            matching=True,
            error=f"More than {MAX_BULK:,} campaigns match these filters, and a bulk action "
            f"takes at most {MAX_BULK:,} at once. Narrow the filters and try again; nothing "
            "was changed.",
        )
    if not found:
        return Selection(
            [], matching=True, error="No campaign matches these filters any more; nothing changed."
        )
    return Selection([str(pk) for pk in found], matching=True)


def _with_ids(request: HttpRequest, ids: list[str]) -> QueryDict:
    data = request.POST.copy()
    data.setlist("ids", ids)
    return data


@dataclass(frozen=True)
class Refusal:
    reason: str
    names: list[str]

    @property
    def count(self) -> int:
        return len(self.names)

    @property
    def shown(self) -> str:
        """The first few names, for "2 will be skipped: Drafts … (Promo, Digest)"."""
        names = ", ".join(self.names[:NAMES_SHOWN])
        rest = len(self.names) - NAMES_SHOWN
        return f"{names} and {rest} more" if rest > 0 else names


def _refusals(pairs: Iterable[tuple[str, str]]) -> list[Refusal]:
    """(name, reason) pairs grouped by reason, in the order reasons first appear."""
    grouped: dict[str, list[str]] = {}
    for name, reason in pairs:
        grouped.setdefault(reason, []).append(name)
    return [Refusal(reason, names) for reason, names in grouped.items()]


@role_required(Perm.VIEW)
@require_POST
def campaign_bulk(request: HttpRequest) -> HttpResponse:
    """Step 1 (no `confirm`): say what would happen to each selected campaign. Step 2: do it."""
    back = _safe_next(request, reverse("campaigns:list"))
    selection = _selection(request)
    if selection.error:
        messages.error(request, selection.error)
        return _go(request, back)
    form = BulkForm(_with_ids(request, selection.ids))
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return _go(request, back)
    action, ids = form.cleaned_data["action"], form.cleaned_data["ids"]

    if "confirm" not in request.POST:
        campaigns = selectors.campaigns_by_ids(user=request.user, ids=ids)
        found = {c.pk for c in campaigns}
        missing = [pk for pk in ids if pk not in found]
        answers = policy.campaigns_rules(campaigns, request.user)
        rows = [(c, a.actions[Action(action)]) for c, a in zip(campaigns, answers, strict=True)]
        refusals = _refusals(
            [(c.name, v.reason) for c, v in rows if not v.allowed]
            + [(f"#{pk}", NOT_FOUND_REASON) for pk in missing]
        )
        context = {
            "action": action,
            "text": BULK_TEXT[action],
            "rows": rows,
            "missing": missing,
            "selected_count": len(ids),
            "matching": selection.matching,
            # Every id goes back, the missing ones too, so each gets its line in the results.
            "id_list": ",".join(str(pk) for pk in ids),
            "next": back,
            "allowed_count": sum(1 for _, v in rows if v.allowed),
            "refusals": refusals,
            "not_found_reason": NOT_FOUND_REASON,
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
        return _go(request, back)
    request.session[BULK_RESULTS_KEY] = {
        "action": action,
        "title": BULK_TEXT[action]["title"],
        "done": sum(1 for r in results if r.ok),
        "refused": sum(1 for r in results if not r.ok),
        "rows": [
            {
                "id": r.id,
                "name": r.name or names.get(r.id, f"Campaign #{r.id}"),
                "ok": r.ok,
                "code": r.code,
                "found": r.id in names,
                "message": r.message,
                "clone_id": r.extra.get("clone_id"),
                "clone_name": r.extra.get("clone_name"),
            }
            for r in results
        ],
    }
    return _go(request, back)


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
    selection = _selection(request)
    if selection.error:
        messages.error(request, selection.error)
        return _go(request, back)
    form = BulkLabelsForm(_with_ids(request, selection.ids))
    form.is_valid()
    if "op" in form.errors or "ids" in form.errors:
        for error in form.errors.get("op", []) + form.errors.get("ids", []):
            messages.error(request, error)
        return _go(request, back)
    op, ids = form.cleaned_data["op"], form.cleaned_data["ids"]
    campaigns = selectors.campaigns_by_ids(user=request.user, ids=ids)
    missing = len(ids) - len(campaigns)
    if not campaigns:
        messages.error(request, "None of the selected campaigns exist any more.")
        return _go(request, back)
    answers = policy.campaigns_rules(campaigns, request.user)
    rows = [(c, policy.labels_reason(a)) for c, a in zip(campaigns, answers, strict=True)]

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
    if missing:
        refusals[NOT_FOUND_REASON] = missing
    context = {
        "op": op,
        "text": LABELS_TEXT[op],
        "rows": rows,
        # Every id goes back, the missing ones too, so each gets its line in the results.
        "id_list": ",".join(str(pk) for pk in ids),
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
                "name": r.name or campaign_names.get(r.id, f"Campaign #{r.id}"),
                "ok": r.ok,
                "code": r.code,
                "found": r.id in campaign_names,
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
    answer = policy.campaign_rules(campaign, request.user)
    workflow = None
    if answer.request is not None:
        workflow = {
            "request": answer.request,
            "diff": approval_display.request_diff(answer.request, campaign),
        }
    return render(
        request,
        "campaigns/detail.html",
        {
            "campaign": campaign,
            "rules": answer,
            # Keyed by plain strings so templates can say sections.what.
            "sections": {str(s.value): r for s, r in answer.sections.items()},
            "buttons": _buttons(request.user, campaign, answer),
            "workflow": workflow,
            "timeline": _timeline(campaign),
        },
    )


def _buttons(user: Any, campaign: Campaign, answer: policy.CampaignRules) -> list[Button]:
    """The rules' actions as the page offers them: the ones that mean something for this
    campaign and user now, each allowed or disabled with its reason."""
    buttons = []
    for action in policy.ACTIONS:
        verdict = answer.actions[action]
        if _offered(action, verdict, campaign, answer, user):
            url, kind = _button_target(action, campaign, answer)
            buttons.append(Button(action, verdict.allowed, verdict.reason, url, kind))
    return buttons


def _offered(
    action: Action,
    verdict: policy.Verdict,
    campaign: Campaign,
    answer: policy.CampaignRules,
    user: Any,
) -> bool:
    pending = campaign.status == Status.PENDING_APPROVAL
    if action == Action.SUBMIT:
        return verdict.allowed or (
            answer.approval_on and campaign.status in (Status.DRAFT, Status.REJECTED)
        )
    if action == Action.PUBLISH:
        # With approval on, a Marketer's Publish is "Send for approval"; a pending campaign is
        # approved, not published.
        submit = answer.actions[Action.SUBMIT]
        return not pending and not (verdict.code == "approval_required" and submit.allowed)
    if action in (Action.APPROVE, Action.REJECT):
        return pending and has_perm(user, Perm.APPROVE)
    if action == Action.WITHDRAW:
        return pending and (verdict.allowed or not has_perm(user, Perm.APPROVE))
    return True


def _button_target(
    action: Action, campaign: Campaign, answer: policy.CampaignRules
) -> tuple[str, str]:
    here = reverse("campaigns:detail", kwargs={"pk": campaign.pk})
    if action in (Action.APPROVE, Action.REJECT, Action.WITHDRAW):
        if answer.request is None:
            return "", "dialog"
        url = reverse(f"approvals:{action.value}", kwargs={"pk": answer.request.pk})
        return f"{url}?{QueryDict.fromkeys(['next'], here).urlencode()}", "dialog"
    url = reverse(f"campaigns:{action.value}", kwargs={"pk": campaign.pk})
    if action == Action.EDIT:
        return url, "link"
    if action in (Action.SUBMIT, Action.STOP, Action.ARCHIVE):
        return url, "dialog"
    if action == Action.PUBLISH and campaign.live_status:
        # Publishing rejected changes of a live campaign says first what it changes (and may ask
        # when the next run happens).
        return url, "dialog"
    return url, "post"


# Keys an audit row of the workflow carries besides content changes (approvals.services).
WORKFLOW_KEYS = frozenset({"request", "kind", "note", "approvers", "comment", "why", "changes"})


@dataclass(frozen=True)
class _AuditView:
    """An audit row narrowed to some of its changes, for campaigns' audit_details."""

    action: str
    changes: dict[str, Any]


def _timeline(campaign: Campaign) -> list[CampaignAudit]:
    entries = selectors.campaign_timeline(campaign=campaign)
    for entry in entries:
        entry.lines = _timeline_lines(entry)  # type: ignore[attr-defined]
    return entries


def _timeline_lines(entry: CampaignAudit) -> list[dict[str, str | None]]:
    """What an audit row says under its heading: content changes as the editor's lines, then
    the workflow's note, chosen approvers, comment and reason, and a link to the request."""
    changes = entry.changes or {}
    content = {k: v for k, v in changes.items() if k in EDITABLE_FIELDS}
    other = {
        k: v for k, v in changes.items() if k not in EDITABLE_FIELDS and k not in WORKFLOW_KEYS
    }
    lines: list[dict[str, str | None]] = []
    if content:
        lines += audit_details(_AuditView(Action.EDIT, content))  # type: ignore[arg-type]
    proposed = changes.get("changes")
    if entry.action == Action.REVISE and isinstance(proposed, dict):
        for line in audit_details(_AuditView(Action.EDIT, proposed)):  # type: ignore[arg-type]
            lines.append({"text": f"Proposed: {line['text']}", "url": None})
    if other:
        lines += audit_details(_AuditView(entry.action, other))  # type: ignore[arg-type]
    for key, title in (("note", "Note"), ("comment", "Comment")):
        if isinstance(changes.get(key), str) and changes[key]:
            lines.append({"text": f"{title}: “{changes[key]}”", "url": None})
    if isinstance(changes.get("approvers"), list) and changes["approvers"]:
        lines.append({"text": "Asked: " + ", ".join(map(str, changes["approvers"])), "url": None})
    if isinstance(changes.get("why"), str) and changes["why"]:
        lines.append({"text": changes["why"], "url": None})
    request_id = changes.get("request")
    if isinstance(request_id, int):
        text = (
            f"In the changes awaiting approval (request #{request_id})"
            if entry.action == Action.EDIT
            else f"Approval request #{request_id}"
        )
        url = reverse("approvals:request", kwargs={"pk": request_id})
        lines.append({"text": text, "url": url})
    return lines


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


@dataclass(frozen=True)
class EditPlan:
    """Where the edit page's changes go, by the rules for this user now.

    "direct": into the campaign (campaign_update). "propose": into a proposal that needs approval
    (campaign_propose: a new request, or the pending one updated); the live campaign runs as it
    is. "publish": an approver publishing the rejected changes of a live campaign with their own
    edits (campaign_publish), choosing today or tomorrow after the scheduled time.
    """

    kind: str
    base: dict[str, Any] | None = None  # what a proposal's changes are compared with
    pending: bool = False  # a request awaits approval already: the changes update it

    @property
    def opens_request(self) -> bool:
        return self.kind == "propose" and not self.pending


def _edit_plan(campaign: Campaign, answer: policy.CampaignRules) -> EditPlan:
    if answer.mode != policy.Mode.REVISION:
        return EditPlan("direct")
    base = approval_services._proposal_base(campaign, answer)
    pending = answer.request is not None and answer.request.is_pending
    if not pending and answer.role == policy.Role.APPROVER and answer.allowed(Action.PUBLISH):
        return EditPlan("publish", base)
    return EditPlan("propose", base, pending)


def _changed(data: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """The fields of the form that differ from the proposal they build on."""
    out = {}
    for key, value in data.items():
        old = base.get(key)
        if key == "labels":
            same = sorted(value or []) == sorted(old or [])
        else:
            same = value == old
        if not same:
            out[key] = value
    return out


RUN_ON_LEGEND = "When does the next run happen?"


def run_on_choices(campaign: Campaign, answer: policy.CampaignRules) -> list[tuple[str, str]]:
    """Today or tomorrow, when the rules ask an approver to choose (after the scheduled time)."""
    if answer.notice != policy.Notice.RUN_TODAY_OR_TOMORROW:
        return []
    usual = (answer.request.target_run_at if answer.request else None) or campaign.next_run_at
    at = f" at {timezone.localtime(usual):%H:%M %Z}" if usual else ""
    return [
        ("today", f"Today{at} (at once if that time has passed)"),
        ("tomorrow", f"Tomorrow{at}"),
    ]


@role_required(Perm.EDIT)
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _get_campaign(request, pk)
    answer = policy.campaign_rules(campaign, request.user)
    verdict = answer.actions[Action.EDIT]
    if not verdict.allowed:
        messages.error(request, verdict.reason)
        return redirect("campaigns:detail", pk=campaign.pk)
    plan = _edit_plan(campaign, answer)
    data = request.POST if request.method == "POST" else None
    form = CampaignForm.for_campaign(campaign, data, sections=answer.sections, content=plan.base)
    request_form = (
        RequestForm(data, actor=request.user, prefix="request") if plan.opens_request else None
    )
    choices = run_on_choices(campaign, answer) if plan.kind == "publish" else []
    if request.method == "POST" and form.is_valid():
        if request_form is None or request_form.is_valid():
            done = _save_edit(request, campaign, form, plan, request_form)
            if done is not None:
                messages.success(request, done)
                return redirect("campaigns:detail", pk=campaign.pk)
    return _render_form(
        request,
        form,
        campaign,
        rules=answer,
        plan=plan,
        request_form=request_form,
        choices=choices,
    )


def _save_edit(
    request: HttpRequest,
    campaign: Campaign,
    form: CampaignForm,
    plan: EditPlan,
    request_form: RequestForm | None,
) -> str | None:
    """Save the form as the plan says; the success message, or None (errors are on the form)."""
    try:
        with transaction.atomic():
            data = _with_new_labels(request, form)
            if plan.kind == "direct":
                services.campaign_update(actor=request.user, campaign_id=campaign.pk, data=data)
                return "Your changes were saved."
            assert plan.base is not None
            changed = _changed(data, plan.base)
            if plan.kind == "publish":
                result = services.campaign_publish(
                    actor=request.user,
                    campaign_id=campaign.pk,
                    data=changed,
                    run_on=request.POST.get("run_on") or None,
                )
                return _published_message(result)
            if not changed:
                form.add_error(None, "Nothing changed: there is nothing to send for approval.")
                return None
            extra = request_form.service_kwargs() if request_form is not None else {}
            approval_services.campaign_propose(
                actor=request.user, campaign_id=campaign.pk, data=changed, **extra
            )
    except DomainError as exc:
        form.add_service_errors(exc.errors, exc.message)
        return None
    if plan.pending:
        return "The changes awaiting approval were updated; the request stays pending."
    return (
        "Your changes were sent for approval. The live campaign keeps running as it is until "
        "they are approved."
    )


def _published_message(campaign: Campaign) -> str:
    text = f"Published: the campaign is now {campaign.get_status_display()}."
    if campaign.next_run_at:
        text += f" Next run: {approval_display.moment(campaign.next_run_at)}."
    return text


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
    request: HttpRequest,
    form: CampaignForm,
    campaign: Campaign | None,
    *,
    rules: policy.CampaignRules | None = None,
    plan: EditPlan | None = None,
    request_form: RequestForm | None = None,
    choices: list[tuple[str, str]] | None = None,
) -> HttpResponse:
    json_fields = [
        (form[name], JSON_HELP[name], form[f"{name}_pristine"].value()) for name in JSON_HELP
    ]
    return render(
        request,
        "campaigns/form.html",
        {
            "form": form,
            "campaign": campaign,
            "json_fields": json_fields,
            "rules": rules,
            "plan": plan,
            "request_form": request_form,
            "choices": choices or [],
            "choices_legend": RUN_ON_LEGEND,
            "chosen": request.POST.get("run_on", ""),
            "who_builder": segment_services.who_builder_options(),
        },
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
                "action_url": reverse(f"campaigns:{action.value}", kwargs={"pk": campaign.pk}),
                "text": ACTION_TEXT[action],
                "verdict": _verdict(request.user, campaign, action),
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


@role_required(Perm.PUBLISH)
@require_http_methods(["GET", "POST"])
def campaign_publish(request: HttpRequest, pk: int) -> HttpResponse:
    """Publish a draft at once; publishing the rejected changes of a live campaign (approvers)
    asks first, saying what changes, and after the scheduled time whether the next run is today
    or tomorrow."""
    campaign = _get_campaign(request, pk)
    here = reverse("campaigns:detail", kwargs={"pk": campaign.pk})
    if request.method == "POST":
        try:
            result = services.campaign_publish(
                actor=request.user,
                campaign_id=campaign.pk,
                run_on=request.POST.get("run_on") or None,
            )
        except DomainError as exc:
            report_error(request, exc)
            return redirect(here)
        messages.success(request, _published_message(result))
        return redirect(here)
    if not campaign.live_status:
        return redirect(here)
    answer = policy.campaign_rules(campaign, request.user)
    live = campaign.get_live_status_display()
    outcome = (
        f"Publishing applies the rejected changes to the live campaign at once; it stays {live}."
    )
    context = {
        "campaign": campaign,
        "action": "publish",
        "action_url": reverse("campaigns:publish", kwargs={"pk": campaign.pk}),
        "text": {
            "title": "Publish the rejected changes?",
            "outcome": outcome,
            "warning": answer.notice_text,
            "button": "Publish changes",
        },
        "verdict": answer.actions[Action.PUBLISH],
        "choices": run_on_choices(campaign, answer),
        "choices_legend": RUN_ON_LEGEND,
        "next": here,
        "in_dialog": _is_htmx(request),
    }
    template = (
        "campaigns/_action_confirm.html" if _is_htmx(request) else "campaigns/action_confirm.html"
    )
    return render(request, template, context)


@role_required(Perm.EDIT)
@require_http_methods(["GET", "POST"])
def campaign_submit(request: HttpRequest, pk: int) -> HttpResponse:
    """Send a campaign for approval, with an optional note and chosen approvers: the dialog says
    first what happens."""
    campaign = _get_campaign(request, pk)
    here = reverse("campaigns:detail", kwargs={"pk": campaign.pk})
    data = request.POST if request.method == "POST" else None
    form = RequestForm(data, actor=request.user, auto_id="submit-%s")
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            approval_services.campaign_submit(
                actor=request.user, campaign_id=campaign.pk, **form.service_kwargs()
            )
        except DomainError as exc:
            if not _is_htmx(request):
                report_error(request, exc)
                return redirect(here)
            errors = error_lines(exc, form)
        else:
            messages.success(
                request,
                "Sent for approval: approvers are e-mailed, and the campaign shows Approval "
                "Pending until one of them decides.",
            )
            return _go(request, here)
    answer = policy.campaign_rules(campaign, request.user)
    context = {
        "campaign": campaign,
        "action": "submit",
        "action_url": reverse("campaigns:submit", kwargs={"pk": campaign.pk}),
        "text": {
            "title": "Send for approval?",
            "outcome": approval_display.submit_outcome(campaign),
            "button": "Send for approval",
        },
        "verdict": answer.actions[Action.SUBMIT],
        "form": form,
        "errors": errors,
        "next": here,
        "in_dialog": _is_htmx(request),
        "htmx_form": True,
    }
    template = (
        "campaigns/_action_confirm.html" if _is_htmx(request) else "campaigns/action_confirm.html"
    )
    return render(request, template, context)


campaign_stop = _action_view(
    Action.STOP, services.campaign_stop, "The campaign was stopped for good."
)
campaign_clone = _action_view(
    Action.CLONE, services.campaign_clone, "Cloned: this is the new draft “{campaign.name}”."
)
campaign_archive = _action_view(
    Action.ARCHIVE, services.campaign_archive, "The campaign was archived; it is read-only now."
)
