"""The All Campaigns filters: one FilterSet read by the page and by the REST list endpoint.

Every parameter may repeat (`?status=draft&status=running`) or take commas (`?status=draft,running`);
different parameters combine with AND, the values of one parameter with OR. Anything the filters
cannot understand (a status that does not exist, a label deleted since the link was made, a date
that is not a date) is an error naming the parameter, never a quietly empty list: a typo in
`status=runing` must not look like "no running campaigns". The API answers such errors with a 400;
the page shows them and ignores only the bad values (`cleaned_without_errors`).

See docs/campaign-list.md for the parameters as users and API clients see them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import django_filters as filters
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import QueryDict
from django.utils import timezone
from django_filters.fields import ChoiceField
from drf_spectacular.utils import extend_schema_field

from campaigns.choices import CampaignType, Channel, Delivery, Status
from campaigns.models import Campaign
from labels.models import Label

BIGINT_MAX = 2**63 - 1
# There are at most 900 labels, so a longer list can only be a mistake (or an attack).
MAX_LABELS = 900
# Creators are a handful of marketers; each e-mail is one OR in the user look-up.
MAX_CREATORS = 100

# The spec's channel options, in its order, each mapped onto the campaign channels it covers.
CHANNEL_GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "email": ("Email", (Channel.EMAIL.value,)),
    "sms": ("SMS", (Channel.SMS.value,)),
    "push": ("Push Notifications", (Channel.PUSH.value,)),
    "in_app": ("Mobile In-app", (Channel.IN_APP.value,)),
    "web": ("Web", (Channel.WEB_POPUP.value, Channel.WEB_EXIT_INTENT.value)),
    "audiences": (
        "Audiences",
        (Channel.FACEBOOK_AUDIENCE.value, Channel.TIKTOK_AUDIENCE.value),
    ),
    "web_push": ("Web Push", (Channel.WEB_PUSH.value,)),
    "webhook": ("Webhooks", (Channel.WEBHOOK.value,)),
    "google_ads": ("Google Ads", (Channel.GOOGLE_ADS.value,)),
    "app_inbox": ("App Inbox", (Channel.APP_INBOX.value,)),
    "whatsapp": ("WhatsApp", (Channel.WHATSAPP.value,)),
    "partner": ("Partner", (Channel.PARTNER.value,)),
    "native_display": ("Native Display", (Channel.NATIVE_DISPLAY.value,)),
    "web_native_display": ("Web Native Display", (Channel.WEB_NATIVE_DISPLAY.value,)),
}

# The quick filters at the top of the page, in display order. Each is one condition (below),
# so the list, its chip count and the API agree on what "Mine" means.
QUICK_FILTERS: dict[str, str] = {
    "running": "Running",
    "scheduled": "Scheduled",
    "awaiting_approval": "Awaiting approval",
    "mine": "Mine",
    "drafts": "Drafts",
}
QUICK_STATUSES: dict[str, str] = {
    "running": Status.RUNNING.value,
    "scheduled": Status.SCHEDULED.value,
    "awaiting_approval": Status.PENDING_APPROVAL.value,
    "drafts": Status.DRAFT.value,
}

ARCHIVED_CHOICES = (
    ("false", "Hide archived campaigns"),
    ("true", "Only archived campaigns"),
    ("all", "Archived and live campaigns"),
)

# Sort keys users may choose; the id breaks ties in the same direction, so every ordering is a
# total order that keyset (cursor) pages can walk without repeating or skipping rows. Status
# sorts by its stored value (awaiting_next_run, completed, draft, pending_approval, ...).
ORDERING_FIELDS = ("name", "status", "last_active_at", "created_at")
DEFAULT_ORDERING = "-last_active_at"

# Every query parameter the FilterSet reads, e.g. for keeping them in links or saving them.
FILTER_PARAMETERS = (
    "status",
    "channel",
    "channel_group",
    "type",
    "delivery",
    "created_by",
    "label",
    "q",
    "archived",
    "created_after",
    "created_before",
    "last_active_after",
    "last_active_before",
    "quick",
    "ordering",
)


def ordering_choices(fields: Iterable[str]) -> list[tuple[str, str]]:
    return [(f"{sign}{name}", f"{sign}{name}") for name in fields for sign in ("", "-")]


def ordering_fields(ordering: str | None) -> tuple[str, str]:
    """The ORDER BY of a sort key: the key, then the id in the same direction."""
    key = ordering or DEFAULT_ORDERING
    return key, "-id" if key.startswith("-") else "id"


def quick_condition(name: str, user: Any) -> Q:
    """The condition of one quick filter; `user` is who "Mine" means."""
    if name == "mine":
        # A request without a signed-in user has no campaigns of its own (IS NULL never matches).
        pk = user.pk if user is not None and user.is_authenticated else None
        return Q(created_by_id=pk)
    return Q(status=QUICK_STATUSES[name])


def _shown(value: str) -> str:
    """A user's value quoted in a message, cut so that a huge parameter is not echoed back."""
    return f"“{value[:40]}…”" if len(value) > 40 else f"“{value}”"


