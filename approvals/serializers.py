"""The approval workflow's API shapes: input checked for type here, the rules in approvals.services.

Read serializers show a request with its campaign as it is now (status and live status, so a
client sees what a decision did), and its proposal as a readable diff (approvals.diff).
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from approvals.diff import diff, label_names_for, snapshot
from approvals.models import (
    ApprovalRequest,
    ApprovalSettings,
    ApprovalSettingsChange,
    RequestKind,
    RequestStatus,
)
from approvals.policy import NOTICE_TEXT, Notice
from approvals.services import MAX_NOTE, RUN_ON
from campaigns.api.serializers import (
    BIGINT_MAX,
    CampaignUpdateSerializer,
    NoticeSerializer,
    UserRefSerializer,
)
from campaigns.choices import Channel

# How a diff's entry changes a value.
CHANGE_KINDS = ["added", "removed", "changed"]
# How many approvers one request may name; more is a 400, not a long query.
MAX_APPROVERS = 100


def _reject_unknown(data: Any, allowed: set[str]) -> None:
    """A field the endpoint does not take is refused, not silently dropped."""
    if isinstance(data, dict):
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise serializers.ValidationError(
                {key: ["This field is not accepted here."] for key in unknown}
            )


class StrictSerializer(serializers.Serializer):
    def to_internal_value(self, data: Any) -> Any:
        _reject_unknown(data, set(self.fields))
        return super().to_internal_value(data)


# ---------------------------------------------------------------------------------------------
# The setting
# ---------------------------------------------------------------------------------------------
class ApprovalSettingsSerializer(serializers.ModelSerializer):
    updated_by = UserRefSerializer(
        read_only=True, allow_null=True, help_text="Null until an Admin first changes it."
    )
    updated_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="Null until an Admin first changes it."
    )

    class Meta:
        model = ApprovalSettings
        fields = ["enabled", "allow_self_approval", "updated_by", "updated_at"]
        read_only_fields = fields


class ApprovalSettingsUpdateSerializer(StrictSerializer):
    enabled = serializers.BooleanField(
        help_text="On: Marketers cannot publish; they send campaigns and changes for approval."
    )
    allow_self_approval = serializers.BooleanField(
        help_text="Let an approver approve a campaign they created or last edited (off by default)."
    )


class ApprovalSettingsChangeSerializer(serializers.ModelSerializer):
    actor = UserRefSerializer(read_only=True)
    changes = serializers.JSONField(
        read_only=True,
        help_text='What changed: {"enabled": {"old": false, "new": true}, ...}.',
    )

    class Meta:
        model = ApprovalSettingsChange
        fields = ["id", "actor", "changes", "created_at"]
        read_only_fields = fields


# ---------------------------------------------------------------------------------------------
# Input of the workflow's actions
# ---------------------------------------------------------------------------------------------
def _note_field(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(max_length=MAX_NOTE, allow_blank=True, **kwargs)


def _approvers_field() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=BIGINT_MAX),
        required=False,
        max_length=MAX_APPROVERS,
        help_text="User ids of the approvers who may decide (Approvers or Admins, not you); "
        "empty or left out: any approver. They are e-mailed.",
    )


class ChangesSerializer(CampaignUpdateSerializer):
    """Changes to a campaign's content: only the fields sent, each checked for type."""


class SubmitSerializer(StrictSerializer):
    note = _note_field(required=False, default="", help_text="For the approvers.")
    approvers = _approvers_field()


class RevisionSerializer(StrictSerializer):
    changes = ChangesSerializer(
        help_text="The fields to change (name, labels, channel, type, delivery, who, what, "
        "when); only sections the table leaves open to you now (409 read_only otherwise)."
    )
    note = _note_field(required=False, default="", help_text="For the approvers.")
    approvers = _approvers_field()

    def validate_changes(self, value: dict[str, Any]) -> dict[str, Any]:
        if not value:
            raise serializers.ValidationError("Give at least one field to change.")
        return value


class ApproveSerializer(StrictSerializer):
    comment = _note_field(required=False, default="", help_text="For the requester.")
    changes = ChangesSerializer(
        required=False,
        help_text="Your own edits, made while reviewing and applied with the approval (only "
        "sections the table leaves open to approvers now).",
    )


class RejectSerializer(StrictSerializer):
    comment = serializers.CharField(
        max_length=MAX_NOTE, help_text="Why: required; the requester is e-mailed it."
    )


class PublishSerializer(StrictSerializer):
    changes = ChangesSerializer(
        required=False,
        help_text="Edits applied with the publication (an approver publishing rejected changes "
        "of a live campaign: What only).",
    )
    run_on = serializers.ChoiceField(
        choices=list(RUN_ON),
        required=False,
        help_text="Only when publishing rejected changes of a live campaign after the scheduled "
        "time (notice run_today_or_tomorrow): whether the next run is today or tomorrow, at the "
        "usual time.",
    )


