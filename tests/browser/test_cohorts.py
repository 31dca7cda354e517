"""The cohort page in a real browser: choose "sent a campaign labelled Onboarding", came back with
App Launched, and read the heat map; the CSV link downloads the same table."""

from __future__ import annotations

import csv
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from audience.models import Event
from tests.audience.test_cohorts import example  # noqa: F401 - the hand-checked example

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _no_events_left() -> Iterator[None]:
    """The events table is not emptied by the transactional tests' flush."""
    yield
    Event.objects.all().delete()


def test_the_heat_map_for_the_onboarding_cohorts_and_its_csv(
    page: Page,
    sign_in,
    approver,
    example,  # noqa: F811
    screenshot,
):
    sign_in(approver)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cohorts").click()
    expect(page.get_by_role("heading", name="Cohort retention", level=1)).to_be_visible()

    page.get_by_role("radio", name="were sent a campaign labelled").check()
    page.get_by_label("Label", exact=True).select_option(label="Onboarding")
    page.get_by_label("Return event").fill("App Launched")
    page.get_by_label("day (day 0 to 30)").check()
    page.get_by_label("Cohorts from").fill("2025-03-01")
    page.get_by_label("to", exact=True).fill("2025-03-03")
    page.get_by_role("button", name="Show retention").click()

    heading = page.locator("#heatmap-title")
    expect(heading).to_have_text(
        "Was sent a campaign labelled “Onboarding”: came back with App Launched"
    )
    heatmap = page.locator("table[data-heatmap]")
    expect(heatmap.locator("thead th")).to_have_count(33)
    first = heatmap.locator('tr[data-cohort="2025-03-01"]')
    expect(first.locator("th")).to_have_text("Sat 1 Mar")
    expect(first.locator("td").nth(0)).to_have_text("2")
    cells = first.locator("td.heat")
    expect(cells).to_have_count(31)
    expect(cells.nth(0)).to_have_text("50%")
    expect(cells.nth(0)).to_have_attribute("title", "1 of 2 (50.0%)")
    expect(cells.nth(4)).to_have_text("0%")
    # The shade follows the share: a 50% cell is darker than a 0% one.
    shade = cells.nth(0).evaluate("cell => getComputedStyle(cell).backgroundColor")
    pale = cells.nth(4).evaluate("cell => getComputedStyle(cell).backgroundColor")
    assert shade != pale
    expect(heatmap.locator('tr[data-cohort="all"] td').nth(0)).to_have_text("6")
    screenshot("cohorts-heatmap")

    with page.expect_download() as info:
        page.get_by_role("button", name="Download CSV").click()
    download = info.value
    assert download.suggested_filename.startswith("retention-was-sent-a-campaign-labelled")
    with open(download.path(), encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:3] == ["cohort", "size", "day 0 %"]
    assert rows[1][:4] == ["2025-03-01", "2", "50.0", "50.0"]
    assert rows[-1][:2] == ["all", "6"]


def test_a_missing_choice_is_shown_on_its_field(page: Page, sign_in, marketer):
    sign_in(marketer)
    page.goto("/audience/cohorts/")

    page.get_by_role("radio", name="did the event").check()
    page.get_by_role("button", name="Show retention").click()

    expect(page.locator("[data-cohort-error]")).to_contain_text("cannot be computed")
    expect(page.get_by_label("Qualifying event")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#err-event")).to_have_text(
        "Name the event that puts a person in a cohort."
    )
    expect(page.locator("table[data-heatmap]")).to_have_count(0)
