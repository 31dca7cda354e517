"""Project API keys on the ingestion endpoints: `Authorization: Bearer hk_...`.

The key stands for the project, not for a person: request.user is an IngestClient, which has no
Herald role, so a key opens the ingestion endpoints and nothing else; and those endpoints take no
other credentials (a signed-in user, or a user's API token, is not a key).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from audience import services
from audience.models import IngestKey

SCHEME = "Bearer"


class IngestClient:
    """Whoever holds a project API key: authenticated, with no role and no permissions."""

    is_authenticated = True
    is_active = True
    is_anonymous = False
    is_superuser = False
    pk = None
    # What accounts.roles.user_roles reads first: no role, without a look at groups it lacks.
    _herald_roles: frozenset[str] = frozenset()

    def __init__(self, key: IngestKey) -> None:
        self.key = key

    def __str__(self) -> str:
        return f"API key {self.key.prefix}…"


class IngestKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[IngestClient, IngestKey] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != SCHEME.lower().encode():
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Send the key as: Authorization: Bearer hk_...")
        try:
            raw = parts[1].decode()
        except UnicodeDecodeError:
            raise AuthenticationFailed("Unknown API key.") from None
        try:
            key = services.ingest_key_authenticate(raw)
        except services.KeyRefused as exc:
            raise AuthenticationFailed(exc.message) from None
        return IngestClient(key), key

    def authenticate_header(self, request: Request) -> str:
        return f'{SCHEME} realm="ingest"'


class HasIngestKey(BasePermission):
    message = "Ingestion takes a project API key (Authorization: Bearer hk_...)."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, IngestKey)


class IngestKeyScheme(OpenApiAuthenticationExtension):
    """The key in the API schema, as an HTTP bearer scheme."""

    target_class = "audience.authentication.IngestKeyAuthentication"
    name = "ingestKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "hk_...",
            "description": "A project API key, created by an Admin on Settings > API keys.",
        }
