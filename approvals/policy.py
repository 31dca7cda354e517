"""Who may do what to a campaign, now: the one function pages, API and services all ask.

`campaign_rules(campaign, user, now)` answers, for that user at that moment, which sections may
change, where an edit goes (straight to the campaign, or into a proposal that needs approval),
which actions are allowed (each with its reason when not), and which notice the spec's "popup"
shows. With Campaign Approval off it is campaigns.rules' state machine; with it on, the table under
"Campaign States" in the spec, cell by cell, is APPROVAL_TABLE below (docs/approvals.md and
docs/decisions/ explain each reading).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from accounts.roles import Perm, has_perm
from campaigns import rules
from campaigns.choices import Action, Section, Status

if TYPE_CHECKING:
    from approvals.models import ApprovalRequest, ApprovalSettings
    from campaigns.models import Campaign

S = Status
A = Action
ALL = frozenset(Section)
WHAT = frozenset({Section.WHAT})
NOTHING: frozenset[Section] = frozenset()


class Role(StrEnum):
    """The table's two columns. Approvers and Admins review; everyone else is a creator."""

    CREATOR = "creator"
    APPROVER = "approver"


class Phase(StrEnum):
    NEW = "new"  # the first run has not started
    RAN = "ran"  # the first run is done


class Time(StrEnum):
    BEFORE = "before"  # before the scheduled time (or there is none: sends follow events or calls)
    AFTER = "after"
    DURING = "during"  # Running: the table has one row


class Mode(StrEnum):
    """Where an edit goes."""

    DIRECT = "direct"  # into the campaign now
    # Into a proposal that goes to an approver: the live campaign runs as it was meanwhile.
    REVISION = "revision"
    NONE = "none"


class Notice(StrEnum):
    CHANGES_NEED_APPROVAL = "changes_need_approval"
    CHANGES_DISCARDED = "changes_discarded"
    SCHEDULED_IN_PAST = "scheduled_in_past"
    RUN_TODAY_OR_TOMORROW = "run_today_or_tomorrow"


# Why a creator's edit of a live campaign is not saved as it is (campaign_propose takes it).
APPROVAL_REQUIRED = (
    "Campaign approval is on: send these changes for approval; the live campaign keeps "
    "running as it is until they are approved."
)

NOTICE_TEXT: dict[Notice, str] = {
    Notice.CHANGES_NEED_APPROVAL: "Campaign approval is on: your changes go to an approver, and "
    "the live campaign keeps running as it is until they are approved.",
    Notice.CHANGES_DISCARDED: "The scheduled time has passed: the campaign goes out as it was, "
    "and changes made for that send are discarded.",
    Notice.SCHEDULED_IN_PAST: "This campaign was scheduled for a time that has passed. Give it a "
    "new time before you approve it.",
    Notice.RUN_TODAY_OR_TOMORROW: "The scheduled time has passed. Choose whether the next run "
    "happens today or tomorrow when you publish.",
}


@dataclass(frozen=True)
class Cell:
    sections: frozenset[Section]
    # DIRECT or REVISION; "proposal" cells (Approval Pending, Rejected) say PROPOSAL and become
    # DIRECT for a campaign never live (the campaign is the proposal) or REVISION for a live one.
    mode: str
    actions: frozenset[Action]
    notice: Notice | None = None


PROPOSAL = "proposal"
R = Role
P = Phase
T = Time


def _cell(sections: frozenset[Section], mode: str, *actions: Action, notice: Notice | None = None):
    return Cell(sections, mode, frozenset(actions), notice)


_DISCARDED = Notice.CHANGES_DISCARDED
_NEEDS_APPROVAL = Notice.CHANGES_NEED_APPROVAL

