"""GET /api/v1/campaigns/{id}/runs/ and /api/v1/runs/{id}/: a campaign's sends, newest first,
with their progress, for every role."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from audience.models import Consent, Profile
from campaigns import services
from campaigns.choices import Channel, Delivery, Status
from campaigns.models import Campaign
from channels import scheduler
from channels.models import Batch, Run, RunKind, RunStatus
from tests.channels.trigger_support import EMAIL_WHAT, dry_run_email_fixture  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_campaign(campaign_factory, marketer):
    campaign = campaign_factory(
        channel=Channel.EMAIL, delivery=Delivery.API, what=EMAIL_WHAT, when={}
    )
    services.campaign_publish(actor=marketer, campaign_id=campaign.pk)
    return campaign


def trigger(client, campaign, capture, **body):
    with capture(execute=True):
        response = client.post(f"/api/v1/campaigns/{campaign.pk}/trigger/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def test_runs_are_listed_newest_first_with_their_progress(
    api, api_campaign, dry_run_email, django_capture_on_commit_callbacks
):
    Profile.objects.create(identity="ana", email="ana@example.com")
    Profile.objects.create(identity="ben", email="ben@example.com", email_consent=Consent.OPTED_OUT)
    Profile.objects.create(identity="cy")
    first = trigger(api, api_campaign, django_capture_on_commit_callbacks)
    second = trigger(
        api, api_campaign, django_capture_on_commit_callbacks, recipients=[{"identity": "ana"}]
    )

    body = api.get(f"/api/v1/campaigns/{api_campaign.pk}/runs/").json()

    assert [run["id"] for run in body["results"]] == [second, first]
    newest, oldest = body["results"]
    assert newest["kind"] == "api" and newest["status"] == "done"
    assert newest["progress"] == {
        "sent": 1,
        "failed": 0,
        "failed_reasons": {},
        "dropped": {},
        "pending": 0,
    }
    assert oldest["targeted"] == 3
    assert oldest["progress"]["sent"] == 1
    assert oldest["progress"]["dropped"] == {"consent": 1, "no_address": 1}
    assert oldest["finished_at"] is not None
    detail = api.get(oldest["url"]).json()
    assert detail == oldest


def test_a_run_still_sending_shows_what_is_pending(api, api_campaign):
    run = Run.objects.create(
        campaign=api_campaign,
        kind=RunKind.API,
        status=RunStatus.SENDING,
        scheduled_for=timezone.now(),
        targeted=5,
        resolved=True,
        batches_total=2,
    )
    now = timezone.now()
    Batch.objects.create(
        run=run,
        seq=1,
        profile_ids=[1, 2, 3],
        not_before=now,
        counts={"sent": 2, "failed:provider": 1},
    )
    Batch.objects.create(run=run, seq=2, profile_ids=[4, 5], not_before=now)

    progress = api.get(f"/api/v1/runs/{run.pk}/").json()["progress"]

    assert progress == {
        "sent": 2,
        "failed": 1,
        "failed_reasons": {"provider": 1},
        "dropped": {},
        "pending": 2,
    }
    assert progress == {k: v for k, v in scheduler.run_totals(run).items() if k != "targeted"}


def test_pages_follow_the_cursor(api, api_campaign):
    base = timezone.now()
    ids = [
        Run.objects.create(
            campaign=api_campaign,
            kind=RunKind.API,
            status=RunStatus.DONE,
            scheduled_for=base - dt.timedelta(minutes=i),
            totals={"sent": i},
        ).pk
        for i in range(5)
    ]
    seen, url = [], f"/api/v1/campaigns/{api_campaign.pk}/runs/?page_size=2"
    while url:
        page = api.get(url).json()
        seen += [run["id"] for run in page["results"]]
        url = page["next"]
    assert seen == ids
    assert api.get(f"/api/v1/campaigns/{api_campaign.pk}/runs/?cursor=bogus").status_code == 404


def test_the_list_reads_a_fixed_number_of_queries(api, api_campaign, django_assert_max_num_queries):
    for i in range(20):
        Run.objects.create(
            campaign=api_campaign,
            kind=RunKind.TRIGGER,
            status=RunStatus.DONE,
            scheduled_for=timezone.now() - dt.timedelta(minutes=i),
            totals={"sent": 1, "failed": 0, "dropped": {}, "failed_reasons": {}, "pending": 0},
        )
    # Session and roles, the campaign, the page: finished runs carry their figures.
    with django_assert_max_num_queries(4):
        response = api.get(f"/api/v1/campaigns/{api_campaign.pk}/runs/")
    assert len(response.json()["results"]) == 20


@pytest.mark.parametrize("role", ["approver", "admin"])
def test_every_role_sees_the_runs(request, api_for, api_campaign, role):
    run = Run.objects.create(campaign=api_campaign, kind=RunKind.API, scheduled_for=timezone.now())
    client = api_for(request.getfixturevalue(role))
    assert client.get(f"/api/v1/runs/{run.pk}/").status_code == 200
    assert client.get(f"/api/v1/campaigns/{api_campaign.pk}/runs/").status_code == 200


def test_outsiders_and_strangers_see_nothing(api, api_for, outsider, api_campaign):
    run = Run.objects.create(campaign=api_campaign, kind=RunKind.API, scheduled_for=timezone.now())
    assert api_for(outsider).get(f"/api/v1/runs/{run.pk}/").status_code == 403
    assert api_for(outsider).get(f"/api/v1/campaigns/{api_campaign.pk}/runs/").status_code == 403
    assert api_for(None).get(f"/api/v1/runs/{run.pk}/").status_code == 401
    assert api.get(f"/api/v1/runs/{run.pk + 1}/").status_code == 404
    assert api.get("/api/v1/campaigns/999999/runs/").status_code == 404
    huge = 10**20  # beyond bigint: still a 404
    assert api.get(f"/api/v1/runs/{huge}/").status_code == 404
    assert api.get(f"/api/v1/campaigns/{huge}/runs/").status_code == 404
    assert api.post(f"/api/v1/campaigns/{huge}/trigger/", {}, format="json").status_code == 404


def test_runs_are_read_only(api, api_campaign):
    run = Run.objects.create(campaign=api_campaign, kind=RunKind.API, scheduled_for=timezone.now())
    for method in ("post", "patch", "put", "delete"):
        assert getattr(api, method)(f"/api/v1/runs/{run.pk}/", {}).status_code == 405
    assert api.post(f"/api/v1/campaigns/{api_campaign.pk}/runs/", {}).status_code == 405


def test_an_archived_campaigns_runs_stay_readable(api, api_campaign):
    run = Run.objects.create(campaign=api_campaign, kind=RunKind.API, scheduled_for=timezone.now())
    Campaign.objects.filter(pk=api_campaign.pk).update(
        status=Status.COMPLETED, archived_at=timezone.now()
    )
    assert api.get(f"/api/v1/runs/{run.pk}/").status_code == 200
    assert [
        r["id"] for r in api.get(f"/api/v1/campaigns/{api_campaign.pk}/runs/").json()["results"]
    ] == [run.pk]


def test_unfinished_runs_read_their_counters_once_a_page(
    api, api_campaign, django_assert_max_num_queries
):
    from channels.models import Batch

    for i in range(10):
        run = Run.objects.create(
            campaign=api_campaign,
            kind=RunKind.TRIGGER,
            status=RunStatus.SENDING,
            scheduled_for=timezone.now() - dt.timedelta(minutes=i),
            targeted=3,
        )
        Batch.objects.create(
            run=run, seq=1, profile_ids=[1, 2, 3], not_before=timezone.now(), counts={"sent": 2}
        )
    # As above, and one query for every unfinished run's counters together.
    with django_assert_max_num_queries(5):
        response = api.get(f"/api/v1/campaigns/{api_campaign.pk}/runs/")
    progress = [r["progress"] for r in response.json()["results"]]
    assert [(p["sent"], p["pending"]) for p in progress] == [(2, 1)] * 10
