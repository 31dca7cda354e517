"""Every write to a campaign. Each service is atomic, locks the row it changes, follows the tables
in campaigns.rules, and writes one audit row in the same transaction."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.roles import Perm, has_perm
from approvals import policy
from campaigns import rules, schedule
from campaigns.choices import Action, CampaignType, Delivery, Section, Status
from campaigns.models import Campaign, CampaignAudit, default_who
from campaigns.validation import first_run_at, validate_campaign, who_label_ids
from config.errors import (
    DomainError,
    Forbidden,
    Invalid,
    InvalidTransition,
    NotFound,
    ReadOnly,
    Refused,
)
from labels.models import Label

logger = logging.getLogger(__name__)

AUTO_ARCHIVE_AFTER = relativedelta(months=6)
EDITABLE_FIELDS = ("name", "channel", "type", "delivery", "who", "what", "when", "labels")
MAX_BULK = 1000


def _require(actor: Any, perm: Perm) -> None:
    if not has_perm(actor, perm):
        raise Forbidden(f"Your role does not allow you to {perm.value} campaigns.")


def _locked(actor: Any, campaign_id: int) -> Campaign:
    """Re-read the row under a lock; an id that is not visible is the same as one that does not exist."""
    try:
        return (
            Campaign.objects.visible_to(actor).select_for_update(of=("self",)).get(pk=campaign_id)
        )
    except (Campaign.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"Campaign {campaign_id} does not exist.") from None


def _check(campaign: Campaign, action: Action, actor: Any) -> policy.CampaignRules:
    """Ask the one rules function whether this actor may do this now; raise its refusal if not."""
    answer = policy.campaign_rules(campaign, actor)
    refuse(answer.actions[action])
    return answer


ERRORS_BY_CODE: dict[str, type[DomainError]] = {
    "read_only": ReadOnly,
    "invalid_transition": InvalidTransition,
    "permission_denied": Forbidden,
}


def refuse(verdict: policy.Verdict, errors: dict[str, list[str]] | None = None) -> None:
    """Raise the error a refused verdict stands for (409 with its code, 403 for roles)."""
    if verdict.allowed:
        return
    error = ERRORS_BY_CODE.get(verdict.code)
    if error is not None:
        raise error(verdict.reason, errors=errors)
    raise Refused(verdict.reason, code=verdict.code or "refused", errors=errors)


def _audit(
    campaign: Campaign,
    *,
    actor: Any,
    action: Action,
    from_status: str = "",
    to_status: str = "",
    changes: dict[str, Any] | None = None,
) -> CampaignAudit:
    return CampaignAudit.objects.create(
        campaign=campaign,
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        from_status=from_status,
        to_status=to_status,
        changes=changes or {},
    )


def _name(value: Any) -> str:
    name = (value or "").strip() if isinstance(value, str) else ""
    if not name:
        raise Invalid("The campaign needs a name.", errors={"name": ["This field is required."]})
    if len(name) > 200:
        raise Invalid("The name is too long.", errors={"name": ["At most 200 characters."]})
    if "\x00" in name:
        raise Invalid(
            "The name has a NUL character.",
            errors={"name": ["Text may not contain NUL characters."]},
        )
    return name


def _as_id(raw: Any) -> int | None:
    """A primary key as a client may send one (an int or a string of digits), else None.

    Booleans and floats are refused rather than coerced: int(3.7) would silently name campaign 3.
    """
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if raw > 0 else None
    if isinstance(raw, str):
        text = raw.strip()
        return int(text) if text.isascii() and text.isdigit() and int(text) > 0 else None
    return None


def _label_ids(value: Any) -> list[int]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise Invalid("Labels must be a list.", errors={"labels": ["Give a list of label ids."]})
    values = list(value)
    bad = [raw for raw in values if _as_id(raw) is None]
    if bad:
        messages = [f"Label {raw!r} does not exist." for raw in bad]
        raise Invalid("Unknown labels.", errors={"labels": messages})
    return sorted({_as_id(raw) for raw in values})  # type: ignore[type-var]


def _labels(label_ids: Iterable[Any]) -> list[Label]:
    ids = _label_ids(label_ids)
    found = list(Label.objects.filter(pk__in=ids))
    missing = sorted(set(ids) - {label.pk for label in found})
    if missing:
        raise Invalid(
            "Unknown labels.", errors={"labels": [f"Label {i} does not exist." for i in missing]}
        )
    return found


def _check_who_labels(who: Any) -> None:
    if not isinstance(who, dict):
        return
    ids = who_label_ids(who)
    missing = ids - set(Label.objects.filter(pk__in=ids).values_list("pk", flat=True))
    if missing:
        raise Invalid(
            "The audience refers to labels that do not exist.",
            errors={"who": [f"Label {i} does not exist." for i in sorted(missing)]},
        )


@transaction.atomic
def campaign_create(
    *,
    actor: Any,
    name: str,
    channel: str,
    type: str = CampaignType.SINGLE_MESSAGE,
    delivery: str = Delivery.ONE_TIME,
    who: Any = None,
    what: Any = None,
    when: Any = None,
    labels: Sequence[int] = (),
) -> Campaign:
    """Create a draft. Its sections are validated now; publishing checks that times lie ahead."""
    _require(actor, Perm.CREATE)
    who = default_who() if who is None else who
    what = {} if what is None else what
    when = {} if when is None else when
    # Every check runs, so one answer names every bad field at once.
    errors: dict[str, list[str]] = {}
    try:
        name = _name(name)
    except Invalid as exc:
        errors.update(exc.errors)
    try:
        validate_campaign(
            channel=channel, type=type, delivery=delivery, who=who, what=what, when=when
        )
    except Invalid as exc:
        errors.update(exc.errors)
    if not any(key == "who" or key.startswith("who.") for key in errors):
        try:
            _check_who_labels(who)
        except Invalid as exc:
            errors.update(exc.errors)
    label_objs: list[Label] = []
    try:
        label_objs = _labels(labels)
    except Invalid as exc:
        errors.update(exc.errors)
    if errors:
        raise Invalid("The campaign has errors.", errors=errors)
    now = timezone.now()
    campaign = Campaign.objects.create(
        name=name,
        channel=channel,
        type=type,
        delivery=delivery,
        who=who,
        what=what,
        when=when,
        created_by=actor,
        updated_by=actor,
        last_active_at=now,
    )
    campaign.labels.set(label_objs)
    _audit(campaign, actor=actor, action=Action.CREATE, to_status=Status.DRAFT)
    return campaign


@transaction.atomic
def campaign_update(*, actor: Any, campaign_id: int, data: dict[str, Any]) -> Campaign:
    """Change some fields of a campaign, only in sections its state leaves open.

    Fields not in `data` stay as they are; a field given with its current value is not a change.
    Any locked section among the changes refuses the whole edit (409), naming each section and why.
    """
    _require(actor, Perm.EDIT)
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise Invalid(
            "Unknown fields.", errors={f: ["This field cannot be edited."] for f in sorted(unknown)}
        )
    campaign = _locked(actor, campaign_id)
    return _edit(campaign, actor=actor, data=data)


def _edit(campaign: Campaign, *, actor: Any, data: dict[str, Any]) -> Campaign:
    """campaign_update's work on a row already locked by the caller."""
    answer = _check(campaign, Action.EDIT, actor)
    changes = content_changes(campaign, data)
    if not changes:
        return campaign
    if answer.mode == policy.Mode.REVISION:
        raise Refused(policy.APPROVAL_REQUIRED, code="approval_required")
    check_sections(changes, answer.sections)
    campaign = write_content(campaign, actor=actor, changes=changes)
    _after_direct_edit(campaign, actor)
    return campaign