# (status, phase, time, role) -> what that role may do. Phase None: any; see _scenario.
APPROVAL_TABLE: dict[tuple[Status, Phase | None, Time, Role], Cell] = {
    # Not in the spec's table: a draft is built freely, then sent for approval; an approver may
    # publish one (unless they wrote it and self-approval is off), or send it on like anyone.
    (S.DRAFT, None, T.BEFORE, R.CREATOR): _cell(ALL, Mode.DIRECT, A.EDIT, A.SUBMIT),
    (S.DRAFT, None, T.AFTER, R.CREATOR): _cell(ALL, Mode.DIRECT, A.EDIT, A.SUBMIT),
    (S.DRAFT, None, T.BEFORE, R.APPROVER): _cell(ALL, Mode.DIRECT, A.EDIT, A.SUBMIT, A.PUBLISH),
    (S.DRAFT, None, T.AFTER, R.APPROVER): _cell(ALL, Mode.DIRECT, A.EDIT, A.SUBMIT, A.PUBLISH),
    # Scheduled, before: creator edits Who/What/When and sends for approval; approver edits all
    # and publishes. After: nobody edits; the approver can only approve; changes are discarded.
    (S.SCHEDULED, None, T.BEFORE, R.CREATOR): _cell(
        ALL, Mode.REVISION, A.EDIT, notice=_NEEDS_APPROVAL
    ),
    (S.SCHEDULED, None, T.BEFORE, R.APPROVER): _cell(ALL, Mode.DIRECT, A.EDIT),
    (S.SCHEDULED, None, T.AFTER, R.CREATOR): _cell(NOTHING, Mode.NONE, notice=_DISCARDED),
    (S.SCHEDULED, None, T.AFTER, R.APPROVER): _cell(
        NOTHING, Mode.NONE, A.APPROVE, notice=_DISCARDED
    ),
    # Awaiting Next Run: What only, before; after, as Scheduled.
    (S.AWAITING_NEXT_RUN, None, T.BEFORE, R.CREATOR): _cell(
        WHAT, Mode.REVISION, A.EDIT, notice=_NEEDS_APPROVAL
    ),
    (S.AWAITING_NEXT_RUN, None, T.BEFORE, R.APPROVER): _cell(WHAT, Mode.DIRECT, A.EDIT),
    (S.AWAITING_NEXT_RUN, None, T.AFTER, R.CREATOR): _cell(NOTHING, Mode.NONE, notice=_DISCARDED),
    (S.AWAITING_NEXT_RUN, None, T.AFTER, R.APPROVER): _cell(
        NOTHING, Mode.NONE, A.APPROVE, notice=_DISCARDED
    ),
    # Running, during execution: What only.
    (S.RUNNING, None, T.DURING, R.CREATOR): _cell(
        WHAT, Mode.REVISION, A.EDIT, notice=_NEEDS_APPROVAL
    ),
    (S.RUNNING, None, T.DURING, R.APPROVER): _cell(WHAT, Mode.DIRECT, A.EDIT),
    # Approval Pending, before the first run: the creator edits all, before or after the time;
    # the approver edits all and approves before it, and after it is told the time has passed:
    # edits all (a new time) and publishes.
    (S.PENDING_APPROVAL, P.NEW, T.BEFORE, R.CREATOR): _cell(ALL, PROPOSAL, A.EDIT, A.WITHDRAW),
    (S.PENDING_APPROVAL, P.NEW, T.AFTER, R.CREATOR): _cell(ALL, PROPOSAL, A.EDIT, A.WITHDRAW),
    (S.PENDING_APPROVAL, P.NEW, T.BEFORE, R.APPROVER): _cell(
        ALL, PROPOSAL, A.EDIT, A.APPROVE, A.REJECT
    ),
    (S.PENDING_APPROVAL, P.NEW, T.AFTER, R.APPROVER): _cell(
        ALL, PROPOSAL, A.EDIT, A.APPROVE, A.REJECT, notice=Notice.SCHEDULED_IN_PAST
    ),
    # Approval Pending, first run done: What only before the next time; after it, changes are
    # discarded (the approver may still close the request: approving it discards the changes).
    (S.PENDING_APPROVAL, P.RAN, T.BEFORE, R.CREATOR): _cell(WHAT, PROPOSAL, A.EDIT, A.WITHDRAW),
    (S.PENDING_APPROVAL, P.RAN, T.AFTER, R.CREATOR): _cell(
        NOTHING, Mode.NONE, A.WITHDRAW, notice=_DISCARDED
    ),
    (S.PENDING_APPROVAL, P.RAN, T.BEFORE, R.APPROVER): _cell(
        WHAT, PROPOSAL, A.EDIT, A.APPROVE, A.REJECT
    ),
    (S.PENDING_APPROVAL, P.RAN, T.AFTER, R.APPROVER): _cell(
        NOTHING, Mode.NONE, A.APPROVE, A.REJECT, notice=_DISCARDED
    ),
    # Rejected, first run not started: the creator edits all (before or after) and sends again;
    # the approver edits What only before the time and sends it for approval (not publishes:
    # docs/decisions/approver-rejected-send.md); after the time the approver's changes are discarded.
    (S.REJECTED, P.NEW, T.BEFORE, R.CREATOR): _cell(ALL, PROPOSAL, A.EDIT, A.SUBMIT),
    (S.REJECTED, P.NEW, T.AFTER, R.CREATOR): _cell(ALL, PROPOSAL, A.EDIT, A.SUBMIT),
    (S.REJECTED, P.NEW, T.BEFORE, R.APPROVER): _cell(WHAT, PROPOSAL, A.EDIT, A.SUBMIT),
    (S.REJECTED, P.NEW, T.AFTER, R.APPROVER): _cell(NOTHING, Mode.NONE, notice=_DISCARDED),
    # Rejected, first run done: the creator edits What (before or after) and sends again; the
    # approver edits What and publishes, and after the time chooses whether it runs today or
    # tomorrow.
    (S.REJECTED, P.RAN, T.BEFORE, R.CREATOR): _cell(WHAT, PROPOSAL, A.EDIT, A.SUBMIT),
    (S.REJECTED, P.RAN, T.AFTER, R.CREATOR): _cell(WHAT, PROPOSAL, A.EDIT, A.SUBMIT),
    (S.REJECTED, P.RAN, T.BEFORE, R.APPROVER): _cell(WHAT, PROPOSAL, A.EDIT, A.PUBLISH),
    (S.REJECTED, P.RAN, T.AFTER, R.APPROVER): _cell(
        WHAT, PROPOSAL, A.EDIT, A.PUBLISH, notice=Notice.RUN_TODAY_OR_TOMORROW
    ),
}

