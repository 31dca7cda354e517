"""The dispatch API: trigger an API campaign, and follow a campaign's runs.

Views fetch through Campaign.objects.visible_to, validate input and call one service
(channels.triggers.campaign_trigger); domain errors become HTTP in config.api_errors.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.models import Campaign
from channels import scheduler, triggers
from channels.models import Run, RunStatus
from channels.serializers import RunSerializer, TriggeredRunSerializer, TriggerSerializer
from config.api_errors import ErrorSerializer
from config.pagination import KeysetPagination

_ERROR = ErrorSerializer
_READ_ERRORS = {403: _ERROR, 404: _ERROR}

_RUN_EXAMPLE = {
    "id": 812,
    "url": "https://herald.example.com/api/v1/runs/812/",
    "campaign": 42,
    "kind": "api",
    "status": "sending",
    "scheduled_for": "2026-12-01T09:30:00Z",
    "created_at": "2026-12-01T09:30:00.120Z",
    "finished_at": None,
    "idempotency_key": "order-7781-shipped",
    "targeted": 2,
    "progress": {
        "sent": 1,
        "failed": 0,
        "failed_reasons": {},
        "dropped": {"consent": 1},
        "pending": 0,
    },
}


class RunPagination(KeysetPagination):
    ordering = ("-scheduled_for", "-id")


def _runs() -> QuerySet[Run]:
    # A run's snapshot and recipients can be large; no answer shows them.
    return Run.objects.defer("snapshot", "recipients")


class CampaignTriggerView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Send an API campaign now",
        description="Sends a Running campaign whose delivery is API: to its Who, or to the "
        "`recipients` given (up to 1,000 identities, each with its own `data`, which the "
        "message's templates read as `{{ data.* }}`). Identities without a profile are not "
        "sent to and are listed in `unknown`; when none has a profile nothing is sent (400). "
        "An identity given twice is a 400 naming the second. 409 `not_api_triggered` for a "
        "campaign of another delivery, `not_running` when it is not Running (Scheduled "
        "before its start, Stopped, Completed, archived, past its end). With an "
        "`idempotency_key` (or the `Idempotency-Key` header; at most 200 characters, one "
        "per campaign) a retry answers 200 with the first call's run and `replayed: true`, "
        "whatever the campaign's state now, and sends nothing more; concurrent calls with "
        "one key make one run. The answer is the run (201), which sends in the background: "
        "follow its `url` for the progress.",
        request=TriggerSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=False,
                description="Same as the body's idempotency_key (give one or the other, or "
                "the same in both).",
            )
        ],
        examples=[
            OpenApiExample(
                "Two customers, each with their order",
                request_only=True,
                value={
                    "recipients": [
                        {"identity": "user-1042", "data": {"order_id": "7781", "total": "€42"}},
                        {"identity": "user-2210", "data": {"order_id": "7782", "total": "€18"}},
                    ],
                    "idempotency_key": "orders-7781-7782-shipped",
                },
            ),
            OpenApiExample("The campaign's Who", request_only=True, value={}),
            OpenApiExample(
                "Created",
                response_only=True,
                status_codes=["201"],
                value={**_RUN_EXAMPLE, "replayed": False, "unknown": ["user-9999"]},
            ),
            OpenApiExample(
                "A retry with the same key",
                response_only=True,
                status_codes=["200"],
                value={**_RUN_EXAMPLE, "replayed": True, "unknown": []},
            ),
        ],
        responses={
            201: TriggeredRunSerializer,
            200: TriggeredRunSerializer,
            400: _ERROR,
            403: _ERROR,
            404: _ERROR,
            409: _ERROR,
        },
    )
    def post(self, request: Request, id: int) -> Response:  # noqa: A002 - the path's name
        serializer = TriggerSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        key = self._key(request, data.get("idempotency_key", ""))
        result = triggers.campaign_trigger(
            actor=request.user,
            campaign_id=id,
            recipients=data.get("recipients"),
            idempotency_key=key,
        )
        run = _runs().get(pk=result.run.pk)
        run.replayed = result.replayed
        run.unknown = result.unknown
        body = TriggeredRunSerializer(run, context={"request": request}).data
        code = status.HTTP_200_OK if result.replayed else status.HTTP_201_CREATED
        return Response(body, status=code, headers={"Location": body["url"]})

    @staticmethod
    def _key(request: Request, in_body: str) -> str:
        header = request.headers.get("Idempotency-Key", "").strip()
        if len(header) > triggers.MAX_IDEMPOTENCY_KEY:
            raise ValidationError(
                {"Idempotency-Key": [f"At most {triggers.MAX_IDEMPOTENCY_KEY} characters."]}
            )
        if header and in_body and header != in_body:
            raise ValidationError(
                {"idempotency_key": ["Differs from the Idempotency-Key header; give one key."]}
            )
        return in_body or header


@extend_schema(
    summary="A campaign's runs",
    description="Every send of the campaign (scheduled occurrences, API calls, trigger runs), "
    "newest first, each with its progress: sent, failed (by reason), dropped (by reason) and "
    "pending. Keyset (cursor) pages: follow `next` and `previous`.",
    examples=[
        OpenApiExample(
            "A run of the page",
            response_only=True,
            value=_RUN_EXAMPLE,
        )
    ],
    responses={200: RunSerializer(many=True), **_READ_ERRORS},
)
class CampaignRunsView(generics.ListAPIView):
    serializer_class = RunSerializer
    pagination_class = RunPagination
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Run]:
        campaign = get_object_or_404(
            Campaign.objects.visible_to(self.request.user).only("pk"), pk=self.kwargs["id"]
        )
        return _runs().filter(campaign=campaign)

    def paginate_queryset(self, queryset: QuerySet[Run]) -> list[Run] | None:
        page = super().paginate_queryset(queryset)
        # The page's unfinished runs read their batches' counters in one query.
        self.counters = scheduler.batch_counters(
            [r.pk for r in page or [] if not (r.status == RunStatus.DONE and r.totals)]
        )
        return page

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "counters": getattr(self, "counters", None)}


@extend_schema(
    summary="One run",
    description="What the run is (kind, status, times) and its progress, read from its "
    "batches while it sends and frozen when it is done.",
    examples=[OpenApiExample("A run sending", response_only=True, value=_RUN_EXAMPLE)],
    responses={200: RunSerializer, **_READ_ERRORS},
)
class RunDetailView(generics.RetrieveAPIView):
    serializer_class = RunSerializer
    lookup_url_kwarg = "id"

    def get_queryset(self) -> QuerySet[Run]:
        return _runs().filter(campaign__in=Campaign.objects.visible_to(self.request.user))
