from django.contrib import admin
from django.http import HttpRequest

from campaigns.models import Campaign, CampaignAudit


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    """View-only: every change to a campaign goes through campaigns.services, with its rules and audit."""

    list_display = (
        "name",
        "channel",
        "type",
        "delivery",
        "status",
        "created_by",
        "last_active_at",
        "archived_at",
    )
    list_filter = ("status", "channel", "type", "delivery")
    search_fields = ("name",)
    list_select_related = ("created_by",)
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        return False


@admin.register(CampaignAudit)
class CampaignAuditAdmin(admin.ModelAdmin):
    list_display = ("campaign", "action", "from_status", "to_status", "actor", "created_at")
    list_filter = ("action",)
    list_select_related = ("campaign", "actor")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: CampaignAudit | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: CampaignAudit | None = None) -> bool:
        return False