# What pages offer, in order (a page shows the ones allowed, and the refused ones' reasons).
ACTIONS = (
    A.EDIT,
    A.SUBMIT,
    A.PUBLISH,
    A.APPROVE,
    A.REJECT,
    A.WITHDRAW,
    A.STOP,
    A.CLONE,
    A.ARCHIVE,
)
ACTION_PERMS: dict[Action, Perm] = {
    A.EDIT: Perm.EDIT,
    A.SUBMIT: Perm.EDIT,
    A.PUBLISH: Perm.PUBLISH,
    A.APPROVE: Perm.APPROVE,
    A.REJECT: Perm.APPROVE,
    A.WITHDRAW: Perm.EDIT,
    A.STOP: Perm.STOP,
    A.CLONE: Perm.CLONE,
    A.ARCHIVE: Perm.ARCHIVE,
}


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""
    code: str = ""  # why not, for clients: approval_required, self_approval, changes_discarded...


OK = Verdict(True)


@dataclass(frozen=True)
class CampaignRules:
    role: Role
    approval_on: bool
    scenario: str  # "scheduled/before", "pending_approval/ran/after", ...
    scheduled_at: dt.datetime | None
    sections: dict[Section, str | None]  # None: may change now; else why not
    mode: Mode
    actions: dict[Action, Verdict]
    notice: Notice | None
    request: ApprovalRequest | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def notice_text(self) -> str:
        return NOTICE_TEXT[self.notice] if self.notice else ""

    def allowed(self, action: Action) -> bool:
        return self.actions[action].allowed

    def editable(self) -> frozenset[Section]:
        return frozenset(s for s, reason in self.sections.items() if reason is None)


