"""The workflow's services (approvals/services.py, and campaign_publish / campaign_stop with
approval on), through their public functions on PostgreSQL.

Each decision is checked for what it changes, the request it records, the campaign's timeline
(its audit rows) and, when refused, that nothing at all changed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core import mail

from approvals import policy
from approvals import services as approvals
from approvals.models import ApprovalRequest, ApprovalSettings, ApprovalSettingsChange
from approvals.models import RequestKind as K
from approvals.models import RequestStatus as R
from campaigns import services
from campaigns.choices import Action, Delivery, Status
from campaigns.models import Campaign
from config.errors import Forbidden, Invalid, NotFound, ReadOnly, Refused
from tests.approvals.support import approval_on, db_rows
from tests.factories import later_when, push_what

S = Status
pytestmark = pytest.mark.django_db

UTC = dt.UTC
SCHEDULED = dt.datetime(2031, 3, 10, 9, 0, tzinfo=UTC)  # a Monday
SETUP = SCHEDULED - dt.timedelta(days=2)
BEFORE = SCHEDULED - dt.timedelta(hours=1)
AFTER = SCHEDULED + dt.timedelta(hours=1)
ONE_TIME_WHEN = {"send": "later", "start_at": "2031-03-10T09:00", "timezone": "UTC"}
WEEKLY_WHEN = {
    "start_at": "2031-03-03T09:00",
    "timezone": "UTC",
    "send_time": "09:00",
    "frequency": "weekly",
    "weekdays": ["mo"],
    "end_after_runs": 26,
}
LIVE_FIELDS = ("name", "channel", "type", "delivery", "who", "what", "when", "next_run_at")


@pytest.fixture
def on(admin) -> None:
    approval_on(admin)


def live_state(campaign: Campaign) -> dict[str, Any]:
    campaign.refresh_from_db()
    state = {f: getattr(campaign, f) for f in LIVE_FIELDS}
    state["labels"] = sorted(campaign.labels.values_list("pk", flat=True))
    return state


def timeline(campaign: Campaign) -> list[tuple[str, str, str]]:
    return [
        (row.action, row.from_status, row.to_status)
        for row in campaign.audit.order_by("created_at", "id")
    ]


def last_audit(campaign: Campaign):
    return campaign.audit.order_by("-created_at", "-id").first()


def weekly(campaign_factory, marketer, **fields: Any) -> Campaign:
    """A live weekly campaign whose first run is done (the scheduler's fields written directly)."""
    fields.setdefault("status", S.AWAITING_NEXT_RUN)
    return campaign_factory(
        delivery=Delivery.RECURRING,
        when=WEEKLY_WHEN,
        runs_count=1,
        last_run_at=SCHEDULED - dt.timedelta(days=7),
        next_run_at=SCHEDULED,
        updated_by=marketer,
        **fields,
    )


# --------------------------------------------------------------------------------------------
# The setting
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["marketer", "approver"])
def test_only_admins_change_the_approval_setting(who, request):
    before = db_rows()

    with pytest.raises(Forbidden):
        approvals.approval_settings_update(actor=request.getfixturevalue(who), enabled=True)

    assert db_rows() == before
    assert not ApprovalSettings.current().enabled


def test_each_change_of_the_setting_is_audited_with_old_and_new(admin):
    approvals.approval_settings_update(actor=admin, enabled=True)
    approvals.approval_settings_update(actor=admin, enabled=True)  # no change, no row
    approvals.approval_settings_update(actor=admin, allow_self_approval=True, enabled=False)

    rows = list(ApprovalSettingsChange.objects.order_by("created_at", "id"))
    assert [(r.actor, r.changes) for r in rows] == [
        (admin, {"enabled": {"old": False, "new": True}}),
        (
            admin,
            {
                "enabled": {"old": True, "new": False},
                "allow_self_approval": {"old": False, "new": True},
            },
        ),
    ]
    setting = ApprovalSettings.current()
    assert (setting.enabled, setting.allow_self_approval, setting.updated_by) == (
        False,
        True,
        admin,
    )


def test_the_setting_takes_true_or_false_only(admin):
    before = db_rows()

    with pytest.raises(Invalid) as refused:
        approvals.approval_settings_update(actor=admin, enabled="yes")

    assert list(refused.value.errors) == ["enabled"]
    assert db_rows() == before


# --------------------------------------------------------------------------------------------
# New campaigns: submit, approve, reject, withdraw
# --------------------------------------------------------------------------------------------
def test_a_marketer_cannot_publish_with_approval_on(on, marketer, campaign_factory):
    campaign = campaign_factory()
    before = db_rows()

    with pytest.raises(Refused) as refused:
        services.campaign_publish(actor=marketer, campaign_id=campaign.pk)

    assert refused.value.code == "approval_required"
    assert db_rows() == before


