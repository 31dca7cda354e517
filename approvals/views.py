"""The approval pages: Settings > Approval, the approver's queue, one request, and the decisions.

Each view checks the role, reads what the user may see, calls one approvals service and renders;
who may do what comes from approvals.policy (through the rules of each campaign), never from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from accounts.decorators import role_required
from accounts.roles import Perm
from approvals import display, policy, queue, services
from approvals.diff import label_names_for
from approvals.forms import ApprovalSettingsForm, DecisionForm
from approvals.models import (
    ApprovalRequest,
    ApprovalSettings,
    ApprovalSettingsChange,
    RequestKind,
    RequestStatus,
)
from campaigns.choices import Action
from campaigns.models import Campaign
from campaigns.views import _go, _is_htmx, _safe_next, error_lines, report_error
from config.errors import DomainError

SETTING_TITLES = {
    "enabled": "Campaign approval",
    "allow_self_approval": "Self-approval",
}


# ---------------------------------------------------------------------------------------------
# Settings > Approval
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SettingChange:
    title: str
    old: str
    new: str


def _history_lines(change: ApprovalSettingsChange) -> list[SettingChange]:
    return [
        SettingChange(
            SETTING_TITLES.get(key, key),
            "on" if values.get("old") else "off",
            "on" if values.get("new") else "off",
        )
        for key, values in (change.changes or {}).items()
        if isinstance(values, dict)
    ]


@role_required(Perm.MANAGE_SETTINGS)
@require_http_methods(["GET", "POST"])
def approval_settings(request: HttpRequest) -> HttpResponse:
    current = ApprovalSettings.current()
    if request.method == "POST":
        form = ApprovalSettingsForm(request.POST)
        if form.is_valid():
            try:
                updated = services.approval_settings_update(
                    actor=request.user,
                    enabled=form.cleaned_data["enabled"],
                    allow_self_approval=form.cleaned_data["allow_self_approval"],
                )
            except DomainError as exc:
                report_error(request, exc)
            else:
                messages.success(request, _settings_message(current, updated))
            return redirect("approval_settings:edit")
    form = ApprovalSettingsForm(
        initial={"enabled": current.enabled, "allow_self_approval": current.allow_self_approval}
    )
    history = [
        (change, _history_lines(change))
        for change in ApprovalSettingsChange.objects.select_related("actor")[:100]
    ]
    return render(
        request,
        "approvals/settings.html",
        {
            "form": form,
            "setting": current,
            "history": history,
            "pending_count": ApprovalRequest.objects.filter(status=RequestStatus.PENDING).count(),
        },
    )


def _settings_message(before: ApprovalSettings, after: ApprovalSettings) -> str:
    parts = []
    if before.enabled != after.enabled:
        parts.append(f"Campaign approval is now {'on' if after.enabled else 'off'}")
    if before.allow_self_approval != after.allow_self_approval:
        parts.append(f"self-approval is now {'allowed' if after.allow_self_approval else 'off'}")
    if not parts:
        return "Nothing changed: the settings were already as chosen."
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


# ---------------------------------------------------------------------------------------------
# The queue
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueRow:
    request: ApprovalRequest
    campaign: Campaign
    rules: policy.CampaignRules
    diff: list[display.DiffRow]
    scheduled_at: Any
    is_past: bool

    @property
    def approve(self) -> policy.Verdict:
        return self.rules.actions[Action.APPROVE]

    @property
    def reject(self) -> policy.Verdict:
        return self.rules.actions[Action.REJECT]


def _queue_rows(requests: list[ApprovalRequest], user: Any) -> list[QueueRow]:
    approval = ApprovalSettings.current()
    now = timezone.now()
    bases = {r.pk: display.request_base(r, r.campaign) for r in requests}
    # One query for every label name any diff shows.
    names = label_names_for(*bases.values(), *(r.proposed or {} for r in requests))
    rows = []
    for item in requests:
        campaign = item.campaign
        answer = policy.campaign_rules(campaign, user, now, approval=approval)
        when = answer.scheduled_at or item.target_run_at
        rows.append(
            QueueRow(
                request=item,
                campaign=campaign,
                rules=answer,
                diff=display.diff_rows(bases[item.pk], item.proposed or {}, names),
                scheduled_at=when,
                is_past=when is not None and when <= now,
            )
        )
    return rows


@role_required(Perm.APPROVE)
@require_GET
def queue_page(request: HttpRequest) -> HttpResponse:
    approval = ApprovalSettings.current()
    rows = _queue_rows(queue.with_details(queue.awaiting(request.user, approval)), request.user)
    others = queue.with_details(queue.awaiting_others(request.user, approval))
    return render(
        request,
        "approvals/queue.html",
        {"rows": rows, "others": others, "approval": approval},
    )


@role_required(Perm.VIEW)
@require_GET
def queue_count(request: HttpRequest) -> HttpResponse:
    """The navigation's count of requests awaiting the user, loaded after the page."""
    return render(
        request, "approvals/_nav_count.html", {"count": queue.awaiting_count(request.user)}
    )