def role_of(user: Any) -> Role:
    return Role.APPROVER if has_perm(user, Perm.APPROVE) else Role.CREATOR


def pending_request(campaign: Campaign) -> ApprovalRequest | None:
    """The campaign's open request, from a prefetch of approval_requests when there is one."""
    return _latest(campaign, "pending")


def latest_rejected(campaign: Campaign) -> ApprovalRequest | None:
    return _latest(campaign, "rejected")


def _latest(campaign: Campaign, status: str) -> ApprovalRequest | None:
    cache = getattr(campaign, "_prefetched_objects_cache", {}).get("approval_requests")
    if cache is not None:
        found = [r for r in cache if r.status == status]
        return max(found, key=lambda r: (r.requested_at, r.pk)) if found else None
    return campaign.approval_requests.filter(status=status).order_by("-requested_at", "-id").first()


def workflow_request(campaign: Campaign) -> ApprovalRequest | None:
    """The request the campaign's status speaks of: the pending one, or the rejected one."""
    if campaign.status == S.PENDING_APPROVAL:
        return pending_request(campaign)
    if campaign.status == S.REJECTED:
        return latest_rejected(campaign)
    return None


def prefetch_requests(campaigns: list[Campaign]) -> None:
    """Give the campaigns in the workflow their pending and rejected requests (with chosen
    approvers), so answering for a page of campaigns costs two queries, and none when no campaign
    needs them."""
    from django.db.models import Prefetch, prefetch_related_objects

    from approvals.models import ApprovalRequest, RequestStatus

    rows = [c for c in campaigns if c.status in (S.PENDING_APPROVAL, S.REJECTED)]
    if rows:
        requests = ApprovalRequest.objects.filter(
            status__in=(RequestStatus.PENDING, RequestStatus.REJECTED)
        ).prefetch_related("approvers")
        prefetch_related_objects(rows, Prefetch("approval_requests", queryset=requests))


def campaigns_rules(campaigns: list[Campaign], user: Any) -> list[CampaignRules]:
    """campaign_rules for many campaigns at one moment: the setting read once, the requests
    prefetched."""
    from approvals.models import ApprovalSettings

    prefetch_requests(campaigns)
    approval, now = ApprovalSettings.current(), timezone.now()
    return [campaign_rules(c, user, now, approval=approval) for c in campaigns]


def labels_reason(answer: CampaignRules) -> str | None:
    """Why this user may not change the campaign's labels directly now, or None."""
    if answer.sections[Section.LABELS]:
        return answer.sections[Section.LABELS]
    return APPROVAL_REQUIRED if answer.mode == Mode.REVISION else None


def has_live_version(campaign: Campaign) -> bool:
    return campaign.status in rules.LIVE or campaign.live_status in rules.LIVE


def proposal_first_run(campaign: Campaign, now: dt.datetime) -> dt.datetime | None:
    """When a campaign never live would first send, as its content says now (None: at once or on
    events; also None when the schedule is incomplete)."""
    from campaigns.validation import first_run_at

    try:
        first = first_run_at(campaign.delivery, campaign.when, now)
    except (KeyError, TypeError, ValueError):
        return None
    # "Send now" is never "after the time".
    return None if first == now else first


