"""Reads for the campaign pages: the All Campaigns list, its filters and counts, one campaign."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Prefetch, QuerySet

from campaigns.choices import CampaignType, Channel, Delivery, Status
from campaigns.models import Campaign, CampaignAudit
from labels.models import Label


@dataclass(frozen=True)
class CampaignFilters:
    """The All Campaigns page's state, read from its query string (so every view is a bookmark)."""

    status: str = ""
    q: str = ""
    archived: bool = False
    channel: str = ""
    type: str = ""
    delivery: str = ""
    label: int | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> CampaignFilters:
        def choice(key: str, choices: Any) -> str:
            value = query.get(key, "")
            return value if value in choices.values else ""

        label = query.get("label", "")
        return cls(
            status=choice("status", Status),
            q=query.get("q", "").strip()[:200],
            archived=query.get("archived", "") in ("1", "on", "true"),
            channel=choice("channel", Channel),
            type=choice("type", CampaignType),
            delivery=choice("delivery", Delivery),
            label=int(label) if label.isdigit() else None,
        )

    @property
    def refined(self) -> bool:
        """Whether any filter beyond status and search is on (the filter panel opens when it is)."""
        return bool(self.channel or self.type or self.delivery or self.label)


def campaigns_filtered(*, user: Any, filters: CampaignFilters) -> QuerySet[Campaign]:
    """Visible campaigns matching every filter except status (the quick filters count across it)."""
    qs = Campaign.objects.visible_to(user)
    if not filters.archived:
        qs = qs.active()
    if filters.q:
        qs = qs.filter(name__icontains=filters.q)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.type:
        qs = qs.filter(type=filters.type)
    if filters.delivery:
        qs = qs.filter(delivery=filters.delivery)
    if filters.label:
        qs = qs.filter(labels=filters.label)
    return qs


def campaign_list(*, user: Any, filters: CampaignFilters) -> QuerySet[Campaign]:
    """The rows of the All Campaigns table; a page of it costs the same few queries at any size."""
    qs = campaigns_filtered(user=user, filters=filters)
    if filters.status:
        qs = qs.filter(status=filters.status)
    return qs.select_related("created_by").prefetch_related(
        Prefetch("labels", queryset=Label.objects.order_by("name"))
    )


def status_counts(*, user: Any, filters: CampaignFilters) -> dict[str, int]:
    """Campaigns per status under the other filters, in one GROUP BY query."""
    rows = (
        campaigns_filtered(user=user, filters=filters)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
    )
    return {status: n for status, n in rows}


def campaign_detail(*, user: Any, campaign_id: int) -> Campaign:
    """One visible campaign with what its page shows; raises Campaign.DoesNotExist otherwise."""
    return (
        Campaign.objects.visible_to(user)
        .select_related("created_by", "updated_by", "cloned_from")
        .prefetch_related(Prefetch("labels", queryset=Label.objects.order_by("name")))
        .get(pk=campaign_id)
    )


def campaign_timeline(*, campaign: Campaign, limit: int = 200) -> list[CampaignAudit]:
    """The campaign's audit rows, newest first."""
    return list(campaign.audit.select_related("actor").order_by("-created_at", "-id")[:limit])


def campaigns_by_ids(*, user: Any, ids: list[int]) -> list[Campaign]:
    """Visible campaigns among `ids`, in the order given (the bulk confirmation lists them so)."""
    found = Campaign.objects.visible_to(user).in_bulk(ids)
    return [found[i] for i in ids if i in found]
