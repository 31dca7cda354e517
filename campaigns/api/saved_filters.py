"""Saved filters over the API: the signed-in user's own named All Campaigns filters.

Each view validates its input, calls one service or selector from campaigns.saved_filters and
renders. The rules (names, the per-user cap, whose filter is whose) live there; domain errors become
HTTP in config.api_errors, so nothing here catches them.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, status, viewsets
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns import saved_filters
from campaigns.models import SavedFilter
from config.api_errors import ErrorSerializer

_ERROR = ErrorSerializer
_NAME_HELP = (
    f"Trimmed; 1 to {saved_filters.MAX_NAME_LENGTH} characters, no control characters; "
    "unique among your saved filters, ignoring case (other users may use the same name)."
)


@extend_schema_field(
    {
        "type": "string",
        "minLength": 1,
        "maxLength": saved_filters.MAX_NAME_LENGTH,
        "description": _NAME_HELP,
        "example": "Running pushes",
    }
)
class SavedFilterNameField(serializers.Field):
    """A name judged by saved_filters.name_problems alone, so the API and the page say the same
    thing (a CharField would coerce numbers to text and add its own length message)."""

    default_error_messages = {"required": saved_filters.NAME_REQUIRED}

    def to_internal_value(self, data: Any) -> str:
        problems = saved_filters.name_problems(data)
        if problems:
            raise serializers.ValidationError(problems)
        return str(data).strip()

    def to_representation(self, value: Any) -> str:
        return str(value)


class SavedFilterSerializer(serializers.ModelSerializer):
    url = serializers.CharField(
        source="get_absolute_url",
        read_only=True,
        help_text="The All Campaigns page with the filter applied.",
    )

    class Meta:
        model = SavedFilter
        fields = ["id", "name", "query", "url", "created_at", "updated_at"]
        read_only_fields = fields
        extra_kwargs = {
            "query": {
                "help_text": "The filter as a query string: known parameters only, sorted, "
                "without `page`; the same parameters the list endpoint takes."
            }
        }


class SavedFilterCreateSerializer(serializers.Serializer):
    name = SavedFilterNameField()
    query = serializers.CharField(
        allow_blank=True,
        help_text="The filter to save, as a query string (a leading `?` or a whole URL is fine): "
        "status, channel, channel_group, type, delivery, created_by, label, q, archived, "
        "created_after, created_before, last_active_after, last_active_before, quick, ordering. "
        "Other parameters (page among them) and empty values are dropped; "
        f"a normalised filter longer than "
        f"{saved_filters.MAX_QUERY_LENGTH} characters is a 400.",
    )


class SavedFilterRenameSerializer(serializers.Serializer):
    name = SavedFilterNameField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Said rather than ignored: a client sending a new query would otherwise think it changed.
        if "query" in self.initial_data:
            raise serializers.ValidationError(
                {"query": ["A saved filter's query cannot change; save a new filter instead."]}
            )
        return attrs


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


_ISOLATION = "Only your own: another user's id is a 404, as is an id that never existed."


@extend_schema_view(
    list=extend_schema(
        summary="Your saved filters",
        description=f"By name, ignoring case; at most {saved_filters.MAX_SAVED_FILTERS}, so "
        "not paginated. Other users' saved filters are never listed.",
        responses={200: SavedFilterSerializer(many=True), 403: _ERROR},
    ),
    create=extend_schema(
        summary="Save a filter",
        description=f"The query is normalised before it is kept. A name that is empty, longer "
        f"than {saved_filters.MAX_NAME_LENGTH} characters or already one of yours (ignoring "
        f"case) is a 400; a saved filter past the cap of {saved_filters.MAX_SAVED_FILTERS} is a "
        "409 `limit_reached`.",
        request=SavedFilterCreateSerializer,
        examples=[
            OpenApiExample(
                "Running pushes",
                request_only=True,
                value={"name": "Running pushes", "query": "status=running&channel=push"},
            )
        ],
        responses={201: SavedFilterSerializer, 400: _ERROR, 403: _ERROR, 409: _ERROR},
    ),
    retrieve=extend_schema(
        summary="One of your saved filters",
        description=_ISOLATION,
        responses={200: SavedFilterSerializer, 403: _ERROR, 404: _ERROR},
    ),
    partial_update=extend_schema(
        summary="Rename a saved filter",
        description=f"Only `name` changes; sending `query` is a 400. {_ISOLATION}",
        request=SavedFilterRenameSerializer,
        responses={200: SavedFilterSerializer, 400: _ERROR, 403: _ERROR, 404: _ERROR},
    ),
    destroy=extend_schema(
        summary="Delete a saved filter",
        description=f"Campaigns are not touched. {_ISOLATION}",
        responses={204: None, 403: _ERROR, 404: _ERROR},
    ),
)
class SavedFilterViewSet(viewsets.GenericViewSet):
    queryset = SavedFilter.objects.none()
    serializer_class = SavedFilterSerializer
    parser_classes = [JSONParser]
    pagination_class = None
    filter_backends: list[type] = []
    lookup_value_converter = "int"

    def list(self, request: Request) -> Response:
        rows = saved_filters.saved_filters_for(request.user)
        return Response(SavedFilterSerializer(rows, many=True).data)

    def create(self, request: Request) -> Response:
        data = _valid(SavedFilterCreateSerializer, request.data)
        saved = saved_filters.saved_filter_create(
            actor=request.user, name=data["name"], query=data["query"]
        )
        return Response(SavedFilterSerializer(saved).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, pk: int) -> Response:
        saved = saved_filters.saved_filter_get(user=request.user, saved_filter_id=pk)
        return Response(SavedFilterSerializer(saved).data)

    def partial_update(self, request: Request, pk: int) -> Response:
        data = _valid(SavedFilterRenameSerializer, request.data)
        saved = saved_filters.saved_filter_rename(
            actor=request.user, saved_filter_id=pk, name=data["name"]
        )
        return Response(SavedFilterSerializer(saved).data)

    def destroy(self, request: Request, pk: int) -> Response:
        saved_filters.saved_filter_delete(actor=request.user, saved_filter_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)