def scheduled_time(
    campaign: Campaign, request: ApprovalRequest | None, now: dt.datetime
) -> dt.datetime | None:
    """ "The scheduled time" of the table for this campaign.

    Live campaigns: their next send. A request about a live campaign: the send it was made for
    (changes for Monday's run are discarded once Monday's run has gone). A campaign never live
    and in the workflow: the first send its content names. Drafts, stopped and completed
    campaigns: none (no rule of theirs depends on it, and reading a draft's schedule is the
    costliest part of answering for a page of campaigns).
    """
    if campaign.status in rules.LIVE:
        return campaign.next_run_at
    if campaign.live_status and request is not None:
        return request.target_run_at
    if campaign.status in (S.PENDING_APPROVAL, S.REJECTED):
        return proposal_first_run(campaign, now)
    return None


def _scenario(campaign: Campaign, when: dt.datetime | None, now: dt.datetime):
    state = Status(campaign.status)
    time = Time.AFTER if when is not None and when <= now else Time.BEFORE
    if state == S.RUNNING:
        time = Time.DURING
    return state, _phase(campaign, time), time


def _phase(campaign: Campaign, time: Time) -> Phase:
    """Has the first run started? The scheduler counts runs; besides, a live version that is
    Running or Awaiting Next Run has started, and a Scheduled one whose time has come went out as
    it was (changes for that send are discarded, as the Scheduled row says)."""
    if campaign.runs_count > 0 or campaign.live_status in (S.RUNNING, S.AWAITING_NEXT_RUN):
        return Phase.RAN
    if campaign.live_status and time == Time.AFTER:
        return Phase.RAN
    return Phase.NEW


def _off_sections(campaign: Campaign, now: dt.datetime) -> dict[Section, str | None]:
    return rules.editable_sections(campaign, now)


def campaign_rules(
    campaign: Campaign,
    user: Any,
    now: dt.datetime | None = None,
    *,
    approval: ApprovalSettings | None = None,
) -> CampaignRules:
    """The answer for (campaign, user, now). `approval` is the setting, read if not given."""
    from approvals.models import ApprovalSettings

    now = now or timezone.now()
    approval = approval or ApprovalSettings.current()
    role = role_of(user)
    request = workflow_request(campaign)
    when = scheduled_time(campaign, request, now)
    state, phase, time = _scenario(campaign, when, now)
    live = has_live_version(campaign)
    in_workflow = state in (S.PENDING_APPROVAL, S.REJECTED)
    scenario = "/".join(
        [state.value]
        + ([phase.value] if in_workflow else [])
        + ([time.value] if state not in (S.STOPPED, S.COMPLETED) else [])
    )

    if campaign.archived_at is not None:
        sections = {s: rules.ARCHIVED_REASON for s in Section}
        actions = {
            a: (OK if a == A.CLONE else Verdict(False, rules.ARCHIVED_REASON, "read_only"))
            for a in ACTIONS
        }
        actions = _with_perms(actions, user)
        return CampaignRules(
            role, approval.enabled, scenario, when, sections, Mode.NONE, actions, None, request
        )

    cell: Cell | None = None
    if approval.enabled or in_workflow:
        key_phase = phase if in_workflow else None
        cell = APPROVAL_TABLE.get((state, key_phase, time, role))

    if cell is None:
        # Campaign approval off (or a final state): the state machine of campaigns.rules.
        sections = _off_sections(campaign, now)
        mode = Mode.DIRECT if any(r is None for r in sections.values()) else Mode.NONE
        allowed = {A.EDIT, A.PUBLISH} if state == S.DRAFT else {A.EDIT}
        cell = Cell(
            frozenset(s for s, r in sections.items() if r is None), mode, frozenset(allowed)
        )
        notice = None
    else:
        mode = cell.mode
        if mode == PROPOSAL:
            mode = Mode.REVISION if live else Mode.DIRECT
        reason = _locked_reason(state, phase, time, cell)
        sections = {s: None if s in cell.sections else reason for s in Section}
        notice = cell.notice
        if not approval.enabled and state == S.REJECTED:
            # With approval switched off, nothing gates a rejected campaign any more.
            cell = Cell(cell.sections, cell.mode, cell.actions | {A.PUBLISH}, cell.notice)
    actions = _verdicts(
        campaign, user, role, approval, cell, Mode(mode), sections, request, state, time, live
    )
    return CampaignRules(
        role,
        approval.enabled,
        scenario,
        when,
        sections,
        Mode(mode),
        _with_perms(actions, user),
        notice,
        request,
    )


