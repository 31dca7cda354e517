"""All Campaigns in a real browser: the filter drawer, quick filters, sorting, the URL as the
page's state, and bulk operations on the ticked campaigns or on every campaign that matches."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from campaigns.choices import Channel, Status
from campaigns.models import Campaign
from labels.models import Label
from tests.browser.conftest import SCREENSHOTS
from tests.factories import UserFactory

pytestmark = pytest.mark.browser


def params(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def rows(page: Page):
    return page.locator("table.campaigns tbody tr[data-campaign]")


@pytest.fixture
def workspace(marketer, campaign_factory, label_factory):
    """Three creators, a few labels, campaigns across channels, statuses and creators."""
    omar = UserFactory(username="omar@example.com", roles=["Marketer"])
    priya = UserFactory(username="priya@example.com", roles=["Marketer"])
    onboarding = label_factory(name="Onboarding")
    reengage = label_factory(name="Reengage")
    label_factory(name="Score Updates")
    now = timezone.now()
    specs = [
        ("Welcome e-mail", Channel.EMAIL, Status.RUNNING, marketer, [onboarding], 1),
        ("Exit offer", Channel.WEB_EXIT_INTENT, Status.RUNNING, omar, [onboarding], 2),
        ("Spring pop-up", Channel.WEB_POPUP, Status.SCHEDULED, omar, [reengage], 3),
        ("Win-back e-mail", Channel.EMAIL, Status.DRAFT, omar, [reengage], 4),
        ("Lookalikes", Channel.FACEBOOK_AUDIENCE, Status.COMPLETED, priya, [], 5),
        ("Diwali push", Channel.PUSH, Status.RUNNING, priya, [onboarding], 6),
        ("Cart SMS", Channel.SMS, Status.PENDING_APPROVAL, marketer, [], 7),
    ]
    made = {}
    for name, channel, status, creator, labels, hours in specs:
        campaign = campaign_factory(
            name=name,
            channel=channel,
            status=status,
            created_by=creator,
            last_active_at=now - dt.timedelta(hours=hours),
        )
        campaign.labels.set(labels)
        made[name] = campaign
    made["Old newsletter"] = campaign_factory(
        name="Old newsletter",
        channel=Channel.EMAIL,
        status=Status.COMPLETED,
        created_by=omar,
        archived_at=now,
        last_active_at=now - dt.timedelta(days=200),
    )
    return made


def test_the_drawer_combines_channel_creator_and_label_filters_as_chips_in_the_url(
    page: Page, sign_in, marketer, workspace, screenshot
):
    page.set_viewport_size({"width": 1440, "height": 1180})  # the whole drawer in the picture
    sign_in(marketer)
    expect(rows(page)).to_have_count(7)

    page.locator(".filter-toggle").click()
    drawer = page.get_by_role("region", name="Filter Campaigns")
    expect(drawer).to_be_visible()
    for option in ("Email", "Web", "Audiences", "Google Ads", "Web Native Display"):
        expect(drawer.get_by_label(option, exact=True)).to_be_visible()
    drawer.get_by_label("Email", exact=True).check()
    drawer.get_by_label("Web", exact=True).check()

    creator = drawer.get_by_role("searchbox", name="Created by")
    creator.fill("omar")
    drawer.get_by_role("button", name="omar@example.com").click()
    expect(drawer.locator("[data-chips=created_by]")).to_contain_text("omar@example.com")
    expect(creator).to_have_value("")

    label = drawer.get_by_role("searchbox", name="Label")
    label.fill("onb")
    drawer.get_by_role("button", name="Onboarding").click()
    label.fill("reen")
    label.press("Enter")  # picks the first match
    expect(drawer.locator("[data-chips=label]")).to_contain_text("Onboarding")
    expect(drawer.locator("[data-chips=label]")).to_contain_text("Reengage")
    drawer.locator(".drawer-body").evaluate("body => body.scrollTo(0, 0)")
    page.mouse.move(0, 0)
    page.screenshot(path=str(SCREENSHOTS / "herald-list-drawer.png"))

    drawer.get_by_role("button", name="Apply").click()
    expect(drawer).to_be_hidden()
    onboarding = Label.objects.get(name="Onboarding")
    reengage = Label.objects.get(name="Reengage")
    assert params(page) == {
        "channel_group": ["email", "web"],
        "created_by": ["omar@example.com"],
        "label": [str(onboarding.pk), str(reengage.pk)],
    }
    # Email or Web, by Omar, carrying Onboarding or Reengage: the archived one stays hidden.
    expect(rows(page)).to_have_count(3)
    for name in ("Exit offer", "Spring pop-up", "Win-back e-mail"):
        expect(page.locator("tbody")).to_contain_text(name)
    chips = page.get_by_role("region", name="Active filters")
    for text in ("Channel Email", "Channel Web", "Created by omar@example.com", "Label Onboarding"):
        expect(chips).to_contain_text(text)
    expect(page.locator(".filter-toggle .filter-count")).to_have_text("5")
    screenshot("list-filtered")

    # A chip's × drops that one value; the back button brings it back.
    chips.get_by_role("link", name="Remove filter Channel: Web").click()
    expect(rows(page)).to_have_count(1)
    assert params(page)["channel_group"] == ["email"]
    page.go_back()
    expect(rows(page)).to_have_count(3)
    assert params(page)["channel_group"] == ["email", "web"]

    # The drawer opens on what is applied, and a chip inside it can be taken off there too.
    page.locator(".filter-toggle").click()
    expect(drawer.get_by_label("Web", exact=True)).to_be_checked()
    drawer.locator("[data-chips=label] .pick-chip", has_text="Reengage").click()
    expect(drawer.locator("[data-chips=label]")).not_to_contain_text("Reengage")
    drawer.get_by_role("button", name="Apply").click()
    expect(rows(page)).to_have_count(1)
    expect(page.locator("tbody")).to_contain_text("Exit offer")
    assert params(page)["label"] == [str(onboarding.pk)]

    page.get_by_role("link", name="Clear all").click()
    expect(rows(page)).to_have_count(7)
    assert params(page) == {}


def test_quick_filters_sorting_and_the_archived_toggle_live_in_the_url(
    page: Page, sign_in, marketer, workspace
):
    sign_in(marketer)
    quick = page.get_by_role("navigation", name="Quick filters")
    expect(quick.get_by_role("link", name="All 7")).to_have_attribute("aria-current", "true")
    expect(quick.get_by_role("link", name="Running 3")).to_be_visible()
    expect(quick.get_by_role("link", name="Mine 2")).to_be_visible()

    quick.get_by_role("link", name="Running 3").click()
    expect(rows(page)).to_have_count(3)
    assert params(page) == {"quick": ["running"]}

    # Sort by name: A→Z, then Z→A, with the arrow on the column; the quick filter stays.
    header = page.get_by_role("columnheader", name=re.compile("^Name"))
    header.get_by_role("link").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    expect(rows(page).first).to_contain_text("Diwali push")
    assert params(page) == {"quick": ["running"], "ordering": ["name"]}
    header = page.get_by_role("columnheader", name=re.compile("^Name"))
    header.get_by_role("link").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(header).to_contain_text("▼")
    expect(rows(page).first).to_contain_text("Welcome e-mail")
    assert params(page)["ordering"] == ["-name"]

    # A quick filter combines with the drawer: Running and Email.
    page.locator(".filter-toggle").click()
    drawer = page.get_by_role("region", name="Filter Campaigns")
    drawer.get_by_label("Email", exact=True).check()
    drawer.get_by_role("button", name="Apply").click()
    expect(rows(page)).to_have_count(1)
    assert params(page) == {
        "quick": ["running"],
        "ordering": ["-name"],
        "channel_group": ["email"],
    }

    # The archived toggle: archived rows come back, marked and read-only.
    quick.get_by_role("link", name=re.compile("^All")).click()
    expect(rows(page)).to_have_count(2)  # the live e-mails: the Email filter stays
    page.get_by_role("switch", name="Show archived").check()
    expect(rows(page)).to_have_count(3)
    assert params(page)["archived"] == ["all"]
    archived = page.locator("tr.is-archived")
    expect(archived).to_contain_text("Old newsletter")
    expect(archived).to_contain_text("Archived")
    expect(archived).to_contain_text("read-only")

    # Back walks through every state; forward comes back.
    page.go_back()
    expect(rows(page)).to_have_count(2)
    assert "archived" not in params(page)
    page.go_back()
    expect(rows(page)).to_have_count(1)
    assert params(page)["quick"] == ["running"]
    page.go_back()
    expect(rows(page)).to_have_count(3)
    assert "channel_group" not in params(page)
    expect(page.get_by_role("columnheader", name=re.compile("^Name"))).to_have_attribute(
        "aria-sort", "descending"
    )
    page.go_forward()
    expect(rows(page)).to_have_count(1)


@pytest.fixture
def sms_wave(marketer, campaign_factory):
    """55 SMS campaigns (53 running, 2 drafts) and one push campaign, live."""
    now = timezone.now()
    made = [
        campaign_factory(
            name=f"SMS {i:02}",
            channel=Channel.SMS,
            status=Status.RUNNING,
            last_active_at=now - dt.timedelta(minutes=i),
        )
        for i in range(53)
    ]
    made += [
        campaign_factory(name=f"SMS draft {i}", channel=Channel.SMS, status=Status.DRAFT)
        for i in range(2)
    ]
    campaign_factory(name="Push live", channel=Channel.PUSH, status=Status.RUNNING)
    return made


def test_stop_every_campaign_matching_the_filters_with_select_all_matching(
    page: Page, sign_in, marketer, sms_wave, screenshot
):
    sign_in(marketer)
    page.goto("/campaigns/?channel_group=sms")
    expect(page.locator("[data-total]")).to_have_text("55 campaigns")
    banner = page.locator("[data-select-banner]")
    expect(banner).to_be_hidden()

    page.get_by_label("Select all on this page").check()
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("All 50 on this page are selected.")
    banner.get_by_text("Select all 55 matching").click()
    expect(banner).to_contain_text("All 55 campaigns matching these filters are selected.")
    expect(banner).to_contain_text("Select only the 50 on this page")
    bar = page.locator("[data-bulk-bar]")
    expect(bar).to_contain_text("All 55 matching selected")
    screenshot("list-select-matching")

    bar.get_by_role("button", name="Stop").click()
    dialog = page.locator("dialog#modal")
    expect(dialog).to_contain_text("All 55 campaigns matching the filters are selected.")
    expect(dialog).to_contain_text("53 of 55 selected campaigns can be stopped.")
    expect(dialog).to_contain_text(
        "2 will be skipped: Drafts are not live; there is nothing to stop."
    )
    expect(dialog).to_contain_text("Stopping is final")
    screenshot("list-stop-matching")
    dialog.get_by_role("button", name="Stop 53 campaigns").click()

    results = page.locator(".results")
    expect(results).to_contain_text("Stop campaigns: 53 done, 2 refused")
    expect(results.locator("li", has_text="SMS draft 0")).to_contain_text("Refused: Drafts")
    assert Campaign.objects.filter(status=Status.STOPPED).count() == 53
    assert Campaign.objects.get(name="Push live").status == Status.RUNNING
    assert params(page) == {"channel_group": ["sms"]}

    # Unticking one row takes back "all matching": the page's ticks are what is sent again.
    page.get_by_label("Select all on this page").check()
    banner.get_by_text("Select all 55 matching").click()
    rows(page).first.locator("input[name=ids]").uncheck()
    expect(bar).to_contain_text("49 selected")
    expect(banner).to_be_hidden()


def test_archive_and_clone_from_the_bulk_bar_report_each_campaign(
    page: Page, sign_in, marketer, workspace
):
    sign_in(marketer)
    for name in ("Lookalikes", "Win-back e-mail", "Diwali push"):
        page.get_by_label(f"Select {name}").check()
    bar = page.locator("[data-bulk-bar]")
    bar.get_by_role("button", name="Archive").click()
    dialog = page.locator("dialog#modal")
    expect(dialog).to_contain_text("2 of 3 selected campaigns can be archived.")
    expect(dialog).to_contain_text("(Diwali push)")
    dialog.get_by_role("button", name="Archive 2 campaigns").click()
    results = page.locator(".results")
    expect(results).to_contain_text("Archive campaigns: 2 done, 1 refused")
    expect(rows(page)).to_have_count(5)

    # Archived campaigns come back with the toggle; of the bulk actions only Clone applies.
    page.get_by_role("switch", name="Show archived").check()
    page.get_by_label("Select Lookalikes").check()
    page.get_by_label("Select Old newsletter").check()
    page.locator("[data-bulk-bar]").get_by_role("button", name="Stop").click()
    expect(dialog).to_contain_text("0 of 2 selected campaigns can be stopped.")
    expect(dialog.get_by_role("button", name="Stop 0 campaigns")).to_be_disabled()
    dialog.get_by_role("button", name="Cancel").click()
    page.locator("[data-bulk-bar]").get_by_role("button", name="Clone").click()
    expect(dialog).to_contain_text("2 of 2 selected campaigns can be cloned.")
    dialog.get_by_role("button", name="Clone 2 campaigns").click()
    expect(results).to_contain_text("Clone campaigns: 2 done")
    expect(results).to_contain_text("New draft: Copy of Old newsletter")
    assert Campaign.objects.filter(name__startswith="Copy of", status=Status.DRAFT).count() == 2


def test_add_and_remove_labels_on_every_matching_campaign(
    page: Page, sign_in, marketer, campaign_factory, label_factory
):
    spring = label_factory(name="Spring")
    for i in range(52):
        campaign_factory(name=f"Draft {i:02}", channel=Channel.PUSH)
    campaign_factory(name="Live push", channel=Channel.PUSH, status=Status.RUNNING)
    campaign_factory(name="An e-mail", channel=Channel.EMAIL)

    sign_in(marketer)
    page.goto("/campaigns/?quick=drafts&channel_group=push")
    page.get_by_label("Select all on this page").check()
    page.locator("[data-select-banner]").get_by_text("Select all 52 matching").click()
    bar = page.locator("[data-bulk-bar]")
    bar.get_by_role("button", name="Add labels").click()
    dialog = page.locator("dialog#modal")
    expect(dialog).to_contain_text("Choose labels to add to 52 selected campaigns")
    dialog.get_by_label("Spring").check()
    dialog.get_by_role("button", name="Add labels").click()
    results = page.locator(".results")
    expect(results).to_contain_text("Add labels (Spring): 52 done")
    assert spring.campaigns.count() == 52
    assert not spring.campaigns.filter(name__in=["Live push", "An e-mail"]).exists()

    page.get_by_label("Select all on this page").check()
    page.locator("[data-select-banner]").get_by_text("Select all 52 matching").click()
    bar.get_by_role("button", name="Remove labels").click()
    expect(dialog).to_contain_text("Choose labels to remove from 52 selected campaigns")
    dialog.get_by_label("Spring").check()
    dialog.get_by_role("button", name="Remove labels").click()
    expect(results).to_contain_text("Remove labels (Spring): 52 done")
    assert spring.campaigns.count() == 0
    assert Label.objects.filter(name="Spring").exists()


def test_the_drawer_closes_with_escape_or_a_click_beside_it(page: Page, sign_in, marketer):
    sign_in(marketer)
    drawer = page.get_by_role("region", name="Filter Campaigns")
    page.locator(".filter-toggle").click()
    expect(drawer).to_be_visible()
    expect(drawer.get_by_label("Email", exact=True)).to_be_focused()
    page.keyboard.press("Escape")
    expect(drawer).to_be_hidden()
    expect(page.locator(".filter-toggle")).to_be_focused()

    page.locator(".filter-toggle").click()
    expect(drawer).to_be_visible()
    page.mouse.click(300, 500)  # the dimmed page beside the drawer
    expect(drawer).to_be_hidden()


def test_without_javascript_the_drawer_still_opens_and_applies(
    page: Page, live_server, marketer, workspace
):
    context = page.context.browser.new_context(
        base_url=live_server.url, java_script_enabled=False, viewport={"width": 1440, "height": 900}
    )
    try:
        nojs = context.new_page()
        nojs.goto("/login/")
        nojs.get_by_label("E-mail").fill(marketer.username)
        nojs.get_by_label("Password").fill("pass-word-1234")
        nojs.get_by_role("button", name="Sign in").click()
        expect(rows(nojs)).to_have_count(7)

        nojs.locator(".filter-toggle").click()
        drawer = nojs.get_by_role("region", name="Filter Campaigns")
        expect(drawer).to_be_visible()
        # The type-aheads give way to plain inputs.
        expect(drawer.get_by_role("searchbox", name="Created by")).to_be_hidden()
        drawer.get_by_label("Email", exact=True).check()
        drawer.get_by_label("Add a creator's e-mail").fill("omar@example.com")
        drawer.get_by_label("Add labels").select_option(label="Reengage")
        drawer.get_by_role("button", name="Apply").click()

        expect(rows(nojs)).to_have_count(1)
        expect(nojs.locator("tbody")).to_contain_text("Win-back e-mail")
        assert params(nojs)["channel_group"] == ["email"]
        assert params(nojs)["created_by"] == ["omar@example.com"]

        # A chip in the drawer is a checkbox: unticked, it is not sent.
        nojs.locator(".filter-toggle").click()
        drawer.locator("[data-chips=created_by] .pick-chip").click()
        drawer.get_by_role("button", name="Apply").click()
        expect(rows(nojs)).to_have_count(1)
        assert "created_by" not in params(nojs)
    finally:
        context.close()
