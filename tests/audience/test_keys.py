"""Project API keys: created by Admins with a secret shown once, revoked at once; and the
Settings > API keys page."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.utils import timezone

from audience.models import IngestKey
from audience.services import (
    KeyRefused,
    ingest_key_authenticate,
    ingest_key_create,
    ingest_key_revoke,
)
from config.errors import Forbidden, Invalid, NotFound

pytestmark = pytest.mark.django_db


def test_an_admin_creates_a_key_whose_secret_is_not_stored(admin):
    key, secret = ingest_key_create(actor=admin, name="  Mobile backend ")
    assert secret.startswith("hk_") and len(secret) >= 40
    assert key.name == "Mobile backend" and key.created_by == admin
    assert key.prefix == secret[:12]
    assert key.digest == hashlib.sha256(secret.encode()).hexdigest()
    stored = IngestKey.objects.values().get(pk=key.pk)
    assert secret not in [str(value) for value in stored.values()]


def test_each_key_is_different(admin):
    secrets = {ingest_key_create(actor=admin, name="k")[1] for _ in range(5)}
    assert len(secrets) == 5


@pytest.mark.parametrize("user", ["marketer", "approver"])
def test_only_admins_create_or_revoke_keys(request, admin, user):
    actor = request.getfixturevalue(user)
    with pytest.raises(Forbidden):
        ingest_key_create(actor=actor, name="k")
    key, _ = ingest_key_create(actor=admin, name="k")
    with pytest.raises(Forbidden):
        ingest_key_revoke(actor=actor, key_id=key.pk)
    assert IngestKey.objects.get().revoked_at is None


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, None, "a\x00b"])
def test_a_key_needs_a_name(admin, name):
    with pytest.raises(Invalid) as caught:
        ingest_key_create(actor=admin, name=name)
    assert "name" in caught.value.errors
    assert not IngestKey.objects.exists()


def test_a_key_authenticates_until_revoked(admin):
    key, secret = ingest_key_create(actor=admin, name="k")
    assert ingest_key_authenticate(secret) == key
    revoked = ingest_key_revoke(actor=admin, key_id=key.pk)
    assert revoked.revoked_at is not None
    with pytest.raises(KeyRefused, match="This API key was revoked on"):
        ingest_key_authenticate(secret)
    # Revoking again changes nothing.
    assert ingest_key_revoke(actor=admin, key_id=key.pk).revoked_at == revoked.revoked_at


def test_an_unknown_key_is_refused(admin):
    ingest_key_create(actor=admin, name="k")
    with pytest.raises(KeyRefused, match="Unknown API key"):
        ingest_key_authenticate("hk_not-a-key")


def test_revoking_a_missing_key_is_not_found(admin):
    with pytest.raises(NotFound):
        ingest_key_revoke(actor=admin, key_id=999999)


def test_last_use_is_noted_at_most_once_a_minute(admin, django_assert_num_queries):
    key, secret = ingest_key_create(actor=admin, name="k")
    with django_assert_num_queries(2):  # read, note the use
        ingest_key_authenticate(secret)
    first = IngestKey.objects.get().last_used_at
    assert first is not None
    with django_assert_num_queries(1):
        ingest_key_authenticate(secret)
    IngestKey.objects.update(last_used_at=timezone.now() - dt.timedelta(minutes=2))
    ingest_key_authenticate(secret)
    assert IngestKey.objects.get().last_used_at > first


# --- the page ------------------------------------------------------------------------------------
def test_the_page_lists_keys_without_their_secret(client_for, admin):
    key, secret = ingest_key_create(actor=admin, name="Mobile backend")
    response = client_for(admin).get("/settings/api-keys/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Mobile backend" in html and f"{key.prefix}…" in html
    assert secret not in html


@pytest.mark.parametrize("user", ["marketer", "approver", "outsider"])
def test_the_page_is_for_admins_only(request, client_for, user):
    client = client_for(request.getfixturevalue(user))
    assert client.get("/settings/api-keys/").status_code == 403
    assert client.post("/settings/api-keys/new/", {"name": "k"}).status_code == 403
    assert not IngestKey.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(client_for):
    response = client_for(None).get("/settings/api-keys/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_creating_a_key_shows_its_secret_once(client_for, admin):
    client = client_for(admin)
    response = client.post("/settings/api-keys/new/", {"name": "Backend"})
    assert response.status_code == 302 and response["Location"] == "/settings/api-keys/"
    shown = client.get("/settings/api-keys/")
    assert shown["Cache-Control"] == "no-store"
    key = IngestKey.objects.get()
    secret = shown.context["secret"]
    assert key.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert secret in shown.content.decode()
    # Seen once: the session no longer holds it, a reload shows the list only.
    assert not any(secret in str(value) for value in client.session.values())
    again = client.get("/settings/api-keys/")
    assert secret not in again.content.decode() and "data-new-key" not in again.content.decode()


def test_a_key_without_a_name_is_refused_on_the_page(client_for, admin):
    response = client_for(admin).post("/settings/api-keys/new/", {"name": "  "})
    assert response.status_code == 400
    assert "Give the key a name." in response.content.decode()
    assert not IngestKey.objects.exists()


def test_revoking_from_the_page_asks_first(client_for, admin):
    key, secret = ingest_key_create(actor=admin, name="Backend")
    client = client_for(admin)
    confirm = client.get(f"/settings/api-keys/{key.pk}/revoke/")
    assert confirm.status_code == 200 and "Revoke “Backend”?" in confirm.content.decode()
    dialog = client.get(f"/settings/api-keys/{key.pk}/revoke/", headers={"HX-Request": "true"})
    assert "data-close-dialog" in dialog.content.decode()
    assert IngestKey.objects.get().revoked_at is None

    response = client.post(f"/settings/api-keys/{key.pk}/revoke/", follow=True)
    assert "Revoked the key “Backend”" in response.content.decode()
    assert IngestKey.objects.get().revoked_at is not None
    with pytest.raises(KeyRefused):
        ingest_key_authenticate(secret)


def test_revoking_a_missing_key_from_the_page_says_so(client_for, admin):
    client = client_for(admin)
    response = client.post("/settings/api-keys/4242/revoke/", follow=True)
    assert "API key 4242 does not exist." in response.content.decode()
    response = client.get("/settings/api-keys/4242/revoke/", follow=True)
    assert "already revoked, or no longer exists" in response.content.decode()


def test_the_settings_menu_links_the_page_for_admins(client_for, admin, marketer):
    assert 'href="/settings/api-keys/"' in client_for(admin).get("/campaigns/").content.decode()
    assert 'href="/settings/api-keys/"' not in (
        client_for(marketer).get("/campaigns/").content.decode()
    )
