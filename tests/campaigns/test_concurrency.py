"""Real concurrent transactions on PostgreSQL: each thread has its own connection and transaction.

To be sure the two contenders really collide rather than run one after the other, a third
transaction holds the campaign's row lock until PostgreSQL reports both contenders waiting on it;
then it lets go and they race for the row.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from campaigns import services
from campaigns.choices import Action, Status
from campaigns.models import Campaign, CampaignAudit
from config.errors import DomainError, InvalidTransition, ReadOnly
from tests.concurrency import run_together

S = Status
# serialized_rollback: each test starts with the rows migrations made (the role groups), which a
# transactional test case flushes at the end.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
TIMEOUT = 30


def lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@contextmanager
def row_held(campaign_id: int) -> Iterator[Callable[[int], None]]:
    """Hold the campaign's row lock in another transaction; the yielded function waits until `n`
    other transactions queue behind it, then releases the lock."""
    locked, release = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def hold() -> None:
        try:
            with transaction.atomic():
                Campaign.objects.select_for_update().get(pk=campaign_id)
                locked.set()
                release.wait(TIMEOUT)
        except BaseException as exc:  # reported to the test thread
            failure.append(exc)
            locked.set()
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(TIMEOUT) and not failure, failure

    def release_when_waiting(n: int) -> None:
        deadline = time.monotonic() + TIMEOUT
        while lock_waiters() < n:
            assert time.monotonic() < deadline, "the contenders never queued on the row lock"
            time.sleep(0.01)
        release.set()

    try:
        yield release_when_waiting
    finally:
        release.set()
        holder.join(TIMEOUT)


def test_publish_and_archive_of_one_draft_apply_exactly_one(
    marketer, approver, campaign_factory
) -> None:
    draft = campaign_factory(status=S.DRAFT)

    with row_held(draft.pk) as release_when_waiting:
        publish, archive = run_together(
            lambda: services.campaign_publish(actor=marketer, campaign_id=draft.pk),
            lambda: services.campaign_archive(actor=approver, campaign_id=draft.pk),
            while_started=lambda: release_when_waiting(2),
        )

    draft.refresh_from_db()
    rows = list(
        CampaignAudit.objects.filter(campaign=draft, action__in=[Action.PUBLISH, Action.ARCHIVE])
    )
    assert len(rows) == 1
    if isinstance(archive, DomainError):
        # Publish won: the campaign is live, and a live campaign cannot be archived.
        assert isinstance(publish, Campaign)
        assert isinstance(archive, InvalidTransition)
        assert archive.message == "Live campaigns must be stopped before they are archived."
        assert (draft.status, draft.archived_at) == (S.SCHEDULED, None)
        assert (rows[0].action, rows[0].actor, rows[0].to_status) == (
            Action.PUBLISH,
            marketer,
            S.SCHEDULED,
        )
    else:
        # Archive won: the draft is read-only, and publishing it is refused.
        assert isinstance(publish, ReadOnly)
        assert publish.message == "Archived campaigns are read-only; clone it to work on it again."
        assert (draft.status, draft.archived_at is not None) == (S.DRAFT, True)
        assert (rows[0].action, rows[0].actor) == (Action.ARCHIVE, approver)


def test_two_stops_of_one_campaign_stop_it_once(marketer, approver, campaign_factory) -> None:
    running = campaign_factory(status=S.RUNNING)

    with row_held(running.pk) as release_when_waiting:
        outcomes = run_together(
            lambda: services.campaign_stop(actor=marketer, campaign_id=running.pk),
            lambda: services.campaign_stop(actor=approver, campaign_id=running.pk),
            while_started=lambda: release_when_waiting(2),
        )

    stopped = [o for o in outcomes if isinstance(o, Campaign)]
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(stopped) == 1 and len(refused) == 1, outcomes
    assert isinstance(refused[0], InvalidTransition)
    assert refused[0].message == "The campaign is already stopped."
    running.refresh_from_db()
    assert running.status == S.STOPPED
    [row] = CampaignAudit.objects.filter(campaign=running)
    assert (row.action, row.from_status, row.to_status) == (Action.STOP, S.RUNNING, S.STOPPED)


def test_two_auto_archive_runs_at_once_archive_each_campaign_once(campaign_factory) -> None:
    old = dt.datetime(2024, 1, 10, 12, tzinfo=dt.UTC)
    due = {campaign_factory(status=S.COMPLETED, last_active_at=old).pk for _ in range(60)}
    today = dt.date(2024, 7, 10)

    counts = run_together(
        lambda: services.campaigns_auto_archive(today=today, batch_size=5),
        lambda: services.campaigns_auto_archive(today=today, batch_size=5),
    )

    assert all(isinstance(c, int) for c in counts), counts
    assert sum(counts) == len(due)
    assert set(Campaign.objects.archived().values_list("pk", flat=True)) == due
    per_campaign = CampaignAudit.objects.filter(action=Action.AUTO_ARCHIVE).values_list(
        "campaign_id", flat=True
    )
    assert sorted(per_campaign) == sorted(due)


def test_auto_archive_skips_a_campaign_another_transaction_holds(campaign_factory) -> None:
    old = dt.datetime(2024, 1, 10, 12, tzinfo=dt.UTC)
    busy, free = (campaign_factory(status=S.STOPPED, last_active_at=old) for _ in range(2))
    today = dt.date(2024, 7, 10)

    with row_held(busy.pk):
        started = timezone.now()
        [count] = run_together(lambda: services.campaigns_auto_archive(today=today))
        assert timezone.now() - started < dt.timedelta(seconds=TIMEOUT / 2)  # it did not wait
    assert count == 1
    assert set(Campaign.objects.archived().values_list("pk", flat=True)) == {free.pk}

    # The next run (tomorrow's, or a retry) picks it up.
    assert services.campaigns_auto_archive(today=today) == 1
    assert Campaign.objects.active().count() == 0
