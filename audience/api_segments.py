"""Saved segments and the audience estimate over the API.

Each view validates its input, calls one service from audience.segment_services (or the engine in
audience.segments) and renders. Domain errors (Invalid with the Who's field errors, Conflict for a
segment in use, NotFound) become HTTP in config.api_errors, so nothing here catches them.
"""

from __future__ import annotations

from typing import Any

from django.urls import path
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import api_view, parser_classes
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from audience import segment_services as services
from audience.models import Segment
from audience.segments import estimate, segment_count
from config.api_errors import ErrorSerializer

_ERROR = ErrorSerializer
_WHO_HELP = (
    "A Who definition (see GET /api/v1/campaigns/schemas/ and docs/campaign-lifecycle.md): a "
    'group of conditions, which may use saved segments as {"type": "segment", "segment_id": n}.'
)
_EXAMPLE_WHO = {
    "type": "group",
    "match": "all",
    "conditions": [
        {
            "type": "event",
            "event": "Charged",
            "count": {"op": "gte", "value": 2},
            "window": {"last_days": 30},
        },
        {"type": "property", "property": "plan", "op": "eq", "value": "pro"},
    ],
}


@extend_schema_field({"type": "object", "description": _WHO_HELP, "example": _EXAMPLE_WHO})
class WhoField(serializers.JSONField):
    """Any JSON: the services judge it and name each bad field."""


@extend_schema_field(
    {
        "type": "string",
        "minLength": 1,
        "maxLength": services.MAX_NAME_LENGTH,
        "description": "Trimmed; unique ignoring case; no control characters.",
        "example": "Repeat buyers on Pro",
    }
)
class SegmentNameField(serializers.Field):
    """A name judged by segment_services.name_problems alone (a CharField would coerce numbers)."""

    default_error_messages = {"required": services.NAME_REQUIRED}

    def to_internal_value(self, data: Any) -> str:
        problems = services.name_problems(data)
        if problems:
            raise serializers.ValidationError(problems)
        return str(data).strip()

    def to_representation(self, value: Any) -> str:
        return str(value)


class CreatorSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField(read_only=True)


class SegmentSerializer(serializers.ModelSerializer):
    definition = WhoField(read_only=True)
    created_by = CreatorSerializer(read_only=True)

    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "description",
            "definition",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SegmentDetailSerializer(SegmentSerializer):
    count = serializers.IntegerField(
        read_only=True, help_text="Profiles the segment selects now (counted on each request)."
    )

    class Meta(SegmentSerializer.Meta):
        fields = [*SegmentSerializer.Meta.fields, "count"]
        read_only_fields = fields


class SegmentCreateSerializer(serializers.Serializer):
    name = SegmentNameField()
    description = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=services.MAX_DESCRIPTION_LENGTH,
        trim_whitespace=True,
    )
    definition = WhoField()


class SegmentUpdateSerializer(serializers.Serializer):
    name = SegmentNameField(required=False)
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=services.MAX_DESCRIPTION_LENGTH
    )
    definition = WhoField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("Give at least one of name, description, definition.")
        return attrs


class SegmentListQuerySerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False, default="", allow_blank=True, help_text="Name contains (ignoring case)."
    )


class EstimateRequestSerializer(serializers.Serializer):
    who = WhoField()


class ReachableSerializer(serializers.Serializer):
    email = serializers.IntegerField(
        help_text="An address, not opted out, not unsubscribed (unknown consent counts)."
    )
    sms = serializers.IntegerField(help_text="A phone number and an SMS opt-in.")
    whatsapp = serializers.IntegerField(help_text="A phone number and a WhatsApp opt-in.")
    push = serializers.IntegerField(help_text="An enabled mobile push device, opted in.")
    web_push = serializers.IntegerField(help_text="An enabled web push subscription, opted in.")


class EstimateSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="Profiles the Who selects.")
    reachable = ReachableSerializer(help_text="Of those, how many each channel can reach.")


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _detail(segment: Segment) -> dict[str, Any]:
    segment.count = segment_count(segment.definition)  # type: ignore[attr-defined]
    return SegmentDetailSerializer(segment).data