# ---------------------------------------------------------------------------------------------
# One request
# ---------------------------------------------------------------------------------------------
def _get_request(request: HttpRequest, pk: int) -> ApprovalRequest:
    found = (
        ApprovalRequest.objects.filter(
            pk=pk, campaign__in=Campaign.objects.visible_to(request.user)
        )
        .select_related(
            "campaign",
            "campaign__created_by",
            "requested_by",
            "content_edited_by",
            "decided_by",
        )
        .prefetch_related("approvers", "campaign__labels")
        .first()
    )
    if found is None:
        raise Http404("No such approval request.")
    return found


def _verdict(item: ApprovalRequest, answer: policy.CampaignRules, action: Action) -> policy.Verdict:
    """The rules' verdict, for this request: a decided or replaced one takes no decision."""
    if not item.is_pending:
        return policy.Verdict(
            False,
            f"This request is no longer pending: it was {item.get_status_display().lower()}.",
            "not_pending",
        )
    if answer.request is None or answer.request.pk != item.pk:
        return policy.Verdict(False, "This request is no longer the campaign's open one.")
    return answer.actions[action]


@role_required(Perm.VIEW)
@require_GET
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    item = _get_request(request, pk)
    campaign = item.campaign
    answer = policy.campaign_rules(campaign, request.user)
    now = timezone.now()
    when = item.target_run_at if not item.is_pending else answer.scheduled_at or item.target_run_at
    here = reverse("approvals:request", kwargs={"pk": item.pk})
    return render(
        request,
        "approvals/request.html",
        {
            "item": item,
            "campaign": campaign,
            "rules": answer,
            "diff": display.request_diff(item, campaign),
            "scheduled_at": when,
            "is_past": when is not None and when <= now,
            "approve": _verdict(item, answer, Action.APPROVE),
            "reject": _verdict(item, answer, Action.REJECT),
            "withdraw": _verdict(item, answer, Action.WITHDRAW),
            "approve_outcome": display.approve_outcome(campaign, item, answer),
            "reject_outcome": display.reject_outcome(campaign, item),
            "withdraw_outcome": display.withdraw_outcome(campaign, item),
            "approve_form": DecisionForm(auto_id="approve-%s"),
            "reject_form": DecisionForm(required=True, auto_id="reject-%s"),
            "here": here,
        },
    )


# ---------------------------------------------------------------------------------------------
# Decisions: GET asks for confirmation (a dialog, or a page without JavaScript), POST decides.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Decision:
    action: Action
    perm: Perm
    title: str
    button: str
    done: str  # the success message
    comment: str  # "", "optional" or "required"


