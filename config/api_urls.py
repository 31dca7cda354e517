from django.urls import include, path

urlpatterns = [
    path("", include("accounts.api_urls")),
    path("", include("campaigns.api.urls")),
    path("", include("labels.api_urls")),
    path("", include("approvals.api_urls")),
    path("", include("audience.urls_ingest")),
    path("", include("audience.api_segments")),
    path("", include("audience.api_people")),
    path("", include("channels.api_urls")),
]
