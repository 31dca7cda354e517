"""POST /api/v1/campaigns/{id}/trigger/: an API campaign sent to its Who or to listed recipients
with their own data, idempotent on the caller's key (tasks eager, commits run through captured
on-commit callbacks, the dry-run e-mail adapter)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from audience.models import Profile
from campaigns import services
from campaigns.choices import Channel, Delivery, Status
from campaigns.models import Campaign
from channels import pipeline, triggers
from channels.models import Delivery as Ledger
from channels.models import Run, RunKind
from tests.channels.trigger_support import (  # noqa: F401 - fixtures
    BASE,
    EMAIL_WHAT,
    clock_fixture,
    dry_run_email_fixture,
)
from tests.concurrency import run_together

pytestmark = pytest.mark.django_db


def trigger_url(campaign_id):
    return f"/api/v1/campaigns/{campaign_id}/trigger/"


@pytest.fixture
def api_campaign(campaign_factory, marketer):
    """An API e-mail campaign to everyone, published (Running)."""
    campaign = campaign_factory(
        channel=Channel.EMAIL, delivery=Delivery.API, what=EMAIL_WHAT, when={}
    )
    services.campaign_publish(actor=marketer, campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == Status.RUNNING
    return campaign


@pytest.fixture
def people(db):
    return [
        Profile.objects.create(identity=name, email=f"{name}@example.com")
        for name in ("ana", "ben", "cy")
    ]


def post(client, campaign, body=None, capture=None, **headers):
    if capture is None:
        return client.post(trigger_url(campaign.pk), body or {}, format="json", headers=headers)
    with capture(execute=True):
        return client.post(trigger_url(campaign.pk), body or {}, format="json", headers=headers)


def sent(run):
    return sorted((row.profile_id, row.status) for row in Ledger.objects.filter(run=run))


# --- sending --------------------------------------------------------------------------------------
def test_without_recipients_the_who_is_sent_to(
    api, api_campaign, people, dry_run_email, django_capture_on_commit_callbacks
):
    response = post(api, api_campaign, capture=django_capture_on_commit_callbacks)

    assert response.status_code == 201, response.json()
    body = response.json()
    run = Run.objects.get()
    assert (body["id"], body["kind"], body["replayed"], body["unknown"]) == (
        run.pk,
        "api",
        False,
        [],
    )
    assert body["url"].endswith(f"/api/v1/runs/{run.pk}/")
    assert response["Location"] == body["url"]
    assert run.recipients is None
    assert sent(run) == [(p.pk, "sent") for p in people]
    # The answer comes before the run is resolved; its URL follows it.
    assert (body["status"], body["targeted"]) == ("resolving", 0)
    later = api.get(body["url"]).json()
    assert (later["status"], later["targeted"], later["progress"]["sent"]) == ("done", 3, 3)


def test_recipients_get_their_own_data_and_unknown_identities_are_listed(
    api, api_campaign, people, dry_run_email, django_capture_on_commit_callbacks
):
    ana, ben, _ = people
    body = {
        "recipients": [
            {"identity": "ana", "data": {"order_id": "A-1"}},
            {"identity": "nobody"},
            {"identity": "ben", "data": {"order_id": "B-2"}},
        ]
    }

    response = post(api, api_campaign, body, capture=django_capture_on_commit_callbacks)

    assert response.status_code == 201, response.json()
    assert response.json()["unknown"] == ["nobody"]
    run = Run.objects.get()
    assert run.recipients == {str(ana.pk): {"order_id": "A-1"}, str(ben.pk): {"order_id": "B-2"}}
    assert sent(run) == [(ana.pk, "sent"), (ben.pk, "sent")]
    # The data reaches each one's message as {{ data.* }}.
    decided = pipeline.decide(
        run.pk, run.snapshot, run.recipients, [ana.pk, ben.pk], timezone.now()
    )
    assert [m.content["html"] for m in decided.to_send] == ["<p>A-1</p>", "<p>B-2</p>"]


def test_recipients_none_of_whom_exists_send_nothing(api, api_campaign):
    response = post(api, api_campaign, {"recipients": [{"identity": "x"}, {"identity": "y"}]})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"recipients.0.identity", "recipients.1.identity"}
    assert not Run.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"recipients": [{"identity": "ana"}, {"identity": "ben"}, {"identity": "ana"}]},
            "recipients.2.identity",
        ),
        ({"recipients": [{"identity": " ana "}, {"identity": "ana"}]}, "recipients.1.identity"),
        ({"recipients": []}, "recipients.non_field_errors"),
        ({"recipients": [{"identity": ""}]}, "recipients.0.identity"),
        ({"recipients": [{"identity": "ana", "data": [1]}]}, "recipients.0.data"),
        ({"recipients": [{"identity": "ana", "data": {"x": "a\u0000b"}}]}, "recipients.0.data"),
        ({"recipients": [{"identity": "ana", "data": {"x": "y" * 10_001}}]}, "recipients.0.data"),
        (
            {"recipients": [{"identity": f"u{i}"} for i in range(1001)]},
            "recipients.non_field_errors",
        ),
        ({"idempotency_key": "k" * 201}, "idempotency_key"),
    ],
    ids=[
        "duplicate",
        "duplicate once trimmed",
        "empty list",
        "blank identity",
        "data not an object",
        "NUL in data",
        "data too large",
        "over 1,000",
        "key too long",
    ],
)
def test_bad_bodies_are_refused_naming_the_field(api, api_campaign, people, body, field):
    response = post(api, api_campaign, body)
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"], response.json()
    assert not Run.objects.exists()


# --- idempotency ----------------------------------------------------------------------------------
def test_a_retry_with_the_same_key_returns_the_same_run(
    api, api_campaign, people, dry_run_email, django_capture_on_commit_callbacks
):
    body = {"recipients": [{"identity": "ana"}, {"identity": "nobody"}], "idempotency_key": "o-1"}
    first = post(api, api_campaign, body, capture=django_capture_on_commit_callbacks)
    again = post(api, api_campaign, body, capture=django_capture_on_commit_callbacks)
    by_header = post(
        api,
        api_campaign,
        {"recipients": body["recipients"]},
        capture=django_capture_on_commit_callbacks,
        **{"Idempotency-Key": "o-1"},
    )

    assert first.status_code == 201
    assert again.status_code == by_header.status_code == 200
    assert again.json()["id"] == by_header.json()["id"] == first.json()["id"]
    assert again.json()["replayed"] is True
    assert again.json()["unknown"] == ["nobody"]
    assert again.json()["idempotency_key"] == "o-1"
    assert Run.objects.count() == 1
    assert Ledger.objects.count() == 1


def test_a_replay_answers_even_after_the_campaign_stopped(api, api_campaign, marketer):
    first = post(api, api_campaign, {"idempotency_key": "o-2"})
    services.campaign_stop(actor=marketer, campaign_id=api_campaign.pk)
    again = post(api, api_campaign, {"idempotency_key": "o-2"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["status"] == "stopped"


def test_another_key_or_no_key_sends_again(api, api_campaign):
    codes = [
        post(api, api_campaign, {"idempotency_key": "a"}).status_code,
        post(api, api_campaign, {"idempotency_key": "b"}).status_code,
        post(api, api_campaign).status_code,
        post(api, api_campaign).status_code,
    ]
    assert codes == [201] * 4
    assert Run.objects.count() == 4


def test_the_key_in_the_header_and_the_body_must_agree(api, api_campaign):
    response = post(api, api_campaign, {"idempotency_key": "a"}, **{"Idempotency-Key": "b"})
    assert response.status_code == 400
    assert "idempotency_key" in response.json()["errors"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_calls_at_once_with_one_key_make_one_run(campaign_factory, marketer):
    campaign = campaign_factory(
        channel=Channel.EMAIL,
        delivery=Delivery.API,
        status=Status.RUNNING,
        what=EMAIL_WHAT,
        when={},
    )

    def call():
        client = APIClient()
        client.force_authenticate(marketer)
        response = client.post(trigger_url(campaign.pk), {"idempotency_key": "once"}, format="json")
        return response.status_code, response.json()["id"]

    results = run_together(call, call, call)

    assert sorted(code for code, _ in results) == [200, 200, 201]
    assert len({run_id for _, run_id in results}) == 1
    assert Run.objects.get().kind == RunKind.API


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_call_racing_an_uncommitted_one_with_its_key_answers_with_that_run(
    campaign_factory, marketer
):
    """The second call finds no run for the key (the first has not committed), so its insert
    meets the unique key, waits for the first to commit, and reads the run it made."""
    campaign = campaign_factory(
        channel=Channel.EMAIL, delivery=Delivery.API, status=Status.RUNNING, when={}
    )
    created = threading.Event()

    def slow():
        with transaction.atomic():
            result = triggers.campaign_trigger(
                actor=marketer, campaign_id=campaign.pk, idempotency_key="k"
            )
            created.set()
            time.sleep(0.5)
        return result

    def racing():
        assert created.wait(10)
        return triggers.campaign_trigger(
            actor=marketer, campaign_id=campaign.pk, idempotency_key="k"
        )

    first, second = run_together(slow, racing)

    assert (first.replayed, second.replayed) == (False, True)
    assert first.run.pk == second.run.pk
    assert Run.objects.count() == 1


# --- refusals -------------------------------------------------------------------------------------
def test_a_campaign_of_another_delivery_is_refused(api, campaign_factory):
    campaign = campaign_factory(status=Status.RUNNING)  # one time
    response = post(api, campaign)
    assert response.status_code == 409
    assert response.json()["code"] == "not_api_triggered"


@pytest.mark.parametrize(
    "state",
    ["stopped", "scheduled", "completed", "draft", "archived", "ended"],
)
def test_a_campaign_that_is_not_running_is_refused(clock, api, api_campaign, marketer, state):
    if state == "stopped":
        services.campaign_stop(actor=marketer, campaign_id=api_campaign.pk)
    elif state == "scheduled":
        later = {"start_at": "2026-12-24T09:00:00Z"}
        Campaign.objects.filter(pk=api_campaign.pk).update(
            status=Status.SCHEDULED, when=later, next_run_at=BASE.replace(day=24, hour=9)
        )
    elif state == "archived":
        Campaign.objects.filter(pk=api_campaign.pk).update(
            status=Status.COMPLETED, archived_at=BASE
        )
    elif state == "ended":
        Campaign.objects.filter(pk=api_campaign.pk).update(ends_at=BASE)
    else:
        Campaign.objects.filter(pk=api_campaign.pk).update(status=state)

    response = post(api, api_campaign)

    assert response.status_code == 409
    assert response.json()["code"] == "not_running"
    assert Run.objects.filter(kind=RunKind.API).count() == 0


def test_the_live_version_of_a_campaign_with_pending_changes_is_sent(api, api_campaign):
    Campaign.objects.filter(pk=api_campaign.pk).update(
        status=Status.PENDING_APPROVAL, live_status=Status.RUNNING
    )
    assert post(api, api_campaign).status_code == 201


def test_an_unknown_campaign_is_a_404(api):
    response = APIClient().post(trigger_url(1), {}, format="json")
    assert response.status_code == 401
    assert api.post(trigger_url(999_999), {}, format="json").status_code == 404


def test_an_outsider_is_refused(api_for, outsider, api_campaign):
    response = post(api_for(outsider), api_campaign)
    assert response.status_code == 403
    assert not Run.objects.exists()


def test_every_role_may_trigger(api_for, approver, admin, api_campaign):
    assert post(api_for(approver), api_campaign).status_code == 201
    assert post(api_for(admin), api_campaign).status_code == 201