DECISIONS: dict[str, Decision] = {
    "approve": Decision(
        Action.APPROVE, Perm.APPROVE, "Approve this campaign?", "Approve", "", "optional"
    ),
    "reject": Decision(
        Action.REJECT,
        Perm.APPROVE,
        "Reject this campaign?",
        "Reject",
        "Rejected: the creator is told, with your comment.",
        "required",
    ),
    "withdraw": Decision(
        Action.WITHDRAW,
        Perm.EDIT,
        "Withdraw the approval request?",
        "Withdraw request",
        "",
        "",
    ),
}


def _outcome(key: str, campaign: Campaign, item: ApprovalRequest, answer: Any) -> str:
    if key == "approve":
        return display.approve_outcome(campaign, item, answer)
    if key == "reject":
        return display.reject_outcome(campaign, item)
    return display.withdraw_outcome(campaign, item)


def _call(key: str, user: Any, item: ApprovalRequest, form: DecisionForm) -> ApprovalRequest:
    comment = form.cleaned_data.get("comment") or ""
    if key == "approve":
        return services.request_approve(actor=user, request_id=item.pk, comment=comment)
    if key == "reject":
        return services.request_reject(actor=user, request_id=item.pk, comment=comment)
    return services.request_withdraw(actor=user, request_id=item.pk)


def _success(key: str, item: ApprovalRequest) -> str:
    campaign = Campaign.objects.get(pk=item.campaign_id)
    if key == "approve":
        if item.status == RequestStatus.DISCARDED:
            return (
                "The request was closed: the scheduled time had passed, so the changes were "
                "discarded and the campaign went out as it was."
            )
        if item.kind == RequestKind.REVISION:
            return (
                f"Approved: the changes now apply to the live campaign, which is "
                f"{campaign.get_status_display()}."
            )
        return f"Approved: the campaign is now {campaign.get_status_display()}."
    if key == "withdraw":
        return f"Withdrawn: the campaign is {campaign.get_status_display()} again."
    return DECISIONS[key].done


def _decision_view(key: str) -> Callable[..., HttpResponse]:
    decision = DECISIONS[key]

    def view(request: HttpRequest, pk: int) -> HttpResponse:
        item = _get_request(request, pk)
        campaign = item.campaign
        back = _safe_next(request, reverse("approvals:request", kwargs={"pk": item.pk}))
        form = DecisionForm(
            request.POST if request.method == "POST" else None,
            required=decision.comment == "required",
            auto_id=f"{key}-{item.pk}-%s",
        )
        errors: list[str] = []
        if request.method == "POST":
            if not form.is_valid():
                errors = [e for msgs in form.errors.values() for e in msgs]
            else:
                try:
                    done = _call(key, request.user, item, form)
                except DomainError as exc:
                    if not _is_htmx(request):
                        report_error(request, exc)
                        return redirect(back)
                    errors = error_lines(exc, form)
                else:
                    messages.success(request, _success(key, done))
                    return _go(request, back)
            if not _is_htmx(request):
                for error in errors:
                    messages.error(request, error)
                return redirect(back)
        answer = policy.campaign_rules(campaign, request.user)
        context = {
            "campaign": campaign,
            "action": key,
            "action_url": reverse(f"approvals:{key}", kwargs={"pk": item.pk}),
            "text": {
                "title": decision.title,
                "outcome": _outcome(key, campaign, item, answer),
                "button": decision.button,
            },
            "verdict": _verdict(item, answer, decision.action),
            "form": form if decision.comment else None,
            "errors": errors,
            "next": back,
            "in_dialog": _is_htmx(request),
            "htmx_form": True,
        }
        template = (
            "campaigns/_action_confirm.html"
            if _is_htmx(request)
            else "campaigns/action_confirm.html"
        )
        return render(request, template, context)

    view.__name__ = view.__qualname__ = f"request_{key}"
    return role_required(decision.perm)(require_http_methods(["GET", "POST"])(view))


request_approve = _decision_view("approve")
request_reject = _decision_view("reject")
request_withdraw = _decision_view("withdraw")
