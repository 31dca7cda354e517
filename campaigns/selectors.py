"""Reads for the campaign pages: the All Campaigns list, its filters and counts, one campaign."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from django.db.models import Count, Exists, OuterRef, Prefetch, QuerySet

from campaigns.choices import CampaignType, Channel, Delivery, Status
from campaigns.models import Campaign, CampaignAudit
from labels.models import Label

# A URL can name at most this many labels to filter by; more are dropped, not an error.
MAX_FILTER_LABELS = 900


@dataclass(frozen=True)
class CampaignFilters:
    """The All Campaigns page's state, read from its query string (so every view is a bookmark)."""

    status: str = ""
    q: str = ""
    archived: bool = False
    channel: str = ""
    type: str = ""
    delivery: str = ""
    # Any of these labels (?label=1&label=2); ids that name no label are moved to ignored_labels
    # by known_labels(), so the page can say so instead of showing nothing.
    labels: tuple[int, ...] = ()
    ignored_labels: tuple[str, ...] = ()

    @classmethod
    def from_query(cls, query: Mapping[str, Any]) -> CampaignFilters:
        def choice(key: str, choices: Any) -> str:
            value = query.get(key, "")
            return value if value in choices.values else ""

        raw_labels = query.getlist("label") if hasattr(query, "getlist") else [query.get("label")]
        labels: list[int] = []
        ignored: list[str] = []
        for raw in raw_labels:
            text = str(raw or "").strip()
            if not text:
                continue  # "All labels"
            if text.isascii() and text.isdigit() and 0 < int(text) < 2**63:
                if int(text) not in labels:
                    labels.append(int(text))
            elif text[:20] not in ignored:
                ignored.append(text[:20])
        return cls(
            status=choice("status", Status),
            q=query.get("q", "").strip()[:200],
            archived=query.get("archived", "") in ("1", "on", "true"),
            channel=choice("channel", Channel),
            type=choice("type", CampaignType),
            delivery=choice("delivery", Delivery),
            labels=tuple(labels[:MAX_FILTER_LABELS]),
            ignored_labels=tuple(ignored[:MAX_FILTER_LABELS]),
        )

    def known_labels(self, known: Iterable[int]) -> CampaignFilters:
        """The same filters with label ids that name no label moved to ignored_labels."""
        known_ids = set(known)
        return replace(
            self,
            labels=tuple(pk for pk in self.labels if pk in known_ids),
            ignored_labels=self.ignored_labels
            + tuple(str(pk) for pk in self.labels if pk not in known_ids),
        )

    @property
    def refined(self) -> bool:
        """Whether any filter beyond status and search is on (the filter panel opens when it is)."""
        return bool(self.channel or self.type or self.delivery or self.labels)


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
    if filters.labels:
        # EXISTS rather than a join: a campaign carrying two of the labels is still one row.
        links = Campaign.labels.through.objects.filter(
            campaign_id=OuterRef("pk"), label_id__in=filters.labels
        )
        qs = qs.filter(Exists(links))
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


def label_counts_on(*, campaign_ids: Iterable[int]) -> dict[int, tuple[str, int]]:
    """For each label on any of the campaigns: (its name, on how many of them), by name.

    One GROUP BY over the label links of those campaigns (the link table's campaign index).
    """
    rows = (
        Campaign.labels.through.objects.filter(campaign_id__in=list(campaign_ids))
        .values_list("label_id", "label__name")
        .annotate(n=Count("id"))
        .order_by("label__name")
    )
    return {pk: (name, n) for pk, name, n in rows}