def _after_direct_edit(campaign: Campaign, actor: Any) -> None:
    """A campaign never live that awaits approval is its own proposal: keep the request's copy
    (what approvers read, and the history) the same as the campaign."""
    if campaign.status == Status.PENDING_APPROVAL and not campaign.live_status:
        from approvals.diff import snapshot

        pending = policy.pending_request(campaign)
        if pending is not None:
            pending.proposed = snapshot(campaign)
            if policy.role_of(actor) == policy.Role.CREATOR:
                # An approver's edits while reviewing do not make them an author (docs/decisions).
                pending.content_edited_by = actor
            pending.save(update_fields=["proposed", "content_edited_by", "updated_at"])


def content_changes(
    campaign: Campaign, data: dict[str, Any], base: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """The fields of `data` that differ from the campaign (or from `base`, a proposal), as
    {field: {"old", "new"}}, names cleaned and labels as sorted ids. Nothing is written."""
    current_labels = (
        sorted(base["labels"])
        if base is not None
        else sorted(campaign.labels.values_list("pk", flat=True))
    )
    changes: dict[str, dict[str, Any]] = {}
    for key, new in data.items():
        if key not in EDITABLE_FIELDS:
            raise Invalid("Unknown fields.", errors={key: ["This field cannot be edited."]})
        if key == "name":
            new = _name(new)
        if key == "labels":
            old: Any = current_labels
            new = _label_ids(new)
        else:
            old = base[key] if base is not None else getattr(campaign, key)
        if new != old:
            changes[key] = {"old": old, "new": new}
    return changes


def check_sections(changes: dict[str, Any], sections: dict[Section, str | None]) -> None:
    """Refuse (409, naming each field and why) changes to sections that may not change now."""
    locked: dict[str, list[str]] = {}
    for key in changes:
        section = rules.FIELD_SECTIONS[key]
        reason = sections[section]
        if reason:
            locked[key] = [f"{Section(section).label} is locked: {reason}"]
        elif key in rules.SHAPE_FIELDS:
            # Its own section may be open (Running edits What) while the field reshapes them all.
            shape = (Section.WHO, Section.WHAT, Section.WHEN)
            shape_reasons = [sections[s] for s in shape if sections[s]]
            if shape_reasons:
                why = f"The {key} can change only while Who, What and When all can"
                locked[key] = [f"{why}: {shape_reasons[0]}"]
    if locked:
        raise ReadOnly("Some of these changes are not allowed now.", errors=locked)


def validate_content(
    content: dict[str, Any], changes: dict[str, Any], *, live_status: str, now: dt.datetime
) -> dt.datetime | None:
    """Check a whole content (the campaign's, or a proposal's) after `changes`.

    A scheduled campaign stays scheduled: a changed schedule must still start in the future, and
    its new first send is returned (None when the schedule did not change).
    """
    merged = {k: content[k] for k in ("channel", "type", "delivery", "who", "what", "when")}
    validate_campaign(**merged)
    if "who" in changes:
        _check_who_labels(merged["who"])
    if "labels" in changes:
        _labels(changes["labels"]["new"])
    if live_status == Status.SCHEDULED and ("when" in changes or "delivery" in changes):
        # Sending at once is a different act (stop it, clone it, publish the clone).
        validate_campaign(**merged, for_publish=True, now=now)
        first = first_run_at(merged["delivery"], merged["when"], now)
        if rules.publish_target(Delivery(merged["delivery"]), first, now) != Status.SCHEDULED:
            raise Invalid(
                "A scheduled campaign needs a first send in the future.",
                errors={
                    "when": [
                        "Give a start date and time in the future; a scheduled campaign "
                        "cannot be switched to send now or to start at once."
                    ]
                },
            )
        return first
    return None


def write_content(
    campaign: Campaign,
    *,
    actor: Any,
    changes: dict[str, dict[str, Any]],
    action: Action = Action.EDIT,
    to_status: str | None = None,
    extra: dict[str, Any] | None = None,
    **fields: Any,
) -> Campaign:
    """Validate and save content changes (already checked against the rules) with one audit row.

    `to_status` moves the campaign too (an approval applying a revision); `fields` are set as
    they are (next_run_at, live_status).
    """
    now = timezone.now()
    live_status = campaign.live_status or campaign.status
    if to_status in rules.LIVE:
        live_status = to_status
    content = campaign_content(campaign)
    content.update({k: c["new"] for k, c in changes.items() if k != "labels"})
    first = validate_content(content, changes, live_status=live_status, now=now)
    if "labels" in changes:
        current_labels = changes["labels"]["old"]
        new_labels = _labels(changes["labels"]["new"])
        names = dict(Label.objects.filter(pk__in=current_labels).values_list("pk", "name"))
        names.update((label.pk, label.name) for label in new_labels)
        old_ids, new_ids = set(current_labels), {label.pk for label in new_labels}
        # Names as they were at this moment, so a later rename does not rewrite the history.
        changes["labels"]["added"] = [
            {"id": i, "name": names[i]} for i in sorted(new_ids - old_ids)
        ]
        changes["labels"]["removed"] = [
            {"id": i, "name": names.get(i, "")} for i in sorted(old_ids - new_ids)
        ]
        campaign.labels.set(new_labels)
    for key, change in changes.items():
        if key != "labels":
            setattr(campaign, key, change["new"])
    if first is not None and "next_run_at" not in fields:
        campaign.next_run_at = first
    if "when" in changes:
        campaign.ends_at = schedule.ends_at(campaign.delivery, campaign.when)
    before = campaign.status
    if to_status is not None:
        campaign.status = to_status
    for key, value in fields.items():
        setattr(campaign, key, value)
    campaign.updated_by = actor
    campaign.last_active_at = now
    campaign.save()
    _audit(
        campaign,
        actor=actor,
        action=action,
        from_status=before,
        to_status=campaign.status,
        changes={**changes, **(extra or {})},
    )
    return campaign


@transaction.atomic
def campaign_publish(
    *,
    actor: Any,
    campaign_id: int,
    data: dict[str, Any] | None = None,
    run_on: str | None = None,
) -> Campaign:
    """Publish a draft: Scheduled when its first send lies ahead, else Running.

    With campaign approval on, only approvers publish (approvals.policy); an approver publishing
    the rejected changes of a live campaign may change What with `data`, and after the scheduled
    time says with `run_on` ("today" or "tomorrow") when the next run happens.
    """
    _require(actor, Perm.PUBLISH)
    campaign = _locked(actor, campaign_id)
    answer = _check(campaign, Action.PUBLISH, actor)
    if campaign.live_status:
        from approvals.services import rejected_changes_publish

        return rejected_changes_publish(
            campaign, actor=actor, answer=answer, data=data or {}, run_on=run_on
        )
    if run_on is not None:
        raise Invalid(
            "Only rejected changes of a live campaign choose their next run.",
            errors={"run_on": ["A campaign publishes at the time its When says."]},
        )
    if data:
        _edit(campaign, actor=actor, data=data)
    now = timezone.now()
    first, target = publish_plan(campaign, now)
    assert target in rules.transition_target(Action.PUBLISH, Status(campaign.status))
    return _move(
        campaign,
        actor=actor,
        action=Action.PUBLISH,
        to=target,
        now=now,
        next_run_at=first,
        on_live=_go_live,
    )


def campaign_content(campaign: Campaign) -> dict[str, Any]:
    """The fields validate_campaign checks, as the campaign has them."""
    return {k: getattr(campaign, k) for k in ("channel", "type", "delivery", "who", "what", "when")}


def publish_plan(campaign: Campaign, now: dt.datetime) -> tuple[dt.datetime | None, Status]:
    """Check that the campaign can go live now (its times lie ahead) and say where it lands:
    its `next_run_at` (campaigns.schedule.first_send: the first send, None for triggered
    campaigns already started) and Scheduled or Running."""
    validate_campaign(**campaign_content(campaign), for_publish=True, now=now)
    first = first_run_at(campaign.delivery, campaign.when, now)
    target = rules.publish_target(Delivery(campaign.delivery), first, now)
    following = schedule.first_send(campaign.delivery, campaign.when, now)
    if target == Status.RUNNING and Delivery(campaign.delivery) in schedule.TRIGGERED_DELIVERIES:
        following = None
    return following, target


def _go_live(campaign: Campaign, now: dt.datetime) -> None:
    """What a campaign that just went live asks of dispatch: a send due now is started at once
    (rather than at the next tick)."""
    campaign.ends_at = schedule.ends_at(campaign.delivery, campaign.when)
    if campaign.next_run_at is not None and campaign.next_run_at <= now:
        from channels.tasks import tick_soon

        transaction.on_commit(tick_soon)


def _move(
    campaign: Campaign, *, actor: Any, action: Action, to: Status, now: dt.datetime, **fields: Any
) -> Campaign:
    before = campaign.status
    campaign.status = to
    campaign.last_active_at = now
    campaign.updated_by = actor if getattr(actor, "pk", None) else campaign.updated_by
    on_live = fields.pop("on_live", None)
    for key, value in fields.items():
        setattr(campaign, key, value)
    if on_live is not None:
        on_live(campaign, now)
    campaign.save()
    _audit(campaign, actor=actor, action=action, from_status=before, to_status=to)
    return campaign


def scheduler_move(
    campaign: Campaign, *, action: Action, to: Status, now: dt.datetime, **fields: Any
) -> Campaign:
    """The dispatch scheduler's moves (a run starts or finishes, a schedule ends), on a campaign
    the caller has locked. They move the live version: the status, or `live_status` while
    changes await approval (or were rejected). A live version that completes while its changes
    wait closes the request: nothing will run them."""
    if campaign.live_status:
        before = Status(campaign.live_status)
        if to not in rules.transition_target(action, before):
            raise InvalidTransition(f"{action} cannot move a {before} live version to {to}.")
        if to == Status.COMPLETED:
            from approvals.services import request_close

            pending = policy.pending_request(campaign)
            if pending is not None:
                request_close(pending, actor=None, why="The campaign completed.")
            return _move(
                campaign, actor=None, action=action, to=to, now=now, live_status="", **fields
            )
        campaign.live_status = to
        for key, value in fields.items():
            setattr(campaign, key, value)
        campaign.last_active_at = now
        campaign.save()
        _audit(campaign, actor=None, action=action, from_status=before, to_status=to)
        return campaign
    if to not in rules.transition_target(action, Status(campaign.status)):
        raise InvalidTransition(f"{action} cannot move a {campaign.status} campaign to {to}.")
    return _move(campaign, actor=None, action=action, to=to, now=now, **fields)


@transaction.atomic
def campaign_stop(*, actor: Any, campaign_id: int) -> Campaign:
    """Stop a live campaign for good (there is no pause). Stopping twice is refused, not repeated."""
    _require(actor, Perm.STOP)
    campaign = _locked(actor, campaign_id)
    _check(campaign, Action.STOP, actor)
    pending = policy.pending_request(campaign) if campaign.live_status else None
    if pending is not None:
        # Changes awaiting approval for a campaign that will never send again are moot.
        from approvals.services import request_close

        request_close(pending, actor=actor, why="The campaign was stopped.")
    from channels.scheduler import stop_runs

    stop_runs(campaign, actor)
    return _move(
        campaign,
        actor=actor,
        action=Action.STOP,
        to=Status.STOPPED,
        now=timezone.now(),
        next_run_at=None,
        live_status="",
    )


@transaction.atomic
def campaign_clone(*, actor: Any, campaign_id: int) -> Campaign:
    """A new draft "Copy of …" with the same sections and labels, created by the actor.

    Any campaign can be cloned, archived ones included: it is how an archived campaign comes back.
    """
    _require(actor, Perm.CLONE)
    # No lock: cloning reads one committed row and never changes it.
    try:
        source = Campaign.objects.visible_to(actor).get(pk=campaign_id)
    except (Campaign.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"Campaign {campaign_id} does not exist.") from None
    now = timezone.now()
    clone = Campaign.objects.create(
        name=f"Copy of {source.name}"[:200],
        channel=source.channel,
        type=source.type,
        delivery=source.delivery,
        who=source.who,
        what=source.what,
        when=source.when,
        created_by=actor,
        updated_by=actor,
        last_active_at=now,
        cloned_from=source,
    )
    clone.labels.set(source.labels.all())
    _audit(
        clone,
        actor=actor,
        action=Action.CREATE,
        to_status=Status.DRAFT,
        changes={"cloned_from": {"id": source.pk, "name": source.name}},
    )
    _audit(
        source,
        actor=actor,
        action=Action.CLONE,
        from_status=source.status,
        to_status=source.status,
        changes={"clone": {"id": clone.pk, "name": clone.name}},
    )
    return clone


@transaction.atomic
def campaign_archive(*, actor: Any, campaign_id: int) -> Campaign:
    """Archive a draft, completed, stopped or rejected campaign; from then on it is read-only."""
    _require(actor, Perm.ARCHIVE)
    campaign = _locked(actor, campaign_id)
    _check(campaign, Action.ARCHIVE, actor)
    campaign.archived_at = timezone.now()
    campaign.save(update_fields=["archived_at", "updated_at"])
    _audit(
        campaign,
        actor=actor,
        action=Action.ARCHIVE,
        from_status=campaign.status,
        to_status=campaign.status,
    )
    return campaign


# ---------------------------------------------------------------------------------------------
# Bulk operations: one transaction per campaign, so one refusal never undoes or blocks another.
# ---------------------------------------------------------------------------------------------
@dataclass
class BulkResult:
    id: Any
    ok: bool
    code: str = "done"
    message: str = ""
    name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


BULK_SERVICES: dict[str, tuple[Callable[..., Campaign], str]] = {
    "stop": (campaign_stop, "Stopped."),
    "archive": (campaign_archive, "Archived."),
    "clone": (campaign_clone, "Cloned."),
}


def _check_ids(ids: Any) -> None:
    if isinstance(ids, str | bytes) or not isinstance(ids, Sequence):
        raise Invalid("Give a list of ids.", errors={"ids": ["Give a list of campaign ids."]})
    if not ids:
        raise Invalid(
            "Select at least one campaign.", errors={"ids": ["This list may not be empty."]}
        )
    if len(ids) > MAX_BULK:
        raise Invalid("Too many campaigns.", errors={"ids": [f"At most {MAX_BULK} at once."]})


def _each(ids: Sequence[Any], run: Callable[[int], BulkResult]) -> list[BulkResult]:
    """Run one campaign's transaction per id, in the order given, reporting on each."""
    seen: set[Any] = set()
    results: list[BulkResult] = []
    for raw in ids:
        pk = _as_id(raw)
        # 7 and "7" are one campaign; ids that name none are keyed by repr (a list is not hashable).
        key = pk if pk is not None else repr(raw)
        if key in seen:
            continue
        seen.add(key)
        if pk is None:
            missing = f"Campaign {raw!r} does not exist."
            results.append(BulkResult(raw, False, NotFound.code, missing))
            continue
        try:
            results.append(run(pk))
        except DomainError as exc:
            results.append(BulkResult(pk, False, exc.code, exc.message))
    return results


def campaigns_bulk(*, actor: Any, action: str, ids: Sequence[Any]) -> list[BulkResult]:
    """Apply stop / archive / clone to each id in turn and report on each, in the order given."""
    _check_ids(ids)
    if action not in BULK_SERVICES:
        raise Invalid(
            "Unknown bulk action.",
            errors={"action": [f"Choose one of: {', '.join(BULK_SERVICES)}."]},
        )
    service, done = BULK_SERVICES[action]
    _require(actor, Perm(action))

    def run(pk: int) -> BulkResult:
        campaign = service(actor=actor, campaign_id=pk)
        if action == "clone":
            extra = {"clone_id": campaign.pk, "clone_name": campaign.name}
            source = campaign.cloned_from.name if campaign.cloned_from else campaign.name
            return BulkResult(pk, True, "done", done, name=source, extra=extra)
        return BulkResult(pk, True, "done", done, name=campaign.name)

    return _each(ids, run)


@transaction.atomic
def campaign_labels_change(
    *, actor: Any, campaign_id: int, add: Sequence[int] = (), remove: Sequence[int] = ()
) -> tuple[Campaign, bool]:
    """Add and/or remove labels on one campaign, under the rules of any edit of its labels
    (never on archived campaigns, only in states whose labels may change), with an audit row.

    Returns the campaign and whether its labels changed (adding a label it has is no change).
    """
    _require(actor, Perm.EDIT)
    campaign = _locked(actor, campaign_id)
    current = set(campaign.labels.values_list("pk", flat=True))
    wanted = (current | set(add)) - set(remove)
    answer = _check(
        campaign, Action.EDIT, actor
    )  # archived or final campaigns refuse, even a no-op
    if wanted == current:
        return campaign, False
    reason = answer.sections[Section.LABELS]
    if reason:
        # The reason as the message, so each line of a bulk result says why (Running: only What
        # can change); the general edit refusal keeps it in the field errors only.
        why = f"Labels are locked: {reason}"
        raise ReadOnly(why, errors={"labels": [why]})
    return _edit(campaign, actor=actor, data={"labels": sorted(wanted)}), True


def campaigns_bulk_labels(
    *, actor: Any, ids: Sequence[Any], add: Sequence[Any] = (), remove: Sequence[Any] = ()
) -> list[BulkResult]:
    """Add / remove labels on many campaigns: a result per campaign, one refusal undoes no other.

    Unknown labels refuse the whole request before anything changes.
    """
    _check_ids(ids)
    _require(actor, Perm.EDIT)
    add_ids, remove_ids = _label_ids(add), _label_ids(remove)
    if not add_ids and not remove_ids:
        raise Invalid(
            "Choose labels to add or remove.", errors={"add": ["Choose at least one label."]}
        )
    _labels(add_ids + remove_ids)

    def run(pk: int) -> BulkResult:
        campaign, changed = campaign_labels_change(
            actor=actor, campaign_id=pk, add=add_ids, remove=remove_ids
        )
        message = "Labels updated." if changed else "Already as asked; nothing to change."
        return BulkResult(pk, True, "done" if changed else "unchanged", message, name=campaign.name)

    return _each(ids, run)


# ---------------------------------------------------------------------------------------------
# Auto-archival.
# ---------------------------------------------------------------------------------------------
AUTO_ARCHIVE_STATES = (Status.COMPLETED, Status.STOPPED, Status.DRAFT)


def auto_archive_due_on(last_active_at: dt.datetime) -> dt.date:
    """The date a campaign last active at this moment is archived: 6 calendar months later.

    Dates are in the project's time zone; month ends clamp (Aug 31 -> Feb 28, or 29 in leap years).
    """
    return timezone.localtime(last_active_at).date() + AUTO_ARCHIVE_AFTER


def campaigns_due_for_auto_archive(today: dt.date) -> QuerySet[Campaign]:
    tz = timezone.get_current_timezone_name()
    # An index-friendly superset first (six months are never fewer than 181 days), then the exact
    # calendar rule in SQL: PostgreSQL's date + interval '6 months' clamps month ends like relativedelta.
    cutoff = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=180), dt.time.min))
    return Campaign.objects.filter(
        archived_at__isnull=True,
        status__in=AUTO_ARCHIVE_STATES,
        last_active_at__lt=cutoff,
    ).extra(
        where=[
            '(("campaigns_campaign"."last_active_at" AT TIME ZONE %s)::date + interval \'6 months\')::date <= %s'
        ],
        params=[tz, today],
    )


