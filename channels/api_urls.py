from django.urls import path

from channels.api import CampaignRunsView, CampaignTriggerView, RunDetailView

# Path converters (<int:id>): an id that is not a number is a 404 before any view runs.
urlpatterns = [
    path("campaigns/<int:id>/trigger/", CampaignTriggerView.as_view(), name="campaign-trigger"),
    path("campaigns/<int:id>/runs/", CampaignRunsView.as_view(), name="campaign-runs"),
    path("runs/<int:id>/", RunDetailView.as_view(), name="run-detail"),
]
