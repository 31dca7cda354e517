"""Signing in to the API, who am I, and who gets nothing."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.api_operations import API_KEY_OPERATIONS, API_OPERATIONS
from tests.conftest import PASSWORD

# Every operation but the one that hands out tokens, and those a project API key opens
# (tests/api/test_ingest.py refuses users there).
ENDPOINTS = sorted(
    op for op in API_OPERATIONS - API_KEY_OPERATIONS if op[1] != "/api/v1/auth/token/"
)


def test_token_is_issued_for_a_username_and_password(marketer):
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": marketer.username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    token = response.json()["token"]
    again = APIClient().post(
        "/api/v1/auth/token/", {"username": marketer.username, "password": PASSWORD}, format="json"
    )
    assert again.json()["token"] == token


def test_token_authenticates_later_requests(marketer):
    token = (
        APIClient()
        .post(
            "/api/v1/auth/token/",
            {"username": marketer.username, "password": PASSWORD},
            format="json",
        )
        .json()["token"]
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/me/").json()["email"] == marketer.email


def test_wrong_password_gets_no_token(marketer):
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": marketer.username, "password": "nope"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_missing_credentials_name_the_fields(db):
    response = APIClient().post("/api/v1/auth/token/", {}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"username", "password"}


def test_account_without_a_role_gets_no_token(outsider):
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": outsider.username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_me_lists_roles_and_permissions(api_for, approver):
    body = api_for(approver).get("/api/v1/me/").json()
    assert body["id"] == approver.pk
    assert body["email"] == "ari@example.com"
    assert body["roles"] == ["Approver"]
    assert "approve" in body["permissions"]
    assert "manage_settings" not in body["permissions"]


def test_session_auth_works_for_signed_in_browser(marketer):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username=marketer.username, password=PASSWORD)
    assert client.get("/api/v1/me/").status_code == 200


def test_session_auth_requires_csrf_token_for_writes(marketer):
    client = APIClient(enforce_csrf_checks=True)
    client.login(username=marketer.username, password=PASSWORD)
    response = client.post("/api/v1/labels/", {"name": "Onboarding"}, format="json")
    assert response.status_code == 403


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_anonymous_request_is_refused_with_401(db, campaign_factory, method, path):
    campaign = campaign_factory()
    response = getattr(APIClient(), method)(path.format(id=campaign.pk), {}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


def test_bad_token_is_refused_with_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/v1/campaigns/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_user_without_a_role_is_refused_everywhere(
    token_client, outsider, campaign_factory, method, path
):
    campaign = campaign_factory()
    response = getattr(token_client(outsider), method)(
        path.format(id=campaign.pk), {}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
