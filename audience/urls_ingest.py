"""The ingestion API, under /api/v1/ingest/: batches of profiles and events (project API key) and
the keys themselves (Admins)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from audience.api_ingest import EventIngestView, ProfileIngestView
from audience.api_keys import IngestKeyViewSet

# Path converters (<int:pk>): an id that is not a number is a 404 before any view runs.
router = SimpleRouter(use_regex_path=False)
router.register("ingest/keys", IngestKeyViewSet, basename="ingest-key")

urlpatterns = [
    path("ingest/profiles/", ProfileIngestView.as_view(), name="ingest-profiles"),
    path("ingest/events/", EventIngestView.as_view(), name="ingest-events"),
    *router.urls,
]
