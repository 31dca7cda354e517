"""Reads for the dispatch pages: a campaign's runs and their figures, and how each channel is
configured now.

A run's figures come from its batches' counters, or the totals a finished run keeps
(channels.scheduler.run_totals), never from counting the ledger, so the campaign page can poll them every
two seconds during a send of a million recipients.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, Func, IntegerField, Min, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from campaigns.models import Campaign
from channels import display, scheduler
from channels.models import (
    Batch,
    BatchStatus,
    Delivery,
    DeliveryStatus,
    ProviderConfig,
    Run,
    RunStatus,
)
from channels.providers import PROVIDERS, provider_for
from channels.services import settings_for

LIVE = (RunStatus.RESOLVING, RunStatus.SENDING)
HISTORY_PAGE = 10
TOP_ERRORS = 5


# ----------------------------------------------------------------------------------------------
# Runs
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Figure:
    code: str
    label: str
    count: int


@dataclass
class RunProgress:
    """One run's figures as the Delivery panel shows them."""

    run: Run
    targeted: int
    sent: int
    failed: int
    dropped: int
    pending: int
    dropped_by: list[Figure]
    failed_by: list[Figure]
    # The most frequent failure texts from the ledger (finished runs only).
    errors: list[Figure] = field(default_factory=list)
    # Recipients in batches not due yet (their own time zone, the end of quiet hours).
    waiting: int = 0
    waiting_until: dt.datetime | None = None

    @property
    def live(self) -> bool:
        return self.run.status in LIVE

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.dropped

    @property
    def percent(self) -> int:
        if not self.targeted:
            return 100 if not self.live else 0
        return min(100, self.done * 100 // self.targeted)


def _figures(counts: dict[str, int], labels: dict[str, str]) -> list[Figure]:
    return [
        Figure(code, labels.get(code) or display.reason_label(code), n)
        for code, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        if n
    ]


def current_run(campaign: Campaign) -> Run | None:
    """The run the panel shows: the newest one still resolving or sending, else the newest."""
    return (
        Run.objects.filter(campaign=campaign)
        .select_related("stopped_by")
        .annotate(
            finished=Case(
                When(status__in=LIVE, then=Value(0)), default=Value(1), output_field=IntegerField()
            )
        )
        .order_by("finished", "-scheduled_for", "-id")
        .first()
    )


def run_progress(run: Run, *, with_errors: bool = True) -> RunProgress:
    """The run's figures: the totals a finished run recorded, else its batches' counters now.

    `with_errors` adds the most frequent failure texts of a run that is over (one GROUP BY over
    its failed ledger rows; never while it is live, so polling costs no ledger read)."""
    totals = scheduler.run_totals(run)
    dropped_by = dict(totals.get("dropped") or {})
    failed_by = dict(totals.get("failed_reasons") or {})
    progress = RunProgress(
        run=run,
        targeted=int(totals.get("targeted") or run.targeted),
        sent=int(totals.get("sent") or 0),
        failed=int(totals.get("failed") or 0),
        dropped=sum(dropped_by.values()),
        pending=int(totals.get("pending") or 0),
        dropped_by=_figures(dropped_by, display.DROP_REASONS),
        failed_by=_figures(failed_by, display.FAILURE_REASONS),
    )
    if progress.live:
        waiting = (
            Batch.objects.filter(run=run, not_before__gt=timezone.now())
            .exclude(status=BatchStatus.DONE)
            .aggregate(
                n=Coalesce(
                    Sum(
                        Func(
                            "profile_ids",
                            Value(1),
                            function="array_length",
                            output_field=IntegerField(),
                        )
                    ),
                    0,
                ),
                until=Min("not_before"),
            )
        )
        progress.waiting = int(waiting["n"] or 0)
        progress.waiting_until = waiting["until"]
    elif with_errors and progress.failed:
        rows = (
            Delivery.objects.filter(run_id=run.pk, status=DeliveryStatus.FAILED)
            .values("reason")
            .annotate(n=Count("profile_id"))
            .order_by("-n", "reason")[:TOP_ERRORS]
        )
        progress.errors = [Figure(r["reason"], r["reason"], r["n"]) for r in rows]
    return progress


@dataclass(frozen=True)
class HistoryRow:
    run: Run
    sent: int
    failed: int
    dropped: int


def run_history(campaign: Campaign, page: Any = 1) -> Page[HistoryRow]:
    """Every run of the campaign, newest first, a page at a time, with sent / failed / dropped."""
    paginator = Paginator(
        Run.objects.filter(campaign=campaign)
        .select_related("stopped_by")
        .only(
            "id",
            "kind",
            "status",
            "scheduled_for",
            "finished_at",
            "targeted",
            "totals",
            "stopped_by__email",
            "stopped_by__username",
        )
        .order_by("-scheduled_for", "-id"),
        HISTORY_PAGE,
    )
    result = paginator.get_page(page)
    runs = list(result.object_list)
    open_ids = [r.pk for r in runs if not (r.status == RunStatus.DONE and r.totals)]
    counters = scheduler.batch_counters(open_ids)
    rows = []
    for run in runs:
        totals = scheduler.run_totals(run, counters)
        sent = int(totals.get("sent") or 0)
        failed = int(totals.get("failed") or 0)
        dropped = sum((totals.get("dropped") or {}).values())
        rows.append(HistoryRow(run, sent, failed, dropped))
    result.object_list = rows
    return result


# ----------------------------------------------------------------------------------------------
# Channels
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShownSetting:
    label: str
    value: str


@dataclass
class ChannelStatus:
    """How a channel sends now, and where that comes from (never a secret's value)."""

    channel: str
    label: str
    provider: str  # "" when not configured
    provider_label: str
    source: str | None  # "admin", "settings", "dry_run" or None
    source_label: str
    options: list[ShownSetting]
    secrets: list[ShownSetting]  # value "set" / "not set"
    row: ProviderConfig | None
    # Labels of required settings the configuration in use lacks (its messages fail meanwhile).
    missing: list[str] = field(default_factory=list)

    @property
    def configured(self) -> bool:
        return self.source is not None


def shown_value(value: Any) -> str:
    """An option as the page shows it: a URL's password is masked (an option is not a secret,
    but a URL may carry one)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    text = str(value)
    if "://" in text:
        parts = urlsplit(text)
        if parts.password:
            host = parts.hostname or ""
            port = f":{parts.port}" if parts.port else ""
            netloc = f"{parts.username}:•••@{host}{port}"
            return urlunsplit(parts._replace(netloc=netloc))
    return text


def channel_status(channel: str, row: ProviderConfig | None = None) -> ChannelStatus:
    choice = provider_for(channel)
    if choice is None:
        provider, source, options, secrets = "", None, {}, {}
    else:
        provider, source = choice.provider, choice.source
        options, secrets = choice.options, choice.secrets
    shown_options: list[ShownSetting] = []
    shown_secrets: list[ShownSetting] = []
    missing: list[str] = []
    for setting in settings_for(channel, provider):
        value = (secrets if setting.secret else options).get(setting.name)
        if setting.required and value in (None, ""):
            missing.append(setting.label)
        if setting.secret:
            shown_secrets.append(ShownSetting(setting.label, "set" if value else "not set"))
        elif value not in (None, ""):
            shown_options.append(ShownSetting(setting.label, shown_value(value)))
    return ChannelStatus(
        channel=channel,
        label=display.channel_label(channel),
        provider=provider,
        provider_label=display.provider_label(channel, provider) if provider else "None",
        source=source,
        source_label=display.SOURCE_LABELS[source],
        options=shown_options,
        secrets=shown_secrets,
        row=row,
        missing=missing,
    )


def channel_statuses() -> list[ChannelStatus]:
    rows = {r.channel: r for r in ProviderConfig.objects.select_related("updated_by")}
    return [channel_status(channel, rows.get(channel)) for channel in PROVIDERS]
