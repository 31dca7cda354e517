"""Auto-archival: Completed, Stopped and Draft campaigns are archived six calendar months after
their last active date, counted in the project's time zone (settings.TIME_ZONE)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from campaigns.choices import Action, Status
from campaigns.models import Campaign, CampaignAudit
from campaigns.services import auto_archive_due_on, campaigns_auto_archive

S = Status
pytestmark = pytest.mark.django_db

D = dt.date


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


def archived_ids() -> set[int]:
    return set(Campaign.objects.archived().values_list("pk", flat=True))


# The spec's examples, and month ends: (status, last active date, the first day it is archived).
EXAMPLES: list[tuple[str, Status, dt.date, dt.date]] = [
    ("Diwali 2024 – Push completed on Mar 10 2024", S.COMPLETED, D(2024, 3, 10), D(2024, 9, 10)),
    ("Summer Sale – Email stopped on Jan 15 2025", S.STOPPED, D(2025, 1, 15), D(2025, 7, 15)),
    ("Promo Dec 2024 created on Dec 1 2024", S.DRAFT, D(2024, 12, 1), D(2025, 6, 1)),
    ("Aug 31 clamps to Feb 28", S.STOPPED, D(2024, 8, 31), D(2025, 2, 28)),
    ("Aug 31 clamps to Feb 29 in a leap year", S.COMPLETED, D(2023, 8, 31), D(2024, 2, 29)),
    ("Mar 31 clamps to Sep 30", S.DRAFT, D(2025, 3, 31), D(2025, 9, 30)),
]


@pytest.mark.parametrize(
    ("case", "status", "last_active", "due"), EXAMPLES, ids=[e[0] for e in EXAMPLES]
)
def test_archived_on_the_due_date_and_not_the_day_before(
    campaign_factory, case, status, last_active, due
) -> None:
    campaign = campaign_factory(name=case, status=status, last_active_at=noon(last_active))
    assert auto_archive_due_on(campaign.last_active_at) == due

    assert campaigns_auto_archive(today=due - dt.timedelta(days=1)) == 0
    assert archived_ids() == set()

    assert campaigns_auto_archive(today=due) == 1
    campaign.refresh_from_db()
    assert campaign.archived_at is not None
    assert campaign.status == status
    [row] = CampaignAudit.objects.filter(campaign=campaign)
    assert (row.actor, row.action, row.from_status, row.to_status) == (
        None,
        Action.AUTO_ARCHIVE,
        status,
        status,
    )
    assert row.changes == {
        "last_active_at": campaign.last_active_at.isoformat(),
        "due_on": due.isoformat(),
    }


def test_a_campaign_long_overdue_is_archived_too(campaign_factory) -> None:
    campaign = campaign_factory(status=S.COMPLETED, last_active_at=noon(D(2020, 1, 1)))
    assert campaigns_auto_archive(today=D(2025, 1, 1)) == 1
    assert archived_ids() == {campaign.pk}


@pytest.mark.parametrize(
    "status", [S.SCHEDULED, S.RUNNING, S.AWAITING_NEXT_RUN, S.PENDING_APPROVAL, S.REJECTED]
)
def test_live_pending_and_rejected_campaigns_are_never_auto_archived(
    campaign_factory, status
) -> None:
    campaign_factory(status=status, last_active_at=noon(D(2020, 1, 1)))
    assert campaigns_auto_archive(today=D(2026, 1, 1)) == 0
    assert archived_ids() == set()
    assert not CampaignAudit.objects.exists()


def test_already_archived_campaigns_are_left_alone(campaign_factory) -> None:
    archived_at = noon(D(2021, 1, 1))
    campaign = campaign_factory(
        status=S.STOPPED, last_active_at=noon(D(2020, 1, 1)), archived_at=archived_at
    )
    assert campaigns_auto_archive(today=D(2026, 1, 1)) == 0
    campaign.refresh_from_db()
    assert campaign.archived_at == archived_at
    assert not CampaignAudit.objects.exists()


def test_running_twice_archives_each_campaign_once(campaign_factory) -> None:
    due = [
        campaign_factory(status=status, last_active_at=noon(D(2024, 1, 1)))
        for status in (S.DRAFT, S.STOPPED, S.COMPLETED)
    ]
    campaign_factory(status=S.DRAFT, last_active_at=noon(D(2024, 6, 1)))  # not due yet

    assert campaigns_auto_archive(today=D(2024, 7, 1)) == 3
    first = dict(Campaign.objects.archived().values_list("pk", "archived_at"))
    assert campaigns_auto_archive(today=D(2024, 7, 1)) == 0

    assert set(first) == {c.pk for c in due}
    assert dict(Campaign.objects.archived().values_list("pk", "archived_at")) == first
    assert CampaignAudit.objects.filter(action=Action.AUTO_ARCHIVE).count() == 3


def test_batches_archive_everything_due(campaign_factory) -> None:
    for _ in range(7):
        campaign_factory(status=S.COMPLETED, last_active_at=noon(D(2024, 1, 1)))
    assert campaigns_auto_archive(today=D(2024, 7, 1), batch_size=3) == 7
    assert Campaign.objects.active().count() == 0


def test_without_a_date_it_uses_today(campaign_factory) -> None:
    old = campaign_factory(status=S.STOPPED, last_active_at=timezone.now() - dt.timedelta(days=200))
    campaign_factory(status=S.STOPPED, last_active_at=timezone.now() - dt.timedelta(days=150))
    assert campaigns_auto_archive() == 1
    assert archived_ids() == {old.pk}


# Near midnight the project's date and the UTC date differ; the project's date counts.
TIME_ZONES: list[tuple[str, dt.datetime, dt.date]] = [
    # 01:30 on Mar 10 in Kolkata, still Mar 9 in UTC.
    ("Asia/Kolkata", dt.datetime(2024, 3, 9, 20, 0, tzinfo=dt.UTC), D(2024, 9, 10)),
    # 23:00 on Mar 10 in New York, already Mar 11 in UTC.
    ("America/New_York", dt.datetime(2024, 3, 11, 3, 0, tzinfo=dt.UTC), D(2024, 9, 10)),
    ("UTC", dt.datetime(2024, 3, 9, 20, 0, tzinfo=dt.UTC), D(2024, 9, 9)),
    ("UTC", dt.datetime(2024, 3, 11, 3, 0, tzinfo=dt.UTC), D(2024, 9, 11)),
]


@pytest.mark.parametrize(
    ("tz", "last_active_at", "due"),
    TIME_ZONES,
    ids=[f"{tz}-{moment:%d %H:%M}" for tz, moment, _ in TIME_ZONES],
)
def test_the_date_is_the_one_in_the_projects_time_zone(
    campaign_factory, tz, last_active_at, due
) -> None:
    with override_settings(TIME_ZONE=tz):
        campaign = campaign_factory(status=S.COMPLETED, last_active_at=last_active_at)
        assert auto_archive_due_on(last_active_at) == due
        assert campaigns_auto_archive(today=due - dt.timedelta(days=1)) == 0
        assert campaigns_auto_archive(today=due) == 1
    assert archived_ids() == {campaign.pk}
