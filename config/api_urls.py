from django.urls import include, path

from labels.api import LabelListCreateView

urlpatterns = [
    path("", include("accounts.api_urls")),
    path("", include("campaigns.api.urls")),
    path("labels/", LabelListCreateView.as_view(), name="api-labels"),
]