# ---------------------------------------------------------------------------------------------
# Fields: they read and check the values and report every bad one at once (a malformed label id
# does not hide a deleted one), one ValidationError each, carrying the value in params["value"],
# so that cleaned_without_errors can drop exactly the bad ones.
# ---------------------------------------------------------------------------------------------
def _refused(value: str, template: str) -> ValidationError:
    """A refusal of one value. The value reaches the message only through its params (as
    %(value)s, or %(shown)s cut short): whoever formats the message (Django, DRF) applies them
    with %, so a value with a % in it must never be part of the template."""
    return ValidationError(
        template, code="invalid_choice", params={"value": value, "shown": _shown(value)}
    )


def _literal(text: str) -> str:
    """Our own text inside a template that will be %-formatted."""
    return text.replace("%", "%%")


class ListValueField(forms.Field):
    """Repeated parameters or commas: a list of distinct, stripped, non-empty strings."""

    widget = forms.SelectMultiple  # reads every ?name=... of a QueryDict, not only the last
    noun = "value"
    max_values = 100

    def to_python(self, value: Any) -> list[str]:
        if value in self.empty_values:
            return []
        items = [value] if isinstance(value, str) else list(value)
        # A dict keeps the first-seen order and makes the de-duplication linear: a URL can
        # carry thousands of comma-separated values before max_values refuses them.
        out: dict[str, None] = {}
        for item in items:
            for part in str(item).split(","):
                part = part.strip()
                if part:
                    out[part] = None
        return list(out)

    def clean(self, value: Any) -> Any:
        values = self.to_python(value)
        self.validate(values)
        if len(values) > self.max_values:
            raise ValidationError(
                f"Choose at most {self.max_values} {self.noun}s; {len(values)} were given.",
                code="max_values",
            )
        errors = [
            _refused(v, "%(shown)s " + problem)
            for v in values
            if (problem := self.value_problem(v))
        ]
        well_formed = [v for v in values if not self.value_problem(v)]
        result, missing = self.resolve(well_formed) if well_formed else ([], [])
        errors += missing
        if errors:
            raise ValidationError(errors)
        return result

    def value_problem(self, value: str) -> str | None:
        """Why one value is refused on its face, as the rest of a sentence that starts with the
        value ("is not a label id."); a %-template, so a literal % is written %%. None if fine."""
        return None

    def resolve(self, values: list[str]) -> tuple[list[Any], list[ValidationError]]:
        """What the well-formed values stand for, and a refusal for each that names nothing."""
        return values, []


class ChoiceListField(ListValueField):
    def __init__(self, *, choices: Iterable[tuple[str, str]], noun: str, **kwargs: Any) -> None:
        self.choices = [(str(value), str(label)) for value, label in choices]
        self.noun = noun
        super().__init__(**kwargs)

    def value_problem(self, value: str) -> str | None:
        allowed = [choice for choice, _ in self.choices]
        if value in allowed:
            return None
        return _literal(f"is not a {self.noun}; choose from {', '.join(allowed)}.")


def _positive_id(value: str) -> int | None:
    if value.isascii() and value.isdigit() and 0 < int(value) <= BIGINT_MAX:
        return int(value)
    return None


class LabelIdsField(ListValueField):
    """Label ids; each must name a label that exists (one query for all of them)."""

    noun = "label"
    max_values = MAX_LABELS

    def value_problem(self, value: str) -> str | None:
        return None if _positive_id(value) else "is not a label id."

    def resolve(self, values: list[str]) -> tuple[list[Any], list[ValidationError]]:
        ids = [int(v) for v in values]
        found = set(Label.objects.filter(pk__in=ids).values_list("pk", flat=True))
        missing = [
            _refused(v, "There is no label with id %(value)s; it may have been deleted.")
            for v in values
            if int(v) not in found
        ]
        return [pk for pk in ids if pk in found], missing


