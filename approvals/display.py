"""How pages show the workflow: a request's diff as rows, and what a decision will do, in words.

The approval pages and the campaign pages both read these, so a dialog on either says the same
thing before anything is saved. Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils import dateformat, timezone

from approvals import policy
from approvals.diff import CONTENT_FIELDS, diff, label_names_for
from approvals.models import ApprovalRequest, RequestKind, RequestStatus
from campaigns import rules
from campaigns.choices import CampaignType, Channel, Delivery, Section, Status
from campaigns.models import Campaign
from campaigns.validation import first_run_at


def moment(value: dt.datetime | None) -> str:
    """A time as the pages write it, in the project's time zone."""
    if value is None:
        return ""
    return dateformat.format(timezone.localtime(value), "j M Y, H:i T")


# ---------------------------------------------------------------------------------------------
# The diff
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DiffRow:
    section: str  # "What"
    path: str  # "what.message.title"
    kind: str  # added, removed, changed
    old: str
    new: str


# Fields whose values are choices: a diff shows their labels ("Push Notifications", not "push").
CHOICE_FIELDS: dict[str, type[models.TextChoices]] = {
    "channel": Channel,
    "type": CampaignType,
    "delivery": Delivery,
}


def _value_text(value: Any, field: str = "") -> str:
    choices = CHOICE_FIELDS.get(field)
    if choices is not None and value in choices.values:
        return str(choices(value).label)
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2, ensure_ascii=False)
    return "" if value is None else str(value)


def live_content(campaign: Campaign) -> dict[str, Any]:
    """approvals.diff.snapshot, reading the labels from a prefetch when there is one."""
    data = {key: getattr(campaign, key) for key in CONTENT_FIELDS if key != "labels"}
    data["labels"] = sorted(label.pk for label in campaign.labels.all())
    return data


def request_base(request: ApprovalRequest, campaign: Campaign) -> dict[str, Any]:
    """What the proposal is compared with: nothing for a campaign never live; the live campaign
    while its changes are open (pending or rejected, it runs as it was); else the live version
    the request was made against."""
    if request.kind != RequestKind.REVISION:
        return {}
    open_now = request.status in (RequestStatus.PENDING, RequestStatus.REJECTED)
    if open_now and campaign.live_status:
        return live_content(campaign)
    return dict(request.base or {})


def diff_rows(
    base: dict[str, Any], proposed: dict[str, Any], label_names: dict[int, str] | None = None
) -> list[DiffRow]:
    names = label_names if label_names is not None else label_names_for(base, proposed)
    return [
        DiffRow(
            section=Section(change.section).label,
            path=change.path,
            kind=change.kind,
            old="" if change.kind == "added" else _value_text(change.old, change.path),
            new="" if change.kind == "removed" else _value_text(change.new, change.path),
        )
        for change in diff(base, proposed, names)
    ]


def request_diff(
    request: ApprovalRequest, campaign: Campaign, label_names: dict[int, str] | None = None
) -> list[DiffRow]:
    return diff_rows(request_base(request, campaign), request.proposed or {}, label_names)


# ---------------------------------------------------------------------------------------------
# What a decision will do
# ---------------------------------------------------------------------------------------------
def publish_outcome(campaign: Campaign, now: dt.datetime | None = None) -> str:
    """Where publishing a campaign never live lands, from its content as it is now."""
    now = now or timezone.now()
    try:
        first = first_run_at(campaign.delivery, campaign.when, now)
        target = rules.publish_target(Delivery(campaign.delivery), first, now)
    except (KeyError, TypeError, ValueError):
        return "it is published as its schedule says."
    if target == Status.SCHEDULED and first is not None:
        return f"it will be Scheduled for {moment(first)}."
    if target == Status.SCHEDULED:
        return "it will be Scheduled."
    return "it will be Running from now on."


def approve_outcome(
    campaign: Campaign, request: ApprovalRequest, answer: policy.CampaignRules
) -> str:
    if answer.notice == policy.Notice.CHANGES_DISCARDED:
        return f"{answer.notice_text} Approving closes the request without applying the changes."
    if answer.notice == policy.Notice.SCHEDULED_IN_PAST:
        return answer.notice_text
    if request.kind == RequestKind.PUBLISH:
        return f"Approving publishes the campaign: {publish_outcome(campaign)}"
    live = Status(campaign.live_status or Status.SCHEDULED).label
    text = f"Approving applies these changes to the live campaign at once; it stays {live}"
    if campaign.next_run_at:
        text += f", next send {moment(campaign.next_run_at)}"
    return text + "."


def reject_outcome(campaign: Campaign, request: ApprovalRequest) -> str:
    if request.kind == RequestKind.REVISION and campaign.live_status:
        live = Status(campaign.live_status).label
        return (
            f"Rejecting leaves the live campaign untouched: it keeps running as it is ({live}). "
            "The changes show as Rejected, with your comment, until they are sent again or "
            "withdrawn."
        )
    return (
        "Rejecting sends the campaign back to its creator with your comment: it shows "
        "Rejected and is not published."
    )


def withdraw_outcome(campaign: Campaign, request: ApprovalRequest) -> str:
    back = Status(request.return_status)
    if back in rules.LIVE or campaign.live_status:
        live = Status(campaign.live_status or back).label
        return (
            f"Withdrawing takes the changes back: the campaign shows {live} again, as it has "
            "run all along, and approvers no longer see the request."
        )
    return (
        f"Withdrawing takes the request back: the campaign returns to {back.label}, and "
        "approvers no longer see it."
    )


def submit_outcome(campaign: Campaign) -> str:
    if campaign.live_status:
        live = Status(campaign.live_status).label
        return (
            "Your rejected changes go to the approvers again, who are e-mailed a link. The live "
            f"campaign keeps running as it is ({live}) until they are approved."
        )
    return (
        "Approvers are e-mailed a link to review it. The campaign shows Approval Pending until "
        "one of them approves it (it is then published) or rejects it with a comment."
    )
