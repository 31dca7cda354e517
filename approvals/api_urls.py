from django.urls import path
from rest_framework.routers import SimpleRouter

from approvals.api import ApprovalRequestViewSet, ApprovalSettingsHistoryView, ApprovalSettingsView

# Path converters (<int:pk>): an id that is not a number is a 404 before any view runs.
router = SimpleRouter(use_regex_path=False)
router.register("approvals/requests", ApprovalRequestViewSet, basename="approval-request")

urlpatterns = [
    path("approvals/settings/", ApprovalSettingsView.as_view(), name="approval-settings"),
    path(
        "approvals/settings/history/",
        ApprovalSettingsHistoryView.as_view(),
        name="approval-settings-history",
    ),
    *router.urls,
]
