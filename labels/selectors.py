"""Reads of labels: the Labels page, the pickers, the CSV export."""

from __future__ import annotations

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from labels.models import Label

SORTS = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "campaigns": ("campaigns_count", "name"),
    "-campaigns": ("-campaigns_count", "name"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
}


def labels_with_counts(*, q: str = "", sort: str = "name") -> QuerySet[Label]:
    """Every label with the number of campaigns (archived ones included) carrying it.

    One query. Each count is a correlated COUNT that PostgreSQL answers with an index-only scan of
    the link table's (label_id) index: about 12 ms for 900 labels on 140,000 links, where joining
    every link and grouping them (Count("campaigns")) took 95 ms (bench/labels.py).
    """
    links = (
        Label.campaigns.through.objects.filter(label_id=OuterRef("pk"))
        .order_by()
        .values("label_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    qs = Label.objects.annotate(campaigns_count=Coalesce(Subquery(links), 0)).select_related(
        "created_by"
    )
    if q:
        qs = qs.filter(name__icontains=q)
    return qs.order_by(*SORTS.get(sort, SORTS["name"]))


def label_choices() -> list[tuple[int, str]]:
    """(id, name) of every label, by name: at most 900 rows, for pickers and filters."""
    return list(Label.objects.order_by("name").values_list("pk", "name"))
