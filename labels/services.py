"""Every write to labels: create (under the 900 cap), rename, delete."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.roles import Perm, has_perm
from config.errors import Conflict, Forbidden, Invalid, LimitReached, NotFound
from labels import rules
from labels.models import Label

# Any constant of our own: the key of the transaction-scoped advisory lock that serialises label
# creation, so that counting and inserting are one step and concurrent creations cannot pass 900.
_CREATE_LOCK_KEY = 0x48455241_4C4C4142  # "HERALLAB"
_TAKEN = "A label with this name already exists (names are compared ignoring case)."


def _require(actor: Any, perm: Perm, what: str) -> None:
    if not has_perm(actor, perm):
        raise Forbidden(f"Your role does not allow you to {what}.")


def _name_taken(name: str, *, exclude: int | None = None) -> bool:
    qs = Label.objects.filter(name__iexact=name)
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    return qs.exists()


@transaction.atomic
def label_create(*, actor: Any, name: Any) -> Label:
    """Create a label; refused past 900 labels, even when many are created at once."""
    _require(actor, Perm.CREATE, "create labels")
    clean = rules.clean_name(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CREATE_LOCK_KEY])
    if _name_taken(clean):
        raise Invalid(_TAKEN, errors={"name": [_TAKEN]})
    if Label.objects.count() >= rules.MAX_LABELS:
        raise LimitReached(
            f"Herald keeps at most {rules.MAX_LABELS} labels; delete one before creating another.",
            errors={"name": [f"The limit of {rules.MAX_LABELS} labels is reached."]},
        )
    try:
        with transaction.atomic():
            return Label.objects.create(name=clean, created_by=_user_or_none(actor))
    except IntegrityError:
        raise Invalid(_TAKEN, errors={"name": [_TAKEN]}) from None


@transaction.atomic
def labels_get_or_create(*, actor: Any, names: list[Any]) -> list[Label]:
    """Existing labels by name (ignoring case), the others created: for "add labels" forms.

    All or none: a name refused half-way (a broken rule, the 900 cap) leaves no label created.
    Someone creating the same name at the same moment is no refusal: their label is returned.
    """
    found: list[Label] = []
    for raw in names:
        clean = rules.clean_name(raw)
        label = Label.objects.filter(name__iexact=clean).first()
        if label is None:
            try:
                label = label_create(actor=actor, name=clean)
            except Invalid:
                # The name is clean, so it was taken since the look-up, by a transaction that
                # has committed (it held the creation lock until then): that label is the one meant.
                label = Label.objects.filter(name__iexact=clean).first()
                if label is None:
                    raise
        found.append(label)
    return found


def _locked(label_id: Any) -> Label:
    try:
        return Label.objects.select_for_update().get(pk=int(label_id))
    except (Label.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound(f"Label {label_id} does not exist.") from None


@transaction.atomic
def label_rename(*, actor: Any, label_id: Any, name: Any) -> Label:
    """Rename a label; every campaign carrying it shows the new name at once (it is one row).

    History keeps the old name: audit rows and Notification Sent events store names as they were.
    """
    _require(actor, Perm.MANAGE_SETTINGS, "rename labels")
    label = _locked(label_id)
    clean = rules.clean_name(name)
    if clean == label.name:
        return label
    if _name_taken(clean, exclude=label.pk):
        raise Invalid(_TAKEN, errors={"name": [_TAKEN]})
    label.name = clean
    try:
        with transaction.atomic():
            label.save(update_fields=["name", "updated_at"])
    except IntegrityError:
        raise Invalid(_TAKEN, errors={"name": [_TAKEN]}) from None
    return label


@transaction.atomic
def label_delete(*, actor: Any, label_id: Any) -> int:
    """Delete a label and take it off every campaign (archived ones too); returns how many.

    Each campaign that carried it gets an audit row naming the label, so its timeline says why the
    label went away.
    """
    from campaigns.choices import Action
    from campaigns.models import Campaign, CampaignAudit

    _require(actor, Perm.MANAGE_SETTINGS, "delete labels")
    label = _locked(label_id)
    audiences = campaigns_targeting_label(label.pk) + [
        f"segment “{name}”" for name in segments_targeting_label(label.pk)
    ]
    if audiences:
        shown = ", ".join(n if n.startswith("segment ") else f"“{n}”" for n in audiences[:5])
        more = f" and {len(audiences) - 5} more" if len(audiences) > 5 else ""
        raise Conflict(
            f"“{label.name}” is used in the audience of {shown}{more} "
            "(was sent a campaign with this label). Change those audiences first.",
        )
    through = Campaign.labels.through
    campaigns = list(
        Campaign.objects.filter(
            pk__in=through.objects.filter(label_id=label.pk).values("campaign_id")
        )
        .order_by("pk")
        .select_for_update()
        .only("pk", "status")
    )
    removed = {"id": label.pk, "name": label.name}
    CampaignAudit.objects.bulk_create(
        CampaignAudit(
            campaign=campaign,
            actor=_user_or_none(actor),
            action=Action.EDIT,
            from_status=campaign.status,
            to_status=campaign.status,
            changes={"labels": {"removed": [removed], "reason": "label deleted"}},
        )
        for campaign in campaigns
    )
    if campaigns:
        Campaign.objects.filter(pk__in=[c.pk for c in campaigns]).update(updated_at=timezone.now())
    label.delete()
    return len(campaigns)


def campaigns_targeting_label(label_id: int) -> list[str]:
    """Names of unarchived campaigns whose Who selects people sent a campaign with this label.

    Deleting the label would leave those audiences pointing at nothing, so deletion waits for them.
    """
    from campaigns.models import Campaign

    return list(
        Campaign.objects.filter(archived_at__isnull=True)
        .extra(
            where=[
                'jsonb_path_exists("campaigns_campaign"."who", '
                "'$.** ? (@.type == \"label_sent\" && @.label_id == $id)', "
                "jsonb_build_object('id', %s::bigint))"
            ],
            params=[label_id],
        )
        .order_by("name")
        .values_list("name", flat=True)
    )


def segments_targeting_label(label_id: int) -> list[str]:
    """Names of saved segments that select people sent a campaign with this label."""
    from audience.models import Segment

    return list(
        Segment.objects.extra(
            where=[
                'jsonb_path_exists("audience_segment"."definition", '
                "'$.** ? (@.type == \"label_sent\" && @.label_id == $id)', "
                "jsonb_build_object('id', %s::bigint))"
            ],
            params=[label_id],
        )
        .order_by("name")
        .values_list("name", flat=True)
    )


def _user_or_none(actor: Any) -> Any:
    return actor if getattr(actor, "pk", None) else None


def labels_snapshot(label_ids_and_names: list[tuple[int, str]]) -> list[dict[str, Any]]:
    """Labels as a Notification Sent event stores them: ids and names as they are at send time.

    The dispatch pipeline calls label_snapshot_for(campaign) once per run and copies the result
    onto every event of the run; a later rename or delete then leaves those events as they were.
    """
    return [{"id": pk, "name": name} for pk, name in sorted(label_ids_and_names)]


def label_snapshot_for(campaign: Any) -> list[dict[str, Any]]:
    return labels_snapshot(list(campaign.labels.values_list("pk", "name")))
