from django.urls import include, path

urlpatterns = [
    path("", include("campaigns.api.urls")),
]
