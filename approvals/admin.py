from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from approvals.models import ApprovalRequest, ApprovalSettings, ApprovalSettingsChange


class ViewOnly(admin.ModelAdmin):
    """Every change goes through approvals.services, with its rules, locks and audit rows."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ViewOnly):
    list_display = (
        "campaign",
        "kind",
        "status",
        "requested_by",
        "requested_at",
        "target_run_at",
        "decided_by",
        "decided_at",
    )
    list_filter = ("status", "kind")
    search_fields = ("campaign__name", "note", "comment")
    list_select_related = ("campaign", "requested_by", "decided_by")
    show_full_result_count = False


@admin.register(ApprovalSettings)
class ApprovalSettingsAdmin(ViewOnly):
    list_display = ("__str__", "allow_self_approval", "updated_by", "updated_at")


@admin.register(ApprovalSettingsChange)
class ApprovalSettingsChangeAdmin(ViewOnly):
    list_display = ("created_at", "actor", "changes")
    list_select_related = ("actor",)
