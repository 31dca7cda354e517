"""Saved segments under real concurrent transactions: two segments cannot be made to use each
other at the same moment, and a segment cannot be deleted while a save that references it is
under way. A holder transaction makes sure the contenders collide rather than run in turn."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections, transaction

from audience import segment_services as services
from audience.models import Segment
from campaigns.validation import validate_who
from config.errors import Conflict, Invalid
from tests.concurrency import run_together
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
TIMEOUT = 30


def group(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {"type": "group", "match": "all", "conditions": list(conditions)}


def uses(segment: Segment) -> dict[str, Any]:
    return {"type": "segment", "segment_id": segment.pk}


def waiting(locktype: str | None = None) -> int:
    """Sessions of this test database waiting for a lock (advisory ones, or any)."""
    with connection.cursor() as cursor:
        # pg_stat_activity is read once per transaction unless the snapshot is dropped.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE NOT l.granted AND a.datname = current_database() "
            "AND (%s::text IS NULL OR l.locktype = %s)",
            [locktype, locktype],
        )
        return cursor.fetchone()[0]


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, "the contenders never queued"
        time.sleep(0.02)


class Holder(threading.Thread):
    """A transaction that runs `take`, waits until `queued()` holds, then commits; `collided`
    says the contenders did queue behind it."""

    def __init__(self, take: Callable[[], None], queued: Callable[[], bool]) -> None:
        super().__init__()
        self.take, self.queued = take, queued
        self.ready, self.collided = threading.Event(), False

    def run(self) -> None:
        try:
            with transaction.atomic():
                self.take()
                self.ready.set()
                wait_for(self.queued)
                self.collided = True
        finally:
            connections.close_all()


def hold_then_release(take: Callable[[], None], queued: Callable[[], bool]) -> Holder:
    holder = Holder(take, queued)
    holder.start()
    assert holder.ready.wait(TIMEOUT)
    return holder


def test_two_segments_cannot_be_made_to_use_each_other_at_once(marketer):
    a = services.segment_create(actor=marketer, name="A", definition=group())
    b = services.segment_create(actor=marketer, name="B", definition=group())

    def lock() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [services._DEFINITION_LOCK_KEY])

    holder = hold_then_release(lock, lambda: waiting("advisory") >= 2)
    results = run_together(
        lambda: services.segment_update(actor=marketer, segment_id=a.pk, definition=group(uses(b))),
        lambda: services.segment_update(actor=marketer, segment_id=b.pk, definition=group(uses(a))),
        timeout=TIMEOUT,
    )
    holder.join(TIMEOUT)
    assert holder.collided
    saved = [r for r in results if isinstance(r, Segment)]
    refused = [r for r in results if isinstance(r, Invalid)]
    assert len(saved) == 1 and len(refused) == 1, results
    assert "loop" in next(iter(refused[0].errors.values()))[0]
    # What is stored has no loop: one of them still uses nothing.
    definitions = [s.definition for s in Segment.objects.order_by("name")]
    assert group() in definitions


def test_a_segment_is_not_deleted_under_a_campaign_being_saved_with_it(marketer):
    pune = services.segment_create(actor=marketer, name="Pune", definition=group())

    def save_campaign() -> None:
        # What campaign_create does: check the Who (reading the segment FOR KEY SHARE), insert.
        assert validate_who(group(uses(pune))) == {}
        CampaignFactory(name="Spring", who=group(uses(pune)), created_by=marketer)

    holder = hold_then_release(save_campaign, lambda: waiting() >= 1)
    (result,) = run_together(
        lambda: services.segment_delete(actor=marketer, segment_id=pune.pk), timeout=TIMEOUT
    )
    holder.join(TIMEOUT)
    assert holder.collided
    assert isinstance(result, Conflict), result
    assert Segment.objects.filter(pk=pune.pk).exists()
