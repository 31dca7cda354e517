"""The list endpoint's filters: the page's FilterSet (campaigns.filters), plus the API's extra sort.

The filters live in one place so the page, its counts and the API can never disagree on what a
parameter means; see campaigns/filters.py and docs/campaign-list.md.
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request

from campaigns import filters as campaign_filters
from campaigns.filters import (
    CHANNEL_GROUPS,
    DEFAULT_ORDERING,
    QUICK_FILTERS,
    ordering_choices,
    ordering_fields,
)
from config.pagination import KeysetPagination

__all__ = [
    "API_ORDERING_FIELDS",
    "CHANNEL_GROUPS",
    "QUICK_FILTERS",
    "CampaignFilterSet",
    "CampaignPagination",
]

# API clients could sort by updated_at before the page's sorts existed; they still can.
API_ORDERING_FIELDS = (*campaign_filters.ORDERING_FIELDS, "updated_at")


class CampaignFilterSet(campaign_filters.CampaignFilterSet):
    ordering = campaign_filters.SingleChoiceFilter(
        choices=ordering_choices(API_ORDERING_FIELDS),
        method="filter_ordering",
        help_text="Sort order (default -last_active_at); ties are broken by id.",
    )


class CampaignPagination(KeysetPagination):
    """Keyset pages in the order the `ordering` filter chose (validated by the FilterSet first,
    so an unknown value here never gets past the 400)."""

    allowed = {value for value, _ in ordering_choices(API_ORDERING_FIELDS)}

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> tuple[str, ...]:
        value = request.query_params.get("ordering") or DEFAULT_ORDERING
        return ordering_fields(value if value in self.allowed else DEFAULT_ORDERING)
