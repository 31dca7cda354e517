from __future__ import annotations

from typing import Any

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import later_when, push_what


@pytest.fixture
def token_client():
    """A client that signs every request with the user's API token, as a real API client does."""

    def make(user: Any) -> APIClient:
        token, _ = Token.objects.get_or_create(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


def new_campaign(**overrides: Any) -> dict[str, Any]:
    """A valid body for POST /api/v1/campaigns/."""
    body: dict[str, Any] = {
        "name": "Weekly digest",
        "channel": "push",
        "type": "single_message",
        "delivery": "one_time",
        "who": {"type": "group", "match": "all", "conditions": []},
        "what": push_what(),
        "when": later_when(),
    }
    body.update(overrides)
    return body
