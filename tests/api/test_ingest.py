"""The ingestion API over HTTP: project API key authentication, the batch's shape, per-record
answers, and the Admins' keys API."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from audience.models import Event, IngestKey, Profile
from audience.services import ingest_key_create, ingest_key_revoke
from tests.api_operations import API_KEY_OPERATIONS
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/ingest/events/"
PROFILES = "/api/v1/ingest/profiles/"
KEYS = "/api/v1/ingest/keys/"
INGEST_PATHS = sorted(path for _method, path in API_KEY_OPERATIONS)


@pytest.fixture
def secret(admin):
    return ingest_key_create(actor=admin, name="Backend")[1]


@pytest.fixture
def ingest(secret):
    """A client sending the project API key, as an app's backend does."""
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def post(client, path, body):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(path, data, content_type="application/json")


def an_event(identity="u1", **fields):
    ts = (timezone.now() - dt.timedelta(minutes=1)).isoformat()
    return {"identity": identity, "name": "App Launched", "ts": ts, **fields}


# --- authentication ------------------------------------------------------------------------------
@pytest.mark.parametrize("path", INGEST_PATHS)
def test_no_key_is_a_401_that_names_the_scheme(path):
    response = post(Client(), path, {"records": [an_event()]})
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="ingest"'
    assert not Profile.objects.exists()


@pytest.mark.parametrize("path", INGEST_PATHS)
@pytest.mark.parametrize("header", ["Bearer hk_wrong", "Bearer", "Bearer a b", "bearer hk_x"])
def test_a_wrong_key_is_a_401(path, header, secret):
    response = post(Client(HTTP_AUTHORIZATION=header), path, {"records": [an_event()]})
    assert response.status_code == 401
    assert response.json()["code"] in ("authentication_failed", "not_authenticated")
    assert not Event.objects.exists()


@pytest.mark.parametrize("path", INGEST_PATHS)
def test_a_revoked_key_is_a_401(path, admin, secret):
    ingest_key_revoke(actor=admin, key_id=IngestKey.objects.get().pk)
    response = post(Client(HTTP_AUTHORIZATION=f"Bearer {secret}"), path, {"records": [an_event()]})
    assert response.status_code == 401
    assert response.json()["message"].startswith("This API key was revoked on")
    assert not Profile.objects.exists()


@pytest.mark.parametrize("path", INGEST_PATHS)
def test_a_signed_in_user_is_not_a_key(path, admin):
    client = APIClient()
    client.login(username=admin.username, password=PASSWORD)
    response = client.post(path, {"records": [an_event()]}, format="json")
    assert response.status_code == 401
    assert not Profile.objects.exists()


@pytest.mark.parametrize("path", INGEST_PATHS)
def test_a_users_api_token_is_not_a_key(path, token_client, admin):
    response = token_client(admin).post(path, {"records": [an_event()]}, format="json")
    assert response.status_code == 401
    assert not Profile.objects.exists()


def test_a_key_opens_nothing_but_ingestion(ingest, secret):
    for path in ("/api/v1/campaigns/", "/api/v1/me/", KEYS):
        assert ingest.get(path).status_code in (401, 403)


def test_using_a_key_notes_when(ingest):
    post(ingest, EVENTS, {"records": [an_event()]})
    assert IngestKey.objects.get().last_used_at is not None


# --- the batch -----------------------------------------------------------------------------------
def test_events_are_accepted_per_record(ingest):
    body = {
        "records": [
            an_event("u1", properties={"screen": "home"}, record_id="r-1"),
            an_event("u2", ts="1999-12-31T23:00:00Z"),
            an_event("u3", name=""),
        ]
    }
    response = post(ingest, EVENTS, body)
    assert response.status_code == 200
    data = response.json()
    assert Event.objects.count() == 1
    assert data["accepted"] == [{"index": 0, "record_id": "r-1", "duplicate": False}]
    assert data["rejected"] == [
        {"index": 1, "errors": {"ts": ["Events from before 2000-01-01 are refused."]}},
        {"index": 2, "errors": {"name": ["Give the event's name; it cannot be empty."]}},
    ]
    again = post(ingest, EVENTS, body).json()
    assert again["accepted"] == [{"index": 0, "record_id": "r-1", "duplicate": True}]
    assert Event.objects.count() == 1


