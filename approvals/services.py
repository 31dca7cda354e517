"""Every write of the creator-approver workflow.

Each service is one transaction: it locks the campaign row (then the request), asks
approvals.policy whether the actor may act now, changes the request and the campaign together,
writes the campaign's audit row, and queues its e-mails for after the commit. Two approvers acting
at once queue on the campaign's lock; the second finds the request decided and is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.roles import Perm, has_perm
from approvals import notifications, policy
from approvals.diff import CONTENT_FIELDS, snapshot
from approvals.models import (
    ApprovalRequest,
    ApprovalSettings,
    ApprovalSettingsChange,
    RequestKind,
    RequestStatus,
)
from campaigns import rules
from campaigns import services as campaign_services
from campaigns.choices import Action, Status
from campaigns.models import Campaign
from campaigns.validation import validate_campaign
from config.errors import Conflict, Forbidden, Invalid, NotFound, Refused
from labels.models import Label

MAX_NOTE = 2000
RUN_ON = ("today", "tomorrow")


# ---------------------------------------------------------------------------------------------
# The setting
# ---------------------------------------------------------------------------------------------
@transaction.atomic
def approval_settings_update(
    *, actor: Any, enabled: bool | None = None, allow_self_approval: bool | None = None
) -> ApprovalSettings:
    """Switch campaign approval (and self-approval) on or off; each change is audited.

    Requests already pending stay pending when approval is switched off: approvers still decide
    them, or their requesters withdraw them.
    """
    if not has_perm(actor, Perm.MANAGE_SETTINGS):
        raise Forbidden("Only Admins change the approval setting.")
    ApprovalSettings.objects.get_or_create(pk=1)
    current = ApprovalSettings.objects.select_for_update().get(pk=1)
    changes: dict[str, dict[str, bool]] = {}
    for key, value in (("enabled", enabled), ("allow_self_approval", allow_self_approval)):
        if value is None:
            continue
        if not isinstance(value, bool):
            raise Invalid("Give true or false.", errors={key: ["Must be true or false."]})
        if getattr(current, key) != value:
            changes[key] = {"old": getattr(current, key), "new": value}
            setattr(current, key, value)
    if changes:
        current.updated_by = actor
        current.save()
        ApprovalSettingsChange.objects.create(actor=actor, changes=changes)
    return current


# ---------------------------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------------------------
def _after_commit(queue: Callable[[int], None], request_id: int) -> None:
    """Queue a request's e-mails once the transaction commits. Robust: the decision is recorded
    by then, so a broker that cannot be reached is logged, not turned into an error for the
    person who decided."""
    transaction.on_commit(lambda: queue(request_id), robust=True)


def _locked_campaign(actor: Any, campaign_id: int) -> Campaign:
    return campaign_services._locked(actor, campaign_id)


def _locked_request(actor: Any, request_id: Any) -> tuple[ApprovalRequest, Campaign]:
    """The request and its campaign, both locked (campaign first, as every campaign write does)."""
    pk = campaign_services._as_id(request_id)
    found = (
        ApprovalRequest.objects.filter(pk=pk).values_list("campaign_id", flat=True).first()
        if pk
        else None
    )
    if found is None or not has_perm(actor, Perm.VIEW):
        raise NotFound(f"Approval request {request_id} does not exist.")
    campaign = _locked_campaign(actor, found)
    request = ApprovalRequest.objects.select_for_update().get(pk=pk)
    return request, campaign


def _note(value: Any, field: str = "note") -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Invalid("Give text.", errors={field: ["Must be text."]})
    text = value.strip()
    if len(text) > MAX_NOTE:
        raise Invalid("Too long.", errors={field: [f"At most {MAX_NOTE} characters."]})
    if "\x00" in text:
        raise Invalid("NUL character.", errors={field: ["Text may not contain NUL characters."]})
    return text


def _approvers(ids: Any, actor: Any, authors: set[Any] | None = None) -> list[Any]:
    """The chosen approvers: users who may approve this request, other than the requester (with
    self-approval off, not the campaign's `authors` either: they could not approve it)."""
    if ids in (None, ""):
        return []
    if isinstance(ids, str | bytes) or not isinstance(ids, Sequence):
        raise Invalid("Give a list.", errors={"approvers": ["Give a list of user ids."]})
    pks = [campaign_services._as_id(raw) for raw in ids]
    if any(pk is None for pk in pks):
        raise Invalid("Unknown approvers.", errors={"approvers": ["Give user ids."]})
    users = list(get_user_model().objects.filter(pk__in=pks, is_active=True))
    found = {u.pk for u in users}
    errors = [f"User {pk} does not exist." for pk in pks if pk not in found]
    errors += [
        f"{u.email or u.username} cannot approve campaigns."
        for u in users
        if not has_perm(u, Perm.APPROVE)
    ]
    errors += [
        "You cannot choose yourself: another approver must decide."
        for u in users
        if u.pk == actor.pk
    ]
    if authors and not ApprovalSettings.current().allow_self_approval:
        errors += [
            f"{u.email or u.username} created or last edited this campaign and cannot approve it."
            for u in users
            if u.pk in authors and u.pk != actor.pk
        ]
    if errors:
        raise Invalid("Some approvers cannot be chosen.", errors={"approvers": errors})
    return users


def _open(
    campaign: Campaign,
    *,
    actor: Any,
    kind: RequestKind,
    base: dict[str, Any],
    proposed: dict[str, Any],
    note: str,
    approvers: list[Any],
    target_run_at: dt.datetime | None,
    content_edited_by: Any,
) -> ApprovalRequest:
    try:
        with transaction.atomic():
            request = ApprovalRequest.objects.create(
                campaign=campaign,
                kind=kind,
                requested_by=actor,
                note=note,
                base=base,
                proposed=proposed,
                return_status=campaign.status,
                target_run_at=target_run_at,
                content_edited_by=content_edited_by,
            )
    except IntegrityError:  # pragma: no cover - the campaign lock makes this unreachable
        raise Conflict("The campaign already awaits approval.") from None
    request.approvers.set(approvers)
    _after_commit(notifications.request_sent, request.pk)
    return request


@transaction.atomic
def campaign_submit(
    *, actor: Any, campaign_id: int, note: str = "", approvers: Sequence[Any] = ()
) -> ApprovalRequest:
    """Send a campaign for approval as it is: a draft, or a rejected campaign (or its rejected
    changes, for a live one) sent again."""
    campaign_services._require(actor, Perm.EDIT)
    campaign = _locked_campaign(actor, campaign_id)
    answer = campaign_services._check(campaign, Action.SUBMIT, actor)
    if campaign.live_status:
        assert answer.request is not None
        author = answer.request.content_edited_by or actor
    else:
        author = _content_author(campaign, answer.request, actor)
    note = _note(note)
    chosen = _approvers(approvers, actor, {campaign.created_by_id, author.pk})
    now = timezone.now()
    before = campaign.status
    if campaign.live_status:
        rejected = answer.request
        assert rejected is not None
        request = _open(
            campaign,
            actor=actor,
            kind=RequestKind.REVISION,
            base=snapshot(campaign),
            proposed=rejected.proposed,
            note=note,
            approvers=chosen,
            target_run_at=campaign.next_run_at,
            content_edited_by=author,
        )
    else:
        validate_campaign(**campaign_services.campaign_content(campaign))
        request = _open(
            campaign,
            actor=actor,
            kind=RequestKind.PUBLISH,
            base={},
            proposed=snapshot(campaign),
            note=note,
            approvers=chosen,
            target_run_at=policy.proposal_first_run(campaign, now),
            content_edited_by=author,
        )
    campaign.status = Status.PENDING_APPROVAL
    campaign.last_active_at = now
    campaign.save(update_fields=["status", "last_active_at", "updated_at"])
    campaign_services._audit(
        campaign,
        actor=actor,
        action=Action.SUBMIT,
        from_status=before,
        to_status=campaign.status,
        changes=_request_detail(request),
    )
    return request


def _content_author(campaign: Campaign, rejected: ApprovalRequest | None, actor: Any) -> Any:
    """Who last wrote a campaign never live: its last editor. A rejection writes no content, so a
    rejected campaign sent again unedited keeps the rejected request's author (the approver who
    rejected it does not become one); an edit since names its editor."""
    if campaign.status == Status.REJECTED and rejected is not None:
        rejection = campaign.audit.filter(action=Action.REJECT).order_by("-id").first()
        edits = campaign.audit.filter(action=Action.EDIT, actor__isnull=False)
        if rejection is not None:
            edits = edits.filter(id__gt=rejection.pk)
        edit = edits.select_related("actor").order_by("-id").first()
        return edit.actor if edit else (rejected.content_edited_by or actor)
    return campaign.updated_by or actor


def _request_detail(request: ApprovalRequest, **more: Any) -> dict[str, Any]:
    detail: dict[str, Any] = {"request": request.pk, "kind": request.kind}
    if request.note:
        detail["note"] = request.note
    chosen = [u.email or u.get_username() for u in request.approvers.all()]
    if chosen:
        detail["approvers"] = chosen
    detail.update(more)
    return detail


def _proposal_base(campaign: Campaign, answer: policy.CampaignRules) -> dict[str, Any]:
    """What new changes to a live campaign build on: the pending proposal, else the rejected one,
    else the live campaign."""
    if answer.request is not None and answer.request.status in (
        RequestStatus.PENDING,
        RequestStatus.REJECTED,
    ):
        return dict(answer.request.proposed)
    return snapshot(campaign)


def _proposal_changes(
    campaign: Campaign, answer: policy.CampaignRules, data: dict[str, Any], live_status: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check changes to a proposal against the rules: (the new proposal, the changes)."""
    base = _proposal_base(campaign, answer)
    changes = campaign_services.content_changes(campaign, data, base=base)
    if not changes:
        return base, {}
    campaign_services.check_sections(changes, answer.sections)
    proposed = {**base, **{k: c["new"] for k, c in changes.items()}}
    campaign_services.validate_content(
        proposed, changes, live_status=live_status, now=timezone.now()
    )
    return proposed, changes


@transaction.atomic
def campaign_propose(
    *,
    actor: Any,
    campaign_id: int,
    data: dict[str, Any],
    note: str = "",
    approvers: Sequence[Any] = (),
) -> ApprovalRequest:
    """Changes to a live campaign, as a proposal for approval: the live campaign runs as it was.

    On a campaign already awaiting approval the pending proposal changes (and stays pending);
    otherwise a new request opens and the campaign shows Approval Pending.
    """
    campaign_services._require(actor, Perm.EDIT)
    if not isinstance(data, dict) or not data:
        raise Invalid("Give the changes.", errors={"changes": ["Give at least one field."]})
    campaign = _locked_campaign(actor, campaign_id)
    answer = campaign_services._check(campaign, Action.EDIT, actor)
    if answer.mode != policy.Mode.REVISION:
        raise Refused(
            "These changes do not need approval: edit the campaign directly.",
            code="edit_directly",
        )
    live_status = campaign.live_status or campaign.status
    proposed, changes = _proposal_changes(campaign, answer, data, live_status)
    note = _note(note)
    chosen = _approvers(approvers, actor, {campaign.created_by_id, actor.pk})
    pending = answer.request if answer.request and answer.request.is_pending else None
    if pending is not None:
        if changes:
            _proposal_update(campaign, pending, actor=actor, proposed=proposed, changes=changes)
        return pending
    if not changes:
        raise Invalid("Nothing changed.", errors={"changes": ["Change at least one field."]})
    before = campaign.status
    request = _open(
        campaign,
        actor=actor,
        kind=RequestKind.REVISION,
        base=snapshot(campaign),
        proposed=proposed,
        note=note,
        approvers=chosen,
        target_run_at=campaign.next_run_at,
        content_edited_by=actor,
    )
    campaign.live_status = live_status
    campaign.status = Status.PENDING_APPROVAL
    campaign.last_active_at = timezone.now()
    campaign.save(update_fields=["status", "live_status", "last_active_at", "updated_at"])
    campaign_services._audit(
        campaign,
        actor=actor,
        action=Action.REVISE,
        from_status=before,
        to_status=campaign.status,
        changes=_request_detail(request, changes=changes),
    )
    return request


def _proposal_update(
    campaign: Campaign,
    request: ApprovalRequest,
    *,
    actor: Any,
    proposed: dict[str, Any],
    changes: dict[str, Any],
) -> None:
    """Change a pending proposal, with an edit row in the campaign's timeline. A creator's edit
    makes them the content's author; an approver's, made while reviewing, does not
    (docs/decisions/self-approval.md)."""
    request.proposed = proposed
    if policy.role_of(actor) == policy.Role.CREATOR:
        request.content_edited_by = actor
    request.save(update_fields=["proposed", "content_edited_by", "updated_at"])
    campaign_services._audit(
        campaign,
        actor=actor,
        action=Action.EDIT,
        from_status=campaign.status,
        to_status=campaign.status,
        changes={**changes, "request": request.pk},
    )


def _decided(request: ApprovalRequest, status: RequestStatus, actor: Any, comment: str) -> None:
    request.status = status
    request.decided_by = actor if getattr(actor, "pk", None) else None
    request.decided_at = timezone.now()
    request.comment = comment
    request.save()


def _refuse_decided(request: ApprovalRequest) -> None:
    if not request.is_pending:
        raise Refused(
            f"This request is no longer pending: it was {request.get_status_display().lower()}.",
            code="not_pending",
        )


def _check_same(request: ApprovalRequest, answer: policy.CampaignRules) -> None:
    if answer.request is None or answer.request.pk != request.pk:
        raise Refused("This request is no longer the campaign's open one.", code="not_pending")


@transaction.atomic
def request_approve(
    *,
    actor: Any,
    request_id: Any,
    comment: str = "",
    data: dict[str, Any] | None = None,
) -> ApprovalRequest:
    """Approve a pending request: publish the campaign, or apply the changes to the live campaign
    atomically. `data` carries the approver's own edits, made as part of the review (the table's
    "edits ... and approves"). After the scheduled time of changes to a live campaign, approving
    only closes the request: its changes are discarded (the send went out as it was)."""
    request, campaign = _locked_request(actor, request_id)
    _refuse_decided(request)
    answer = campaign_services._check(campaign, Action.APPROVE, actor)
    _check_same(request, answer)
    comment = _note(comment, "comment")
    if data:
        _review_edit(campaign, request, answer, actor, data)
        campaign.refresh_from_db()
        request.refresh_from_db()
        answer = policy.campaign_rules(campaign, actor)
    now = timezone.now()
    if answer.notice == policy.Notice.CHANGES_DISCARDED:
        _close_discarded(request, campaign, actor=actor, comment=comment, action=Action.APPROVE)
        return request

    if request.kind == RequestKind.PUBLISH:
        try:
            first, target = campaign_services.publish_plan(campaign, now)
        except Invalid as exc:
            if "when" in exc.errors or any(k.startswith("when.") for k in exc.errors):
                raise Refused(
                    policy.NOTICE_TEXT[policy.Notice.SCHEDULED_IN_PAST],
                    code=policy.Notice.SCHEDULED_IN_PAST,
                    errors=exc.errors,
                ) from None
            raise
        _decided(request, RequestStatus.APPROVED, actor, comment)
        campaign_services._move(
            campaign,
            actor=actor,
            action=Action.APPROVE,
            to=target,
            now=now,
            next_run_at=first,
            on_live=campaign_services._go_live,
        )
        _annotate_last_audit(campaign, _request_detail(request, comment=comment))
    else:
        _apply_revision(campaign, request, actor=actor, action=Action.APPROVE, comment=comment)
        _decided(request, RequestStatus.APPROVED, actor, comment)
    _after_commit(notifications.request_decided, request.pk)
    return request


def _annotate_last_audit(campaign: Campaign, detail: dict[str, Any]) -> None:
    last = campaign.audit.order_by("-created_at", "-id").first()
    if last is not None:
        last.changes = {**last.changes, **detail}
        last.save(update_fields=["changes"])


def _live_now(campaign: Campaign) -> str:
    """The live version's status now (the scheduler may have moved it since the request)."""
    return campaign.live_status or campaign.status


def _apply_revision(
    campaign: Campaign,
    request: ApprovalRequest,
    *,
    actor: Any,
    action: Action,
    comment: str = "",
    proposed: dict[str, Any] | None = None,
    **fields: Any,
) -> Campaign:
    """Write a proposal onto the live campaign and return it to its live status, in one save."""
    proposal = proposed if proposed is not None else request.proposed
    data = {key: proposal[key] for key in CONTENT_FIELDS if key in proposal}
    if "labels" in data:
        # A label deleted since the proposal was written is simply no longer there to apply.
        data["labels"] = list(
            Label.objects.filter(pk__in=data["labels"]).values_list("pk", flat=True)
        )
    changes = campaign_services.content_changes(campaign, data)
    return campaign_services.write_content(
        campaign,
        actor=actor,
        changes=changes,
        action=action,
        to_status=_live_now(campaign),
        extra=_request_detail(request, comment=comment) if comment else _request_detail(request),
        live_status="",
        **fields,
    )


def _review_edit(
    campaign: Campaign,
    request: ApprovalRequest,
    answer: policy.CampaignRules,
    actor: Any,
    data: dict[str, Any],
) -> None:
    """An approver's edits made while reviewing, under the table's sections for them."""
    if not isinstance(data, dict):
        raise Invalid("Give the changes.", errors={"changes": ["Give an object of fields."]})
    if answer.mode == policy.Mode.DIRECT:
        campaign_services._edit(campaign, actor=actor, data=data)
        return
    if answer.mode != policy.Mode.REVISION:
        refuse_edit = answer.actions[Action.EDIT]
        campaign_services.refuse(refuse_edit)
    proposed, changes = _proposal_changes(campaign, answer, data, _live_now(campaign))
    if changes:
        _proposal_update(campaign, request, actor=actor, proposed=proposed, changes=changes)


def _close_discarded(
    request: ApprovalRequest, campaign: Campaign, *, actor: Any, comment: str, action: Action
) -> None:
    _decided(request, RequestStatus.DISCARDED, actor, comment)
    campaign_services._move(
        campaign,
        actor=actor,
        action=Action.DISCARD,
        to=Status(_live_now(campaign)),
        now=timezone.now(),
        live_status="",
    )
    _annotate_last_audit(
        campaign,
        _request_detail(
            request, comment=comment, why=policy.NOTICE_TEXT[policy.Notice.CHANGES_DISCARDED]
        ),
    )
    _after_commit(notifications.request_decided, request.pk)


def request_close(request: ApprovalRequest, *, actor: Any, why: str) -> None:
    """Close a pending request that events overtook (the campaign stopped); the caller moves the
    campaign."""
    _decided(request, RequestStatus.DISCARDED, actor, why)


@transaction.atomic
def request_reject(*, actor: Any, request_id: Any, comment: Any) -> ApprovalRequest:
    """Reject a pending request, with a comment saying why (required). A live campaign keeps
    running as it was; its status shows Rejected until its changes are sent again or withdrawn."""
    request, campaign = _locked_request(actor, request_id)
    _refuse_decided(request)
    answer = campaign_services._check(campaign, Action.REJECT, actor)
    _check_same(request, answer)
    comment = _note(comment, "comment")
    if not comment:
        raise Invalid(
            "Say why the campaign is rejected.",
            errors={"comment": ["A rejection needs a comment for the creator."]},
        )
    _decided(request, RequestStatus.REJECTED, actor, comment)
    campaign_services._move(
        campaign, actor=actor, action=Action.REJECT, to=Status.REJECTED, now=timezone.now()
    )
    _annotate_last_audit(campaign, _request_detail(request, comment=comment))
    _after_commit(notifications.request_decided, request.pk)
    return request


@transaction.atomic
def request_withdraw(*, actor: Any, request_id: Any) -> ApprovalRequest:
    """Take a pending request back: the campaign returns to where it was (its live status, for
    changes to a live campaign; Draft or Rejected otherwise)."""
    request, campaign = _locked_request(actor, request_id)
    _refuse_decided(request)
    answer = campaign_services._check(campaign, Action.WITHDRAW, actor)
    _check_same(request, answer)
    _decided(request, RequestStatus.WITHDRAWN, actor, "")
    back = Status(request.return_status)
    fields: dict[str, Any] = {}
    if back in rules.LIVE:
        back, fields["live_status"] = Status(_live_now(campaign)), ""
    campaign_services._move(
        campaign, actor=actor, action=Action.WITHDRAW, to=back, now=timezone.now(), **fields
    )
    _annotate_last_audit(campaign, _request_detail(request))
    return request


RUN_ON_ERROR = {"run_on": ["Choose when the next run happens: today or tomorrow."]}


def _run_on(campaign: Campaign, request: ApprovalRequest, run_on: Any, now: dt.datetime):
    """The next send an approver chose after the scheduled time: today (at the usual time if it
    is still ahead, else at once) or tomorrow at the usual time, in the project's time zone."""
    if run_on not in RUN_ON:
        raise Refused(
            policy.NOTICE_TEXT[policy.Notice.RUN_TODAY_OR_TOMORROW],
            code=policy.Notice.RUN_TODAY_OR_TOMORROW,
            errors=RUN_ON_ERROR,
        )
    usual = request.target_run_at or campaign.next_run_at or now
    local_time = timezone.localtime(usual).timetz()
    today = timezone.localdate(now)
    day = today if run_on == "today" else today + dt.timedelta(days=1)
    at = dt.datetime.combine(day, local_time.replace(tzinfo=None))
    at = timezone.make_aware(at)
    return max(at, now) if run_on == "today" else at


def rejected_changes_publish(
    campaign: Campaign,
    *,
    actor: Any,
    answer: policy.CampaignRules,
    data: dict[str, Any],
    run_on: str | None,
) -> Campaign:
    """An approver publishes the rejected changes of a live campaign (What only, as the table says),
    choosing after the scheduled time whether the next run is today or tomorrow. Runs inside
    campaigns.services.campaign_publish's transaction, on its locked row."""
    rejected = answer.request
    if rejected is None:
        raise Refused("There are no rejected changes to publish.", code="no_pending_request")
    now = timezone.now()
    fields: dict[str, Any] = {}
    if answer.notice == policy.Notice.RUN_TODAY_OR_TOMORROW:
        fields["next_run_at"] = _run_on(campaign, rejected, run_on, now)
    elif run_on is not None:
        raise Invalid(
            "The next run keeps its time.",
            errors={"run_on": ["Only after the scheduled time can the next run be moved."]},
        )
    proposed, changes = _proposal_changes(campaign, answer, data or {}, _live_now(campaign))
    record = ApprovalRequest.objects.create(
        campaign=campaign,
        kind=RequestKind.REVISION,
        status=RequestStatus.APPROVED,
        requested_by=actor,
        note="Rejected changes published by an approver.",
        base=snapshot(campaign),
        proposed=proposed,
        return_status=campaign.status,
        target_run_at=fields.get("next_run_at", campaign.next_run_at),
        content_edited_by=rejected.content_edited_by,
        decided_by=actor,
        decided_at=now,
    )
    return _apply_revision(
        campaign, record, actor=actor, action=Action.PUBLISH, proposed=proposed, **fields
    )