class CreatorField(ListValueField):
    """Users by id or e-mail (ignoring case); each must name a user (one query for all)."""

    noun = "creator"
    max_values = MAX_CREATORS

    def value_problem(self, value: str) -> str | None:
        if _positive_id(value):
            return None
        try:
            EmailValidator()(value)
        except ValidationError:
            return "is neither a user id nor an e-mail address."
        return None

    def resolve(self, values: list[str]) -> tuple[list[Any], list[ValidationError]]:
        ids = {int(v) for v in values if _positive_id(v)}
        match = Q(pk__in=ids)
        for email in (v for v in values if not _positive_id(v)):
            match |= Q(email__iexact=email)
        rows = list(get_user_model().objects.filter(match).values_list("pk", "email"))
        found_ids = {pk for pk, _ in rows}
        by_email: dict[str, list[int]] = {}
        for pk, email in rows:
            by_email.setdefault(email.lower(), []).append(pk)
        users: list[int] = []
        missing = []
        for v in values:
            pks = [int(v)] if _positive_id(v) else by_email.get(v.lower(), [])
            pks = [pk for pk in pks if pk in found_ids]
            if not pks:
                what = "id %(value)s" if _positive_id(v) else "the e-mail %(shown)s"
                missing.append(_refused(v, f"There is no user with {what}."))
            users += [pk for pk in pks if pk not in users]
        return users, missing


class CampaignFilterForm(forms.Form):
    """Checks across fields: a date range whose end comes before its start is a mistake."""

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for prefix in ("created", "last_active"):
            start, end = data.get(f"{prefix}_after"), data.get(f"{prefix}_before")
            if start and end and end < start:
                self.add_error(
                    f"{prefix}_before",
                    ValidationError(
                        f"{end.isoformat()} is before {prefix}_after ({start.isoformat()}).",
                        code="inverted_range",
                    ),
                )
        return data


# ---------------------------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------------------------
class ChoiceListFilter(filters.MultipleChoiceFilter):
    """Any of the values. A MultipleChoiceFilter so the schema shows an array of the choices."""

    field_class = ChoiceListField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # A column of the campaign itself joins nothing, so DISTINCT would only defeat the
        # (status, last_active_at, id) index and sort the whole match instead of reading 50 rows.
        kwargs.setdefault("distinct", False)
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet[Campaign], value: list[str]) -> QuerySet[Campaign]:
        # One IN list rather than django-filter's OR of equalities: the same rows, a simpler plan.
        return qs.filter(**{f"{self.field_name}__in": value}) if value else qs


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string"},
        "description": "Created by any of these users, each a user id or an e-mail address "
        "(ignoring case); a user that does not exist is a 400.",
    }
)
class CreatorFilter(filters.Filter):
    field_class = CreatorField

    def filter(self, qs: QuerySet[Campaign], value: list[int]) -> QuerySet[Campaign]:
        return qs.filter(created_by_id__in=value) if value else qs


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "integer", "minimum": 1},
        "description": "Carrying any of these labels (label ids); a label that does not exist "
        "is a 400.",
    }
)
class LabelFilter(filters.Filter):
    """Campaigns carrying any of the labels: an EXISTS, so a campaign never appears twice."""

    field_class = LabelIdsField

    def filter(self, qs: QuerySet[Campaign], value: list[int]) -> QuerySet[Campaign]:
        if not value:
            return qs
        links = Campaign.labels.through.objects.filter(
            campaign_id=OuterRef("pk"), label_id__in=value
        )
        return qs.filter(Exists(links))


class SingleChoiceField(ChoiceField):
    """One of the choices; a refusal names the value (cut short) and the choices."""

    def validate(self, value: Any) -> None:
        try:
            super().validate(value)
        except ValidationError as exc:
            if exc.code != "invalid_choice":
                raise
            allowed = ", ".join(str(choice) for choice, _ in self.choices if choice != "")
            raise _refused(
                str(value), "%(shown)s is not one of: " + _literal(allowed) + "."
            ) from None


class SingleChoiceFilter(filters.ChoiceFilter):
    field_class = SingleChoiceField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("empty_label", None)
        super().__init__(*args, **kwargs)


def _date(help_text: str, method: str) -> filters.DateFilter:
    return filters.DateFilter(
        method=method,
        input_formats=["%Y-%m-%d"],
        help_text=help_text,
        error_messages={"invalid": "Enter a date as YYYY-MM-DD."},
    )