# ---------------------------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------------------------
class RequestCampaignSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    channel = serializers.ChoiceField(choices=Channel.choices)
    status = serializers.CharField(help_text="The campaign's status now.")
    live_status = serializers.CharField(
        help_text="For changes to a live campaign, what the live version is doing; else empty."
    )
    next_run_at = serializers.DateTimeField(allow_null=True)


class ChangeSerializer(serializers.Serializer):
    """One difference between two versions of a campaign."""

    field = serializers.CharField(
        help_text="name, labels, channel, type, delivery, who, what, when"
    )
    section = serializers.CharField(help_text="The edit rules' section: name, labels, who, ...")
    path = serializers.CharField(help_text='Where inside the field: "what.message.title".')
    kind = serializers.ChoiceField(choices=CHANGE_KINDS)
    old = serializers.JSONField(allow_null=True, help_text="Labels are shown by name.")
    new = serializers.JSONField(allow_null=True)


class ApprovalRequestSerializer(serializers.ModelSerializer):
    campaign = RequestCampaignSerializer(read_only=True)
    kind = serializers.ChoiceField(
        choices=RequestKind.choices,
        read_only=True,
        help_text="publish: a campaign never live, to be published; revision: changes to a live "
        "campaign, which keeps running as it was until they are approved.",
    )
    status = serializers.ChoiceField(choices=RequestStatus.choices, read_only=True)
    requested_by = UserRefSerializer(read_only=True)
    approvers = UserRefSerializer(
        many=True, read_only=True, help_text="The chosen approvers; empty: any approver."
    )
    target_run_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="The scheduled time the request is for (the live version's next send, or the "
        "proposal's first send).",
    )
    past_due = serializers.SerializerMethodField(
        help_text="The scheduled time has come (target_run_at <= now)."
    )
    decided_by = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = ApprovalRequest
        fields = [
            "id",
            "campaign",
            "kind",
            "status",
            "requested_by",
            "requested_at",
            "note",
            "approvers",
            "target_run_at",
            "past_due",
            "decided_by",
            "decided_at",
            "comment",
        ]
        read_only_fields = fields

    def get_past_due(self, request: ApprovalRequest) -> bool:
        now = self.context.setdefault("now", timezone.now())
        return request.target_run_at is not None and request.target_run_at <= now


class ApprovalDecisionSerializer(ApprovalRequestSerializer):
    notice = serializers.SerializerMethodField(
        help_text="changes_discarded when the approval came after the scheduled time: the "
        "request is closed as discarded and the live campaign ran as it was."
    )

    class Meta(ApprovalRequestSerializer.Meta):
        fields = [*ApprovalRequestSerializer.Meta.fields, "notice"]
        read_only_fields = fields

    @extend_schema_field(NoticeSerializer(allow_null=True))
    def get_notice(self, request: ApprovalRequest) -> dict[str, str] | None:
        if request.status != RequestStatus.DISCARDED:
            return None
        notice = Notice.CHANGES_DISCARDED
        return {"code": notice.value, "message": NOTICE_TEXT[notice]}


def request_diff(request: ApprovalRequest, context: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's proposal against the live campaign now (a pending revision: what approving
    it would change) or against the request's base (anything else: what it proposed)."""
    live_now = context.get("diff_against_live", False)
    base = (
        snapshot(request.campaign)
        if live_now and request.is_pending and request.kind == RequestKind.REVISION
        else request.base
    )
    names = context.get("label_names")
    if names is None:
        names = label_names_for(base, request.proposed)
    return [
        {
            "field": c.field,
            "section": c.section,
            "path": c.path,
            "kind": c.kind,
            "old": c.old,
            "new": c.new,
        }
        for c in diff(base, request.proposed, names)
    ]


class ApprovalRequestDetailSerializer(ApprovalRequestSerializer):
    base = serializers.JSONField(
        read_only=True,
        help_text="The live campaign's content when the request was made ({} if never live).",
    )
    proposed = serializers.JSONField(
        read_only=True,
        help_text="The proposed content: name, labels (ids), channel, type, delivery, who, "
        "what, when.",
    )
    diff = serializers.SerializerMethodField(
        help_text="What the proposal changes, field by field and inside Who/What/When by path."
    )

    class Meta(ApprovalRequestSerializer.Meta):
        fields = [*ApprovalRequestSerializer.Meta.fields, "base", "proposed", "diff"]
        read_only_fields = fields

    @extend_schema_field(ChangeSerializer(many=True))
    def get_diff(self, request: ApprovalRequest) -> list[dict[str, Any]]:
        return request_diff(request, self.context)


class RequestListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[*RequestStatus.values, "all"],
        default=RequestStatus.PENDING,
        help_text="pending (the default, oldest first), approved, rejected, withdrawn, "
        "discarded or all (newest first).",
    )
    campaign = serializers.IntegerField(
        min_value=1, max_value=BIGINT_MAX, required=False, help_text="One campaign's requests."
    )
    awaiting_me = serializers.BooleanField(
        default=False,
        help_text="Only pending requests you may approve now: the rules allow it, you are among "
        "the chosen approvers (or none were chosen), and you did not write it unless "
        "self-approval is allowed.",
    )
