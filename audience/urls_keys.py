"""Settings > API keys (mounted under /settings/api-keys/, next to Labels and Approval)."""

from django.urls import path

from audience import views_keys

app_name = "ingest_keys"

urlpatterns = [
    path("", views_keys.key_list, name="list"),
    path("new/", views_keys.key_create, name="create"),
    path("<int:pk>/revoke/", views_keys.key_revoke, name="revoke"),
]
