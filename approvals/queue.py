"""The approver's queue: which pending requests await a user, and which of theirs await others.

A request awaits a user when approvals.policy would let them decide it: they hold the approve
permission, the requester chose them (or chose nobody, or they are an Admin), and, with
self-approval off, they neither created the campaign nor sent or last edited what is up for
approval. The queue page, the navigation's count and the API's awaiting_me all read it from here.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from accounts.roles import Perm, has_perm
from approvals import policy
from approvals.models import ApprovalRequest, ApprovalSettings, RequestStatus
from campaigns.choices import Action, Status
from campaigns.models import Campaign


def _pending() -> QuerySet[ApprovalRequest]:
    return ApprovalRequest.objects.filter(
        status=RequestStatus.PENDING, campaign__archived_at__isnull=True
    )


def awaiting_ids(user: Any, approval: ApprovalSettings | None = None) -> list[int]:
    """The pending requests this user may approve now, as the rules function says.

    Each campaign awaiting approval is put to approvals.policy.campaign_rules, so the queue
    agrees with the buttons and the services (the table, chosen approvers, self-approval). Three
    queries, whatever the number: the campaigns, their pending requests, those requests' chosen
    approvers; Who and What stay in the database.
    """
    if not has_perm(user, Perm.APPROVE):
        return []
    approval = approval or ApprovalSettings.current()
    pending = ApprovalRequest.objects.filter(status=RequestStatus.PENDING).prefetch_related(
        "approvers"
    )
    campaigns = (
        Campaign.objects.visible_to(user)
        .active()
        .filter(status=Status.PENDING_APPROVAL, approval_requests__status=RequestStatus.PENDING)
        .defer("who", "what")
        .prefetch_related(Prefetch("approval_requests", queryset=pending))
    )
    now = timezone.now()
    ids = []
    for campaign in campaigns:
        answer = policy.campaign_rules(campaign, user, now, approval=approval)
        if answer.allowed(Action.APPROVE) and answer.request is not None:
            ids.append(answer.request.pk)
    return ids


def awaiting(user: Any, approval: ApprovalSettings | None = None) -> QuerySet[ApprovalRequest]:
    """Pending requests this user may decide, oldest first (ids only: see with_details)."""
    ids = awaiting_ids(user, approval)
    return ApprovalRequest.objects.filter(pk__in=ids).order_by("requested_at", "id")


def awaiting_count(user: Any) -> int:
    return len(awaiting_ids(user))


def awaiting_others(
    user: Any, approval: ApprovalSettings | None = None
) -> QuerySet[ApprovalRequest]:
    """Pending requests this user wrote (created the campaign, sent or last edited what is up
    for approval) that another approver must decide, oldest first."""
    authored = Q(campaign__created_by=user) | Q(requested_by=user) | Q(content_edited_by=user)
    found = _pending().filter(authored).exclude(pk__in=awaiting_ids(user, approval))
    return found.distinct().order_by("requested_at", "id")


def with_details(requests: QuerySet[ApprovalRequest]) -> list[ApprovalRequest]:
    """The rows as the queue shows them, with everything the rules and the diff read, in a
    fixed number of queries whatever their number."""
    return list(
        requests.select_related(
            "requested_by", "content_edited_by", "campaign", "campaign__created_by"
        ).prefetch_related(
            "approvers",
            # approvals.policy reads a campaign's open request from this prefetch.
            Prefetch(
                "campaign__approval_requests",
                queryset=ApprovalRequest.objects.filter(
                    status__in=[RequestStatus.PENDING, RequestStatus.REJECTED]
                ).prefetch_related("approvers"),
            ),
            "campaign__labels",
        )
    )
