"""The ingestion API: batches of up to 1,000 profiles or events, authenticated by a project API key.

The answer is 200 whenever the batch itself could be read, even if some of its records were
refused: `accepted` and `rejected` say what became of each record, by its index in the batch
(the semantics of a 207 Multi-Status, in a plain 200). A batch that cannot be read (malformed
JSON, no `records` list, more than 1,000 records) is a 400 and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audience import services, validation
from audience.authentication import HasIngestKey, IngestKeyAuthentication
from audience.models import DeviceKind
from config.api_errors import ErrorSerializer
from config.errors import DomainError, Invalid

_ERROR = ErrorSerializer
# Well above 1,000 records of any reasonable size; a body past it is refused before it is read.
MAX_BODY_BYTES = 16 * 1024 * 1024


class PayloadTooLarge(DomainError):
    code = "payload_too_large"
    http_status = 413


# --- The schema's description of the bodies (records are validated by audience.validation) ---
class IngestEventSerializer(serializers.Serializer):
    identity = serializers.CharField(
        max_length=validation.MAX_IDENTITY,
        help_text="The app's user id. An unknown identity gets a new, empty profile.",
    )
    name = serializers.CharField(
        max_length=validation.MAX_EVENT_NAME,
        help_text="1 to 120 characters. Notification Sent / Viewed / Clicked are refused: only "
        "Herald records them.",
    )
    ts = serializers.DateTimeField(
        required=False,
        help_text="ISO 8601 with a time zone; from 2000-01-01 to 10 minutes past Herald's "
        "clock. Default: when the batch arrives.",
    )
    properties = serializers.DictField(
        required=False,
        help_text="A flat object: text, numbers, true/false, null and lists of those.",
    )
    record_id = serializers.CharField(
        required=False,
        max_length=validation.MAX_RECORD_ID,
        help_text="Optional idempotency key: a record id already ingested (in the last 30 days) "
        "adds nothing again.",
    )


@extend_schema_field({"type": "string", "enum": list(validation.CONSENT_VALUES)})
class ConsentField(serializers.ChoiceField):
    """opted_in / opted_out, described inline (one choice set under several field names)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=validation.CONSENT_VALUES, **kwargs)


class IngestDeviceSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DeviceKind.choices)
    platform = serializers.CharField(required=False, max_length=validation.MAX_PLATFORM)
    token = serializers.CharField(required=False, help_text="push: the FCM / APNs token.")
    endpoint = serializers.URLField(required=False, help_text="web_push: the https endpoint.")
    keys = serializers.DictField(
        child=serializers.CharField(),
        required=False,
        help_text="web_push: the subscription's p256dh and auth keys (base64url).",
    )
    consent = ConsentField(
        required=False, help_text="Left as it is when not given; a new device is opted in."
    )


class IngestProfileSerializer(serializers.Serializer):
    identity = serializers.CharField(max_length=validation.MAX_IDENTITY)
    email = serializers.EmailField(required=False, allow_null=True, allow_blank=True)
    phone = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="International format; stored in E.164 (+14155550123).",
    )
    timezone = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, help_text="IANA, e.g. Europe/Paris."
    )
    properties = serializers.DictField(
        required=False,
        help_text="Merged into the stored ones; null removes one. Text, number, true/false, "
        "date (ISO 8601 text) or list; a property's first value fixes its type.",
    )
    # An object of channels rather than a nested serializer: one choice set, one name in the schema.
    consent = serializers.DictField(
        child=ConsentField(),
        required=False,
        help_text="Per channel (email, sms, whatsapp): opted_in or opted_out. Opting out stamps "
        "the channel's unsubscribed_at; opting in clears it.",
    )
    devices = IngestDeviceSerializer(many=True, required=False)


class IngestEventBatchSerializer(serializers.Serializer):
    records = IngestEventSerializer(many=True, min_length=1, max_length=validation.MAX_BATCH)


class IngestProfileBatchSerializer(serializers.Serializer):
    records = IngestProfileSerializer(many=True, min_length=1, max_length=validation.MAX_BATCH)


class IngestRejectedSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The record's position in `records`, from 0.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text='Messages per field, e.g. {"ts": ["Events from before 2000-01-01 are '
        'refused."]}.',
    )


class IngestEventAcceptedSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The record's position in `records`, from 0.")
    record_id = serializers.CharField(allow_null=True, help_text="As sent; null if none.")
    duplicate = serializers.BooleanField(
        help_text="The record id was already ingested: nothing was added."
    )


class IngestProfileAcceptedSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    id = serializers.IntegerField(help_text="The profile's id.")
    identity = serializers.CharField()
    created = serializers.BooleanField(help_text="A new profile (false: an update).")


class IngestEventResultSerializer(serializers.Serializer):
    accepted = IngestEventAcceptedSerializer(many=True)
    rejected = IngestRejectedSerializer(many=True)


class IngestProfileResultSerializer(serializers.Serializer):
    accepted = IngestProfileAcceptedSerializer(many=True)
    rejected = IngestRejectedSerializer(many=True)


# --- The views ---
def batch_records(request: Request) -> list[Any]:
    """The `records` list of the body, or a 400 / 413 that writes nothing."""
    length = request.META.get("CONTENT_LENGTH") or ""
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f"The body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB; send smaller batches."
        )
    data = request.data
    if not isinstance(data, dict) or "records" not in data:
        raise Invalid(
            'Send a JSON object: {"records": [...]}.',
            errors={"records": ["This field is required."]},
        )
    records = data["records"]
    if not isinstance(records, list) or not records:
        message = f"Give a list of 1 to {validation.MAX_BATCH:,} records."
        raise Invalid(message, errors={"records": [message]})
    return records


class _IngestView(APIView):
    authentication_classes = [IngestKeyAuthentication]
    permission_classes = [HasIngestKey]
    parser_classes = [JSONParser]
    ingest: Callable[..., services.BatchResult]

    def post(self, request: Request) -> Response:
        result = self.ingest(batch_records(request), source=f"api {request.auth.prefix}")
        return Response(result.as_dict())


_RESULTS = (
    "200 even when some records are refused: `accepted` and `rejected` name each record by its "
    "index, and the refused ones say why, per field. Valid records are written, whole; refused "
    "ones change nothing. A body that is not a JSON object with a `records` list of 1 to 1,000 "
    "records is a 400 (nothing written). Authenticated only by a project API key "
    "(Authorization: Bearer hk_...), created by an Admin on Settings > API keys."
)


class EventIngestView(_IngestView):
    ingest = staticmethod(services.events_ingest)

    @extend_schema(
        summary="Ingest a batch of events",
        description=_RESULTS,
        request=IngestEventBatchSerializer,
        responses={200: IngestEventResultSerializer, 400: _ERROR, 401: _ERROR, 413: _ERROR},
        examples=[
            OpenApiExample(
                "A purchase",
                request_only=True,
                value={
                    "records": [
                        {
                            "identity": "user-42",
                            "name": "Charged",
                            "ts": "2025-05-01T09:30:00Z",
                            "properties": {"amount": 19.9, "currency": "EUR"},
                            "record_id": "order-1001",
                        }
                    ]
                },
            )
        ],
        tags=["ingestion"],
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class ProfileIngestView(_IngestView):
    ingest = staticmethod(services.profiles_upsert)

    @extend_schema(
        summary="Create or update a batch of profiles",
        description=_RESULTS + " Profiles are matched on `identity`; fields left out stay as "
        "they are, null or empty text clears one.",
        request=IngestProfileBatchSerializer,
        responses={200: IngestProfileResultSerializer, 400: _ERROR, 401: _ERROR, 413: _ERROR},
        examples=[
            OpenApiExample(
                "A new user",
                request_only=True,
                value={
                    "records": [
                        {
                            "identity": "user-42",
                            "email": "ada@example.com",
                            "phone": "+44 20 7946 0958",
                            "timezone": "Europe/London",
                            "properties": {"plan": "pro", "signed_up": "2025-04-30"},
                            "consent": {"email": "opted_in", "sms": "opted_out"},
                            "devices": [{"kind": "push", "platform": "ios", "token": "f3c9..."}],
                        }
                    ]
                },
            )
        ],
        tags=["ingestion"],
    )
    def post(self, request: Request) -> Response:
        return super().post(request)
