"""Campaign serializers: input shapes checked here, rules checked by campaigns.services.

Read serializers add what a client needs to draw its buttons: which sections may change now and
which actions are allowed, each with the reason when not, from the same tables the services obey.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.roles import Perm, has_perm
from approvals import policy
from approvals.models import ApprovalSettings
from campaigns.choices import Action, CampaignType, Channel, Delivery, Section, Status
from campaigns.models import Campaign, CampaignAudit
from campaigns.services import EDITABLE_FIELDS, MAX_BULK
from campaigns.validation import json_problem, sms_segments
from labels import rules as label_rules
from labels.api import LabelNameField
from labels.models import Label

BIGINT_MAX = 2**63 - 1


@extend_schema_field({"type": "object", "additionalProperties": True})
class JSONObjectField(serializers.JSONField):
    """A JSON object (a Who, What or When section). Its content is checked by the services."""

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        problem = json_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value


def _label_ids(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=BIGINT_MAX),
        max_length=900,
        **kwargs,
    )


_SECTIONS_HELP = "Checked against the JSON Schemas at /api/v1/campaigns/schemas/."


class CampaignCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    channel = serializers.ChoiceField(choices=Channel.choices)
    type = serializers.ChoiceField(
        choices=CampaignType.choices, default=CampaignType.SINGLE_MESSAGE
    )
    delivery = serializers.ChoiceField(choices=Delivery.choices, default=Delivery.ONE_TIME)
    who = JSONObjectField(required=False, help_text=f"The audience. {_SECTIONS_HELP}")
    what = JSONObjectField(required=False, help_text=f"The content. {_SECTIONS_HELP}")
    when = JSONObjectField(required=False, help_text=f"The schedule. {_SECTIONS_HELP}")
    labels = _label_ids(required=False, help_text="Label ids.")

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Send a JSON object."]})
        # A field the API does not take (status, created_by, ...) is refused, not silently dropped.
        unknown = sorted(set(data) - set(EDITABLE_FIELDS))
        if unknown:
            raise serializers.ValidationError(
                {key: ["This field cannot be set."] for key in unknown}
            )
        return super().to_internal_value(data)


class CampaignUpdateSerializer(CampaignCreateSerializer):
    """PATCH: only the fields sent, each checked for type; the edit rules decide the rest."""

    name = serializers.CharField(max_length=200, required=False)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    type = serializers.ChoiceField(choices=CampaignType.choices, required=False)
    delivery = serializers.ChoiceField(choices=Delivery.choices, required=False)


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField(read_only=True)


class LabelRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class SectionVerdictSerializer(serializers.Serializer):
    editable = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True)


class ActionVerdictSerializer(serializers.Serializer):
    allowed = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True)
    code = serializers.CharField(
        allow_blank=True,
        help_text="Empty when allowed; else the code the action's refusal would answer with "
        "(permission_denied, read_only, invalid_transition, approval_required, self_approval, "
        "not_chosen, changes_discarded, no_pending_request, ...).",
    )


class EditableSerializer(serializers.Serializer):
    """One entry per section of campaigns.choices.Section."""

    name = SectionVerdictSerializer()
    labels = SectionVerdictSerializer()
    who = SectionVerdictSerializer()
    what = SectionVerdictSerializer()
    when = SectionVerdictSerializer()


class ActionsSerializer(serializers.Serializer):
    """One entry per action of approvals.policy.ACTIONS."""

    edit = ActionVerdictSerializer()
    submit = ActionVerdictSerializer(help_text="Send for approval.")
    publish = ActionVerdictSerializer()
    approve = ActionVerdictSerializer()
    reject = ActionVerdictSerializer()
    withdraw = ActionVerdictSerializer(help_text="Take back a pending approval request.")
    stop = ActionVerdictSerializer()
    clone = ActionVerdictSerializer()
    archive = ActionVerdictSerializer()


class NoticeSerializer(serializers.Serializer):
    """The spec's "popup": what the workflow tells this user about acting now."""

    code = serializers.ChoiceField(choices=[n.value for n in policy.Notice])
    message = serializers.CharField()