_INVALID = (
    "A definition that breaks the Who schema, refers to a segment that does not exist or leads "
    "back to this one, nests segments more than 3 deep, or compares a property with a value of "
    "another type is a 400 whose `errors` name each field (`definition.conditions[0].value`)."
)


@extend_schema_view(
    list=extend_schema(
        summary="Saved segments",
        description="By name. Not paginated; counts are on the single segment only (counting "
        "every segment is one query each).",
        parameters=[SegmentListQuerySerializer],
        responses={200: SegmentSerializer(many=True), 403: _ERROR},
    ),
    create=extend_schema(
        summary="Save a segment",
        description=f"Marketers, Approvers and Admins. {_INVALID} A name taken in any case is "
        "a 400 too.",
        request=SegmentCreateSerializer,
        examples=[
            OpenApiExample(
                "Repeat buyers",
                request_only=True,
                value={"name": "Repeat buyers on Pro", "definition": _EXAMPLE_WHO},
            )
        ],
        responses={201: SegmentDetailSerializer, 400: _ERROR, 403: _ERROR},
    ),
    retrieve=extend_schema(
        summary="One segment, with how many profiles it selects now",
        responses={200: SegmentDetailSerializer, 403: _ERROR, 404: _ERROR, 503: _ERROR},
    ),
    partial_update=extend_schema(
        summary="Rename, describe or redefine a segment",
        description=f"Any of name, description and definition. A new definition applies at once "
        f"to the campaigns and segments using this one, and is refused (400) if any of them "
        f"would then loop back or pass the limits. {_INVALID}",
        request=SegmentUpdateSerializer,
        responses={200: SegmentDetailSerializer, 400: _ERROR, 403: _ERROR, 404: _ERROR},
    ),
    destroy=extend_schema(
        summary="Delete a segment",
        description="Refused with 409 `conflict` while an unarchived campaign's Who or another "
        "segment uses it; the message names them.",
        responses={204: None, 403: _ERROR, 404: _ERROR, 409: _ERROR},
    ),
)
class SegmentViewSet(viewsets.GenericViewSet):
    queryset = Segment.objects.none()
    serializer_class = SegmentSerializer
    parser_classes = [JSONParser]
    pagination_class = None
    filter_backends: list[type] = []
    lookup_value_converter = "int"

    def list(self, request: Request) -> Response:
        query = _valid(SegmentListQuerySerializer, request.query_params)
        rows = services.segments_list(q=query["q"])
        return Response(SegmentSerializer(rows, many=True).data)

    def create(self, request: Request) -> Response:
        data = _valid(SegmentCreateSerializer, request.data)
        segment = services.segment_create(actor=request.user, **data)
        return Response(_detail(services.segment_get(segment.pk)), status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, pk: int) -> Response:
        return Response(_detail(services.segment_get(pk)))

    def partial_update(self, request: Request, pk: int) -> Response:
        data = _valid(SegmentUpdateSerializer, request.data)
        segment = services.segment_update(actor=request.user, segment_id=pk, **data)
        return Response(_detail(services.segment_get(segment.pk)))

    def destroy(self, request: Request, pk: int) -> Response:
        services.segment_delete(actor=request.user, segment_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    summary="Estimate an audience",
    description="How many profiles a Who selects now, and how many of them each channel can "
    "reach (e-mail, SMS, WhatsApp, push, web push), in one query; what the campaign editor shows "
    "as the Who changes. Changes nothing. An invalid Who is a 400 whose `errors` name each field "
    "(`who.conditions[0].value`); an audience that takes more than 20 s to count is a 503 "
    "`too_slow`.",
    request=EstimateRequestSerializer,
    examples=[OpenApiExample("Repeat buyers", request_only=True, value={"who": _EXAMPLE_WHO})],
    responses={200: EstimateSerializer, 400: _ERROR, 403: _ERROR, 503: _ERROR},
)
@api_view(["POST"])
@parser_classes([JSONParser])
def estimate_view(request: Request) -> Response:
    data = _valid(EstimateRequestSerializer, request.data)
    return Response(estimate(data["who"]))


router = SimpleRouter(use_regex_path=False)
router.register("audience/segments", SegmentViewSet, basename="segment")

urlpatterns = [
    path("audience/estimate/", estimate_view, name="audience-estimate"),
    *router.urls,
]
