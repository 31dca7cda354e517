"""Find People, profile imports and cohort retention over the API, under /api/v1/audience/.

The same reads and services as the pages (audience.people, audience.imports, audience.cohorts):
each view checks its input, calls one of them and renders. Domain errors become HTTP in
config.api_errors. Every role may search people and read cohorts; importing takes the create
permission (Marketers, Approvers, Admins).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse
from django.urls import path, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import Perm, has_perm
from audience import cohorts, imports, people
from audience.models import Profile
from audience.views_cohorts import csv_response
from config.api_errors import ErrorSerializer
from config.errors import Forbidden, Invalid, NotFound

_ERROR = ErrorSerializer
_READ_ERRORS = {401: _ERROR, 403: _ERROR}
RECENT_EVENTS = 20


# ---------------------------------------------------------------------------------------------
# Find People
# ---------------------------------------------------------------------------------------------
class ProfileSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    identity = serializers.CharField()
    email = serializers.CharField(help_text="Empty when the profile has none.")
    phone = serializers.CharField(help_text="E.164; empty when the profile has none.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(
        max_length=people.MAX_QUERY,
        help_text="An identity (exact, or its beginning), an e-mail address (exact, ignoring "
        "case) or a phone number with its country code (matched in E.164).",
    )


class SearchResultSerializer(serializers.Serializer):
    query = serializers.CharField()
    phone = serializers.CharField(
        allow_null=True, help_text="The query read as an E.164 phone number, when it is one."
    )
    more = serializers.BooleanField(
        help_text=f"More than {people.SEARCH_LIMIT} profiles match; only the first are listed."
    )
    results = ProfileSummarySerializer(many=True)


class PropertySerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField(help_text="string, number, boolean, date or list.")
    value = serializers.JSONField()


class DeviceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="push or web_push.")
    platform = serializers.CharField()
    push_consent = serializers.CharField()
    disabled_at = serializers.DateTimeField(allow_null=True)
    disabled_reason = serializers.CharField()
    last_seen_at = serializers.DateTimeField(allow_null=True)


class ReachSerializer(serializers.Serializer):
    channel = serializers.CharField(help_text="email, sms, whatsapp, push or web_push.")
    reachable = serializers.BooleanField()
    consent = serializers.CharField()
    detail = serializers.CharField(help_text="Why (or why not), in words.")
    unsubscribed_at = serializers.DateTimeField(allow_null=True)
    devices = DeviceSerializer(many=True, help_text="Push and web push: the devices.")


class LabelAtSendSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(help_text="The label's name when the message was sent.")


class EventCampaignSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(help_text="The campaign's name when the message was sent.")
    exists = serializers.BooleanField(help_text="False once the campaign has been deleted.")
    name_now = serializers.CharField(allow_null=True)


class EventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    ts = serializers.DateTimeField()
    properties = serializers.DictField()
    campaign = EventCampaignSerializer(
        allow_null=True, help_text="Notification events: the campaign."
    )
    labels = LabelAtSendSerializer(
        many=True, help_text="Notification Sent: the campaign's labels as they were at send time."
    )
    channel = serializers.CharField()
    variant = serializers.CharField()


class EventPageSerializer(serializers.Serializer):
    results = EventSerializer(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next (older) page, if any.")


class ProfileDetailSerializer(ProfileSummarySerializer):
    timezone = serializers.CharField()
    properties = PropertySerializer(many=True)
    reachability = ReachSerializer(many=True)
    events = EventPageSerializer(help_text=f"The {RECENT_EVENTS} newest events.")


def _event(item: people.TimelineItem) -> dict[str, Any]:
    event = item.event
    campaign = None
    if item.campaign_id is not None:
        campaign = {
            "id": item.campaign_id,
            "name": item.campaign_name,
            "exists": item.campaign_exists,
            "name_now": item.campaign_name_now,
        }
    return {
        "id": event.id,
        "name": event.name,
        "ts": event.ts,
        "properties": event.properties if isinstance(event.properties, dict) else {},
        "campaign": campaign,
        "labels": [{"id": label.get("id"), "name": label.get("name")} for label in item.labels],
        "channel": item.channel,
        "variant": item.variant,
    }


def _event_page(request: Request, profile_id: int, cursor: str, limit: int) -> dict[str, Any]:
    page = people.timeline(profile_id, cursor=cursor, limit=limit)
    next_url = None
    if page.next_cursor:
        url = reverse("api-audience-profile-events", args=[profile_id])
        next_url = request.build_absolute_uri(f"{url}?cursor={page.next_cursor}")
    return {"results": [_event(item) for item in page.items], "next": next_url}


def _profile(pk: int) -> Profile:
    profile = Profile.objects.filter(pk=pk).first()
    if profile is None:
        raise NotFound(f"Profile {pk} does not exist.")
    return profile


def _summary(profile: Profile) -> dict[str, Any]:
    return {
        "id": profile.pk,
        "identity": profile.identity,
        "email": profile.email,
        "phone": profile.phone,
        "created_at": profile.created_at,
        "updated_at": profile.updated_at,
    }


class PeopleSearchView(APIView):
    @extend_schema(
        operation_id="audience_people_search",
        summary="Find people",
        description="Profiles by identity (exact or prefix), e-mail or phone: the exact identity "
        f"first, at most {people.SEARCH_LIMIT}.",
        parameters=[SearchQuerySerializer],
        responses={200: SearchResultSerializer, 400: _ERROR, **_READ_ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = SearchQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        result = people.search_profiles(query.validated_data["q"])
        return Response(
            {
                "query": result.query,
                "phone": result.phone,
                "more": result.more,
                "results": [_summary(p) for p in result.profiles],
            }
        )


class ProfileDetailView(APIView):
    @extend_schema(
        operation_id="audience_people_retrieve",
        summary="One profile",
        description="Properties (typed), reachability and consent per channel, devices, and the "
        f"{RECENT_EVENTS} newest events (the `events.next` link pages on).",
        responses={200: ProfileDetailSerializer, 404: _ERROR, **_READ_ERRORS},
    )
    def get(self, request: Request, pk: int) -> Response:
        profile = _profile(pk)
        reach = [
            {
                "channel": item.channel,
                "reachable": item.reachable,
                "consent": item.consent,
                "detail": item.detail,
                "unsubscribed_at": item.unsubscribed_at,
                "devices": DeviceSerializer(item.devices, many=True).data,
            }
            for item in people.reachability(profile)
        ]
        properties = [
            {"name": row.name, "type": row.type, "value": row.value}
            for row in people.profile_properties(profile)
        ]
        body = {
            **_summary(profile),
            "timezone": profile.timezone,
            "properties": properties,
            "reachability": reach,
            "events": _event_page(request, profile.pk, "", RECENT_EVENTS),
        }
        return Response(body)


class EventPageQuerySerializer(serializers.Serializer):
    cursor = serializers.CharField(
        required=False, default="", allow_blank=True, help_text="From the previous page's `next`."
    )
    page_size = serializers.IntegerField(
        required=False, default=people.TIMELINE_PAGE, min_value=1, max_value=200
    )


class ProfileEventsView(APIView):
    @extend_schema(
        operation_id="audience_people_events",
        summary="A profile's events",
        description="Newest first, keyset-paged: follow `next`. Notification Sent events carry "
        "their campaign, channel, variant and the labels as they were at send time.",
        parameters=[EventPageQuerySerializer],
        responses={200: EventPageSerializer, 400: _ERROR, 404: _ERROR, **_READ_ERRORS},
    )
    def get(self, request: Request, pk: int) -> Response:
        profile = _profile(pk)
        query = EventPageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        return Response(_event_page(request, profile.pk, data["cursor"], data["page_size"]))


# ---------------------------------------------------------------------------------------------
# Imports
# ---------------------------------------------------------------------------------------------
class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text=f"A UTF-8 CSV of at most {imports.MAX_IMPORT_BYTES // 1024 // 1024} MB whose "
        "first row names the columns: identity (required), email, phone, timezone, "
        "email_consent, sms_consent, whatsapp_consent, and custom properties (`age:number`)."
    )


class ImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="As a spreadsheet numbers it: the header is row 1.")
    identity = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class ImportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    file_name = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["queued", "running", "done", "failed"],
        help_text="queued, running, done or failed.",
    )
    total_rows = serializers.IntegerField()
    processed_rows = serializers.IntegerField()
    accepted_rows = serializers.IntegerField()
    rejected_rows = serializers.IntegerField()
    errors = ImportErrorSerializer(
        many=True, help_text=f"The first {imports.MAX_IMPORT_ERRORS} rows refused."
    )
    failure = serializers.CharField(help_text="Why a failed import stopped.")
    created_by = serializers.CharField(source="created_by.username")
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


def _require_create(request: Request) -> None:
    if not has_perm(request.user, Perm.CREATE):
        raise Forbidden("Importing profiles needs a role that creates campaigns.")


class ImportCreateView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="audience_imports_create",
        summary="Import profiles from CSV",
        description="The file is checked whole first (a refused file is a 400 and nothing is "
        f"kept), then imported by a worker {imports.CHUNK_ROWS:,} rows at a time: poll the "
        "import for its counters and the rows refused.",
        request={"multipart/form-data": ImportUploadSerializer},
        responses={201: ImportSerializer, 400: _ERROR, **_READ_ERRORS},
    )
    def post(self, request: Request) -> Response:
        _require_create(request)
        upload = ImportUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        file = upload.validated_data["file"]
        if file.size and file.size > imports.MAX_IMPORT_BYTES:
            message = imports.too_big_message(file.size)
            raise Invalid(message, errors={"file": [message]})
        job = imports.profile_import_start(
            actor=request.user, file_name=file.name or "", content=file.read()
        )
        job = imports.get_import(job.pk)
        return Response(ImportSerializer(job).data, status=status.HTTP_201_CREATED)


class ImportDetailView(APIView):
    @extend_schema(
        operation_id="audience_imports_retrieve",
        summary="An import's progress",
        responses={200: ImportSerializer, 404: _ERROR, **_READ_ERRORS},
    )
    def get(self, request: Request, pk: int) -> Response:
        _require_create(request)
        return Response(ImportSerializer(imports.get_import(pk)).data)


# ---------------------------------------------------------------------------------------------
# Cohorts
# ---------------------------------------------------------------------------------------------
_COHORT_PARAMETERS = [
    OpenApiParameter(
        "qualifying",
        str,
        enum=list(cohorts.QUALIFYING),
        description="What puts a person in a cohort: their first `event` (by name), being sent "
        "a campaign with a `label`, or being sent a `campaign`. Default: event.",
    ),
    OpenApiParameter("event", str, description="qualifying=event: the event's name."),
    OpenApiParameter("label", int, description="qualifying=label: the label's id."),
    OpenApiParameter("campaign", int, description="qualifying=campaign: the campaign's id."),
    OpenApiParameter("segment", int, description="Only people in this saved segment (now)."),
    OpenApiParameter(
        "return_event",
        str,
        description="What counts as coming back; empty: any event but Notification Sent.",
    ),
    OpenApiParameter("unit", str, enum=list(cohorts.UNITS), description="Default: day."),
    OpenApiParameter(
        "start",
        OpenApiTypes.DATE,
        description=f"First cohort date. Default: {cohorts.DEFAULT_PERIOD_DAYS - 1} days "
        "before `end`.",
    ),
    OpenApiParameter(
        "end",
        OpenApiTypes.DATE,
        description=f"Last cohort date (default today); at most {cohorts.MAX_PERIOD_DAYS} days "
        "after `start`. Weeks widen the period to whole weeks, Monday to Sunday.",
    ),
]


class CohortRowSerializer(serializers.Serializer):
    date = serializers.DateField(allow_null=True, help_text="The cohort's day (or Monday).")
    size = serializers.IntegerField()
    returned = serializers.ListField(
        child=serializers.IntegerField(allow_null=True),
        help_text="People who came back on day (week) N, N = 0, 1, ...; null where not reached.",
    )
    share = serializers.ListField(
        child=serializers.FloatField(allow_null=True), help_text="returned / size, 0 to 1."
    )


class CohortTableSerializer(serializers.Serializer):
    qualifying = serializers.CharField()
    description = serializers.DictField(child=serializers.CharField())
    unit = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    time_zone = serializers.CharField()
    offsets = serializers.ListField(child=serializers.IntegerField())
    cohorts = CohortRowSerializer(many=True)
    all = CohortRowSerializer(help_text="All cohorts together, per offset over those reached.")


def _row(row: cohorts.CohortRow) -> dict[str, Any]:
    return {"date": row.date, "size": row.size, "returned": row.returned, "share": row.share}


class CohortView(APIView):
    @extend_schema(
        operation_id="audience_cohorts_retrieve",
        summary="Cohort retention",
        description="Of the people whose first qualifying event in the period fell on a day (or "
        "week), the share who did the return event on day 0..30 (week 0..4) after it.",
        parameters=_COHORT_PARAMETERS,
        responses={200: CohortTableSerializer, 400: _ERROR, **_READ_ERRORS},
    )
    def get(self, request: Request) -> Response:
        table = cohorts.cohort_table(cohorts.parse_spec(request.query_params))
        spec = table.spec
        return Response(
            {
                "qualifying": spec.qualifying,
                "description": cohorts.describe(spec),
                "unit": spec.unit,
                "start": spec.start,
                "end": spec.end,
                "time_zone": settings.TIME_ZONE,
                "offsets": table.offsets,
                "cohorts": [_row(row) for row in table.rows],
                "all": _row(table.total),
            }
        )


class CohortExportView(APIView):
    @extend_schema(
        operation_id="audience_cohorts_export",
        summary="Cohort retention as CSV",
        description="The same table as CSV: cohort, size, then the share (in %) per day or week; "
        "a last row `all`. Cells a spreadsheet would run as formulas are neutralised.",
        parameters=_COHORT_PARAMETERS,
        responses={
            (200, "text/csv"): OpenApiResponse(response=OpenApiTypes.STR),
            400: _ERROR,
            **_READ_ERRORS,
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        return csv_response(cohorts.cohort_table(cohorts.parse_spec(request.query_params)))


urlpatterns = [
    path("audience/people/", PeopleSearchView.as_view(), name="api-audience-people"),
    path("audience/people/<int:pk>/", ProfileDetailView.as_view(), name="api-audience-profile"),
    path(
        "audience/people/<int:pk>/events/",
        ProfileEventsView.as_view(),
        name="api-audience-profile-events",
    ),
    path("audience/imports/", ImportCreateView.as_view(), name="api-audience-imports"),
    path("audience/imports/<int:pk>/", ImportDetailView.as_view(), name="api-audience-import"),
    path("audience/cohorts/", CohortView.as_view(), name="api-audience-cohorts"),
    path(
        "audience/cohorts/export/", CohortExportView.as_view(), name="api-audience-cohorts-export"
    ),
]
