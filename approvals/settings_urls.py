"""Settings > Approval (mounted under /settings/approvals/, next to Settings > Labels)."""

from django.urls import path

from approvals import views

app_name = "approval_settings"

urlpatterns = [
    path("", views.approval_settings, name="edit"),
]
