"""Batches sent at the same moment, each in its own connection and transaction: a retried batch
racing its first try adds each event once, and concurrent updates of one profile both land."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from audience.models import Event, Profile, PropertyDefinition
from audience.services import events_ingest, profiles_upsert
from tests.concurrency import run_together

# transaction: each batch commits in its own connection. serialized_rollback: each test starts with
# the rows migrations made (the role groups), which a transactional test case flushes at the end.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(autouse=True)
def _no_events_left():
    """The events table is not Django's to flush (an unmanaged model)."""
    yield
    Event.objects.all().delete()


def batch(first: int, last: int) -> list[dict]:
    ts = (timezone.now() - dt.timedelta(minutes=5)).isoformat()
    return [
        {"identity": f"u{i % 7}", "name": "Charged", "ts": ts, "record_id": f"order-{i}"}
        for i in range(first, last)
    ]


def test_the_same_batch_sent_twice_at_once_adds_each_event_once():
    results = run_together(
        lambda: events_ingest(batch(0, 300), source="a"),
        lambda: events_ingest(batch(100, 400), source="b"),
    )
    for result in results:
        assert not isinstance(result, Exception), result
        assert result.rejected == []
    assert Event.objects.count() == 400
    written = sum(1 for r in results for item in r.accepted if not item["duplicate"])
    assert written == 400
    # The profiles both batches created at once: one each.
    assert Profile.objects.count() == 7


def test_concurrent_updates_of_one_profile_both_land():
    profiles_upsert([{"identity": "u1", "properties": {"base": 1}}], source="test")
    results = run_together(
        lambda: profiles_upsert(
            [{"identity": "u1", "properties": {"left": "a"}}, {"identity": "u2"}], source="a"
        ),
        lambda: profiles_upsert(
            [{"identity": "u2"}, {"identity": "u1", "properties": {"right": True}}], source="b"
        ),
    )
    for result in results:
        assert not isinstance(result, Exception), result
        assert result.rejected == []
    assert Profile.objects.get(identity="u1").properties == {
        "base": 1,
        "left": "a",
        "right": True,
    }
    assert Profile.objects.filter(identity="u2").count() == 1


def test_a_new_property_defined_by_two_batches_at_once_gets_one_type():
    results = run_together(
        lambda: profiles_upsert([{"identity": "u1", "properties": {"tier": 3}}], source="a"),
        lambda: profiles_upsert([{"identity": "u2", "properties": {"tier": "gold"}}], source="b"),
    )
    accepted = [r for r in results if r.accepted]
    refused = [r for r in results if r.rejected]
    assert len(accepted) == 1 and len(refused) == 1
    assert PropertyDefinition.objects.filter(name="tier").count() == 1
    assert list(refused[0].rejected[0]["errors"]) == ["properties.tier"]