class ApprovalStateSerializer(serializers.Serializer):
    notice = NoticeSerializer(allow_null=True)
    mode = serializers.ChoiceField(
        choices=[m.value for m in policy.Mode],
        help_text="Where your edits go now: direct (into the campaign), revision (into changes "
        "sent for approval: POST /campaigns/{id}/revisions/), none (nothing can change).",
    )
    request = serializers.IntegerField(
        allow_null=True,
        help_text="The approval request the status speaks of (the pending one, or the rejected "
        "one); null otherwise.",
    )


class RulesSerializer(serializers.Serializer):
    """approvals.policy.campaign_rules for the caller, now."""

    role = serializers.ChoiceField(
        choices=[r.value for r in policy.Role],
        help_text="creator (Marketers) or approver (Approvers and Admins): the spec's columns.",
    )
    approval_on = serializers.BooleanField(help_text="Whether campaign approval is switched on.")
    scenario = serializers.CharField(
        help_text='The row of the table that applies: "scheduled/before", '
        '"pending_approval/ran/after", ...'
    )
    scheduled_at = serializers.DateTimeField(
        allow_null=True, help_text="The scheduled time the before/after rules compare with."
    )
    mode = serializers.ChoiceField(
        choices=[m.value for m in policy.Mode],
        help_text="Where your edits go now: direct, revision (sent for approval), none.",
    )
    sections = EditableSerializer()
    actions = ActionsSerializer()
    notice = NoticeSerializer(allow_null=True)
    request = serializers.IntegerField(allow_null=True)


class SmsSegmentsSerializer(serializers.Serializer):
    encoding = serializers.ChoiceField(choices=["GSM-7", "UCS-2"])
    characters = serializers.IntegerField()
    segments = serializers.IntegerField()


def _user(context: dict[str, Any]) -> Any:
    request = context.get("request")
    return getattr(request, "user", None)


def approval_settings(context: dict[str, Any]) -> ApprovalSettings:
    """The approval setting, read once per request (every row of a list shares it)."""
    found = context.get("approval")
    if found is None:
        found = context["approval"] = ApprovalSettings.current()
    return found


def rules_for(campaign: Campaign, context: dict[str, Any]) -> policy.CampaignRules:
    """The one rules function's answer for the caller, asked once per campaign and request."""
    answers = context.setdefault("rules", {})
    if campaign.pk not in answers:
        answers[campaign.pk] = policy.campaign_rules(
            campaign, _user(context), approval=approval_settings(context)
        )
    return answers[campaign.pk]


def editable_for(answer: policy.CampaignRules, user: Any) -> dict[str, dict[str, Any]]:
    """Each section: may this user change it now, and if not, why (role first, then the rules)."""
    if not has_perm(user, Perm.EDIT):
        reason = "Your role does not allow you to edit campaigns."
        return {s.value: {"editable": False, "reason": reason} for s in Section}
    return {
        section.value: {"editable": reason is None, "reason": reason or ""}
        for section, reason in answer.sections.items()
    }


def actions_for(answer: policy.CampaignRules) -> dict[str, dict[str, Any]]:
    """Each action: allowed for this user on this campaign now, and if not, why and its code."""
    return {
        action.value: {
            "allowed": answer.actions[action].allowed,
            "reason": answer.actions[action].reason,
            "code": "" if answer.actions[action].allowed else answer.actions[action].code,
        }
        for action in policy.ACTIONS
    }


def notice_for(answer: policy.CampaignRules) -> dict[str, str] | None:
    if answer.notice is None:
        return None
    return {"code": answer.notice.value, "message": answer.notice_text}


def rules_payload(answer: policy.CampaignRules, user: Any) -> dict[str, Any]:
    """GET /campaigns/{id}/rules/: the whole answer, as RulesSerializer documents it."""
    return {
        "role": answer.role.value,
        "approval_on": answer.approval_on,
        "scenario": answer.scenario,
        "scheduled_at": answer.scheduled_at,
        "mode": answer.mode.value,
        "sections": editable_for(answer, user),
        "actions": actions_for(answer),
        "notice": notice_for(answer),
        "request": answer.request.pk if answer.request is not None else None,
    }


_LIVE_STATUS_HELP = (
    "While the status shows Approval Pending or Rejected for changes to a live campaign: what the "
    "live version is doing (scheduled, running, awaiting_next_run); it keeps running as it was "
    "until the changes are approved. Empty otherwise."
)


