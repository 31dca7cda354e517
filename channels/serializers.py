"""The dispatch API's shapes: a campaign's runs with their progress, and the API trigger's body."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from audience import validation as audience_validation
from channels import scheduler, triggers
from channels.models import Run


class RunProgressSerializer(serializers.Serializer):
    sent = serializers.IntegerField()
    failed = serializers.IntegerField()
    failed_reasons = serializers.DictField(
        child=serializers.IntegerField(),
        help_text='Failures by reason, e.g. {"provider": 2, "outcome_unknown": 1}.',
    )
    dropped = serializers.DictField(
        child=serializers.IntegerField(),
        help_text='Recipients not sent to, by reason: {"consent": 3, "no_address": 1, '
        '"frequency_cap": 0, "dnd": 0, "control_group": 5, "no_profile": 0}.',
    )
    pending = serializers.IntegerField(
        help_text="Targeted recipients with no outcome yet (still to send, or waiting for "
        "their time zone or the end of quiet hours)."
    )


class RunSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    campaign = serializers.IntegerField(source="campaign_id", read_only=True)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = [
            "id",
            "url",
            "campaign",
            "kind",
            "status",
            "scheduled_for",
            "created_at",
            "finished_at",
            "idempotency_key",
            "targeted",
            "progress",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "kind": {
                "help_text": "scheduled: an occurrence of the When; api: a call of "
                "POST /campaigns/{id}/trigger/; trigger: Action or Inaction triggers due at one tick."
            },
            "status": {
                "help_text": "resolving (the audience is being listed), sending, done, "
                "stopped (the campaign was stopped)."
            },
            "scheduled_for": {
                "help_text": "The occurrence, or when the call or the triggers came."
            },
            "targeted": {"help_text": "Recipients resolved so far (all of them once sending)."},
        }

    def get_url(self, run: Run) -> str:
        return reverse("run-detail", args=[run.pk], request=self.context.get("request"))

    @extend_schema_field(RunProgressSerializer)
    def get_progress(self, run: Run) -> dict[str, Any]:
        # A finished run's figures were frozen when it ended; others are read from its batches
        # (for a page of runs, once: see CampaignRunsView).
        totals = scheduler.run_totals(run, self.context.get("counters"))
        return {
            "sent": totals.get("sent", 0),
            "failed": totals.get("failed", 0),
            "failed_reasons": totals.get("failed_reasons", {}),
            "dropped": totals.get("dropped", {}),
            "pending": totals.get("pending", 0),
        }


class TriggeredRunSerializer(RunSerializer):
    replayed = serializers.BooleanField(
        help_text="True when the idempotency key named an earlier call's run: this is that run "
        "(200), and nothing more was sent."
    )
    unknown = serializers.ListField(
        child=serializers.CharField(),
        help_text="Identities given that have no profile: not sent to.",
    )

    class Meta(RunSerializer.Meta):
        fields = [*RunSerializer.Meta.fields, "replayed", "unknown"]
        read_only_fields = fields


class RecipientSerializer(serializers.Serializer):
    identity = serializers.CharField(
        trim_whitespace=False,
        help_text="The profile's identity (the app's user id, as ingested).",
    )
    data = serializers.JSONField(
        required=False,
        help_text="Personalisation for this recipient, a JSON object the templates read as "
        "{{ data.* }} (at most 10,000 characters of JSON).",
    )

    def validate_identity(self, value: str) -> str:
        try:
            return audience_validation.text_field(
                value, max_length=audience_validation.MAX_IDENTITY, what="the identity"
            )
        except audience_validation.FieldInvalid as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_data(self, value: Any) -> Any:
        problem = triggers.check_recipient_data(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value


class TriggerSerializer(serializers.Serializer):
    recipients = RecipientSerializer(
        many=True,
        required=False,
        allow_empty=False,
        max_length=triggers.MAX_RECIPIENTS,
        help_text="Who to send to, each with their own data; leave out to send to the "
        "campaign's Who. At most 1,000; an identity may appear once.",
    )
    idempotency_key = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=triggers.MAX_IDEMPOTENCY_KEY,
        help_text="A key of yours for this call (or the Idempotency-Key header): a retry with "
        "the same key answers with the first call's run instead of sending again.",
    )

    def validate_recipients(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Keyed by index, as DRF reports the items' own errors ("recipients.2.identity").
        first: dict[str, int] = {}
        errors: dict[int, dict[str, list[str]]] = {}
        for i, recipient in enumerate(value):
            earlier = first.setdefault(recipient["identity"], i)
            if earlier != i:
                errors[i] = {"identity": [f"Already given as recipient {earlier}."]}
        if errors:
            raise serializers.ValidationError(errors)
        return value

    def validate_idempotency_key(self, value: str) -> str:
        try:
            value.encode()
        except UnicodeEncodeError:
            raise serializers.ValidationError(
                "The key contains an unpaired UTF-16 surrogate."
            ) from None
        return value
