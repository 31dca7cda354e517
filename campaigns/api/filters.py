"""The campaign list's filters and ordering for the API.

Every filter refuses what it cannot understand (400 with the field named) rather than quietly
matching nothing: a typo in `status=runing` must not look like "no running campaigns".
"""

from __future__ import annotations

from typing import Any

import django_filters as filters
from django import forms
from django.core.validators import EmailValidator
from django.db.models import Exists, OuterRef, Q, QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter

from campaigns.choices import CampaignType, Channel, Delivery, Status
from campaigns.models import Campaign
from labels.models import Label

BIGINT_MAX = 2**63 - 1


class ListValueField(forms.MultipleChoiceField):
    """Repeated parameters (`?status=draft&status=running`) or commas (`?status=draft,running`)."""

    def to_python(self, value: Any) -> list[str]:
        values = super().to_python(value)
        return [part.strip() for item in values for part in item.split(",") if part.strip()]


class MultiChoiceFilter(filters.MultipleChoiceFilter):
    field_class = ListValueField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # A column of the campaign itself joins nothing, so DISTINCT would only defeat the
        # (status, last_active_at, id) index and sort the whole match instead of reading 50 rows.
        kwargs.setdefault("distinct", False)
        super().__init__(*args, **kwargs)


class CreatorField(ListValueField):
    """A user id or an e-mail address per value; anything else is refused."""

    def valid_value(self, value: str) -> bool:
        if value.isdigit():
            return int(value) <= BIGINT_MAX
        try:
            EmailValidator()(value)
        except forms.ValidationError:
            return False
        return True

    def validate(self, value: Any) -> None:
        for item in value:
            if not self.valid_value(item):
                raise forms.ValidationError(f"'{item}' is neither a user id nor an e-mail address.")


@extend_schema_field(
    {"type": "array", "items": {"type": "string", "description": "A user id or an e-mail address."}}
)
class CreatorFilter(filters.Filter):
    field_class = CreatorField

    def filter(self, qs: QuerySet[Campaign], value: list[str]) -> QuerySet[Campaign]:
        if not value:
            return qs
        ids = [int(v) for v in value if v.isdigit()]
        match = Q(created_by_id__in=ids) if ids else Q(pk__in=[])
        for email in (v for v in value if not v.isdigit()):
            match |= Q(created_by__email__iexact=email)
        return qs.filter(match)


class LabelAnyFilter(filters.ModelMultipleChoiceFilter):
    """Campaigns carrying any of the labels: an EXISTS, so a campaign never appears twice."""

    def filter(self, qs: QuerySet[Campaign], value: Any) -> QuerySet[Campaign]:
        if not value:
            return qs
        through = Campaign.labels.through.objects.filter(
            campaign_id=OuterRef("pk"), label_id__in=[label.pk for label in value]
        )
        return qs.filter(Exists(through))


class CampaignFilterSet(filters.FilterSet):
    status = MultiChoiceFilter(choices=Status.choices, help_text="Any of these statuses.")
    channel = MultiChoiceFilter(choices=Channel.choices, help_text="Any of these channels.")
    type = MultiChoiceFilter(choices=CampaignType.choices, help_text="Any of these types.")
    delivery = MultiChoiceFilter(choices=Delivery.choices, help_text="Any of these delivery types.")
    created_by = CreatorFilter(help_text="Created by any of these users (id or e-mail).")
    label = LabelAnyFilter(
        field_name="labels",
        distinct=False,  # an EXISTS never repeats a row
        queryset=Label.objects.all(),
        help_text="Carrying any of these labels (label ids).",
    )
    archived = filters.ChoiceFilter(
        choices=[("false", "false"), ("true", "true"), ("all", "all")],
        method="filter_archived",
        empty_label=None,
        help_text="false (the default) hides archived campaigns, true shows only them, "
        "all shows both.",
    )
    q = filters.CharFilter(
        field_name="name", lookup_expr="icontains", max_length=200, help_text="Name contains."
    )
    created = filters.DateFromToRangeFilter(
        field_name="created_at", help_text="Created on or after / on or before these dates."
    )
    last_active = filters.DateFromToRangeFilter(
        field_name="last_active_at", help_text="Last active on or after / on or before these dates."
    )

    class Meta:
        model = Campaign
        fields: list[str] = []

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        # Archived campaigns stay out of the list unless asked for, as on the All Campaigns page.
        if data is not None and not data.get("archived"):
            data = data.copy()
            data["archived"] = "false"
        super().__init__(data, *args, **kwargs)

    def filter_archived(self, qs: QuerySet[Campaign], name: str, value: str) -> QuerySet[Campaign]:
        if value == "true":
            return qs.archived()  # type: ignore[attr-defined]
        if value == "all":
            return qs
        return qs.active()  # type: ignore[attr-defined]


# Orderings the cursor can page through: each is a non-null column, with the id as tie-breaker.
ORDERINGS = ("last_active_at", "created_at", "updated_at", "name")
DEFAULT_ORDERING = ("-last_active_at", "-id")


class CampaignOrdering(OrderingFilter):
    """?ordering=name|-name|created_at|... ; an unknown value is a 400, not a silent default.

    Cursor pagination reads this filter's ordering; the id is appended so that rows sharing a
    name or a timestamp keep one fixed order and no page repeats or skips them.
    """

    ordering_fields = ORDERINGS
    allowed = tuple(f"{sign}{name}" for name in ORDERINGS for sign in ("", "-"))

    def get_ordering(self, request: Any, queryset: Any, view: Any) -> list[str] | None:
        raw = request.query_params.get(self.ordering_param)
        if not raw:
            return list(DEFAULT_ORDERING)
        if raw not in self.allowed:
            raise ValidationError(
                {self.ordering_param: [f"Choose one of: {', '.join(self.allowed)}."]}
            )
        return [raw, "-id" if raw.startswith("-") else "id"]

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "Sort order (default -last_active_at); ties are broken by id.",
                "schema": {"type": "string", "enum": list(self.allowed)},
            }
        ]
