"""Find People, profile imports and cohorts over the API (/api/v1/audience/...)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audience.imports import profile_import_create
from audience.models import Device, ImportStatus, Profile, ProfileImport
from audience.services import record_notification_sent
from campaigns.choices import Status
from tests.audience.test_cohorts import example  # noqa: F401 - the hand-checked example
from tests.audience.test_people import add_event

pytestmark = pytest.mark.django_db

CSV = b"identity,email,age:number\r\nu1,ann@example.com,31\r\nu2,nope,40\r\n"


@pytest.fixture
def maya(campaign_factory, label_factory):
    profile = Profile.objects.create(
        identity="u-100",
        email="maya@example.com",
        phone="+12025550143",
        email_consent="opted_in",
        properties={"plan": "pro"},
    )
    Device.objects.create(profile=profile, kind="push", token="tok-1", platform="ios")
    campaign = campaign_factory(name="Welcome", status=Status.RUNNING)
    campaign.labels.add(label_factory(name="Onboarding"))
    record_notification_sent(
        profile_id=profile.pk,
        campaign=campaign,
        channel="push",
        variant="A",
        ts=dt.datetime(2025, 3, 2, 9, tzinfo=dt.UTC),
    )
    add_event(profile, "App Launched", dt.datetime(2025, 3, 3, 9, tzinfo=dt.UTC))
    return profile


# ---------------------------------------------------------------------------------------------
# Find People
# ---------------------------------------------------------------------------------------------
def test_search_finds_by_email_and_phone(api, maya):
    by_email = api.get("/api/v1/audience/people/", {"q": "MAYA@example.com"}).json()
    by_phone = api.get("/api/v1/audience/people/", {"q": "+1 202 555 0143"}).json()

    assert [p["identity"] for p in by_email["results"]] == ["u-100"]
    assert by_phone["phone"] == "+12025550143" and by_phone["results"][0]["id"] == maya.pk
    assert by_email["more"] is False


def test_search_needs_a_query(api):
    response = api.get("/api/v1/audience/people/")

    assert response.status_code == 400 and "q" in response.json()["errors"]


def test_a_profile_has_typed_properties_reachability_and_its_newest_events(api, maya):
    body = api.get(f"/api/v1/audience/people/{maya.pk}/").json()

    assert (body["identity"], body["email"], body["phone"]) == (
        "u-100",
        "maya@example.com",
        "+12025550143",
    )
    assert body["properties"] == [{"name": "plan", "type": "string", "value": "pro"}]
    reach = {item["channel"]: item for item in body["reachability"]}
    assert {c: r["reachable"] for c, r in reach.items()} == {
        "email": True,
        "sms": False,
        "whatsapp": False,
        "push": True,
        "web_push": False,
    }
    assert reach["push"]["devices"][0]["platform"] == "ios"
    assert "token" not in reach["push"]["devices"][0]
    launched, sent = body["events"]["results"]
    assert launched["name"] == "App Launched" and launched["campaign"] is None
    assert sent["name"] == "Notification Sent"
    assert sent["campaign"]["name"] == "Welcome" and sent["campaign"]["exists"] is True
    assert [label["name"] for label in sent["labels"]] == ["Onboarding"]
    assert (sent["channel"], sent["variant"]) == ("push", "A")
    assert body["events"]["next"] is None


def test_events_page_on_with_the_next_link(api, maya):
    for i in range(4):
        add_event(maya, "Product Viewed", dt.datetime(2025, 3, 4, i, tzinfo=dt.UTC))
    first = api.get(f"/api/v1/audience/people/{maya.pk}/events/", {"page_size": 4}).json()

    second = api.get(first["next"]).json()

    assert [e["name"] for e in first["results"]] == ["Product Viewed"] * 4
    assert [e["name"] for e in second["results"]] == ["App Launched", "Notification Sent"]
    assert second["next"] is None


@pytest.mark.parametrize(
    ("params", "field"), [({"cursor": "nope"}, "cursor"), ({"page_size": 0}, "page_size")]
)
def test_bad_event_page_parameters_are_400s(api, maya, params, field):
    response = api.get(f"/api/v1/audience/people/{maya.pk}/events/", params)

    assert response.status_code == 400 and field in response.json()["errors"]


def test_a_missing_profile_is_a_404(api):
    assert api.get("/api/v1/audience/people/999999/").status_code == 404
    assert api.get("/api/v1/audience/people/999999/events/").status_code == 404


# ---------------------------------------------------------------------------------------------
# Imports
# ---------------------------------------------------------------------------------------------
def test_an_upload_is_imported_and_its_status_read(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/audience/imports/",
            {"file": SimpleUploadedFile("people.csv", CSV)},
            format="multipart",
        )

    assert response.status_code == 201
    created = response.json()
    assert (created["file_name"], created["total_rows"], created["status"]) == (
        "people.csv",
        2,
        "queued",
    )
    status = api.get(f"/api/v1/audience/imports/{created['id']}/").json()
    assert (status["status"], status["accepted_rows"], status["rejected_rows"]) == ("done", 1, 1)
    assert status["errors"] == [
        {"row": 3, "identity": "u2", "errors": {"email": ["“nope” is not a valid e-mail address."]}}
    ]
    assert status["created_by"] == "maya@example.com"


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"", "empty"), (b"email\r\na@b.c\r\n", "no identity column"), (b"\x00\x01", "not a CSV")],
)
def test_a_refused_file_is_a_400_on_the_file_field(api, content, says):
    response = api.post(
        "/api/v1/audience/imports/",
        {"file": SimpleUploadedFile("x.csv", content)},
        format="multipart",
    )

    assert response.status_code == 400
    assert says in response.json()["errors"]["file"][0]
    assert not ProfileImport.objects.exists()


def test_an_upload_without_a_file_or_as_json_is_refused(api):
    assert api.post("/api/v1/audience/imports/", {}, format="multipart").status_code == 400
    assert api.post("/api/v1/audience/imports/", {"file": "x"}, format="json").status_code == 415


def test_a_body_that_is_not_multipart_is_a_400(api):
    response = api.generic(
        "POST",
        "/api/v1/audience/imports/",
        b"--b0undary\r\nTrue--b0undary--\r\n",
        content_type="multipart/form-data; boundary=b0undary",
    )

    assert response.status_code == 400
    assert not ProfileImport.objects.exists()


def test_a_missing_import_is_a_404(api):
    assert api.get("/api/v1/audience/imports/999999/").status_code == 404


def test_approvers_may_import_too(api_for, approver, marketer):
    job = profile_import_create(actor=marketer, file_name="p.csv", content=CSV)

    body = api_for(approver).get(f"/api/v1/audience/imports/{job.pk}/").json()

    assert body["status"] == ImportStatus.QUEUED


# ---------------------------------------------------------------------------------------------
# Cohorts
# ---------------------------------------------------------------------------------------------
def cohort_query(example, **params):  # noqa: F811 - the fixture, passed on
    return {
        "qualifying": "label",
        "label": example["onboarding"].pk,
        "return_event": "App Launched",
        "start": "2025-03-01",
        "end": "2025-03-03",
        **params,
    }


def test_the_cohort_table_as_json(api, example):  # noqa: F811
    body = api.get("/api/v1/audience/cohorts/", cohort_query(example)).json()

    assert (body["unit"], body["start"], body["end"], body["time_zone"]) == (
        "day",
        "2025-03-01",
        "2025-03-03",
        "UTC",
    )
    assert body["offsets"] == list(range(31))
    assert [(row["date"], row["size"]) for row in body["cohorts"]] == [
        ("2025-03-01", 2),
        ("2025-03-02", 2),
        ("2025-03-03", 2),
    ]
    assert body["cohorts"][0]["returned"][:4] == [1, 1, 1, 1]
    assert body["cohorts"][0]["share"][:2] == [0.5, 0.5]
    assert body["all"]["size"] == 6 and body["all"]["returned"][1] == 3
    assert body["description"]["qualifying"] == "Was sent a campaign labelled “Onboarding”"


def test_the_cohort_table_as_csv(api, example):  # noqa: F811
    response = api.get("/api/v1/audience/cohorts/export/", cohort_query(example, unit="week"))

    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert text.splitlines()[0] == "cohort,size,week 0 %,week 1 %,week 2 %,week 3 %,week 4 %"
    assert text.splitlines()[1] == "2025-02-24,5,20.0,80.0,0.0,0.0,0.0"


@pytest.mark.parametrize("path", ["/api/v1/audience/cohorts/", "/api/v1/audience/cohorts/export/"])
def test_bad_cohort_choices_are_400s_by_field(api, path):
    response = api.get(path, {"qualifying": "label", "unit": "year", "end": "x"})

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"label", "unit", "end"}
