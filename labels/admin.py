from django.contrib import admin
from django.http import HttpRequest

from labels.models import Label


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    """View-only: labels change through labels.services (naming rules, the 900 cap, audit rows)."""

    list_display = ("name", "created_by", "created_at", "updated_at")
    search_fields = ("name",)
    list_select_related = ("created_by",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Label | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Label | None = None) -> bool:
        return False
