"""Labels over the API: list with counts, create, rename, delete, check a name, export CSV.

Each view validates its input, calls one service from labels.services (or reads through
labels.selectors) and renders. Naming rules, the 900 cap and who may do what live in the services
(Admin-only actions are also refused up front, before their input is read); domain errors become
HTTP in config.api_errors, so nothing here catches them. Applying labels to
campaigns is POST /api/v1/campaigns/labels/ (campaigns.api.views).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import Perm, has_perm
from config.api_errors import ErrorSerializer
from config.errors import NotFound
from labels import rules, services
from labels.export import csv_lines, label_rows
from labels.models import Label
from labels.selectors import SORTS, labels_with_counts

_ERROR = ErrorSerializer
_CSV = "text/csv"

_NAME_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": rules.MAX_NAME_LENGTH,
    "description": f"Trimmed; unique ignoring case; {rules.RULES_TEXT}",
    "example": "Onboarding",
}


@extend_schema_field(_NAME_SCHEMA)
class LabelNameField(serializers.Field):
    """A label name checked against labels.rules; every broken rule is reported, not the first.

    A plain CharField would coerce numbers to text and add its own length message next to the
    rules' one, so the rules are the only judge here.
    """

    default_error_messages = {"required": "Give the label a name."}

    def to_internal_value(self, data: Any) -> str:
        problems = rules.name_problems(data)
        if problems:
            raise serializers.ValidationError(problems)
        return str(data).strip()

    def to_representation(self, value: Any) -> str:
        return str(value)


class LabelCreatorSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField(read_only=True)


class LabelSerializer(serializers.ModelSerializer):
    campaigns_count = serializers.IntegerField(
        read_only=True, help_text="Campaigns carrying the label, archived ones included."
    )
    created_by = LabelCreatorSerializer(
        read_only=True, allow_null=True, help_text="Null when the creator is gone."
    )

    class Meta:
        model = Label
        fields = ["id", "name", "campaigns_count", "created_by", "created_at", "updated_at"]
        read_only_fields = fields


class LabelNameSerializer(serializers.Serializer):
    name = LabelNameField()


class LabelListQuerySerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False, default="", allow_blank=True, help_text="Name contains (ignoring case)."
    )
    ordering = serializers.ChoiceField(
        choices=list(SORTS),
        required=False,
        default="name",
        help_text="name, campaigns (how many campaigns carry it) or created; - for descending.",
    )


class LabelCheckQuerySerializer(serializers.Serializer):
    # Not trimmed: the answer's `name` shows the client what the trimmed name will be.
    name = serializers.CharField(allow_blank=True, trim_whitespace=False)


class LabelCheckSerializer(serializers.Serializer):
    name = serializers.CharField(allow_blank=True, help_text="The name as it would be saved.")
    valid = serializers.BooleanField(help_text="Whether the name follows the naming rules.")
    problems = serializers.ListField(
        child=serializers.CharField(), help_text="Each rule the name breaks."
    )
    exists = serializers.BooleanField(
        help_text="A label of that name (ignoring case) exists: adding it reuses that label, "
        "creating or renaming to it is refused."
    )


class LabelDeletedSerializer(serializers.Serializer):
    removed_from_campaigns = serializers.IntegerField(
        help_text="Campaigns the label was taken off (each got an audit row)."
    )


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _label(pk: int) -> Label:
    """One label as the list shows it (with its campaign count), or 404."""
    label = labels_with_counts().filter(pk=pk).first()
    if label is None:
        raise NotFound(f"Label {pk} does not exist.")
    return label


def _name_exists(name: str) -> bool:
    return Label.objects.filter(name__iexact=name).exists()


_ADMIN_ONLY = "Admins only (403 for other roles)."
_ADMIN_ACTIONS = frozenset({"partial_update", "destroy", "export"})


class ManagesSettings(BasePermission):
    """Admins only. Checked before the input is, so a Marketer hears "not allowed", not "bad name";
    the services check it again for any other caller."""

    message = "Only Admins may rename, delete or export labels."

    def has_permission(self, request: Request, view: Any) -> bool:
        return has_perm(request.user, Perm.MANAGE_SETTINGS)


@extend_schema_view(
    list=extend_schema(
        summary="All labels, with how many campaigns carry each",
        description=f"At most {rules.MAX_LABELS}, so not paginated. An unknown `ordering` is a "
        "400 naming the parameter.",
        parameters=[LabelListQuerySerializer],
        responses={200: LabelSerializer(many=True), 400: _ERROR, 403: _ERROR},
    ),
    create=extend_schema(
        summary="Create a label",
        description=f"Marketers, Approvers and Admins. {rules.RULES_TEXT} A name taken in any "
        "case is a 400; past the cap of "
        f"{rules.MAX_LABELS} labels a 409 `limit_reached`.",
        request=LabelNameSerializer,
        examples=[OpenApiExample("Onboarding", request_only=True, value={"name": "Onboarding"})],
        responses={201: LabelSerializer, 400: _ERROR, 403: _ERROR, 409: _ERROR},
    ),
    retrieve=extend_schema(
        summary="One label", responses={200: LabelSerializer, 403: _ERROR, 404: _ERROR}
    ),
    partial_update=extend_schema(
        summary="Rename a label",
        description=f"{_ADMIN_ONLY} Every campaign carrying the label shows the new name at "
        "once; history (audit rows, sent events) keeps the name it had.",
        request=LabelNameSerializer,
        responses={200: LabelSerializer, 400: _ERROR, 403: _ERROR, 404: _ERROR},
    ),
    destroy=extend_schema(
        summary="Delete a label",
        description=f"{_ADMIN_ONLY} The label is taken off every campaign carrying it "
        "(archived ones too), each of which gets an audit row. A label still used by the "
        "audience of an unarchived campaign is refused with 409 `conflict`.",
        responses={200: LabelDeletedSerializer, 403: _ERROR, 404: _ERROR, 409: _ERROR},
    ),
)
class LabelViewSet(viewsets.GenericViewSet):
    queryset = Label.objects.none()
    serializer_class = LabelSerializer
    parser_classes = [JSONParser]
    pagination_class = None
    filter_backends: list[type] = []
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[Label]:
        return labels_with_counts()

    def get_permissions(self) -> list[BasePermission]:
        permissions = super().get_permissions()
        if self.action in _ADMIN_ACTIONS:
            permissions.append(ManagesSettings())
        return permissions

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # The export answers text/csv itself; a client asking only for text/csv must still get
        # its errors (403) as JSON rather than a 406.
        return super().perform_content_negotiation(request, force=force or self.action == "export")

    def list(self, request: Request) -> Response:
        query = _valid(LabelListQuerySerializer, request.query_params)
        labels = labels_with_counts(q=query["q"], sort=query["ordering"])
        return Response(LabelSerializer(labels, many=True).data)

    def create(self, request: Request) -> Response:
        data = _valid(LabelNameSerializer, request.data)
        label = services.label_create(actor=request.user, name=data["name"])
        return Response(LabelSerializer(_label(label.pk)).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, pk: int) -> Response:
        return Response(LabelSerializer(_label(pk)).data)

    def partial_update(self, request: Request, pk: int) -> Response:
        data = _valid(LabelNameSerializer, request.data)
        label = services.label_rename(actor=request.user, label_id=pk, name=data["name"])
        return Response(LabelSerializer(_label(label.pk)).data)

    def destroy(self, request: Request, pk: int) -> Response:
        removed = services.label_delete(actor=request.user, label_id=pk)
        return Response({"removed_from_campaigns": removed})

    @extend_schema(
        summary="Check a label name as it is typed",
        description="The trimmed name, each naming rule it breaks and whether a label of that "
        "name exists. Changes nothing.",
        parameters=[LabelCheckQuerySerializer],
        responses={200: LabelCheckSerializer, 400: _ERROR, 403: _ERROR},
    )
    @action(detail=False, methods=["get"])
    def check(self, request: Request) -> Response:
        raw = _valid(LabelCheckQuerySerializer, request.query_params)["name"]
        problems = rules.name_problems(raw)
        name = raw.strip()
        # A name that breaks a rule cannot be stored, so there is nothing to look up.
        exists = not problems and _name_exists(name)
        return Response(
            {"name": name, "valid": not problems, "problems": problems, "exists": exists}
        )

    @extend_schema(
        summary="Export every label as CSV",
        description=f"{_ADMIN_ONLY} RFC 4180 CSV in UTF-8 with a byte-order mark, streamed: "
        "columns name, campaigns, created_by, created_at. Cells a spreadsheet would run as a "
        "formula (starting with = + - @ and the like) are prefixed with a quote.",
        responses={
            (200, _CSV): OpenApiResponse(
                response=OpenApiTypes.STR,
                description="Attachment labels-YYYY-MM-DD.csv.",
                examples=[
                    OpenApiExample(
                        "Two labels",
                        value="name,campaigns,created_by,created_at\r\n"
                        "Onboarding,12,ada@example.com,2025-01-02T09:00:00+00:00\r\n"
                        "'=SUM(A1),0,,2025-01-03T10:30:00+00:00\r\n",
                    )
                ],
            ),
            403: _ERROR,
        },
    )
    @action(detail=False, methods=["get"])
    def export(self, request: Request) -> StreamingHttpResponse:
        response = StreamingHttpResponse(
            csv_lines(label_rows()), content_type=f"{_CSV}; charset=utf-8"
        )
        filename = f"labels-{timezone.localdate().isoformat()}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
