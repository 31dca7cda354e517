"""The workflow's e-mails: approvers hear of a request, the requester of its outcome.

Services queue them after their transaction commits (a rolled-back request e-mails nobody); a
Celery task builds and sends them through Django's configured e-mail backend, one connection for
all recipients, retried when the server is unreachable.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.roles import Role
from approvals.models import ApprovalRequest, ApprovalSettings, RequestStatus

# Publishing to the broker is retried briefly, not for Celery's default ~20 s: this runs in the
# web request of the person who just decided, after their decision was committed.
PUBLISH_RETRY = {"max_retries": 3, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def request_sent(request_id: int) -> None:
    _queue(request_id, "sent")


def request_decided(request_id: int) -> None:
    _queue(request_id, "decided")


def _queue(request_id: int, event: str) -> None:
    from approvals.tasks import send_approval_emails

    send_approval_emails.apply_async((request_id, event), retry=True, retry_policy=PUBLISH_RETRY)


def absolute(path: str) -> str:
    return f"{settings.HERALD_BASE_URL}{path}"


def approvers_for(request: ApprovalRequest) -> list[Any]:
    """Who is asked: the chosen approvers, else every active Approver and Admin with an e-mail;
    never the requester, nor (with self-approval off) the campaign's creator or content author."""
    chosen = list(request.approvers.filter(is_active=True))
    if chosen:
        users = chosen
    else:
        users = list(
            get_user_model()
            .objects.filter(is_active=True)
            .filter(
                Q(groups__name__in=[Role.APPROVER.value, Role.ADMIN.value]) | Q(is_superuser=True)
            )
            .distinct()
            .order_by("pk")
        )
    excluded = {request.requested_by_id}
    if not ApprovalSettings.current().allow_self_approval:
        excluded |= {request.campaign.created_by_id, request.content_edited_by_id}
    return [u for u in users if u.email and u.pk not in excluded]


def messages_for(request: ApprovalRequest, event: str) -> list[EmailMessage]:
    campaign = request.campaign
    context = {
        "request": request,
        "campaign": campaign,
        "review_url": absolute(reverse("approvals:request", kwargs={"pk": request.pk})),
        "campaign_url": absolute(reverse("campaigns:detail", kwargs={"pk": campaign.pk})),
        "requester": request.requested_by.email or request.requested_by.get_username(),
        "decider": (request.decided_by.email or request.decided_by.get_username())
        if request.decided_by
        else "",
    }
    if event == "sent":
        if not request.is_pending:
            return []  # decided or withdrawn before the e-mail went: nothing left to ask
        recipients = [u.email for u in approvers_for(request)]
        subject = f"Approval requested: {campaign.name}"
        template = "approvals/email/request_sent.txt"
    else:
        people = {request.requested_by, campaign.created_by} - {request.decided_by}
        recipients = sorted({u.email for u in people if u.email})
        outcome = {
            RequestStatus.APPROVED: "approved",
            RequestStatus.REJECTED: "rejected",
            RequestStatus.DISCARDED: "closed: changes discarded",
        }.get(RequestStatus(request.status))
        if outcome is None:
            return []
        subject = f"Campaign {outcome}: {campaign.name}"
        template = "approvals/email/request_decided.txt"
        context["outcome"] = outcome
    if not recipients:
        return []
    body = render_to_string(template, context)
    # One message per recipient: nobody learns who else was asked.
    return [EmailMessage(subject=subject, body=body, to=[to]) for to in recipients]


def send(request_id: int, event: str) -> int:
    """Build and send the e-mails of one event; returns how many were sent."""
    request = (
        ApprovalRequest.objects.select_related(
            "campaign", "campaign__created_by", "requested_by", "decided_by"
        )
        .filter(pk=request_id)
        .first()
    )
    if request is None:
        return 0
    messages = messages_for(request, event)
    if not messages:
        return 0
    with get_connection() as connection:
        return connection.send_messages(messages) or 0