def test_sending_a_draft_for_approval_records_the_request(on, marketer, approver, campaign_factory):
    campaign = campaign_factory(when=later_when(days=3), updated_by=marketer)

    request = approvals.campaign_submit(
        actor=marketer, campaign_id=campaign.pk, note="  Launch copy  ", approvers=[approver.pk]
    )

    campaign.refresh_from_db()
    assert (campaign.status, campaign.live_status) == (S.PENDING_APPROVAL, "")
    assert (request.kind, request.status, request.requested_by) == (K.PUBLISH, R.PENDING, marketer)
    assert request.note == "Launch copy"
    assert list(request.approvers.all()) == [approver]
    assert request.base == {}
    assert request.proposed["what"] == campaign.what
    assert request.return_status == S.DRAFT
    assert request.content_edited_by == marketer
    assert request.target_run_at == dt.datetime.fromisoformat(campaign.when["start_at"])
    row = last_audit(campaign)
    assert (row.action, row.actor, row.from_status, row.to_status) == (
        Action.SUBMIT,
        marketer,
        S.DRAFT,
        S.PENDING_APPROVAL,
    )
    assert row.changes == {
        "request": request.pk,
        "kind": "publish",
        "note": "Launch copy",
        "approvers": [approver.email],
    }


def test_an_incomplete_draft_cannot_be_sent_for_approval(on, marketer, campaign_factory):
    campaign = campaign_factory(what={})
    before = db_rows()

    with pytest.raises(Invalid) as refused:
        approvals.campaign_submit(actor=marketer, campaign_id=campaign.pk)

    assert any(key.startswith("what") for key in refused.value.errors)
    assert db_rows() == before


def test_approving_a_new_campaign_publishes_it(on, marketer, approver, campaign_factory):
    campaign = campaign_factory(when=later_when(days=3))
    request = approvals.campaign_submit(actor=marketer, campaign_id=campaign.pk)

    approvals.request_approve(actor=approver, request_id=request.pk, comment="Lovely")

    campaign.refresh_from_db()
    request.refresh_from_db()
    assert campaign.status == S.SCHEDULED
    assert campaign.next_run_at == dt.datetime.fromisoformat(campaign.when["start_at"])
    assert (request.status, request.decided_by, request.comment) == (R.APPROVED, approver, "Lovely")
    assert request.decided_at is not None
    row = last_audit(campaign)
    assert (row.action, row.actor, row.to_status) == (Action.APPROVE, approver, S.SCHEDULED)
    assert (row.changes["request"], row.changes["comment"]) == (request.pk, "Lovely")


def test_a_rejected_campaign_is_edited_and_sent_again(on, marketer, approver, campaign_factory):
    campaign = campaign_factory(when=later_when(days=3))
    first = approvals.campaign_submit(actor=marketer, campaign_id=campaign.pk)

    approvals.request_reject(actor=approver, request_id=first.pk, comment="Shorter title, please")
    campaign.refresh_from_db()
    assert campaign.status == S.REJECTED
    with pytest.raises(Refused) as refused:
        services.campaign_publish(actor=marketer, campaign_id=campaign.pk)
    assert refused.value.code == "approval_required"

    services.campaign_update(
        actor=marketer, campaign_id=campaign.pk, data={"what": push_what("Short")}
    )
    second = approvals.campaign_submit(actor=marketer, campaign_id=campaign.pk, note="Shorter")
    approvals.request_approve(actor=approver, request_id=second.pk)

    first.refresh_from_db()
    assert (first.status, first.comment) == (R.REJECTED, "Shorter title, please")
    assert second.return_status == S.REJECTED
    assert timeline(campaign) == [
        (Action.SUBMIT, S.DRAFT, S.PENDING_APPROVAL),
        (Action.REJECT, S.PENDING_APPROVAL, S.REJECTED),
        (Action.EDIT, S.REJECTED, S.REJECTED),
        (Action.SUBMIT, S.REJECTED, S.PENDING_APPROVAL),
        (Action.APPROVE, S.PENDING_APPROVAL, S.SCHEDULED),
    ]
    rejection = campaign.audit.get(action=Action.REJECT)
    assert rejection.changes["comment"] == "Shorter title, please"


@pytest.mark.parametrize(
    ("comment", "message"),
    [
        (None, "A rejection needs a comment for the creator."),
        ("   ", "A rejection needs a comment for the creator."),
        ("x" * 2001, "At most 2000 characters."),
        (["why"], "Must be text."),
    ],
)
def test_a_rejection_needs_a_comment(on, marketer, approver, campaign_factory, comment, message):
    campaign = campaign_factory()
    request = approvals.campaign_submit(actor=marketer, campaign_id=campaign.pk)
    before = db_rows()

    with pytest.raises(Invalid) as refused:
        approvals.request_reject(actor=approver, request_id=request.pk, comment=comment)

    assert refused.value.errors == {"comment": [message]}
    assert db_rows() == before


