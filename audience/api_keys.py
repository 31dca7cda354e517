"""Project API keys over the API (Admins): list, create (the secret is in that answer only), revoke."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import Perm, has_perm
from audience import services
from audience.models import IngestKey
from config.api_errors import ErrorSerializer

_ERROR = ErrorSerializer


class ManagesSettings(BasePermission):
    message = "Only Admins manage API keys."

    def has_permission(self, request: Request, view: Any) -> bool:
        return has_perm(request.user, Perm.MANAGE_SETTINGS)


class IngestKeyCreatorSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField(read_only=True)


class IngestKeySerializer(serializers.ModelSerializer):
    prefix = serializers.CharField(
        read_only=True, help_text="The key's first characters, to tell keys apart."
    )
    created_by = IngestKeyCreatorSerializer(read_only=True)
    active = serializers.SerializerMethodField()

    class Meta:
        model = IngestKey
        fields = [
            "id",
            "name",
            "prefix",
            "active",
            "created_by",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]
        read_only_fields = fields

    def get_active(self, key: IngestKey) -> bool:
        return key.revoked_at is None


class IngestKeyCreatedSerializer(IngestKeySerializer):
    key = serializers.CharField(
        read_only=True,
        help_text="The secret: shown in this answer only (Herald keeps its SHA-256). Send it as "
        "Authorization: Bearer <key>.",
    )

    class Meta(IngestKeySerializer.Meta):
        fields = [*IngestKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class IngestKeyNameSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=services.MAX_KEY_NAME, help_text="What the key is for (the app, the server)."
    )


_ADMIN_ONLY = "Admins only (403 for other roles)."


@extend_schema_view(
    list=extend_schema(
        summary="Project API keys",
        description=f"{_ADMIN_ONLY} Every key, revoked ones included, newest first; never the "
        "secret.",
        responses={200: IngestKeySerializer(many=True), 403: _ERROR},
    ),
    create=extend_schema(
        summary="Create a project API key",
        description=f"{_ADMIN_ONLY} The answer holds the key's secret, the one time it is shown.",
        request=IngestKeyNameSerializer,
        examples=[OpenApiExample("Backend", request_only=True, value={"name": "Backend"})],
        responses={201: IngestKeyCreatedSerializer, 400: _ERROR, 403: _ERROR},
    ),
)
class IngestKeyViewSet(viewsets.GenericViewSet):
    queryset = IngestKey.objects.none()
    serializer_class = IngestKeySerializer
    parser_classes = [JSONParser]
    pagination_class = None
    filter_backends: list[type] = []
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[IngestKey]:
        return IngestKey.objects.select_related("created_by")

    def get_permissions(self) -> list[BasePermission]:
        return [*super().get_permissions(), ManagesSettings()]

    def list(self, request: Request) -> Response:
        return Response(IngestKeySerializer(self.get_queryset(), many=True).data)

    def create(self, request: Request) -> Response:
        serializer = IngestKeyNameSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key, secret = services.ingest_key_create(
            actor=request.user, name=serializer.validated_data["name"]
        )
        key.key = secret  # type: ignore[attr-defined]
        return Response(IngestKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Revoke a project API key",
        description=f"{_ADMIN_ONLY} Requests with the key are refused (401) from now on. "
        "Revoking a revoked key changes nothing.",
        request=None,
        responses={200: IngestKeySerializer, 403: _ERROR, 404: _ERROR},
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: int) -> Response:
        key = services.ingest_key_revoke(actor=request.user, key_id=pk)
        return Response(IngestKeySerializer(key).data)