def test_profiles_are_accepted_per_record(ingest):
    body = {
        "records": [
            {"identity": "u1", "email": "ada@example.com", "properties": {"plan": "pro"}},
            {"identity": "u2", "phone": "12345"},
            {"identity": "u3", "properties": {"address": {"city": "Paris"}}},
        ]
    }
    response = post(ingest, PROFILES, body)
    assert response.status_code == 200
    data = response.json()
    profile = Profile.objects.get()
    assert data["accepted"] == [{"index": 0, "id": profile.pk, "identity": "u1", "created": True}]
    assert [item["index"] for item in data["rejected"]] == [1, 2]
    assert list(data["rejected"][0]["errors"]) == ["phone"]
    assert list(data["rejected"][1]["errors"]) == ["properties.address"]


@pytest.mark.parametrize("path", INGEST_PATHS)
@pytest.mark.parametrize("body", ['{"records": [', "not json", '{"records": [NaN]}', "\xff"])
def test_malformed_json_is_a_400(ingest, path, body):
    response = post(ingest, path, body)
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert "JSON parse error" in response.json()["message"]


@pytest.mark.parametrize("path", INGEST_PATHS)
@pytest.mark.parametrize(
    "body",
    [[], [{"identity": "u1"}], {}, {"record": []}, {"records": {}}, {"records": []}, 5, '"text"'],
)
def test_a_body_without_a_records_list_is_a_400(ingest, path, body):
    response = post(ingest, path, body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "records" in response.json()["errors"]


@pytest.mark.parametrize("path", INGEST_PATHS)
def test_more_than_1000_records_is_a_400_that_writes_nothing(ingest, path):
    records = [
        an_event(f"u{i}") if "events" in path else {"identity": f"u{i}"} for i in range(1001)
    ]
    response = post(ingest, path, {"records": records})
    assert response.status_code == 400
    assert response.json()["errors"]["records"] == [
        "At most 1,000 records a request; this one has 1,001. Nothing was written: split the batch."
    ]
    assert not Profile.objects.exists() and not Event.objects.exists()


def test_a_body_too_large_to_read_is_a_413(ingest):
    response = ingest.post(
        EVENTS, b"{}", content_type="application/json", CONTENT_LENGTH=str(17 * 1024 * 1024)
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_only_json_is_taken(ingest):
    response = ingest.post(EVENTS, {"records": "x"})
    assert response.status_code == 415


def test_a_batch_of_1000_events_takes_a_few_queries(ingest, django_assert_max_num_queries):
    records = [an_event(f"u{i % 50}", record_id=f"r{i}") for i in range(1000)]
    # The key (read, last use noted), partitions, record ids, profiles (read, create), COPY, the
    # campaigns listening to these events (channels.triggers: none here), and the transaction's
    # savepoint under the test's own: not one statement per record.
    with django_assert_max_num_queries(10):
        response = post(ingest, EVENTS, {"records": records})
    assert len(response.json()["accepted"]) == 1000
    assert Event.objects.count() == 1000


# --- the keys API --------------------------------------------------------------------------------
def test_an_admin_creates_lists_and_revokes_keys(api_for, admin):
    client = api_for(admin)
    created = client.post(KEYS, {"name": "Backend"}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert body["key"].startswith("hk_") and body["prefix"] == body["key"][:12]
    assert body["active"] is True and body["created_by"]["email"] == admin.email

    listed = client.get(KEYS).json()
    assert [item["id"] for item in listed] == [body["id"]]
    assert "key" not in listed[0]

    ingest = Client(HTTP_AUTHORIZATION=f"Bearer {body['key']}")
    assert post(ingest, EVENTS, {"records": [an_event()]}).status_code == 200

    revoked = client.post(f"{KEYS}{body['id']}/revoke/")
    assert revoked.status_code == 200
    assert revoked.json()["active"] is False and revoked.json()["revoked_at"]
    assert post(ingest, EVENTS, {"records": [an_event()]}).status_code == 401


@pytest.mark.parametrize("user", ["marketer", "approver", "outsider"])
def test_the_keys_api_is_for_admins_only(request, api_for, admin, user):
    key, _ = ingest_key_create(actor=admin, name="Backend")
    client = api_for(request.getfixturevalue(user))
    assert client.get(KEYS).status_code == 403
    assert client.post(KEYS, {"name": "x"}, format="json").status_code == 403
    assert client.post(f"{KEYS}{key.pk}/revoke/").status_code == 403
    assert IngestKey.objects.filter(revoked_at=None).count() == 1


def test_the_keys_api_refuses_anonymous_callers(db):
    assert APIClient().get(KEYS).status_code == 401


@pytest.mark.parametrize("name", ["", "x" * 101])
def test_a_key_name_is_1_to_100_characters(api_for, admin, name):
    response = api_for(admin).post(KEYS, {"name": name}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()["errors"]


def test_revoking_a_missing_key_is_a_404(api_for, admin):
    assert api_for(admin).post(f"{KEYS}424242/revoke/").status_code == 404