def test_the_requester_withdraws_and_the_draft_comes_back(
    on, marketer, other_marketer, campaign_factory
):
    campaign = campaign_factory()
    request = approvals.campaign_submit(actor=marketer, campaign_id=campaign.pk)
    before = db_rows()

    with pytest.raises(Refused) as refused:
        approvals.request_withdraw(actor=other_marketer, request_id=request.pk)
    assert refused.value.code == "not_requester"
    assert db_rows() == before

    approvals.request_withdraw(actor=marketer, request_id=request.pk)

    campaign.refresh_from_db()
    request.refresh_from_db()
    assert campaign.status == S.DRAFT
    assert (request.status, request.decided_by) == (R.WITHDRAWN, marketer)
    assert timeline(campaign)[-1] == (Action.WITHDRAW, S.PENDING_APPROVAL, S.DRAFT)


@pytest.mark.parametrize("first", ["approve", "reject", "withdraw"])
@pytest.mark.parametrize("then", ["approve", "reject", "withdraw"])
def test_a_decided_request_cannot_be_decided_again(
    on, marketer, approver, admin, campaign_factory, first, then
):
    campaign = campaign_factory()
    request = approvals.campaign_submit(actor=marketer, campaign_id=campaign.pk)
    decide(first, approver if first != "withdraw" else marketer, request.pk)
    before = db_rows()

    with pytest.raises(Refused) as refused:
        decide(then, admin if then != "withdraw" else marketer, request.pk)

    assert refused.value.code == "not_pending"
    assert db_rows() == before


def decide(how: str, actor: Any, request_id: int) -> ApprovalRequest:
    if how == "approve":
        return approvals.request_approve(actor=actor, request_id=request_id)
    if how == "reject":
        return approvals.request_reject(actor=actor, request_id=request_id, comment="No.")
    return approvals.request_withdraw(actor=actor, request_id=request_id)


def test_a_marketer_cannot_approve_or_reject(on, marketer, other_marketer, campaign_factory):
    campaign = campaign_factory()
    request = approvals.campaign_submit(actor=marketer, campaign_id=campaign.pk)
    before = db_rows()

    for call in (
        lambda: approvals.request_approve(actor=other_marketer, request_id=request.pk),
        lambda: approvals.request_reject(actor=other_marketer, request_id=request.pk, comment="x"),
    ):
        with pytest.raises(Forbidden):
            call()

    assert db_rows() == before


def test_an_unknown_request_is_not_found(on, approver):
    for bad in (999_999, "abc", None, -1):
        with pytest.raises(NotFound):
            approvals.request_approve(actor=approver, request_id=bad)


# --------------------------------------------------------------------------------------------
# The scheduled time of a new campaign
# --------------------------------------------------------------------------------------------
def test_approving_after_the_time_asks_for_a_new_time(on, marketer, approver, campaign_factory):
    with time_machine.travel(SETUP, tick=False):
        campaign = campaign_factory(when=ONE_TIME_WHEN)
        request = approvals.campaign_submit(actor=marketer, campaign_id=campaign.pk)

    with time_machine.travel(AFTER, tick=False):
        before = db_rows()
        with pytest.raises(Refused) as refused:
            approvals.request_approve(actor=approver, request_id=request.pk)
        assert refused.value.code == "scheduled_in_past"
        assert any(key.startswith("when") for key in refused.value.errors)
        assert db_rows() == before

        new_when = {"send": "later", "start_at": "2031-03-11T09:00", "timezone": "UTC"}
        approvals.request_approve(
            actor=approver,
            request_id=request.pk,
            comment="Moved to Tuesday",
            data={"when": new_when},
        )

    campaign.refresh_from_db()
    request.refresh_from_db()
    assert (campaign.status, campaign.when) == (S.SCHEDULED, new_when)
    assert campaign.next_run_at == dt.datetime(2031, 3, 11, 9, 0, tzinfo=UTC)
    assert request.status == R.APPROVED
    assert request.proposed["when"] == new_when
    # The approver's edit while reviewing does not make them an author of the request.
    assert request.content_edited_by == marketer
    assert timeline(campaign)[-2:] == [
        (Action.EDIT, S.PENDING_APPROVAL, S.PENDING_APPROVAL),
        (Action.APPROVE, S.PENDING_APPROVAL, S.SCHEDULED),
    ]