_HEAD = [
    "id",
    "name",
    "channel",
    "channel_display",
    "type",
    "type_display",
    "delivery",
    "delivery_display",
    "status",
    "status_display",
    "live_status",
]
_TAIL = [
    "labels",
    "created_by",
    "created_at",
    "updated_at",
    "last_active_at",
    "next_run_at",
    "archived",
    "archived_at",
    "editable",
    "actions",
]


class CampaignListSerializer(serializers.ModelSerializer):
    """A row of the list: no Who/What/When, but everything a row's buttons need, without queries
    (the view reads the approval setting once and prefetches the workflow's requests)."""

    channel_display = serializers.CharField(source="get_channel_display", read_only=True)
    type_display = serializers.CharField(source="get_type_display", read_only=True)
    delivery_display = serializers.CharField(source="get_delivery_display", read_only=True)
    status = serializers.ChoiceField(choices=Status.choices, read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    live_status = serializers.CharField(read_only=True, help_text=_LIVE_STATUS_HELP)
    labels = LabelRefSerializer(many=True, read_only=True)
    created_by = UserRefSerializer(read_only=True)
    archived = serializers.BooleanField(source="is_archived", read_only=True)
    editable = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [*_HEAD, *_TAIL]
        read_only_fields = fields

    @extend_schema_field(EditableSerializer)
    def get_editable(self, campaign: Campaign) -> dict[str, dict[str, Any]]:
        return editable_for(rules_for(campaign, self.context), _user(self.context))

    @extend_schema_field(ActionsSerializer)
    def get_actions(self, campaign: Campaign) -> dict[str, dict[str, Any]]:
        return actions_for(rules_for(campaign, self.context))


class CampaignSerializer(CampaignListSerializer):
    """One campaign in full."""

    who = serializers.JSONField(read_only=True)
    what = serializers.JSONField(read_only=True)
    when = serializers.JSONField(read_only=True)
    sms_segments = serializers.SerializerMethodField(
        help_text="How the body of a single SMS message splits into segments; null otherwise."
    )
    approval = serializers.SerializerMethodField(
        help_text="The approval workflow for you, now: its notice (the spec's popup), where your "
        "edits go, and the request the status speaks of. GET /campaigns/{id}/rules/ has the rest."
    )

    class Meta(CampaignListSerializer.Meta):
        fields = [
            *_HEAD,
            "who",
            "what",
            "when",
            "sms_segments",
            *_TAIL,
            "approval",
        ]
        read_only_fields = fields

    @extend_schema_field(SmsSegmentsSerializer(allow_null=True))
    def get_sms_segments(self, campaign: Campaign) -> dict[str, Any] | None:
        if campaign.channel != Channel.SMS or campaign.type != CampaignType.SINGLE_MESSAGE:
            return None
        message = campaign.what.get("message") if isinstance(campaign.what, dict) else None
        body = message.get("body") if isinstance(message, dict) else None
        return sms_segments(body) if isinstance(body, str) else None

    @extend_schema_field(ApprovalStateSerializer)
    def get_approval(self, campaign: Campaign) -> dict[str, Any]:
        answer = rules_for(campaign, self.context)
        return {
            "notice": notice_for(answer),
            "mode": answer.mode.value,
            "request": answer.request.pk if answer.request is not None else None,
        }


class CampaignCountsSerializer(serializers.Serializer):
    status = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Campaigns per status under every filter but status and quick; every status "
        "is present.",
    )
    quick = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Campaigns per quick filter (running, scheduled, awaiting_approval, mine, "
        "drafts) under every filter but status and quick; every one is present.",
    )
    total = serializers.IntegerField(help_text="Campaigns the list shows with every filter.")


class BulkRequestSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["stop", "archive", "clone"])
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=BIGINT_MAX),
        min_length=1,
        max_length=MAX_BULK,
    )


class BulkResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    ok = serializers.BooleanField()
    code = serializers.CharField(help_text="done, or the error code of the refusal.")
    message = serializers.CharField()
    clone_id = serializers.IntegerField(required=False, help_text="Only for a done clone.")


class BulkResponseSerializer(serializers.Serializer):
    results = BulkResultSerializer(many=True)
    done = serializers.IntegerField()
    refused = serializers.IntegerField()


