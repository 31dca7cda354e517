"""Reads of labels: the Labels page, the pickers, the CSV export."""

from __future__ import annotations

from django.db.models import Count, QuerySet

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

    One query: a GROUP BY over the label links, which the (label_id) index of the link table serves.
    """
    qs = Label.objects.annotate(campaigns_count=Count("campaigns")).select_related("created_by")
    if q:
        qs = qs.filter(name__icontains=q)
    return qs.order_by(*SORTS.get(sort, SORTS["name"]))


def label_choices() -> list[tuple[int, str]]:
    """(id, name) of every label, by name: at most 900 rows, for pickers and filters."""
    return list(Label.objects.order_by("name").values_list("pk", "name"))