# --------------------------------------------------------------------------------------------
# Changes to live campaigns
# --------------------------------------------------------------------------------------------
CHANGES = {
    "name": "Weekly digest, new look",
    "who": {"type": "group", "match": "any", "conditions": []},
    "what": push_what("New look"),
    "when": {"send": "later", "start_at": "2031-03-12T10:00", "timezone": "UTC"},
}


@pytest.fixture
def scheduled(on, marketer, approver, campaign_factory, label_factory) -> Campaign:
    """A live Scheduled campaign (published through the workflow), set up at SETUP."""
    with time_machine.travel(SETUP, tick=False):
        campaign = campaign_factory(when=ONE_TIME_WHEN)
        campaign.labels.set([label_factory(name="Promotions")])
        request = approvals.campaign_submit(actor=marketer, campaign_id=campaign.pk)
        approvals.request_approve(actor=approver, request_id=request.pk)
    campaign.refresh_from_db()
    assert campaign.status == S.SCHEDULED
    return campaign


def propose(actor, campaign: Campaign, data: dict[str, Any], **more: Any) -> ApprovalRequest:
    return approvals.campaign_propose(actor=actor, campaign_id=campaign.pk, data=data, **more)


def test_changes_to_a_live_campaign_leave_it_untouched_until_approved(
    scheduled, marketer, approver, label_factory
):
    live = live_state(scheduled)
    spring = label_factory(name="Spring")

    with time_machine.travel(BEFORE - dt.timedelta(hours=5), tick=False):
        request = propose(marketer, scheduled, {**CHANGES, "labels": [spring.pk]}, note="Refresh")
        # A second edit changes the same pending proposal.
        again = propose(marketer, scheduled, {"what": push_what("Newer look")})

    assert again.pk == request.pk
    request.refresh_from_db()
    assert live_state(scheduled) == live
    assert (scheduled.status, scheduled.live_status) == (S.PENDING_APPROVAL, S.SCHEDULED)
    assert request.kind == K.REVISION
    assert request.base["name"] == live["name"]
    assert request.proposed["what"] == push_what("Newer look")
    assert request.proposed["labels"] == [spring.pk]
    assert request.target_run_at == SCHEDULED
    assert request.return_status == S.SCHEDULED

    with time_machine.travel(BEFORE, tick=False):
        approvals.request_approve(actor=approver, request_id=request.pk, comment="Go")

    applied = live_state(scheduled)
    assert (scheduled.status, scheduled.live_status) == (S.SCHEDULED, "")
    assert applied["name"] == CHANGES["name"]
    assert (applied["who"], applied["what"]) == (CHANGES["who"], push_what("Newer look"))
    assert applied["when"] == CHANGES["when"]
    assert applied["next_run_at"] == dt.datetime(2031, 3, 12, 10, 0, tzinfo=UTC)
    assert applied["labels"] == [spring.pk]
    assert timeline(scheduled)[-3:] == [
        (Action.REVISE, S.SCHEDULED, S.PENDING_APPROVAL),
        (Action.EDIT, S.PENDING_APPROVAL, S.PENDING_APPROVAL),
        (Action.APPROVE, S.PENDING_APPROVAL, S.SCHEDULED),
    ]
    approval = last_audit(scheduled)
    assert approval.changes["name"] == {"old": live["name"], "new": CHANGES["name"]}
    assert (approval.changes["request"], approval.changes["comment"]) == (request.pk, "Go")


def test_a_rejection_leaves_the_live_campaign_untouched(scheduled, marketer, approver):
    live = live_state(scheduled)
    with time_machine.travel(BEFORE, tick=False):
        request = propose(marketer, scheduled, CHANGES)
        approvals.request_reject(actor=approver, request_id=request.pk, comment="Keep the name")

    assert live_state(scheduled) == live
    assert (scheduled.status, scheduled.live_status) == (S.REJECTED, S.SCHEDULED)
    assert timeline(scheduled)[-1] == (Action.REJECT, S.PENDING_APPROVAL, S.REJECTED)


def test_withdrawn_changes_return_the_campaign_to_its_live_status(scheduled, marketer):
    live = live_state(scheduled)
    with time_machine.travel(BEFORE, tick=False):
        request = propose(marketer, scheduled, CHANGES)
        approvals.request_withdraw(actor=marketer, request_id=request.pk)

    assert live_state(scheduled) == live
    assert (scheduled.status, scheduled.live_status) == (S.SCHEDULED, "")
    assert timeline(scheduled)[-1] == (Action.WITHDRAW, S.PENDING_APPROVAL, S.SCHEDULED)