def _day_start(day: dt.date) -> dt.datetime:
    """Midnight starting `day` in the project's time zone (where users' days begin)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class CampaignFilterSet(filters.FilterSet):
    status = ChoiceListFilter(
        choices=Status.choices, noun="status", help_text="Any of these statuses."
    )
    channel = ChoiceListFilter(
        choices=Channel.choices, noun="channel", help_text="Any of these channels."
    )
    channel_group = ChoiceListFilter(
        choices=[(key, label) for key, (label, _) in CHANNEL_GROUPS.items()],
        method="filter_channel_group",
        noun="channel option",
        help_text="Any of the filter's channel options: web = web_popup + web_exit_intent, "
        "audiences = facebook_audience + tiktok_audience, the others one channel each.",
    )
    type = ChoiceListFilter(
        choices=CampaignType.choices, noun="campaign type", help_text="Any of these types."
    )
    delivery = ChoiceListFilter(
        choices=Delivery.choices, noun="delivery type", help_text="Any of these delivery types."
    )
    created_by = CreatorFilter(help_text="Created by any of these users (id or e-mail).")
    label = LabelFilter(help_text="Carrying any of these labels (label ids).")
    q = filters.CharFilter(
        field_name="name", lookup_expr="icontains", max_length=200, help_text="Name contains."
    )
    archived = SingleChoiceFilter(
        choices=ARCHIVED_CHOICES,
        method="filter_archived",
        help_text="false (the default) hides archived campaigns, true shows only them, "
        "all shows both.",
    )
    created_after = _date("Created on or after this date.", "filter_created_after")
    created_before = _date("Created on or before this date.", "filter_created_before")
    last_active_after = _date("Last active on or after this date.", "filter_last_active_after")
    last_active_before = _date("Last active on or before this date.", "filter_last_active_before")
    quick = SingleChoiceFilter(
        choices=list(QUICK_FILTERS.items()),
        method="filter_quick",
        help_text="A quick filter: running, scheduled, awaiting_approval (pending approval), "
        "mine (created by you) or drafts; combined with the other filters.",
    )
    ordering = SingleChoiceFilter(
        choices=ordering_choices(ORDERING_FIELDS),
        method="filter_ordering",
        help_text="Sort order (default -last_active_at); ties are broken by id.",
    )

    class Meta:
        model = Campaign
        fields: list[str] = []
        form = CampaignFilterForm

    # Filters the chips count across: the counts are taken under every other filter.
    SELECTION = ("status", "quick")

    def __init__(self, data: Mapping[str, Any] | None = None, *args: Any, **kwargs: Any) -> None:
        # No data is an empty query, not an unbound FilterSet: the defaults (archived hidden,
        # newest activity first) apply either way.
        super().__init__(QueryDict() if data is None else data, *args, **kwargs)

    def filter_queryset(self, queryset: QuerySet[Campaign]) -> QuerySet[Campaign]:
        return self.filter_queryset_except(queryset, ())

    def filter_queryset_except(
        self, queryset: QuerySet[Campaign], skip: Iterable[str]
    ) -> QuerySet[Campaign]:
        """The queryset under every valid filter but those in `skip` (a bad one is left out)."""
        skip = set(skip)
        data = self.form.cleaned_data
        for name, value in data.items():
            if name not in skip:
                queryset = self.filters[name].filter(queryset, value)
        if "archived" not in skip and not data.get("archived"):
            queryset = queryset.filter(archived_at__isnull=True)
        if "ordering" not in skip and not data.get("ordering"):
            queryset = queryset.order_by(*ordering_fields(DEFAULT_ORDERING))
        return queryset

    def selection_condition(self) -> Q | None:
        """The status and quick filters as one condition (None when neither is set)."""
        data = self.form.cleaned_data
        condition = Q()
        if data.get("status"):
            condition &= Q(status__in=data["status"])
        if data.get("quick"):
            condition &= quick_condition(data["quick"], self.user)
        return condition or None

    @property
    def user(self) -> Any:
        return getattr(self.request, "user", None)

    def filter_channel_group(
        self, qs: QuerySet[Campaign], name: str, value: list[str]
    ) -> QuerySet[Campaign]:
        channels = [channel for key in value for channel in CHANNEL_GROUPS[key][1]]
        return qs.filter(channel__in=channels)

    def filter_archived(self, qs: QuerySet[Campaign], name: str, value: str) -> QuerySet[Campaign]:
        if value == "true":
            return qs.filter(archived_at__isnull=False)
        if value == "all":
            return qs
        return qs.filter(archived_at__isnull=True)

    def filter_quick(self, qs: QuerySet[Campaign], name: str, value: str) -> QuerySet[Campaign]:
        return qs.filter(quick_condition(value, self.user))

    def filter_ordering(self, qs: QuerySet[Campaign], name: str, value: str) -> QuerySet[Campaign]:
        return qs.order_by(*ordering_fields(value))

    # Dates are whole days in the project's time zone, both ends included; each bound is a range
    # condition on the column (not a __date cast), so the (last_active_at, id) index serves it.
    def filter_created_after(
        self, qs: QuerySet[Campaign], name: str, value: dt.date
    ) -> QuerySet[Campaign]:
        return qs.filter(created_at__gte=_day_start(value))

    def filter_created_before(
        self, qs: QuerySet[Campaign], name: str, value: dt.date
    ) -> QuerySet[Campaign]:
        return qs if value == dt.date.max else qs.filter(created_at__lt=_next_day_start(value))

    def filter_last_active_after(
        self, qs: QuerySet[Campaign], name: str, value: dt.date
    ) -> QuerySet[Campaign]:
        return qs.filter(last_active_at__gte=_day_start(value))

    def filter_last_active_before(
        self, qs: QuerySet[Campaign], name: str, value: dt.date
    ) -> QuerySet[Campaign]:
        if value == dt.date.max:
            return qs
        return qs.filter(last_active_at__lt=_next_day_start(value))


def _next_day_start(day: dt.date) -> dt.datetime:
    return _day_start(day + dt.timedelta(days=1))


# ---------------------------------------------------------------------------------------------
# Errors, for the page
# ---------------------------------------------------------------------------------------------
def filter_errors(filterset: filters.FilterSet) -> dict[str, list[str]]:
    """{parameter: [messages]} of a bound FilterSet; empty when every parameter is understood."""
    return {name: [str(m) for m in messages] for name, messages in filterset.errors.items()}


def cleaned_without_errors(
    data: Mapping[str, Any] | None,
    *,
    queryset: QuerySet[Campaign],
    request: Any = None,
    filterset_class: type[CampaignFilterSet] = CampaignFilterSet,
) -> tuple[CampaignFilterSet, dict[str, list[str]]]:
    """A valid FilterSet made from `data` minus what was wrong with it, and what was wrong.

    A list parameter keeps its good values (`label=3,999` with no label 999 filters by label 3);
    any other bad parameter is dropped whole. The FilterSet's `.data` is the corrected query, so
    links built from it no longer carry the bad values. Costs one more validation only when
    something was wrong.
    """
    data = data if data is not None else QueryDict()
    errors: dict[str, list[str]] = {}
    for _ in range(3):
        filterset = filterset_class(data, queryset=queryset, request=request)
        if filterset.is_valid():
            return filterset, errors
        for name, messages in filter_errors(filterset).items():
            known = errors.setdefault(name, [])
            known += [m for m in messages if m not in known]
        data = _without_bad_values(filterset, data)
    # Every field reports all its bad values in one pass, so this is not reached; if it were,
    # the parameters still refused go whole rather than reach the page as an error.
    data = _as_query_dict(data)
    for name in filterset.errors:
        data.pop(name, None)
    filterset = filterset_class(data, queryset=queryset, request=request)
    filterset.is_valid()
    return filterset, errors


def _without_bad_values(filterset: CampaignFilterSet, data: Mapping[str, Any]) -> QueryDict:
    fixed = _as_query_dict(data)
    for name, problems in filterset.errors.as_data().items():
        if name not in filterset.form.fields:
            continue
        field = filterset.form.fields[name]
        bad = {p.params["value"] for p in problems if p.params and "value" in p.params}
        keep: list[str] = []
        if isinstance(field, ListValueField) and len(bad) == len(problems):
            raw = field.widget.value_from_datadict(fixed, {}, name)
            keep = [v for v in field.to_python(raw) if v not in bad]
        if keep:
            fixed.setlist(name, keep)
        else:
            fixed.pop(name, None)
    return fixed


def _as_query_dict(data: Mapping[str, Any]) -> QueryDict:
    if isinstance(data, QueryDict):
        return data.copy()
    fixed = QueryDict(mutable=True)
    for key, value in data.items():
        if isinstance(value, list | tuple):
            fixed.setlist(key, [str(v) for v in value])
        elif value is not None:
            fixed[key] = str(value)
    return fixed
