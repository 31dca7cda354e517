from django.urls import include, path

urlpatterns = [
    path("", include("accounts.api_urls")),
    path("", include("campaigns.api.urls")),
    path("", include("labels.api_urls")),
    path("", include("approvals.api_urls")),
]