def test_applying_changes_is_all_or_nothing(scheduled, marketer, approver):
    """The proposal's new first send has passed by the time it is approved: the approval is
    refused as a whole, and neither the campaign nor the request has moved."""
    soon = {"send": "later", "start_at": "2031-03-09T09:00", "timezone": "UTC"}
    with time_machine.travel(SETUP, tick=False):
        request = propose(marketer, scheduled, {"name": "Soon", "when": soon})
    live = live_state(scheduled)

    with time_machine.travel(BEFORE, tick=False):
        before = db_rows()
        with pytest.raises(Invalid) as refused:
            approvals.request_approve(actor=approver, request_id=request.pk)

    assert any(key.startswith("when") for key in refused.value.errors)
    assert db_rows() == before
    assert live_state(scheduled) == live


def test_approving_after_the_time_closes_the_request_and_discards_the_changes(
    on, marketer, approver, campaign_factory, django_capture_on_commit_callbacks
):
    with time_machine.travel(SETUP, tick=False):
        campaign = weekly(campaign_factory, marketer)
        request = propose(marketer, campaign, {"what": push_what("For Monday")})
    live = live_state(campaign)

    with (
        time_machine.travel(AFTER, tick=False),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        approvals.request_approve(actor=approver, request_id=request.pk, comment="Too late")

    request.refresh_from_db()
    assert live_state(campaign) == live
    assert (campaign.status, campaign.live_status) == (S.AWAITING_NEXT_RUN, "")
    assert (request.status, request.decided_by, request.comment) == (
        R.DISCARDED,
        approver,
        "Too late",
    )
    row = last_audit(campaign)
    assert (row.action, row.from_status, row.to_status) == (
        Action.DISCARD,
        S.PENDING_APPROVAL,
        S.AWAITING_NEXT_RUN,
    )
    assert row.changes["why"] == policy.NOTICE_TEXT[policy.Notice.CHANGES_DISCARDED]
    # The requester hears that the changes were discarded.
    assert len(callbacks) == 1
    [message] = mail.outbox
    assert message.to == [marketer.email]
    assert "discarded" in message.subject


def test_an_approver_edits_what_while_approving_changes(on, marketer, approver, campaign_factory):
    with time_machine.travel(SETUP, tick=False):
        campaign = weekly(campaign_factory, marketer)
        request = propose(marketer, campaign, {"what": push_what("Marketer's copy")})

    with time_machine.travel(BEFORE, tick=False):
        with pytest.raises(ReadOnly) as refused:
            approvals.request_approve(
                actor=approver, request_id=request.pk, data={"name": "Not now"}
            )
        assert list(refused.value.errors) == ["name"]
        approvals.request_approve(
            actor=approver, request_id=request.pk, data={"what": push_what("Approver's copy")}
        )

    campaign.refresh_from_db()
    request.refresh_from_db()
    assert campaign.what == push_what("Approver's copy")
    assert (campaign.status, request.status) == (S.AWAITING_NEXT_RUN, R.APPROVED)
    assert request.content_edited_by == marketer
    assert [a for a, *_ in timeline(campaign)] == [Action.REVISE, Action.EDIT, Action.APPROVE]


def test_stopping_a_campaign_with_pending_changes_closes_the_request(scheduled, marketer, approver):
    with time_machine.travel(BEFORE, tick=False):
        request = propose(marketer, scheduled, CHANGES)
        services.campaign_stop(actor=marketer, campaign_id=scheduled.pk)

    scheduled.refresh_from_db()
    request.refresh_from_db()
    assert (scheduled.status, scheduled.live_status) == (S.STOPPED, "")
    assert (request.status, request.comment) == (R.DISCARDED, "The campaign was stopped.")
    assert timeline(scheduled)[-1] == (Action.STOP, S.PENDING_APPROVAL, S.STOPPED)
    with pytest.raises(Refused) as refused:
        approvals.request_approve(actor=approver, request_id=request.pk)
    assert refused.value.code == "not_pending"


# --------------------------------------------------------------------------------------------
# Rejected changes of a live campaign: the approver publishes, choosing today or tomorrow
# --------------------------------------------------------------------------------------------
@pytest.fixture
def rejected_live(on, marketer, approver, campaign_factory) -> Campaign:
    with time_machine.travel(SETUP, tick=False):
        campaign = weekly(campaign_factory, marketer)
        request = propose(marketer, campaign, {"what": push_what("Rejected copy")})
        approvals.request_reject(actor=approver, request_id=request.pk, comment="Too loud")
    campaign.refresh_from_db()
    assert (campaign.status, campaign.live_status) == (S.REJECTED, S.AWAITING_NEXT_RUN)
    return campaign


def test_an_approver_publishes_rejected_changes_before_the_time(rejected_live, approver):
    with time_machine.travel(BEFORE, tick=False):
        with pytest.raises(Invalid) as refused:
            services.campaign_publish(
                actor=approver, campaign_id=rejected_live.pk, run_on="tomorrow"
            )
        assert list(refused.value.errors) == ["run_on"]
        services.campaign_publish(
            actor=approver, campaign_id=rejected_live.pk, data={"what": push_what("Calmer copy")}
        )

    rejected_live.refresh_from_db()
    assert (rejected_live.status, rejected_live.live_status) == (S.AWAITING_NEXT_RUN, "")
    assert rejected_live.what == push_what("Calmer copy")
    assert rejected_live.next_run_at == SCHEDULED
    record = ApprovalRequest.objects.filter(campaign=rejected_live).order_by("-id").first()
    assert (record.status, record.decided_by) == (R.APPROVED, approver)
    assert timeline(rejected_live)[-1] == (Action.PUBLISH, S.REJECTED, S.AWAITING_NEXT_RUN)


@pytest.mark.parametrize(
    ("zone", "now", "run_on", "expected"),
    [
        # The usual time (09:00 UTC) has passed today: at once.
        ("UTC", dt.datetime(2031, 3, 10, 20, 0, tzinfo=UTC), "today", "now"),
        ("UTC", dt.datetime(2031, 3, 10, 20, 0, tzinfo=UTC), "tomorrow", (2031, 3, 11, 9, 0)),
        # Early the next day, the usual time is still ahead today.
        ("UTC", dt.datetime(2031, 3, 11, 7, 0, tzinfo=UTC), "today", (2031, 3, 11, 9, 0)),
        ("UTC", dt.datetime(2031, 3, 11, 7, 0, tzinfo=UTC), "tomorrow", (2031, 3, 12, 9, 0)),
        # In Kolkata, 20:00 UTC is already tomorrow (01:30); the usual time is 14:30 there.
        ("Asia/Kolkata", dt.datetime(2031, 3, 10, 20, 0, tzinfo=UTC), "today", (2031, 3, 11, 9, 0)),
        (
            "Asia/Kolkata",
            dt.datetime(2031, 3, 10, 20, 0, tzinfo=UTC),
            "tomorrow",
            (2031, 3, 12, 9, 0),
        ),
    ],
)
def test_after_the_time_the_approver_chooses_today_or_tomorrow(
    rejected_live, approver, settings, zone, now, run_on, expected
):
    settings.TIME_ZONE = zone
    with time_machine.travel(now, tick=False):
        before = db_rows()
        with pytest.raises(Refused) as refused:
            services.campaign_publish(actor=approver, campaign_id=rejected_live.pk)
        assert refused.value.code == "run_today_or_tomorrow"
        assert db_rows() == before

        services.campaign_publish(actor=approver, campaign_id=rejected_live.pk, run_on=run_on)

    rejected_live.refresh_from_db()
    at = now if expected == "now" else dt.datetime(*expected, tzinfo=UTC)
    assert rejected_live.next_run_at == at
    assert rejected_live.what == push_what("Rejected copy")
    assert (rejected_live.status, rejected_live.live_status) == (S.AWAITING_NEXT_RUN, "")


def test_the_creator_sends_rejected_changes_again(rejected_live, marketer, approver):
    with time_machine.travel(AFTER, tick=False):
        request = approvals.campaign_submit(actor=marketer, campaign_id=rejected_live.pk)

    rejected_live.refresh_from_db()
    assert (rejected_live.status, rejected_live.live_status) == (
        S.PENDING_APPROVAL,
        S.AWAITING_NEXT_RUN,
    )
    assert request.kind == K.REVISION
    assert request.proposed["what"] == push_what("Rejected copy")
    assert request.content_edited_by == marketer


# --------------------------------------------------------------------------------------------
# Self-approval
# --------------------------------------------------------------------------------------------
def test_an_approver_cannot_approve_their_own_campaign(
    on, approver, second_approver, campaign_factory
):
    campaign = campaign_factory(created_by=approver, updated_by=approver)
    request = approvals.campaign_submit(actor=approver, campaign_id=campaign.pk)
    before = db_rows()

    with pytest.raises(Refused) as refused:
        approvals.request_approve(actor=approver, request_id=request.pk)

    assert refused.value.code == "self_approval"
    assert db_rows() == before
    approvals.request_approve(actor=second_approver, request_id=request.pk)
    campaign.refresh_from_db()
    assert campaign.status == S.SCHEDULED


def test_an_approver_cannot_publish_their_own_draft(on, approver, campaign_factory):
    campaign = campaign_factory(created_by=approver, updated_by=approver)

    with pytest.raises(Refused) as refused:
        services.campaign_publish(actor=approver, campaign_id=campaign.pk)

    assert refused.value.code == "self_approval"


def test_the_last_editor_before_the_request_counts_as_an_author(
    on, marketer, approver, second_approver, campaign_factory
):
    campaign = campaign_factory(updated_by=marketer)
    services.campaign_update(
        actor=approver, campaign_id=campaign.pk, data={"what": push_what("Approver's draft")}
    )
    request = approvals.campaign_submit(actor=marketer, campaign_id=campaign.pk)

    assert request.content_edited_by == approver
    with pytest.raises(Refused) as refused:
        approvals.request_approve(actor=approver, request_id=request.pk)
    assert refused.value.code == "self_approval"
    approvals.request_approve(actor=second_approver, request_id=request.pk)


def test_editing_while_reviewing_does_not_make_the_approver_an_author(
    on, marketer, approver, campaign_factory
):
    campaign = campaign_factory()
    request = approvals.campaign_submit(actor=marketer, campaign_id=campaign.pk)

    services.campaign_update(
        actor=approver, campaign_id=campaign.pk, data={"name": "Tidied by the approver"}
    )
    approvals.request_approve(actor=approver, request_id=request.pk)

    request.refresh_from_db()
    assert (request.status, request.content_edited_by) == (R.APPROVED, marketer)
    assert request.proposed["name"] == "Tidied by the approver"


def test_the_admin_can_allow_self_approval(admin, approver, campaign_factory):
    approval_on(admin, self_approval=True)
    campaign = campaign_factory(created_by=approver, updated_by=approver)
    request = approvals.campaign_submit(actor=approver, campaign_id=campaign.pk)

    approvals.request_approve(actor=approver, request_id=request.pk)

    campaign.refresh_from_db()
    assert campaign.status == S.SCHEDULED


# --------------------------------------------------------------------------------------------
# Chosen approvers
# --------------------------------------------------------------------------------------------
def test_only_the_chosen_approvers_or_an_admin_decide(
    on, marketer, approver, second_approver, admin, campaign_factory
):
    campaign = campaign_factory()
    request = approvals.campaign_submit(
        actor=marketer, campaign_id=campaign.pk, approvers=[second_approver.pk]
    )
    before = db_rows()

    with pytest.raises(Refused) as refused:
        approvals.request_reject(actor=approver, request_id=request.pk, comment="Not mine")
    assert refused.value.code == "not_chosen"
    assert db_rows() == before

    # Admins may always decide.
    approvals.request_reject(actor=admin, request_id=request.pk, comment="Admin says no")
    request.refresh_from_db()
    assert (request.status, request.decided_by) == (R.REJECTED, admin)


@pytest.mark.parametrize(
    ("approvers", "needle"),
    [
        ("3", "Give a list of user ids."),
        ({"id": 3}, "Give a list of user ids."),
        (["x"], "Give user ids."),
        ([999_999], "User 999999 does not exist."),
        (["marketer"], "cannot approve campaigns."),
        (["other_marketer"], "cannot approve campaigns."),
    ],
)
def test_bad_chosen_approvers_are_refused(
    on, marketer, other_marketer, campaign_factory, approvers, needle
):
    people = {"marketer": marketer, "other_marketer": other_marketer}
    if isinstance(approvers, list):
        approvers = [people[a].pk if a in people else a for a in approvers]
    campaign = campaign_factory()
    before = db_rows()

    with pytest.raises(Invalid) as refused:
        approvals.campaign_submit(actor=marketer, campaign_id=campaign.pk, approvers=approvers)

    assert list(refused.value.errors) == ["approvers"]
    assert any(needle in message for message in refused.value.errors["approvers"])
    assert db_rows() == before


def test_an_approver_cannot_choose_themselves(on, approver, campaign_factory):
    campaign = campaign_factory(created_by=approver)
    before = db_rows()

    with pytest.raises(Invalid) as refused:
        approvals.campaign_submit(actor=approver, campaign_id=campaign.pk, approvers=[approver.pk])

    assert refused.value.errors == {
        "approvers": ["You cannot choose yourself: another approver must decide."]
    }
    assert db_rows() == before


@pytest.mark.parametrize(
    ("note", "errors"),
    [
        ("x" * 2001, {"note": ["At most 2000 characters."]}),
        (42, {"note": ["Must be text."]}),
        ("a\x00b", {"note": ["Text may not contain NUL characters."]}),
    ],
)
def test_a_bad_note_is_refused(on, marketer, campaign_factory, note, errors):
    campaign = campaign_factory()
    before = db_rows()

    with pytest.raises(Invalid) as refused:
        approvals.campaign_submit(actor=marketer, campaign_id=campaign.pk, note=note)

    assert refused.value.errors == errors
    assert db_rows() == before


def test_a_proposal_with_no_changes_is_refused(scheduled, marketer):
    before = db_rows()
    for data in ({}, {"name": scheduled.name}, None):
        with time_machine.travel(BEFORE, tick=False), pytest.raises(Invalid):
            approvals.campaign_propose(actor=marketer, campaign_id=scheduled.pk, data=data)
    assert db_rows() == before


# --------------------------------------------------------------------------------------------
# Approval switched off
# --------------------------------------------------------------------------------------------
def test_with_approval_off_a_draft_is_published_not_sent(marketer, campaign_factory):
    campaign = campaign_factory()

    with pytest.raises(Refused) as refused:
        approvals.campaign_submit(actor=marketer, campaign_id=campaign.pk)
    assert refused.value.code == "approval_off"

    services.campaign_publish(actor=marketer, campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == S.SCHEDULED


def test_switching_approval_off_leaves_pending_requests_decidable(
    admin, marketer, approver, campaign_factory
):
    approval_on(admin)
    pending = campaign_factory()
    rejected = campaign_factory()
    waiting = approvals.campaign_submit(actor=marketer, campaign_id=pending.pk)
    refused = approvals.campaign_submit(actor=marketer, campaign_id=rejected.pk)
    approvals.request_reject(actor=approver, request_id=refused.pk, comment="No")

    approvals.approval_settings_update(actor=admin, enabled=False)

    pending.refresh_from_db()
    assert pending.status == S.PENDING_APPROVAL
    approvals.request_approve(actor=approver, request_id=waiting.pk)
    # A rejected campaign is no longer gated: its creator publishes it.
    services.campaign_publish(actor=marketer, campaign_id=rejected.pk)
    pending.refresh_from_db()
    rejected.refresh_from_db()
    assert (pending.status, rejected.status) == (S.SCHEDULED, S.SCHEDULED)


def test_rejecting_does_not_make_the_approver_an_author(on, marketer, approver, campaign_factory):
    campaign = campaign_factory(updated_by=marketer)
    first = approvals.campaign_submit(actor=marketer, campaign_id=campaign.pk)
    approvals.request_reject(actor=approver, request_id=first.pk, comment="Check the link")

    again = approvals.campaign_submit(actor=marketer, campaign_id=campaign.pk, note="Checked")
    assert again.content_edited_by == marketer
    approvals.request_approve(actor=approver, request_id=again.pk)

    campaign.refresh_from_db()
    assert campaign.status == S.SCHEDULED


def test_an_approver_who_edits_a_rejected_campaign_becomes_its_author(
    on, marketer, approver, second_approver, campaign_factory
):
    campaign = campaign_factory(updated_by=marketer)
    first = approvals.campaign_submit(actor=marketer, campaign_id=campaign.pk)
    approvals.request_reject(actor=approver, request_id=first.pk, comment="Shorter")
    services.campaign_update(
        actor=approver, campaign_id=campaign.pk, data={"what": push_what("Shorter")}
    )

    again = approvals.campaign_submit(actor=approver, campaign_id=campaign.pk)

    assert again.content_edited_by == approver
    with pytest.raises(Refused) as refused:
        approvals.request_approve(actor=approver, request_id=again.pk)
    assert refused.value.code == "self_approval"
    approvals.request_approve(actor=second_approver, request_id=again.pk)


def test_the_campaigns_author_cannot_be_chosen_unless_self_approval_is_on(
    admin, marketer, approver, campaign_factory
):
    """An approver who wrote the campaign could not approve it: choosing them is refused."""
    approval_on(admin)
    campaign = campaign_factory(created_by=approver, updated_by=marketer)
    before = db_rows()

    with pytest.raises(Invalid) as refused:
        approvals.campaign_submit(actor=marketer, campaign_id=campaign.pk, approvers=[approver.pk])

    assert refused.value.errors == {
        "approvers": ["ari@example.com created or last edited this campaign and cannot approve it."]
    }
    assert db_rows() == before
    approvals.approval_settings_update(actor=admin, allow_self_approval=True)
    request = approvals.campaign_submit(
        actor=marketer, campaign_id=campaign.pk, approvers=[approver.pk]
    )
    approvals.request_approve(actor=approver, request_id=request.pk)


def test_an_approver_withdraws_their_own_request(on, approver, campaign_factory):
    campaign = campaign_factory(created_by=approver, updated_by=approver)
    request = approvals.campaign_submit(actor=approver, campaign_id=campaign.pk)

    approvals.request_withdraw(actor=approver, request_id=request.pk)

    campaign.refresh_from_db()
    assert campaign.status == S.DRAFT
