"""Dispatch's pages in a real browser: the campaign page's progress bar following a run as its
batches progress (and no longer polling once it is done), and an Admin configuring Twilio on
Settings › Channels without ever seeing the token again."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from campaigns.choices import Status
from channels.models import Batch, FrequencyCap, ProviderConfig, QuietHours, Run, RunKind, RunStatus

pytestmark = pytest.mark.browser

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "tw-browser-token-9a8b7c6d"


def test_the_progress_bar_follows_a_run_and_stops_polling_when_it_is_done(
    page: Page, sign_in, marketer, campaign_factory, screenshot
):
    campaign = campaign_factory(name="Weekly digest", status=Status.RUNNING)
    run = Run.objects.create(
        campaign=campaign,
        kind=RunKind.SCHEDULED,
        status=RunStatus.SENDING,
        scheduled_for=timezone.now(),
        resolved=True,
        targeted=20,
        batches_total=2,
    )
    first = Batch.objects.create(
        run=run, seq=1, profile_ids=list(range(1, 11)), not_before=run.scheduled_for
    )
    second = Batch.objects.create(
        run=run, seq=2, profile_ids=list(range(11, 21)), not_before=run.scheduled_for
    )
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if r.url.endswith("/delivery/") else None)
    sign_in(marketer)
    page.goto(f"/campaigns/{campaign.pk}/")
    panel = page.locator("#run-progress")
    bar = panel.locator("progress.run-bar")
    expect(panel).to_contain_text("0 of 20 recipients handled (0%)")
    expect(bar).to_have_attribute("value", "0")

    Batch.objects.filter(pk=first.pk).update(counts={"sent": 6, "dropped:consent": 2})
    expect(panel).to_contain_text("8 of 20 recipients handled (40%)")
    expect(bar).to_have_attribute("value", "8")
    expect(panel.locator('[data-reasons="dropped"]')).to_contain_text("No consent: 2")
    assert polls, "the panel updated without polling"
    assert page.url.endswith(f"/campaigns/{campaign.pk}/")  # no reload

    Batch.objects.filter(pk=first.pk).update(
        counts={"sent": 8, "dropped:consent": 2}, status="done"
    )
    Batch.objects.filter(pk=second.pk).update(counts={"sent": 9, "failed:provider": 1})
    expect(panel).to_contain_text("20 of 20 recipients handled (100%)")
    expect(panel.locator('[data-figure="pending"]')).to_have_text("0")
    screenshot("dispatch-run-progress")

    totals = {
        "targeted": 20,
        "sent": 17,
        "failed": 1,
        "dropped": {"consent": 2},
        "failed_reasons": {"provider": 1},
        "pending": 0,
    }
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.DONE, finished_at=timezone.now(), batches_done=2, totals=totals
    )
    expect(panel).to_have_attribute("data-status", "done")
    expect(panel).to_contain_text("every recipient has a final row in the delivery ledger")
    expect(panel).not_to_have_attribute("hx-trigger", "every 2s")
    seen = len(polls)
    time.sleep(4.5)  # two poll periods
    assert len(polls) == seen, "the panel kept polling a finished run"


def test_an_admin_configures_twilio_and_sees_the_token_only_as_set(
    page: Page, sign_in, admin, settings, screenshot
):
    settings.HERALD_PROVIDERS = {
        **settings.HERALD_PROVIDERS,
        "sms": {"provider": "", "options": {}, "secrets": {}},
    }
    settings.HERALD_DRY_RUN_CHANNELS = []
    sign_in(admin)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Channels").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Channels")
    sms = page.locator('[data-channel="sms"]')
    expect(sms.locator("[data-source]")).to_have_text("Not configured")

    sms.get_by_role("button", name="Configure SMS").click()
    page.get_by_label("Provider", exact=True).select_option("twilio")
    # htmx swaps in Twilio's fields.
    expect(page.get_by_label("Account SID (required)")).to_be_visible()
    page.get_by_label("Account SID (required)").fill(SID)
    page.get_by_label("Auth token (required)").fill(TOKEN)
    page.get_by_label("From", exact=True).fill("+14155550100")
    screenshot("dispatch-provider-form")
    page.get_by_role("button", name="Save").click()

    expect(page.locator(".flash-success")).to_have_text("SMS now sends with Twilio.")
    expect(sms.locator("[data-source]")).to_have_text("Set by an Admin on this page")
    expect(sms.locator('[data-secret-state="set"]')).to_have_text("set")
    expect(sms).to_contain_text(SID)
    assert TOKEN not in page.content()
    screenshot("dispatch-channels")

    sms.get_by_role("button", name="Configure SMS").click()
    token = page.get_by_label("Auth token (required)")
    expect(token).to_have_value("")
    expect(page.locator('[data-secret="auth_token"] .secret-state')).to_have_text("set")
    assert TOKEN not in page.content()
    row = ProviderConfig.objects.get(channel="sms")
    assert row.secrets == {"auth_token": TOKEN} and row.updated_by == admin


def test_an_admin_sets_a_frequency_cap_and_quiet_hours_then_removes_the_cap(
    page: Page, sign_in, admin, screenshot
):
    sign_in(admin)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Delivery").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delivery")
    page.get_by_label("SMS: at most (messages)").fill("3")
    page.get_by_role("button", name="Save caps").click()
    expect(page.locator(".flash-error")).to_contain_text("Nothing was saved")
    expect(page.locator('[data-cap="sms"]')).to_contain_text(
        "Give both the number of messages and the days, or neither."
    )
    page.get_by_label("SMS: in (days)").fill("7")
    page.get_by_role("button", name="Save caps").click()
    expect(page.locator(".flash-success")).to_have_text("Frequency caps saved.")
    expect(page.locator('[data-cap="sms"]')).to_contain_text("3 in 7 days")

    page.get_by_role("switch", name="Quiet hours").check()
    page.get_by_label("From", exact=True).fill("21:00")
    page.get_by_label("Until").fill("07:30")
    page.locator("#quiet-hours").get_by_label("SMS").check()
    page.get_by_role("button", name="Save quiet hours").click()
    expect(page.locator(".flash-success")).to_have_text("Quiet hours saved.")
    expect(page.locator("#quiet-hours")).to_contain_text("quiet hours are on, 21:00–07:30 on SMS")
    screenshot("dispatch-delivery-settings")
    assert QuietHours.current().channels == ["sms"]

    page.get_by_role("button", name="Remove the SMS cap").click()
    expect(page.locator(".flash-success")).to_have_text("SMS has no frequency cap now.")
    expect(page.locator('[data-cap="sms"]')).to_contain_text("No cap")
    assert not FrequencyCap.objects.exists()
