"""The approval workflow over the API: the setting, its history, the requests and their decisions.

Each view validates its input, calls one service from approvals.services and renders; refusals
(approval_required, self_approval, not_pending, changes_discarded, ...) are DomainErrors that
config.api_errors turns into HTTP, so nothing here catches them. The campaign-side endpoints
(rules, submit, revisions, publish) are in campaigns.api.views.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import generics, mixins, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import Perm, has_perm
from approvals import queue, services
from approvals.diff import label_names_for
from approvals.models import ApprovalRequest, ApprovalSettings, ApprovalSettingsChange
from approvals.models import RequestStatus as RS
from approvals.serializers import (
    ApprovalDecisionSerializer,
    ApprovalRequestDetailSerializer,
    ApprovalRequestSerializer,
    ApprovalSettingsChangeSerializer,
    ApprovalSettingsSerializer,
    ApprovalSettingsUpdateSerializer,
    ApproveSerializer,
    RejectSerializer,
    RequestListQuerySerializer,
)
from campaigns.api.serializers import approval_settings
from campaigns.models import Campaign
from config.api_errors import ErrorSerializer
from config.errors import Forbidden
from config.pagination import KeysetPagination

_ERROR = ErrorSerializer
_READ_ERRORS = {403: _ERROR, 404: _ERROR}
_WRITE_ERRORS = {400: _ERROR, 403: _ERROR, 404: _ERROR, 409: _ERROR}


class ManagesSettings(BasePermission):
    """Admins change the setting and read its history. Checked before the input is, so a
    Marketer hears "not allowed", not "bad input"; the service checks it again."""

    message = "Only Admins change the approval setting or read its history."

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS and not getattr(view, "admin_only", False):
            return True
        return has_perm(request.user, Perm.MANAGE_SETTINGS)


def _settings() -> ApprovalSettings:
    found = ApprovalSettings.objects.select_related("updated_by").filter(pk=1).first()
    return found or ApprovalSettings(pk=1)


class ApprovalSettingsView(generics.GenericAPIView):
    serializer_class = ApprovalSettingsSerializer
    parser_classes = [JSONParser]
    pagination_class = None
    filter_backends: list[Any] = []

    def get_permissions(self) -> list[BasePermission]:
        return [*super().get_permissions(), ManagesSettings()]

    @extend_schema(
        summary="The approval setting",
        description="Any role. Off: Marketers publish directly. On: Marketers send campaigns "
        "and changes to live campaigns for approval; Approvers and Admins approve or reject.",
        responses={200: ApprovalSettingsSerializer, 403: _ERROR},
    )
    def get(self, request: Request) -> Response:
        return Response(ApprovalSettingsSerializer(_settings()).data)

    @extend_schema(
        summary="Change the approval setting",
        description="Admins only (403 for other roles). Both fields; each change is audited "
        "(GET /approvals/settings/history/). Requests already pending stay pending when "
        "approval is switched off.",
        request=ApprovalSettingsUpdateSerializer,
        examples=[
            OpenApiExample(
                "Approval on, no self-approval",
                request_only=True,
                value={"enabled": True, "allow_self_approval": False},
            )
        ],
        responses={200: ApprovalSettingsSerializer, 400: _ERROR, 403: _ERROR},
    )
    def put(self, request: Request) -> Response:
        return self._update(request, partial=False)

    @extend_schema(
        summary="Change part of the approval setting",
        description="Admins only (403 for other roles). The fields sent; each change is audited.",
        request=ApprovalSettingsUpdateSerializer(partial=True),
        responses={200: ApprovalSettingsSerializer, 400: _ERROR, 403: _ERROR},
    )
    def patch(self, request: Request) -> Response:
        return self._update(request, partial=True)

    def _update(self, request: Request, *, partial: bool) -> Response:
        serializer = ApprovalSettingsUpdateSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        services.approval_settings_update(actor=request.user, **serializer.validated_data)
        return Response(ApprovalSettingsSerializer(_settings()).data)


class SettingsHistoryPagination(KeysetPagination):
    ordering = ("-created_at", "-id")


@extend_schema_view(
    get=extend_schema(
        summary="Who changed the approval setting, and when",
        description="Admins only (403 for other roles). Newest first, keyset (cursor) pages.",
        responses={200: ApprovalSettingsChangeSerializer(many=True), 403: _ERROR},
    )
)
class ApprovalSettingsHistoryView(generics.ListAPIView):
    serializer_class = ApprovalSettingsChangeSerializer
    pagination_class = SettingsHistoryPagination
    filter_backends: list[Any] = []
    admin_only = True

    def get_permissions(self) -> list[BasePermission]:
        return [*super().get_permissions(), ManagesSettings()]

    def get_queryset(self) -> QuerySet[ApprovalSettingsChange]:
        return ApprovalSettingsChange.objects.select_related("actor")


# ---------------------------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------------------------
class RequestPagination(KeysetPagination):
    """The queue oldest first (who has waited longest); decided requests newest first."""

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> tuple[str, ...]:
        if request.query_params.get("status", RS.PENDING) == RS.PENDING:
            return ("requested_at", "id")
        return ("-requested_at", "-id")


def requests_visible_to(user: Any) -> QuerySet[ApprovalRequest]:
    """Requests of the campaigns the user may see, with what a row shows in the same query."""
    return (
        ApprovalRequest.objects.filter(campaign__in=Campaign.objects.visible_to(user).values("pk"))
        .select_related("campaign", "requested_by", "decided_by")
        .prefetch_related("approvers")
    )


_NOT_APPROVER = "Only Approvers and Admins approve or reject."


@extend_schema_view(
    list=extend_schema(
        summary="Approval requests (the approver's queue)",
        description="Pending requests by default, oldest first; other statuses newest first. "
        "`awaiting_me=true` keeps the pending requests you may approve now (the table allows "
        "it, you are among the chosen approvers or none were chosen, and you did not create or "
        "last edit the campaign unless self-approval is on). `past_due` flags a request whose "
        "scheduled time has come. Keyset (cursor) pages.",
        parameters=[RequestListQuerySerializer],
        responses={200: ApprovalRequestSerializer(many=True), 400: _ERROR, 403: _ERROR},
    ),
    retrieve=extend_schema(
        summary="One approval request, with its diff",
        description="The diff of a pending revision is against the live campaign now (what "
        "approving it would change); of any other request, against its base (for a campaign "
        "never live, {}: everything is added).",
        responses={200: ApprovalRequestDetailSerializer, **_READ_ERRORS},
    ),
)
class ApprovalRequestViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = ApprovalRequest.objects.none()
    serializer_class = ApprovalRequestSerializer
    parser_classes = [JSONParser]
    pagination_class = RequestPagination
    filter_backends: list[Any] = []
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[ApprovalRequest]:
        qs = requests_visible_to(self.request.user)
        if self.action == "list":
            return qs.defer("campaign__who", "campaign__what", "campaign__when", "base", "proposed")
        return qs

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "diff_against_live": True}

    def list(self, request: Request) -> Response:
        query = RequestListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        qs = self.get_queryset()
        if params["status"] != "all":
            qs = qs.filter(status=params["status"])
        if "campaign" in params:
            qs = qs.filter(campaign_id=params["campaign"])
        if params["awaiting_me"]:
            mine = queue.awaiting_ids(request.user, approval_settings({}))
            qs = qs.filter(pk__in=mine)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(ApprovalRequestSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: int) -> Response:
        return Response(
            ApprovalRequestDetailSerializer(
                self.get_object(), context=self.get_serializer_context()
            ).data
        )

    def _decided(self, pk: int) -> Response:
        fresh = requests_visible_to(self.request.user).get(pk=pk)
        return Response(ApprovalDecisionSerializer(fresh).data)

    @extend_schema(
        summary="Approve a request",
        description="Approvers and Admins. Publishes a campaign never live, or applies the "
        "changes to the live campaign atomically. `changes` are your own edits made while "
        "reviewing (only sections the table leaves open to you). 409 codes: `self_approval` "
        "(you created or last edited it, and self-approval is off), `not_chosen` (the requester "
        "chose other approvers), `not_pending` (already decided or withdrawn), "
        "`scheduled_in_past` (a campaign never live whose time has passed: give it a new time "
        "in `changes`), `read_only` (a locked section in `changes`). After the scheduled time "
        "of changes to a live campaign, approving closes the request as discarded (the send "
        "went out as it was) and the answer carries the notice `changes_discarded`.",
        request=ApproveSerializer,
        responses={200: ApprovalDecisionSerializer, **_WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: int) -> Response:
        if not has_perm(request.user, Perm.APPROVE):
            raise Forbidden(_NOT_APPROVER)
        data = ApproveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.request_approve(
            actor=request.user,
            request_id=pk,
            comment=data.validated_data["comment"],
            data=data.validated_data.get("changes") or None,
        )
        return self._decided(pk)

    @extend_schema(
        summary="Reject a request",
        description="Approvers and Admins, with a comment for the requester (required: 400 "
        "without one). A live campaign keeps running as it was; the campaign shows Rejected "
        "until it (or its changes) is sent again. 409 codes as for approve.",
        request=RejectSerializer,
        examples=[
            OpenApiExample(
                "Why",
                request_only=True,
                value={"comment": "The discount ended last week; please update the copy."},
            )
        ],
        responses={200: ApprovalDecisionSerializer, **_WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: int) -> Response:
        if not has_perm(request.user, Perm.APPROVE):
            raise Forbidden(_NOT_APPROVER)
        data = RejectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.request_reject(
            actor=request.user, request_id=pk, comment=data.validated_data["comment"]
        )
        return self._decided(pk)

    @extend_schema(
        summary="Withdraw a request",
        description="The requester or the campaign's creator takes a pending request back: the "
        "campaign returns to where it was (Draft or Rejected, or its live status for changes "
        "to a live campaign, which kept running). 409 `not_pending` once it was decided, "
        "`not_requester` for anyone else.",
        request=None,
        responses={200: ApprovalDecisionSerializer, **_WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: int) -> Response:
        services.request_withdraw(actor=request.user, request_id=pk)
        return self._decided(pk)


def revisions_page_context(requests: list[ApprovalRequest]) -> dict[str, Any]:
    """What a page of requests needs for its diffs: every label named, in one query."""
    return {
        "label_names": label_names_for(*[r.base for r in requests], *[r.proposed for r in requests])
    }