def campaigns_auto_archive(*, today: dt.date | None = None, batch_size: int = 500) -> int:
    """Archive every Completed, Stopped or Draft campaign whose last active date is 6 months past.

    Safe to run twice or from two workers at once: rows are claimed with SKIP LOCKED and
    re-checked under the lock, in batches of their own transactions.
    """
    today = today or timezone.localdate()
    total = 0
    while True:
        with transaction.atomic():
            batch = list(
                campaigns_due_for_auto_archive(today)
                .order_by("pk")
                .select_for_update(skip_locked=True)[:batch_size]
            )
            if not batch:
                break
            now = timezone.now()
            ids = [c.pk for c in batch]
            Campaign.objects.filter(pk__in=ids).update(archived_at=now)
            CampaignAudit.objects.bulk_create(
                CampaignAudit(
                    campaign=c,
                    actor=None,
                    action=Action.AUTO_ARCHIVE,
                    from_status=c.status,
                    to_status=c.status,
                    changes={
                        "last_active_at": c.last_active_at.isoformat(),
                        "due_on": auto_archive_due_on(c.last_active_at).isoformat(),
                    },
                )
                for c in batch
            )
            total += len(batch)
        if len(batch) < batch_size:
            break
    if total:
        logger.info("auto-archived %s campaigns due on or before %s", total, today)
    return total
