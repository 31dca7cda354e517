"""Saved filters in a real browser: filter All Campaigns, save the filter under a name, come back
to it from the unfiltered list, rename it and delete it."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from campaigns.choices import Status
from campaigns.models import SavedFilter

pytestmark = pytest.mark.browser


@pytest.fixture
def shot(page: Page, screenshot):
    """A screenshot once Pico's 0.2 s transitions have finished."""

    def take(name: str) -> None:
        page.wait_for_timeout(300)
        screenshot(name)

    return take


def expect_rows(page: Page, shown: list[str], hidden: list[str]) -> None:
    table = page.locator("#bulk-form")
    for name in shown:
        expect(table.get_by_role("link", name=name, exact=True)).to_be_visible()
    for name in hidden:
        expect(table.get_by_role("link", name=name, exact=True)).to_have_count(0)


def test_save_a_filter_come_back_to_it_rename_and_delete_it(
    page: Page, sign_in, marketer, campaign_factory, shot
):
    campaign_factory(name="Summer promo push", status=Status.RUNNING)
    campaign_factory(name="Summer promo SMS", status=Status.RUNNING, channel="sms")
    campaign_factory(name="Summer promo draft", status=Status.DRAFT)
    campaign_factory(name="Winter digest", status=Status.RUNNING)
    filtered = ["Summer promo push", "Summer promo SMS"]
    others = ["Summer promo draft", "Winter digest"]

    sign_in(marketer)
    expect(page.get_by_role("heading", name="All Campaigns")).to_be_visible()
    saved_section = page.locator("#saved-filters")
    expect(saved_section).to_contain_text("None yet.")

    # Apply some filters: the Running quick filter, then a search on the name.
    page.locator(".quick-filters a", has_text="Running").first.click()
    expect(page).to_have_url(re.compile(r"running"))
    search = page.get_by_label("Search campaigns by name")
    search.fill("Summer")
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"q=Summer"))
    expect_rows(page, filtered, others)
    filtered_query = urlsplit(page.url).query

    # Save it under a name.
    saved_section.locator("summary", has_text="Save filter").click()
    saved_section.get_by_label("Name this filter").fill("Summer live")
    shot("saved-filter-naming")
    saved_section.get_by_role("button", name="Save", exact=True).click()
    expect(saved_section).to_contain_text("Saved the filter “Summer live”.")
    link = saved_section.get_by_role("link", name="Summer live")
    expect(link).to_have_attribute("aria-current", "true")
    saved = SavedFilter.objects.get(user=marketer)
    assert saved.name == "Summer live"
    assert sorted(saved.query.split("&")) == sorted(
        p for p in filtered_query.split("&") if not p.startswith("page=")
    )

    # A name already used (in another case) is refused in the form, and nothing is saved.
    saved_section.locator("summary", has_text="Save filter").click()
    saved_section.get_by_label("Name this filter").fill("SUMMER LIVE")
    saved_section.get_by_role("button", name="Save", exact=True).click()
    expect(saved_section.get_by_role("alert")).to_contain_text(
        "You already have a saved filter with this name"
    )
    shot("saved-filter-taken")
    assert SavedFilter.objects.count() == 1

    # Navigate away, to the unfiltered list: everything shows again.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    expect(page).to_have_url(re.compile(r"/campaigns/$"))
    expect_rows(page, filtered + others, [])

    # The saved filter brings the same filtered view back.
    page.locator("#saved-filters").get_by_role("link", name="Summer live").click()
    expect(page).to_have_url(re.compile(r"/campaigns/\?"))
    expect_rows(page, filtered, others)
    expect(page.get_by_label("Search campaigns by name")).to_have_value("Summer")
    assert sorted(urlsplit(page.url).query.split("&")) == sorted(saved.query.split("&"))
    shot("saved-filter-applied")

    # Rename it inline.
    saved_section = page.locator("#saved-filters")
    saved_section.locator("summary", has_text="Edit").click()
    rename = saved_section.get_by_label("Rename “Summer live”")
    rename.fill("Summer running")
    shot("saved-filter-rename")
    saved_section.get_by_role("button", name="Rename").click()
    expect(saved_section).to_contain_text("Renamed “Summer live” to “Summer running”.")
    expect(saved_section.get_by_role("link", name="Summer running")).to_be_visible()
    expect(saved_section.get_by_role("link", name="Summer live")).to_have_count(0)

    # Delete it, after the confirmation says what will happen.
    saved_section.locator("summary", has_text="Edit").click()
    saved_section.locator("summary", has_text="Delete").click()
    confirm = saved_section.locator("[data-confirm=delete-saved-filter]")
    expect(confirm).to_contain_text("Delete the saved filter “Summer running”?")
    shot("saved-filter-delete")
    confirm.get_by_role("button", name="Delete saved filter").click()
    expect(saved_section).to_contain_text("Deleted the saved filter “Summer running”.")
    expect(saved_section).to_contain_text("None yet.")
    assert not SavedFilter.objects.exists()

    # The campaigns were never touched, and the list still shows the filtered view.
    expect_rows(page, filtered, others)
    page.reload()
    expect(page.locator("#saved-filters")).to_contain_text("None yet.")


def test_one_marketers_saved_filters_are_not_anothers(
    page: Page, sign_in, marketer, other_marketer
):
    SavedFilter.objects.create(user=other_marketer, name="Omar's drafts", query="status=draft")
    SavedFilter.objects.create(user=marketer, name="Maya's running", query="status=running")
    sign_in(marketer)
    section = page.locator("#saved-filters")
    expect(section.get_by_role("link", name="Maya's running")).to_be_visible()
    expect(section).not_to_contain_text("Omar's drafts")
