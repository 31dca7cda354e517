"""What the trigger, API trigger and runs API tests share: a frozen clock, the dry-run e-mail
adapter, an ingestion client with a project API key, and ticks with their commits run.

Import the fixtures by their function names (`clock_fixture`, ...); tests ask for `clock`."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import time_machine
from django.test import Client

from audience.services import ingest_key_create
from channels import scheduler

BASE = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)

EMAIL_WHAT = {
    "message": {
        "subject": "Hi {{ profile.identity }}",
        "from_email": "news@example.com",
        # Triggers bring the event ({{ event.* }}), API calls their data ({{ data.* }}).
        "html": "<p>{{ event.properties.item if event.properties else '' }}"
        "{{ data.order_id | default('') }}</p>",
    }
}


@pytest.fixture(name="clock")
def clock_fixture():
    """Herald's clock, stopped at BASE; tests move it (`clock.move_to(...)`)."""
    with time_machine.travel(BASE, tick=False) as traveller:
        yield traveller


@pytest.fixture(name="dry_run_email")
def dry_run_email_fixture(settings):
    settings.HERALD_DRY_RUN_CHANNELS = ["email"]
    settings.HERALD_PROVIDERS = {**settings.HERALD_PROVIDERS, "email": {"provider": ""}}


@pytest.fixture(name="ingest")
def ingest_fixture(admin):
    """A client with a project API key, as an app's backend sends events."""
    secret = ingest_key_create(actor=admin, name="Backend")[1]
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def send_event(
    client: Client,
    identity: str,
    name: str,
    ts: dt.datetime,
    properties: dict[str, Any] | None = None,
) -> None:
    record = {"identity": identity, "name": name, "ts": ts.isoformat()}
    if properties is not None:
        record["properties"] = properties
    response = client.post(
        "/api/v1/ingest/events/", json.dumps({"records": [record]}), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["rejected"] == [], response.json()


def tick(capture: Any, times: int = 3) -> list[dict[str, int]]:
    """Ticks with their on-commit work (resolution, batches) run at once."""
    out = []
    for _ in range(times):
        with capture(execute=True):
            out.append(scheduler.tick())
    return out
