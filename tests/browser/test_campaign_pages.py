"""The campaign pages in a real browser: sign in, filter, bulk actions, the form and the buttons."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from campaigns import examples
from campaigns.choices import CampaignType, Channel, Delivery, Status
from campaigns.models import Campaign

pytestmark = pytest.mark.browser


def test_signing_in_with_a_wrong_password_says_so_and_the_right_one_opens_campaigns(
    page: Page, sign_in, marketer, screenshot
):
    sign_in(marketer, password="not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("do not match an account")
    screenshot("login")

    sign_in(marketer)
    expect(page).to_have_url(re.compile(r"/campaigns/$"))
    expect(page.get_by_role("heading", name="All Campaigns")).to_be_visible()
    expect(page.locator(".whoami")).to_contain_text("maya@example.com")
    expect(page.locator(".whoami")).to_contain_text("Marketer")

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_user_without_a_role_sees_the_no_role_page(page: Page, sign_in, outsider):
    sign_in(outsider)
    expect(page.get_by_role("heading", name="You do not have a role in Herald yet")).to_be_visible()


def test_quick_filters_show_counts_and_narrow_the_list(
    page: Page, sign_in, marketer, campaign_factory, label_factory, screenshot
):
    onboarding, reengage = label_factory(name="Onboarding"), label_factory(name="Reengage")
    now = timezone.now()
    rows = [
        ("Diwali 2026 – Push", Status.RUNNING, Channel.PUSH, Delivery.ONE_TIME, [onboarding], 0),
        (
            "Weekly digest",
            Status.AWAITING_NEXT_RUN,
            Channel.EMAIL,
            Delivery.RECURRING,
            [reengage],
            1,
        ),
        ("Cart reminder", Status.RUNNING, Channel.SMS, Delivery.ACTION, [reengage], 3),
        ("Spring launch", Status.SCHEDULED, Channel.WEB_PUSH, Delivery.ONE_TIME, [], 30),
        (
            "Promo Dec 2025",
            Status.DRAFT,
            Channel.IN_APP,
            Delivery.ONE_TIME,
            [onboarding, reengage],
            300,
        ),
        ("Summer sale – Email", Status.STOPPED, Channel.EMAIL, Delivery.ONE_TIME, [], 2000),
        ("Win-back", Status.PENDING_APPROVAL, Channel.WHATSAPP, Delivery.INACTION, [], 90),
    ]
    for name, status, channel, delivery, labels, minutes in rows:
        campaign = campaign_factory(
            name=name,
            status=status,
            channel=channel,
            delivery=delivery,
            what=examples.example_what(channel, CampaignType.SINGLE_MESSAGE),
            when=examples.example_when(delivery),
            last_active_at=now - dt.timedelta(minutes=minutes),
        )
        campaign.labels.set(labels)
    campaign_factory(
        name="Diwali 2024",
        status=Status.COMPLETED,
        archived_at=now,
        last_active_at=now - dt.timedelta(days=200),
    )

    sign_in(marketer)
    quick = page.get_by_role("navigation", name="Quick filters")
    expect(quick.get_by_role("link", name="All 7")).to_be_visible()
    expect(quick.get_by_role("link", name="Running 2")).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(7)
    screenshot("list")

    quick.get_by_role("link", name="Running 2").click()
    expect(page.locator("tbody tr")).to_have_count(2)
    expect(page.locator("tbody")).to_contain_text("Cart reminder")
    expect(page.locator("tbody")).not_to_contain_text("Weekly digest")
    assert "quick=running" in page.url

    # Archived rows come back with the toggle, visibly marked.
    quick.get_by_role("link", name="All").click()
    page.get_by_role("switch", name="Show archived").check()
    archived_row = page.locator("tr.is-archived")
    expect(archived_row).to_contain_text("Diwali 2024")
    expect(archived_row).to_contain_text("Archived")
    assert "archived=all" in page.url


def test_bulk_archive_confirms_what_happens_to_each_and_reports_each_result(
    page: Page, sign_in, marketer, campaign_factory, screenshot
):
    done = campaign_factory(name="Finished push", status=Status.COMPLETED)
    draft = campaign_factory(name="Old draft", status=Status.DRAFT)
    live = campaign_factory(name="Live push", status=Status.RUNNING)
    campaign_factory(name="Untouched", status=Status.DRAFT)

    sign_in(marketer)
    bar = page.locator("[data-bulk-bar]")
    expect(bar).to_be_hidden()
    for campaign in (done, draft, live):
        page.get_by_label(f"Select {campaign.name}").check()
    expect(bar).to_be_visible()
    expect(bar).to_contain_text("3 selected")

    bar.get_by_role("button", name="Archive").click()
    dialog = page.locator("dialog#modal")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("2 of 3 selected campaigns can be archived")
    expect(dialog).to_contain_text(
        "1 will be skipped: Live campaigns must be stopped before they are archived."
    )
    expect(dialog.locator("tr", has_text="Finished push")).to_contain_text("Will be archived")
    expect(dialog.locator("tr", has_text="Live push")).to_contain_text("Skipped")
    screenshot("bulk-confirm")

    dialog.get_by_role("button", name="Archive 2 campaigns").click()
    results = page.locator(".results")
    expect(results).to_contain_text("Archive campaigns: 2 done, 1 refused")
    expect(results.locator("li", has_text="Finished push")).to_contain_text("Archived.")
    expect(results.locator("li", has_text="Live push")).to_contain_text(
        "Refused: Live campaigns must be stopped before they are archived."
    )
    screenshot("bulk-results")
    # Archived rows leave the default list.
    expect(page.locator("tbody")).not_to_contain_text("Old draft")
    expect(page.locator("tbody")).to_contain_text("Untouched")
    assert set(Campaign.objects.archived().values_list("name", flat=True)) == {
        "Finished push",
        "Old draft",
    }


def test_bulk_clone_makes_drafts_and_links_to_them(page: Page, sign_in, marketer, campaign_factory):
    campaign_factory(name="Alpha", status=Status.STOPPED)
    campaign_factory(name="Beta", status=Status.RUNNING)

    sign_in(marketer)
    page.get_by_label("Select all on this page").check()
    page.locator("[data-bulk-bar]").get_by_role("button", name="Clone").click()
    dialog = page.locator("dialog#modal")
    expect(dialog).to_contain_text("2 of 2 selected campaigns can be cloned")
    dialog.get_by_role("button", name="Clone 2 campaigns").click()

    results = page.locator(".results")
    expect(results).to_contain_text("Clone campaigns: 2 done")
    results.get_by_role("link", name="Copy of Alpha").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Copy of Alpha")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Draft")


def test_create_publish_and_stop_a_campaign_through_the_pages(
    page: Page, sign_in, marketer, label_factory, screenshot
):
    label_factory(name="Newsletter")
    sign_in(marketer)
    page.get_by_role("button", name="New campaign").click()

    page.get_by_label("Name").fill("Launch e-mail")
    what = page.locator("textarea[name=what]")
    expect(what).to_contain_text("Your weekly digest is ready.")
    # A new channel brings its own example into the untouched What.
    page.get_by_label("Channel").select_option("email")
    expect(page.locator("textarea[name=what]")).to_contain_text("from_email")
    page.get_by_label("Labels", exact=True).select_option(label="Newsletter")
    screenshot("new")
    page.get_by_role("button", name="Create draft").click()

    expect(page.locator(".flash-success")).to_contain_text(
        "“Launch e-mail” was created as a draft."
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("Draft")
    expect(page.locator("#section-what")).to_contain_text("Subject")

    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".flash-success")).to_contain_text(
        "Published: the campaign is now Scheduled."
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("Scheduled")
    screenshot("detail")

    page.locator("[data-action=stop]").click()
    dialog = page.locator("dialog#modal")
    expect(dialog).to_contain_text("Stopping is final")
    dialog.get_by_role("button", name="Stop campaign").click()
    expect(page.locator(".flash-success")).to_contain_text("stopped for good")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Stopped")
    timeline = page.locator(".timeline")
    expect(timeline.locator("li").first).to_contain_text("Stopped")
    expect(timeline).to_contain_text("Scheduled → Stopped")
    expect(page.locator("[data-action=edit]")).to_be_disabled()


def test_the_edit_form_of_a_running_campaign_locks_all_but_what(
    page: Page, sign_in, marketer, campaign_factory, screenshot
):
    campaign = campaign_factory(name="Live digest", status=Status.RUNNING)
    sign_in(marketer)
    page.goto(f"/campaigns/{campaign.pk}/edit/")

    for name in ("who", "when"):
        textarea = page.locator(f"textarea[name={name}]")
        expect(textarea).to_have_attribute("readonly", "")
        expect(page.locator(f"#section-{name}")).to_contain_text(
            "Locked: Running: only What can change."
        )
    for label in ("Name", "Channel", "Type", "Delivery"):
        expect(page.get_by_label(label, exact=True)).to_be_disabled()
    expect(page.locator("textarea[name=what]")).to_be_editable()
    screenshot("edit-locked")

    page.locator("textarea[name=what]").fill(
        '{"message": {"title": "Fresh title", "body": "Still weekly."}}'
    )
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".flash-success")).to_contain_text("Your changes were saved.")
    expect(page.locator("#section-what")).to_contain_text("Fresh title")

    page.goto(f"/campaigns/{campaign.pk}/edit/")
    page.locator("textarea[name=what]").fill('{"message": {"title": "No body"}}')
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#section-what")).to_contain_text(
        "what.message.body: This field is required."
    )
