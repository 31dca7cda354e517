"""The campaigns API: each view fetches through visible_to, validates input, calls one service.

Domain errors from the services (invalid transition, read-only, forbidden, not found) become HTTP
in config.api_errors, so no view here catches them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from approvals import policy
from approvals import services as approval_services
from approvals.api import revisions_page_context
from approvals.models import ApprovalRequest, RequestStatus
from approvals.serializers import (
    ApprovalRequestDetailSerializer,
    PublishSerializer,
    RevisionSerializer,
    SubmitSerializer,
)
from campaigns import selectors, services
from campaigns.api.filters import CampaignFilterSet, CampaignPagination
from campaigns.api.serializers import (
    AuditSerializer,
    BulkLabelsResponseSerializer,
    BulkLabelsSerializer,
    BulkRequestSerializer,
    BulkResponseSerializer,
    CampaignCountsSerializer,
    CampaignCreateSerializer,
    CampaignListSerializer,
    CampaignSchemasSerializer,
    CampaignSerializer,
    CampaignUpdateSerializer,
    RulesSerializer,
    rules_for,
    rules_payload,
)
from campaigns.choices import CampaignType, Channel, Delivery
from campaigns.models import Campaign, CampaignAudit
from campaigns.validation import MESSAGE_SCHEMAS, WHEN_SCHEMAS, WHO_SCHEMA, what_schema
from config.api_errors import ErrorSerializer
from config.pagination import CursorPagination, KeysetPagination
from labels.services import labels_get_or_create


class AuditPagination(CursorPagination):
    ordering = ("-created_at", "-id")


class RevisionPagination(KeysetPagination):
    ordering = ("-requested_at", "-id")


# The errors each kind of endpoint may answer with, for the schema.
_ERROR = ErrorSerializer
_READ_ERRORS = {403: _ERROR, 404: _ERROR}
_WRITE_ERRORS = {400: _ERROR, 403: _ERROR, 404: _ERROR, 409: _ERROR}


@extend_schema_view(
    list=extend_schema(
        summary="List campaigns",
        description="Newest activity first unless `ordering` says otherwise; archived campaigns "
        "only with ?archived=true or all. Every parameter may repeat or take commas; different "
        "parameters combine with AND. A value the filters do not understand (not a choice, a "
        "label or user that does not exist, a malformed date) is a 400 naming the parameter. "
        "Pages are keyset (cursor) pages in every ordering: follow `next` and `previous`.",
        responses={200: CampaignListSerializer(many=True), 400: _ERROR, 403: _ERROR},
    ),
    retrieve=extend_schema(
        summary="One campaign", responses={200: CampaignSerializer, **_READ_ERRORS}
    ),
    create=extend_schema(
        summary="Create a draft",
        request=CampaignCreateSerializer,
        examples=[
            OpenApiExample(
                "A push sent once, later",
                request_only=True,
                value={
                    "name": "Weekly digest",
                    "channel": "push",
                    "type": "single_message",
                    "delivery": "one_time",
                    "who": {"type": "group", "match": "all", "conditions": []},
                    "what": {
                        "message": {
                            "title": "Hi {{ profile.first_name }}",
                            "body": "New this week.",
                        }
                    },
                    "when": {
                        "send": "later",
                        "start_at": "2099-01-04T09:00:00Z",
                        "timezone": "UTC",
                    },
                    "labels": [],
                },
            )
        ],
        responses={201: CampaignSerializer, 400: _ERROR, 403: _ERROR},
    ),
    partial_update=extend_schema(
        summary="Edit the fields sent",
        description="Only sections the campaign's state leaves open may change (409 read_only).",
        request=CampaignUpdateSerializer,
        responses={200: CampaignSerializer, **_WRITE_ERRORS},
    ),
)
class CampaignViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Campaign.objects.none()
    serializer_class = CampaignSerializer
    parser_classes = [JSONParser]
    filter_backends = [DjangoFilterBackend]
    filterset_class = CampaignFilterSet
    pagination_class = CampaignPagination
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[Campaign]:
        qs = selectors.campaign_page_rows(Campaign.objects.visible_to(self.request.user))
        # A list row shows no Who/What/When: leave Who and What in the database. (The rules read
        # When, for the first send of a campaign never live.)
        return qs.defer("who", "what") if self.action == "list" else qs

    def paginate_queryset(self, queryset: QuerySet[Any]) -> list[Any] | None:
        page = super().paginate_queryset(queryset)
        if page is not None and self.action == "list":
            policy.prefetch_requests(page)
        return page

    def filter_queryset(self, queryset: QuerySet[Campaign]) -> QuerySet[Campaign]:
        # Filters shape the list only: an archived campaign is still found by its id.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def get_serializer_class(self) -> type:
        return CampaignListSerializer if self.action == "list" else CampaignSerializer

    def _render(self, campaign: Campaign, code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(campaign).data, status=code)

    def _input(self, serializer_class: type, data: Any) -> dict[str, Any]:
        serializer = serializer_class(
            data=data, partial=serializer_class is CampaignUpdateSerializer
        )
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def create(self, request: Request) -> Response:
        data = self._input(CampaignCreateSerializer, request.data)
        campaign = services.campaign_create(actor=request.user, **data)
        return self._render(campaign, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: int) -> Response:
        data = self._input(CampaignUpdateSerializer, request.data)
        campaign = services.campaign_update(actor=request.user, campaign_id=pk, data=data)
        return self._render(campaign)

    @extend_schema(
        summary="Publish a draft",
        description="Draft to Scheduled (first send ahead) or Running. With campaign approval "
        "on, Marketers are refused (409 `approval_required`: POST /campaigns/{id}/submit/), "
        "and an approver who created or last edited it is refused (409 `self_approval`) unless "
        "self-approval is on. An approver also publishes the rejected changes of a live "
        "campaign, with `changes` to What; after its scheduled time `run_on` (today or "
        "tomorrow) is required (409 `run_today_or_tomorrow` without it). The body is optional.",
        request=PublishSerializer,
        examples=[
            OpenApiExample(
                "Rejected changes, after the scheduled time",
                request_only=True,
                value={"run_on": "tomorrow"},
            )
        ],
        responses={200: CampaignSerializer, **_WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, pk: int) -> Response:
        data = self._input(PublishSerializer, request.data)
        campaign = services.campaign_publish(
            actor=request.user,
            campaign_id=pk,
            data=dict(data["changes"]) if data.get("changes") else None,
            run_on=data.get("run_on"),
        )
        return self._render(campaign)

    @extend_schema(
        summary="What you may do to the campaign now",
        description="The answer of the one rules function (approvals.policy.campaign_rules) for "
        "you, now: your role in the workflow, the row of the spec's table that applies "
        "(`scenario`), the scheduled time it compares with, which sections may change and where "
        "edits go (`mode`: direct, revision, none), each action with its reason and code when "
        "refused, the notice to show before acting (the spec's popup), and the request the "
        "status speaks of. Pages, API and services all obey it.",
        responses={200: RulesSerializer, **_READ_ERRORS},
        filters=False,
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def rules(self, request: Request, pk: int) -> Response:
        campaign = self.get_object()
        answer = rules_for(campaign, self.get_serializer_context())
        return Response(rules_payload(answer, request.user))

    @extend_schema(
        summary="Send for approval",
        description="A draft (or a rejected campaign, or the rejected changes of a live one) "
        "goes to the approvers: the campaign shows Approval Pending and the approvers (the "
        "chosen ones, else every Approver and Admin) are e-mailed. 409 `approval_off` when "
        "campaign approval is off (publish instead), `pending` when it already awaits "
        "approval, `edit_to_submit` for a live campaign (POST its revisions instead). A chosen "
        "approver who cannot approve (or yourself) is a 400 naming them.",
        request=SubmitSerializer,
        examples=[
            OpenApiExample(
                "With a note, to one approver",
                request_only=True,
                value={"note": "For Monday's launch.", "approvers": [7]},
            )
        ],
        responses={201: ApprovalRequestDetailSerializer, **_WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: int) -> Response:
        data = self._input(SubmitSerializer, request.data)
        approval_request = approval_services.campaign_submit(
            actor=request.user, campaign_id=pk, **data
        )
        return self._request(approval_request, status.HTTP_201_CREATED)

    def _request(self, approval_request: ApprovalRequest, code: int) -> Response:
        fresh = ApprovalRequest.objects.select_related("campaign", "requested_by").get(
            pk=approval_request.pk
        )
        context = {**self.get_serializer_context(), "diff_against_live": True}
        return Response(ApprovalRequestDetailSerializer(fresh, context=context).data, status=code)

    @extend_schema(
        methods=["GET"],
        summary="The campaign's approval requests",
        description="Every request (publish and revision, in any status), newest first, each "
        "with its diff against its base (a campaign never live has base {}: everything is "
        "added). Keyset (cursor) pages.",
        responses={200: ApprovalRequestDetailSerializer(many=True), **_READ_ERRORS},
        filters=False,
    )
    @extend_schema(
        methods=["POST"],
        summary="Propose changes to a live campaign",
        description="How a Marketer edits a live campaign (Scheduled, Running, Awaiting Next "
        "Run, or Approval Pending after its first run) with campaign approval on: the changes "
        "become a proposal, the live campaign keeps running as it was until they are approved. "
        "201 with a new request (the campaign shows Approval Pending), or 200 when the pending "
        "proposal was updated. Only sections the table leaves open (409 `read_only` naming "
        "each field); 409 `changes_discarded` after the scheduled time; 409 `edit_directly` "
        "when the change needs no approval (PATCH the campaign).",
        request=RevisionSerializer,
        examples=[
            OpenApiExample(
                "New copy",
                request_only=True,
                value={
                    "changes": {"what": {"message": {"title": "Hi", "body": "New copy."}}},
                    "note": "Typo in the body.",
                },
            )
        ],
        responses={
            201: ApprovalRequestDetailSerializer,
            200: ApprovalRequestDetailSerializer,
            **_WRITE_ERRORS,
        },
    )
    @action(
        detail=True,
        methods=["get", "post"],
        pagination_class=RevisionPagination,
        filter_backends=[],
    )
    def revisions(self, request: Request, pk: int) -> Response:
        if request.method == "POST":
            return self._propose(request, pk)
        campaign = self.get_object()
        rows = campaign.approval_requests.select_related(
            "campaign", "requested_by", "decided_by"
        ).prefetch_related("approvers")
        page = self.paginate_queryset(rows) or []
        context = {**self.get_serializer_context(), **revisions_page_context(page)}
        data = ApprovalRequestDetailSerializer(page, many=True, context=context).data
        return self.get_paginated_response(data)

    def _propose(self, request: Request, pk: int) -> Response:
        data = self._input(RevisionSerializer, request.data)
        # The pending proposal before: the answer is 200 when it was the one updated.
        before = (
            ApprovalRequest.objects.filter(campaign_id=pk, status=RequestStatus.PENDING)
            .values_list("pk", flat=True)
            .first()
        )
        approval_request = approval_services.campaign_propose(
            actor=request.user,
            campaign_id=pk,
            data=dict(data["changes"]),
            note=data["note"],
            approvers=data.get("approvers", ()),
        )
        updated = approval_request.pk == before
        return self._request(
            approval_request, status.HTTP_200_OK if updated else status.HTTP_201_CREATED
        )

    @extend_schema(
        summary="Stop a live campaign (final)",
        request=None,
        responses={200: CampaignSerializer, **_WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: int) -> Response:
        return self._render(services.campaign_stop(actor=request.user, campaign_id=pk))

    @extend_schema(
        summary="Clone into a new draft",
        request=None,
        responses={201: CampaignSerializer, **_READ_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def clone(self, request: Request, pk: int) -> Response:
        clone = services.campaign_clone(actor=request.user, campaign_id=pk)
        return self._render(clone, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Archive (read-only from then on)",
        request=None,
        responses={200: CampaignSerializer, **_WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def archive(self, request: Request, pk: int) -> Response:
        return self._render(services.campaign_archive(actor=request.user, campaign_id=pk))

    @extend_schema(
        summary="Stop, archive or clone several campaigns",
        description="Each campaign is done or refused on its own; the answer reports on each, "
        "in the order given. A duplicate id is reported once.",
        request=BulkRequestSerializer,
        examples=[
            OpenApiExample("Stop two", request_only=True, value={"action": "stop", "ids": [1, 2]})
        ],
        responses={200: BulkResponseSerializer, 400: _ERROR, 403: _ERROR},
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        data = self._input(BulkRequestSerializer, request.data)
        results = services.campaigns_bulk(
            actor=request.user, action=data["action"], ids=data["ids"]
        )
        rows = []
        for result in results:
            row = {"id": result.id, "ok": result.ok, "code": result.code, "message": result.message}
            if "clone_id" in result.extra:
                row["clone_id"] = result.extra["clone_id"]
            rows.append(row)
        done = sum(1 for r in results if r.ok)
        return Response({"results": rows, "done": done, "refused": len(results) - done})

    @extend_schema(
        summary="Add or remove labels on several campaigns",
        description="Each campaign is changed or refused on its own (archived, missing, or in a "
        "state whose labels are locked, such as Running), in the order given; a refusal undoes "
        "no other. `add_names` creates the labels that do not exist yet: every name is checked "
        "first (400 naming each bad one), then the missing ones are created (409 "
        "`limit_reached` past 900 labels, creating none), then the labels are applied. An "
        "unknown label id is a 400 and changes nothing.",
        request=BulkLabelsSerializer,
        examples=[
            OpenApiExample(
                "Label two campaigns with an existing label and a new one",
                request_only=True,
                value={"ids": [1, 2], "add": [3], "add_names": ["Reengage"], "remove": []},
            )
        ],
        responses={200: BulkLabelsResponseSerializer, 400: _ERROR, 403: _ERROR, 409: _ERROR},
    )
    @action(detail=False, methods=["post"], url_path="labels", url_name="labels")
    def bulk_labels(self, request: Request) -> Response:
        data = self._input(BulkLabelsSerializer, request.data)
        add = list(data["add"])
        if data["add_names"]:
            # All or none: a name refused half-way (the 900 cap) leaves no label created.
            with transaction.atomic():
                created = labels_get_or_create(actor=request.user, names=data["add_names"])
            add += [label.pk for label in created]
        results = services.campaigns_bulk_labels(
            actor=request.user, ids=data["ids"], add=add, remove=data["remove"]
        )
        rows = [{"id": r.id, "ok": r.ok, "code": r.code, "message": r.message} for r in results]
        return Response(
            {
                "results": rows,
                "done": sum(1 for r in results if r.code == "done"),
                "unchanged": sum(1 for r in results if r.code == "unchanged"),
                "refused": sum(1 for r in results if not r.ok),
            }
        )

    @extend_schema(
        summary="Chip counts and the size of the selection",
        description="For the same parameters as the list: campaigns per status and per quick "
        "filter under every other filter (status and quick left out, so each count says what "
        "choosing it would show), and `total`, the number of campaigns the list shows with "
        "every filter applied. One query. Bad parameters are a 400, as for the list.",
        filters=True,
        responses={200: CampaignCountsSerializer, 400: _ERROR, 403: _ERROR},
    )
    @action(detail=False, methods=["get"])
    def counts(self, request: Request) -> Response:
        filterset = DjangoFilterBackend().get_filterset(
            request, Campaign.objects.visible_to(request.user), self
        )
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        counts = selectors.list_counts(
            user=request.user,
            filterset_data=request.query_params,
            request=request,
            filterset=filterset,
        )
        return Response(counts)

    @extend_schema(
        summary="The campaign's timeline",
        description="What happened to the campaign, newest first.",
        responses={200: AuditSerializer(many=True), **_READ_ERRORS},
        filters=False,
    )
    @action(detail=True, methods=["get"], pagination_class=AuditPagination, filter_backends=[])
    def timeline(self, request: Request, pk: int) -> Response:
        campaign = self.get_object()
        rows: QuerySet[CampaignAudit] = campaign.audit.select_related("actor")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(AuditSerializer(page, many=True).data)

    @extend_schema(
        summary="JSON Schemas of Who, What and When",
        description="The schemas the server validates against, to check a campaign before "
        "sending it. Rules a schema cannot say (template syntax, splits adding to 100, times "
        "ahead) are still checked on the server.",
        responses={200: CampaignSchemasSerializer, 403: _ERROR},
    )
    @action(detail=False, methods=["get"])
    def schemas(self, request: Request) -> Response:
        return Response(campaign_schemas())


@cache
def campaign_schemas() -> dict[str, Any]:
    return {
        "who": WHO_SCHEMA,
        "message": {channel.value: MESSAGE_SCHEMAS[channel] for channel in Channel},
        "what": {
            kind.value: {channel.value: what_schema(channel, kind) for channel in Channel}
            for kind in CampaignType
        },
        "when": {delivery.value: WHEN_SCHEMAS[delivery] for delivery in Delivery},
    }
