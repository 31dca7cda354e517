"""A batch keeps its lease while a slow provider call runs, so no other worker takes it over."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from audience.models import Profile
from campaigns.choices import Channel
from channels import pipeline, providers, scheduler
from channels.adapters.base import Adapter, Result
from channels.models import Batch, Delivery, Run, RunKind

SLOW_SECONDS = 2.5


class SlowAdapter(Adapter):
    """A provider that takes longer than a lease to answer (the dry run, slowly)."""

    channel = "in_app"
    provider = "slow"
    chunk_size = 10

    def send(self, messages):
        time.sleep(SLOW_SECONDS)
        return [Result(m.key, ok=True, provider_id=f"slow-{m.key}") for m in messages]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_slow_provider_call_keeps_the_lease(campaign_factory, settings, monkeypatch) -> None:
    settings.HERALD_DISPATCH_LEASE = 1
    settings.HERALD_PROVIDERS = {"in_app": {"provider": "slow"}}
    monkeypatch.setitem(providers.ADAPTERS, ("in_app", "slow"), f"{__name__}.SlowAdapter")
    people = [Profile.objects.create(identity=f"p{i}") for i in range(3)]
    campaign = campaign_factory(
        channel=Channel.IN_APP, what={"message": {"title": "t", "body": "b"}}
    )
    run = Run.objects.create(
        campaign=campaign,
        kind=RunKind.API,
        scheduled_for=timezone.now(),
        snapshot=scheduler.snapshot_of(campaign),
        status="sending",
        resolved=True,
        batches_total=1,
    )
    # Made directly: scheduler.add_batch would queue it, and an eager task would send it here.
    batch = Batch.objects.create(
        run=run, seq=1, profile_ids=[p.pk for p in people], not_before=timezone.now()
    )
    outcome: list[str] = []

    def work() -> None:
        try:
            outcome.append(pipeline.send_batch(batch.pk))
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    time.sleep(SLOW_SECONDS / 2 + 0.5)  # past the first lease, inside the provider call
    assert pipeline.claim(batch.pk, timezone.now()) is None, "another worker took the batch"
    worker.join(timeout=30)

    assert outcome == ["done"]
    assert Delivery.objects.filter(run=run, status="sent").count() == 3
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audience_event WHERE campaign_id = %s", [campaign.pk])
