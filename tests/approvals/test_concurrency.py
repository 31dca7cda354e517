"""Two people deciding one request at the same moment, in real concurrent PostgreSQL transactions.

A third transaction holds the campaign's row lock until both contenders wait on it (see
tests/campaigns/test_concurrency.py), so they truly collide: exactly one decision lands, and the
other is refused as no longer pending.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from approvals import services as approvals
from approvals.models import ApprovalRequest
from approvals.models import RequestStatus as R
from campaigns.choices import Action, Status
from campaigns.models import Campaign, CampaignAudit
from config.errors import Refused
from tests.approvals.support import approval_on
from tests.campaigns.test_concurrency import row_held
from tests.concurrency import run_together

S = Status
# serialized_rollback: each test starts with the rows migrations made (the role groups).
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
DECISIONS = (Action.APPROVE, Action.REJECT, Action.WITHDRAW)


@pytest.fixture
def pending(admin, marketer, campaign_factory) -> ApprovalRequest:
    approval_on(admin)
    campaign = campaign_factory()
    return approvals.campaign_submit(actor=marketer, campaign_id=campaign.pk, note="Please")


def collide(campaign_id: int, *calls: Callable[[], Any]) -> list[Any]:
    with row_held(campaign_id) as release_when_waiting:
        return run_together(*calls, while_started=lambda: release_when_waiting(len(calls)))


def decisions(campaign_id: int) -> list[CampaignAudit]:
    rows = CampaignAudit.objects.filter(campaign_id=campaign_id, action__in=DECISIONS)
    return list(rows.order_by("id"))


def test_two_approvers_approving_at_once_approve_once(pending, approver, second_approver):
    outcomes = collide(
        pending.campaign_id,
        lambda: approvals.request_approve(actor=approver, request_id=pending.pk, comment="A"),
        lambda: approvals.request_approve(
            actor=second_approver, request_id=pending.pk, comment="B"
        ),
    )

    won = [o for o in outcomes if isinstance(o, ApprovalRequest)]
    lost = [o for o in outcomes if isinstance(o, Exception)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert isinstance(lost[0], Refused) and lost[0].code == "not_pending"
    pending.refresh_from_db()
    assert pending.status == R.APPROVED
    assert pending.decided_by == won[0].decided_by
    assert Campaign.objects.get(pk=pending.campaign_id).status == S.SCHEDULED
    [row] = decisions(pending.campaign_id)
    assert (row.action, row.actor) == (Action.APPROVE, pending.decided_by)


def test_an_approval_and_a_rejection_at_once_decide_once(pending, approver, second_approver):
    approve, reject = collide(
        pending.campaign_id,
        lambda: approvals.request_approve(actor=approver, request_id=pending.pk),
        lambda: approvals.request_reject(
            actor=second_approver, request_id=pending.pk, comment="Not like this"
        ),
    )

    pending.refresh_from_db()
    campaign = Campaign.objects.get(pk=pending.campaign_id)
    [row] = decisions(campaign.pk)
    if isinstance(reject, Exception):
        assert isinstance(approve, ApprovalRequest)
        assert isinstance(reject, Refused) and reject.code == "not_pending"
        assert (pending.status, campaign.status, row.action) == (
            R.APPROVED,
            S.SCHEDULED,
            Action.APPROVE,
        )
    else:
        assert isinstance(approve, Refused) and approve.code == "not_pending"
        assert (pending.status, pending.comment) == (R.REJECTED, "Not like this")
        assert (campaign.status, row.action) == (S.REJECTED, Action.REJECT)


def test_an_approval_and_a_withdrawal_at_once_decide_once(pending, marketer, approver):
    approve, withdraw = collide(
        pending.campaign_id,
        lambda: approvals.request_approve(actor=approver, request_id=pending.pk),
        lambda: approvals.request_withdraw(actor=marketer, request_id=pending.pk),
    )

    outcomes = [approve, withdraw]
    assert sum(isinstance(o, ApprovalRequest) for o in outcomes) == 1, outcomes
    [lost] = [o for o in outcomes if isinstance(o, Exception)]
    assert isinstance(lost, Refused) and lost.code == "not_pending"
    pending.refresh_from_db()
    campaign = Campaign.objects.get(pk=pending.campaign_id)
    expected = {R.APPROVED: S.SCHEDULED, R.WITHDRAWN: S.DRAFT}
    assert campaign.status == expected[pending.status]
    assert len(decisions(campaign.pk)) == 1


def test_one_draft_sent_twice_at_once_opens_one_request(
    admin, marketer, other_marketer, campaign_factory
):
    approval_on(admin)
    draft = campaign_factory()

    outcomes = collide(
        draft.pk,
        lambda: approvals.campaign_submit(actor=marketer, campaign_id=draft.pk),
        lambda: approvals.campaign_submit(actor=other_marketer, campaign_id=draft.pk),
    )

    assert sum(isinstance(o, ApprovalRequest) for o in outcomes) == 1, outcomes
    [lost] = [o for o in outcomes if isinstance(o, Exception)]
    assert isinstance(lost, Refused) and lost.code == "pending"
    assert ApprovalRequest.objects.filter(campaign=draft).count() == 1
    assert CampaignAudit.objects.filter(campaign=draft, action=Action.SUBMIT).count() == 1
