"""Settings > API keys in a real browser: an Admin creates a key, copies it from the one page that
shows it, sends data with it, and revokes it."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, expect

from audience.models import IngestKey

pytestmark = pytest.mark.browser


def send_event(secret: str) -> int:
    body = {
        "records": [{"identity": "u1", "name": "App Launched", "ts": timezone.now().isoformat()}]
    }
    response = Client(HTTP_AUTHORIZATION=f"Bearer {secret}").post(
        "/api/v1/ingest/events/", json.dumps(body), content_type="application/json"
    )
    return response.status_code


def test_an_admin_creates_a_key_sees_it_once_and_revokes_it(page: Page, sign_in, admin, screenshot):
    sign_in(admin)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("API keys")
    expect(page.locator("table.keys-table")).to_contain_text("No API keys yet.")

    # A name is required: said on the page, nothing created.
    page.get_by_role("button", name="Create key").click()
    expect(page.locator(".field-error")).to_have_text("Give the key a name.")
    assert not IngestKey.objects.exists()

    page.get_by_role("textbox", name="Create a key").fill("Mobile backend")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("[data-new-key]")).to_contain_text("Key “Mobile backend” created")
    expect(page.locator("[data-new-key]")).to_contain_text("it is shown this once")
    secret = page.get_by_label("Your new API key").input_value()
    key = IngestKey.objects.get()
    assert secret.startswith("hk_") and secret[:12] == key.prefix
    row = page.locator(f"tr#key-{key.pk}")
    expect(row).to_contain_text("Mobile backend")
    expect(row).to_contain_text(f"{key.prefix}…")
    expect(row).to_contain_text("Active")
    screenshot("api-keys-created")

    # The key works; the page, seen again, no longer holds the secret.
    assert send_event(secret) == 200
    page.reload()
    expect(page.locator("[data-new-key]")).to_have_count(0)
    assert secret not in page.content()
    expect(row).not_to_contain_text("Never")

    row.get_by_role("button", name="Revoke Mobile backend").click()
    dialog = page.locator("dialog#modal")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Revoke “Mobile backend”?")
    screenshot("api-keys-revoke")
    dialog.get_by_role("button", name="Revoke key").click()

    expect(page.locator(".flash-success")).to_contain_text("Revoked the key “Mobile backend”")
    expect(row).to_contain_text(f"Revoked {timezone.localtime():%-d %b %Y}")
    expect(row.get_by_role("button", name="Revoke Mobile backend")).to_have_count(0)
    assert send_event(secret) == 401


def test_cancelling_the_revoke_dialog_keeps_the_key(page: Page, sign_in, admin):
    from audience.services import ingest_key_create

    key, secret = ingest_key_create(actor=admin, name="Web shop")
    IngestKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now() - dt.timedelta(days=2))
    sign_in(admin)
    page.goto("/settings/api-keys/")
    page.get_by_role("button", name="Revoke Web shop").click()
    page.locator("dialog#modal").get_by_role("button", name="Cancel").click()
    expect(page.locator("dialog#modal")).not_to_be_visible()
    assert IngestKey.objects.get().revoked_at is None
    assert send_event(secret) == 200


def test_the_page_is_not_in_other_roles_menus(page: Page, sign_in, marketer):
    sign_in(marketer)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Campaigns")).to_be_visible()
    expect(nav.get_by_role("link", name="API keys")).to_have_count(0)
    page.goto("/settings/api-keys/")
    expect(page.locator("body")).not_to_contain_text("Create a key")