def _locked_reason(state: Status, phase: Phase, time: Time, cell: Cell) -> str:
    if cell.notice == Notice.CHANGES_DISCARDED:
        return NOTICE_TEXT[Notice.CHANGES_DISCARDED]
    if state in (S.STOPPED, S.COMPLETED):
        return rules.EDIT_REASONS[state]
    if cell.sections == WHAT:
        if phase == Phase.RAN and state in (S.PENDING_APPROVAL, S.REJECTED):
            return rules.AFTER_FIRST_RUN_REASON
        return f"{state.label}: with campaign approval on, only What can change."
    return f"{state.label}: locked."


def is_author(user: Any, campaign: Campaign, request: ApprovalRequest | None) -> bool:
    """Did this user create the campaign, or write (send or last edit) what is up for approval?"""
    pk = getattr(user, "pk", None)
    authors = {campaign.created_by_id}
    if request is not None:
        authors |= {request.requested_by_id, request.content_edited_by_id}
    else:
        authors.add(campaign.updated_by_id)
    return pk in authors


SELF_APPROVAL = Verdict(
    False,
    "You created or last edited this campaign; another approver must approve it "
    "(an Admin can allow self-approval).",
    "self_approval",
)


def _verdicts(
    campaign: Campaign,
    user: Any,
    role: Role,
    approval: ApprovalSettings,
    cell: Cell,
    mode: Mode,
    sections: dict[Section, str | None],
    request: ApprovalRequest | None,
    state: Status,
    time: Time,
    live: bool,
) -> dict[Action, Verdict]:
    out: dict[Action, Verdict] = {}
    editable = any(r is None for r in sections.values())
    discarded = cell.notice == Notice.CHANGES_DISCARDED

    def refused(action: Action) -> Verdict:
        if discarded:
            return Verdict(False, NOTICE_TEXT[Notice.CHANGES_DISCARDED], Notice.CHANGES_DISCARDED)
        reason = rules.REFUSALS.get((action, state))
        if reason is None:
            reason = f"A campaign that is {state.label} cannot be {action.label.lower()}."
        return Verdict(False, reason, "invalid_transition")

    # Edit
    if A.EDIT in cell.actions and editable:
        out[A.EDIT] = OK
    elif state in rules.FINAL:
        out[A.EDIT] = Verdict(False, rules.REFUSALS[(A.EDIT, state)], "read_only")
    else:
        first = next((r for r in sections.values() if r), "Nothing can be edited now.")
        out[A.EDIT] = Verdict(False, first, Notice.CHANGES_DISCARDED if discarded else "read_only")

    # Submit (send for approval)
    if A.SUBMIT in cell.actions and (approval.enabled or state == S.REJECTED):
        out[A.SUBMIT] = OK
    elif not approval.enabled and state == S.DRAFT:
        out[A.SUBMIT] = Verdict(
            False, "Campaign approval is off: publish the campaign directly.", "approval_off"
        )
    elif state == S.PENDING_APPROVAL:
        out[A.SUBMIT] = Verdict(False, "The campaign is already awaiting approval.", "pending")
    elif state in rules.LIVE and mode == Mode.REVISION:
        out[A.SUBMIT] = Verdict(
            False, "Edit the campaign: your changes are sent for approval.", "edit_to_submit"
        )
    else:
        out[A.SUBMIT] = refused(A.SUBMIT)

    # Publish
    if A.PUBLISH in cell.actions:
        if approval.enabled and role == Role.APPROVER and not approval.allow_self_approval:
            author_request = request if state == S.REJECTED else None
            out[A.PUBLISH] = SELF_APPROVAL if is_author(user, campaign, author_request) else OK
        else:
            out[A.PUBLISH] = OK
    elif approval.enabled and role == Role.CREATOR and state in (S.DRAFT, S.REJECTED):
        out[A.PUBLISH] = Verdict(
            False,
            "Campaign approval is on: send the campaign for approval; an approver publishes it.",
            "approval_required",
        )
    elif state in rules.LIVE or state == S.PENDING_APPROVAL:
        reason = {
            S.PENDING_APPROVAL: "The campaign is awaiting approval; an approver approves it.",
        }.get(state, "The campaign is already published.")
        out[A.PUBLISH] = Verdict(False, reason, "invalid_transition")
    else:
        out[A.PUBLISH] = refused(A.PUBLISH)

    # Approve / reject
    for action in (A.APPROVE, A.REJECT):
        if action not in cell.actions:
            out[action] = (
                Verdict(
                    False, "Only approvers and Admins decide approval requests.", "not_approver"
                )
                if state == S.PENDING_APPROVAL and role == Role.CREATOR
                else Verdict(False, "Nothing is awaiting approval.", "no_pending_request")
                if state != S.PENDING_APPROVAL
                else refused(action)
            )
        elif request is None or not request.is_pending:
            out[action] = Verdict(False, "Nothing is awaiting approval.", "no_pending_request")
        elif not approval.allow_self_approval and is_author(user, campaign, request):
            out[action] = SELF_APPROVAL
        elif not _may_decide(user, request):
            out[action] = Verdict(
                False, "The requester chose other approvers for this request.", "not_chosen"
            )
        else:
            out[action] = OK

    # Withdraw: the requester or the campaign's creator, whatever their role (an approver sends
    # their own campaign to another approver, and may take it back).
    if request is not None and request.is_pending:
        ok = getattr(user, "pk", None) in (request.requested_by_id, campaign.created_by_id)
        out[A.WITHDRAW] = (
            OK
            if ok
            else Verdict(
                False,
                "Only the requester or the campaign's creator can withdraw it.",
                "not_requester",
            )
        )
    else:
        out[A.WITHDRAW] = Verdict(False, "Nothing is awaiting approval.", "no_pending_request")

    # Stop: whatever the workflow shows, a live version can always be stopped.
    out[A.STOP] = OK if live else refused(A.STOP)
    out[A.CLONE] = OK
    if campaign.live_status:
        out[A.ARCHIVE] = Verdict(
            False, "Live campaigns must be stopped before they are archived.", "invalid_transition"
        )
    else:
        verdict = rules.action_verdict(campaign, A.ARCHIVE)
        out[A.ARCHIVE] = Verdict(
            verdict.allowed, verdict.reason, "" if verdict.allowed else "invalid_transition"
        )
    return out


def _may_decide(user: Any, request: ApprovalRequest) -> bool:
    from accounts.roles import Role as AccountRole
    from accounts.roles import user_roles

    if AccountRole.ADMIN in user_roles(user):
        return True
    chosen = [u.pk for u in request.approvers.all()]
    return not chosen or getattr(user, "pk", None) in chosen


def _with_perms(actions: dict[Action, Verdict], user: Any) -> dict[Action, Verdict]:
    """The role's refusal first: a Marketer is told their role does not approve, whatever the state."""
    out = {}
    for action, verdict in actions.items():
        perm = ACTION_PERMS[action]
        if not has_perm(user, perm):
            verb = "approve or reject" if perm == Perm.APPROVE else perm.value
            out[action] = Verdict(
                False, f"Your role does not allow you to {verb} campaigns.", "permission_denied"
            )
        else:
            out[action] = verdict
    return out
