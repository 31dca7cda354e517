"""The campaign state machine and the edit rules, as data.

Two tables drive everything: TRANSITIONS (which action moves which state where) and EDITABLE (which
sections may change in each state). Services consult them; pages and the API show their reasons.
There is no pause: a published campaign can be stopped, and stopping is final.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from campaigns.choices import Action, Delivery, Section, Status

if TYPE_CHECKING:
    from campaigns.models import Campaign

S = Status
ALL_SECTIONS = frozenset(Section)
LIVE = frozenset({S.SCHEDULED, S.RUNNING, S.AWAITING_NEXT_RUN})
FINAL = frozenset({S.STOPPED, S.COMPLETED})

# action -> {from_state: allowed to_states}
TRANSITIONS: dict[Action, dict[Status, frozenset[Status]]] = {
    # From Rejected only with campaign approval off (approvals.policy), or by an approver
    # publishing the rejected changes of a live campaign.
    Action.PUBLISH: {
        S.DRAFT: frozenset({S.SCHEDULED, S.RUNNING}),
        S.REJECTED: frozenset({S.SCHEDULED, S.RUNNING, S.AWAITING_NEXT_RUN}),
    },
    # The creator-approver workflow (approvals.policy says who may, when).
    Action.SUBMIT: {
        S.DRAFT: frozenset({S.PENDING_APPROVAL}),
        S.REJECTED: frozenset({S.PENDING_APPROVAL}),
    },
    # Changes to a live campaign sent for approval: the live version keeps running meanwhile.
    Action.REVISE: {state: frozenset({S.PENDING_APPROVAL}) for state in LIVE},
    Action.APPROVE: {S.PENDING_APPROVAL: frozenset({S.SCHEDULED, S.RUNNING, S.AWAITING_NEXT_RUN})},
    Action.REJECT: {S.PENDING_APPROVAL: frozenset({S.REJECTED})},
    Action.WITHDRAW: {
        S.PENDING_APPROVAL: frozenset(
            {S.DRAFT, S.REJECTED, S.SCHEDULED, S.RUNNING, S.AWAITING_NEXT_RUN}
        )
    },
    # Changes whose send has gone out as it was: the campaign goes back to its live status.
    Action.DISCARD: {
        S.PENDING_APPROVAL: frozenset({S.SCHEDULED, S.RUNNING, S.AWAITING_NEXT_RUN, S.COMPLETED})
    },
    # From Approval Pending / Rejected only while a live version runs (Campaign.live_status).
    Action.STOP: {
        **{state: frozenset({S.STOPPED}) for state in LIVE},
        S.PENDING_APPROVAL: frozenset({S.STOPPED}),
        S.REJECTED: frozenset({S.STOPPED}),
    },
    # The scheduler's moves.
    Action.RUN_START: {
        S.SCHEDULED: frozenset({S.RUNNING}),
        S.AWAITING_NEXT_RUN: frozenset({S.RUNNING}),
    },
    Action.RUN_FINISH: {S.RUNNING: frozenset({S.AWAITING_NEXT_RUN, S.COMPLETED})},
    Action.COMPLETE: {state: frozenset({S.COMPLETED}) for state in LIVE},
}

# Actions that keep the status, and the states they are allowed in (archived aside).
STATELESS_ACTIONS: dict[Action, frozenset[Status]] = {
    Action.CLONE: frozenset(Status),
    Action.ARCHIVE: frozenset({S.DRAFT, S.COMPLETED, S.STOPPED, S.REJECTED}),
    Action.EDIT: frozenset(Status) - FINAL,
}

# What a user can ask for on a campaign, in the order pages show them.
USER_ACTIONS = (Action.EDIT, Action.PUBLISH, Action.STOP, Action.CLONE, Action.ARCHIVE)

# Why an action is refused in a state, when it is.
REFUSALS: dict[tuple[Action, Status], str] = {
    (Action.STOP, S.DRAFT): "Drafts are not live; there is nothing to stop.",
    (Action.STOP, S.STOPPED): "The campaign is already stopped.",
    (Action.STOP, S.COMPLETED): "The campaign has completed; there is nothing to stop.",
    (Action.STOP, S.PENDING_APPROVAL): "The campaign is awaiting approval and not live yet.",
    (Action.STOP, S.REJECTED): "Rejected campaigns are not live; there is nothing to stop.",
    (Action.ARCHIVE, S.SCHEDULED): "Live campaigns must be stopped before they are archived.",
    (Action.ARCHIVE, S.RUNNING): "Live campaigns must be stopped before they are archived.",
    (
        Action.ARCHIVE,
        S.AWAITING_NEXT_RUN,
    ): "Live campaigns must be stopped before they are archived.",
    (Action.ARCHIVE, S.PENDING_APPROVAL): "Campaigns awaiting approval cannot be archived.",
    (Action.EDIT, S.STOPPED): "Stopped campaigns are final; clone it to send again.",
    (Action.EDIT, S.COMPLETED): "Completed campaigns are final; clone it to send again.",
}
ARCHIVED_REASON = "Archived campaigns are read-only; clone it to work on it again."

# state -> sections that may change (before the scheduled time; see editable_sections for time).
EDITABLE: dict[Status, frozenset[Section]] = {
    S.DRAFT: ALL_SECTIONS,
    # "Campaigns scheduled for later: Who, What and When" (and their name and labels).
    S.SCHEDULED: ALL_SECTIONS,
    # "Live campaigns awaiting next run: What, campaign name and message labels."
    S.AWAITING_NEXT_RUN: frozenset({Section.WHAT, Section.NAME, Section.LABELS}),
    S.RUNNING: frozenset({Section.WHAT}),
    # Before the first run; after it, only What (see editable_sections).
    S.PENDING_APPROVAL: ALL_SECTIONS,
    S.REJECTED: ALL_SECTIONS,
    S.STOPPED: frozenset(),
    S.COMPLETED: frozenset(),
}

EDIT_REASONS: dict[Status, str] = {
    S.AWAITING_NEXT_RUN: "Awaiting next run: only What, the name and labels can change.",
    S.RUNNING: "Running: only What can change.",
    S.STOPPED: "Stopped campaigns are final.",
    S.COMPLETED: "Completed campaigns are final.",
}
AFTER_FIRST_RUN_REASON = "The first run has happened: only What can change."
TIME_PASSED_REASON = "The scheduled time has passed; changes now would be discarded."

# Which section each editable field belongs to. Channel, type and delivery shape the whole
# campaign, so they change only while Who, What and When all may (nothing has run yet).
FIELD_SECTIONS: dict[str, Section] = {
    "name": Section.NAME,
    "labels": Section.LABELS,
    "who": Section.WHO,
    "what": Section.WHAT,
    "channel": Section.WHAT,
    "type": Section.WHAT,
    "when": Section.WHEN,
    "delivery": Section.WHEN,
}
SHAPE_FIELDS = frozenset({"channel", "type", "delivery"})


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""


def transition_target(action: Action, state: Status) -> frozenset[Status]:
    return TRANSITIONS.get(action, {}).get(state, frozenset())


def _status_label(state: Status) -> str:
    return Status(state).label


def action_verdict(campaign: Campaign, action: Action) -> Verdict:
    """May `action` happen to this campaign now, as far as its state goes? (Roles are checked apart.)"""
    state = Status(campaign.status)
    if campaign.archived_at is not None and action != Action.CLONE:
        return Verdict(False, ARCHIVED_REASON)
    if action in STATELESS_ACTIONS:
        if state in STATELESS_ACTIONS[action]:
            if action == Action.EDIT and not any(
                v is None for v in editable_sections(campaign).values()
            ):
                return Verdict(False, _first_reason(editable_sections(campaign)))
            return Verdict(True)
    elif transition_target(action, state):
        if action == Action.STOP and state not in LIVE and campaign.live_status not in LIVE:
            return Verdict(False, REFUSALS[(action, state)])
        return Verdict(True)
    reason = REFUSALS.get((action, state))
    if reason is None:
        reason = (
            f"A campaign that is {_status_label(state)} cannot be {Action(action).label.lower()}."
        )
    return Verdict(False, reason)


def _first_reason(sections: dict[Section, str | None]) -> str:
    return next((r for r in sections.values() if r), "Nothing can be edited.")


def editable_sections(
    campaign: Campaign, now: dt.datetime | None = None
) -> dict[Section, str | None]:
    """For each section: None when it may change now, else the reason it may not."""
    from django.utils import timezone

    now = now or timezone.now()
    state = Status(campaign.status)
    if campaign.archived_at is not None:
        return {section: ARCHIVED_REASON for section in Section}
    allowed = EDITABLE[state]
    reason = EDIT_REASONS.get(state, "")
    if state in (S.PENDING_APPROVAL, S.REJECTED) and campaign.runs_count > 0:
        allowed, reason = frozenset({Section.WHAT}), AFTER_FIRST_RUN_REASON
    if (
        state in (S.SCHEDULED, S.AWAITING_NEXT_RUN)
        and campaign.next_run_at is not None
        and campaign.next_run_at <= now
    ):
        allowed, reason = frozenset(), TIME_PASSED_REASON
    return {
        section: None if section in allowed else (reason or f"{_status_label(state)}: locked.")
        for section in Section
    }


def publish_target(
    delivery: Delivery, first_run_at: dt.datetime | None, now: dt.datetime
) -> Status:
    """Where publishing lands: Scheduled when the first send is in the future, else Running.

    Recurring and multiple-dates campaigns always wait for their first date (Scheduled); after a run
    they move between Running and Awaiting Next Run (the scheduler's RUN_START / RUN_FINISH).
    """
    if delivery in (Delivery.RECURRING, Delivery.MULTIPLE_DATES):
        return S.SCHEDULED
    if first_run_at is not None and first_run_at > now:
        return S.SCHEDULED
    return S.RUNNING