class LabelNamesField(serializers.ListField):
    """Label names to add, created first when missing; every bad name is reported by name."""

    child = LabelNameField()

    def run_child_validation(self, data: list[Any]) -> list[str]:
        names: list[str] = []
        problems: list[str] = []
        for raw in data:
            broken = label_rules.name_problems(raw)
            if broken:
                problems.append(f"{_shown(raw)}: " + " ".join(broken))
            else:
                names.append(raw.strip())
        if problems:
            raise serializers.ValidationError(problems)
        return names


def _shown(raw: Any, limit: int = 80) -> str:
    """A name as an error message can quote it: invisible characters escaped (a lone surrogate
    could not even be encoded in the response), long names cut."""
    if not isinstance(raw, str):
        return repr(raw)[:limit]
    text = raw.strip()
    text = text if len(text) <= limit else text[:limit] + "…"
    return '"' + "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text) + '"'


class BulkLabelsSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=BIGINT_MAX),
        min_length=1,
        max_length=MAX_BULK,
        help_text="Campaign ids.",
    )
    add = _label_ids(required=False, default=list, help_text="Label ids to add.")
    remove = _label_ids(required=False, default=list, help_text="Label ids to remove.")
    add_names = LabelNamesField(
        required=False,
        default=list,
        max_length=label_rules.MAX_LABELS,
        help_text="Label names to add; those that do not exist yet (ignoring case) are created "
        "first, after every name has been checked.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Checked here, not only in the service, because labels named in add_names are created
        # before the service runs: an unknown id must refuse the request before anything changes.
        errors: dict[str, list[str]] = {}
        both = sorted(set(attrs["add"]) & set(attrs["remove"]))
        if both:
            errors["remove"] = [f"Label {pk} cannot be both added and removed." for pk in both]
        wanted = set(attrs["add"]) | set(attrs["remove"])
        found = set(Label.objects.filter(pk__in=wanted).values_list("pk", flat=True))
        for key in ("add", "remove"):
            missing = sorted(set(attrs[key]) - found)
            if missing:
                errors.setdefault(key, []).extend(f"Label {pk} does not exist." for pk in missing)
        if not (attrs["add"] or attrs["remove"] or attrs["add_names"]):
            errors["add"] = ["Choose at least one label to add or remove."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class BulkLabelsResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    ok = serializers.BooleanField(help_text="False when the campaign was refused.")
    code = serializers.CharField(
        help_text="done, unchanged (it already had them as asked), or the error code of the "
        "refusal (not_found, read_only, ...)."
    )
    message = serializers.CharField()


class BulkLabelsResponseSerializer(serializers.Serializer):
    results = BulkLabelsResultSerializer(many=True)
    done = serializers.IntegerField(help_text="Campaigns whose labels changed.")
    unchanged = serializers.IntegerField(help_text="Campaigns that already had them as asked.")
    refused = serializers.IntegerField()


class AuditSerializer(serializers.ModelSerializer):
    actor = serializers.EmailField(
        source="actor.email",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="Null when the system acted (e.g. auto-archival).",
    )
    action = serializers.ChoiceField(choices=Action.choices, read_only=True)
    action_display = serializers.CharField(source="get_action_display", read_only=True)
    from_status = serializers.CharField(read_only=True, help_text="Empty when not a status change.")
    to_status = serializers.CharField(read_only=True, help_text="Empty when not a status change.")
    changes = serializers.JSONField(read_only=True)

    class Meta:
        model = CampaignAudit
        fields = [
            "id",
            "actor",
            "action",
            "action_display",
            "from_status",
            "to_status",
            "changes",
            "created_at",
        ]
        read_only_fields = fields


class CampaignSchemasSerializer(serializers.Serializer):
    who = serializers.JSONField(help_text="JSON Schema (2020-12) of Who.")
    message = serializers.DictField(
        child=serializers.JSONField(), help_text="Per channel: JSON Schema of one message."
    )
    what = serializers.DictField(
        child=serializers.DictField(child=serializers.JSONField()),
        help_text="Per campaign type, per channel: JSON Schema of What.",
    )
    when = serializers.DictField(
        child=serializers.JSONField(), help_text="Per delivery type: JSON Schema of When."
    )
