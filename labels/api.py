"""Labels over the API: list and create, by name only.

Minimal for now: the labels work adds the naming rules and the 900-label cap (in labels.services),
renaming and deleting. What is here already refuses what the database would: names too long, and
a name that differs from an existing one only in case.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers
from rest_framework.parsers import JSONParser

from accounts.roles import Perm, has_perm
from config.api_errors import ErrorSerializer
from config.errors import Forbidden
from labels.models import Label

_ERROR = ErrorSerializer
_TAKEN = "A label with this name already exists."


class LabelSerializer(serializers.ModelSerializer):
    name = serializers.CharField(max_length=64)

    class Meta:
        model = Label
        fields = ["id", "name", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_name(self, value: str) -> str:
        if Label.objects.filter(name__iexact=value).exists():
            raise serializers.ValidationError(_TAKEN)
        return value

    def create(self, validated_data: dict[str, Any]) -> Label:
        try:
            with transaction.atomic():
                return Label.objects.create(name=validated_data["name"])
        except IntegrityError:
            # Two people creating the same name at once: the second one hears it is taken.
            raise serializers.ValidationError({"name": [_TAKEN]}) from None


@extend_schema_view(
    get=extend_schema(summary="All labels", description="By name; at most 900, so not paginated."),
    post=extend_schema(
        summary="Create a label", responses={201: LabelSerializer, 400: _ERROR, 403: _ERROR}
    ),
)
class LabelListCreateView(generics.ListCreateAPIView):
    serializer_class = LabelSerializer
    parser_classes = [JSONParser]
    pagination_class = None
    filter_backends: list[type] = []
    queryset = Label.objects.order_by("name", "id")

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        if not has_perm(self.request.user, Perm.CREATE):
            raise Forbidden("Your role does not allow you to create labels.")
        serializer.save()
