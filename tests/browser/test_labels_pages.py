"""Labels in a real browser: the All Campaigns picker (add with a new label created inline,
remove), the any-of label filter, and Settings > Setup > Labels (search, sort, rename, delete,
Export CSV)."""

from __future__ import annotations

import csv
import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from campaigns.choices import Status
from campaigns.models import Campaign
from labels.models import Label

pytestmark = pytest.mark.browser


def names_on(campaign: Campaign) -> list[str]:
    return sorted(campaign.labels.values_list("name", flat=True))


@pytest.fixture
def shot(page: Page, screenshot):
    """A screenshot once Pico's 0.2 s transitions (a checkbox being ticked) have finished."""

    def take(name: str) -> None:
        page.wait_for_timeout(300)
        screenshot(name)

    return take


def test_add_labels_to_selected_campaigns_with_a_new_one_created_inline(
    page: Page, sign_in, marketer, campaign_factory, label_factory, shot
):
    onboarding = label_factory(name="Onboarding")
    label_factory(name="Reengage")
    welcome = campaign_factory(name="Welcome series", status=Status.DRAFT)
    cart = campaign_factory(name="Cart reminder", status=Status.SCHEDULED)
    live = campaign_factory(name="Live push", status=Status.RUNNING)
    campaign_factory(name="Not selected", status=Status.DRAFT)

    sign_in(marketer)
    for campaign in (welcome, cart, live):
        page.get_by_label(f"Select {campaign.name}").check()
    page.locator("[data-bulk-bar]").get_by_role("button", name="Add labels").click()

    dialog = page.locator("dialog#modal")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Choose labels to add to 3 selected campaigns")
    expect(dialog).to_contain_text("1 will be skipped: Running: only What can change.")

    # A forbidden symbol is refused as it is typed, before anything is sent.
    new_name = dialog.get_by_label("Create a new label")
    new_name.press_sequentially("Promo!", delay=20)
    check = dialog.locator("#picker-new-check")
    expect(check).to_contain_text("Label names cannot contain !.")
    expect(check.get_by_role("button")).to_have_count(0)
    shot("labels-picker-error")

    new_name.fill("Promo")
    expect(check).to_contain_text("“Promo” is new: it will be created.")
    new_name.press("Enter")  # joins the list, ticked; the input is free again
    new_item = dialog.locator(".picker-item.is-new", has_text="Promo")
    expect(new_item.locator("input")).to_be_checked()
    expect(new_name).to_have_value("")

    dialog.locator(".picker-item", has_text="Onboarding").locator("input").check()
    shot("labels-picker")
    dialog.get_by_role("button", name="Add labels").click()

    results = page.locator(".results")
    expect(results).to_contain_text("Add labels (Onboarding, Promo): 2 done, 1 refused")
    expect(results).to_contain_text("Created the new label “Promo”.")
    expect(results.locator("li", has_text="Welcome series")).to_contain_text("Labels updated.")
    expect(results.locator("li", has_text="Live push")).to_contain_text(
        "Refused: Labels are locked: Running: only What can change."
    )
    expect(page.locator("tr", has_text="Cart reminder")).to_contain_text("Onboarding")
    shot("labels-add-results")

    assert names_on(welcome) == names_on(cart) == ["Onboarding", "Promo"]
    assert names_on(live) == []
    assert Label.objects.filter(name="Promo").count() == 1
    assert onboarding.campaigns.count() == 2


def test_a_bad_name_sent_anyway_is_refused_on_the_picker(
    page: Page, sign_in, marketer, campaign_factory
):
    campaign = campaign_factory(name="Welcome series")
    sign_in(marketer)
    page.get_by_label("Select Welcome series").check()
    page.locator("[data-bulk-bar]").get_by_role("button", name="Add labels").click()
    dialog = page.locator("dialog#modal")
    dialog.get_by_label("Create a new label").fill("50% off")
    dialog.get_by_role("button", name="Add labels").click()
    expect(dialog.get_by_role("alert").first).to_contain_text(
        "“50% off”: Label names cannot contain %."
    )
    expect(dialog).to_contain_text("Nothing was changed.")
    expect(dialog.get_by_label("Create a new label")).to_have_value("50% off")
    assert not Label.objects.exists() and names_on(campaign) == []


def test_the_picker_filter_narrows_the_labels_by_name(
    page: Page, sign_in, marketer, campaign_factory, label_factory
):
    for name in ("Onboarding", "Reengage", "Score Updates", "Black Friday", "Newsletter"):
        label_factory(name=name)
    for i in range(5):
        label_factory(name=f"Season {i}")
    campaign = campaign_factory(name="Welcome series")
    campaign.labels.add(Label.objects.get(name="Black Friday"))

    sign_in(marketer)
    page.get_by_label("Select Welcome series").check()
    page.locator("[data-bulk-bar]").get_by_role("button", name="Add labels").click()
    dialog = page.locator("dialog#modal")
    items = dialog.locator(".picker-item")
    expect(items).to_have_count(10)
    dialog.get_by_label("Filter labels").fill("on")  # not "Black Friday", though it is "on 1 of 1"
    expect(items.locator("visible=true")).to_have_count(6)  # Onboarding, Season 0-4
    dialog.get_by_label("Filter labels").fill("zzz")
    expect(dialog.locator("[data-picker-none]")).to_be_visible()


def test_remove_labels_from_selected_campaigns(
    page: Page, sign_in, marketer, campaign_factory, label_factory, shot
):
    onboarding, reengage = label_factory(name="Onboarding"), label_factory(name="Reengage")
    label_factory(name="Unused")
    first = campaign_factory(name="First push")
    second = campaign_factory(name="Second push")
    first.labels.add(onboarding, reengage)
    second.labels.add(onboarding)

    sign_in(marketer)
    page.get_by_label("Select all on this page").check()
    page.locator("[data-bulk-bar]").get_by_role("button", name="Remove labels").click()
    dialog = page.locator("dialog#modal")
    items = dialog.locator(".picker-item")
    expect(items).to_have_count(2)  # only the labels the selection carries
    expect(items.nth(0)).to_contain_text("Onboarding on 2 of 2")
    expect(items.nth(1)).to_contain_text("Reengage on 1 of 2")
    expect(dialog.get_by_label("Create a new label")).to_have_count(0)
    items.nth(0).locator("input").check()
    shot("labels-remove-picker")
    dialog.get_by_role("button", name="Remove labels").click()

    expect(page.locator(".results")).to_contain_text("Remove labels (Onboarding): 2 done")
    expect(page.locator("tr", has_text="First push")).not_to_contain_text("Onboarding")
    expect(page.locator("tr", has_text="First push")).to_contain_text("Reengage")
    assert names_on(first) == ["Reengage"] and names_on(second) == []


def test_the_label_filter_shows_campaigns_with_any_of_the_ticked_labels(
    page: Page, sign_in, marketer, campaign_factory, label_factory, shot
):
    onboarding, reengage = label_factory(name="Onboarding"), label_factory(name="Reengage")
    campaign_factory(name="Both").labels.add(onboarding, reengage)
    campaign_factory(name="Welcome").labels.add(onboarding)
    campaign_factory(name="Win-back").labels.add(reengage)
    campaign_factory(name="Unlabelled")

    sign_in(marketer)
    expect(page.locator("tbody tr")).to_have_count(4)
    # The label filter lives in the Filter Campaigns drawer: a type-ahead whose picks are chips.
    page.locator(".filter-toggle").click()
    drawer = page.get_by_role("region", name="Filter Campaigns")
    find = drawer.get_by_role("searchbox", name="Label")
    find.fill("onb")
    drawer.get_by_role("button", name="Onboarding").click()
    find.fill("reen")
    drawer.get_by_role("button", name="Reengage").click()
    shot("labels-filter")
    drawer.get_by_role("button", name="Apply").click()

    expect(page.locator("tbody tr")).to_have_count(3)
    expect(page.locator("tbody")).not_to_contain_text("Unlabelled")
    chips = page.get_by_role("region", name="Active filters")
    expect(chips).to_contain_text("Label Onboarding")
    expect(chips).to_contain_text("Label Reengage")
    assert re.search(rf"label={onboarding.pk}.*label={reengage.pk}", page.url)

    page.goto(f"/campaigns/?label={onboarding.pk}&label=999999")
    expect(page.locator("[data-filter-problems]")).to_contain_text(
        "There is no label with id 999999; it may have been deleted."
    )
    expect(page.locator("tbody tr")).to_have_count(2)


def test_the_labels_page_searches_sorts_renames_and_deletes(
    page: Page, sign_in, admin, campaign_factory, label_factory, shot
):
    onboarding = label_factory(name="Onboarding", created_by=admin)
    reengage = label_factory(name="Reengage", created_by=admin)
    label_factory(name="Score Updates", created_by=admin)
    for _ in range(3):
        campaign_factory().labels.add(onboarding)
    campaign_factory(status=Status.COMPLETED, archived_at=timezone.now()).labels.add(onboarding)
    campaign_factory().labels.add(reengage)

    sign_in(admin)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Labels").click()
    expect(page.get_by_role("heading", name="Labels", exact=True)).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(3)
    expect(page.locator(f"#label-{onboarding.pk}")).to_contain_text("Onboarding4")
    shot("labels-page")

    # Sort: most used first, then the other way.
    heading = page.locator("thead").get_by_role("link", name="Campaigns")
    heading.click()
    expect(page.locator("tbody tr").first).to_contain_text("Onboarding")
    heading.click()
    expect(page.locator("tbody tr").first).to_contain_text("Score Updates")
    assert "sort=campaigns" in page.url

    # Search keeps the sort.
    page.get_by_label("Search labels by name").fill("re")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("tbody tr")).to_have_count(2)  # Reengage, Score Updates
    assert "q=re" in page.url and "sort=campaigns" in page.url
    page.get_by_role("link", name="Clear").click()
    expect(page.locator("tbody tr")).to_have_count(3)

    # Rename inline: the row becomes a form; a taken name is refused as typed and on save.
    row = page.locator(f"#label-{reengage.pk}")
    row.get_by_role("button", name="Rename Reengage").click()
    field = row.get_by_label("Rename “Reengage”")
    expect(field).to_be_focused()
    # Typed key by key, as a person would: htmx wires the swapped-in input up just after the
    # swap, and an instant fill() could land before it listens.
    field.select_text()
    field.press_sequentially("onboarding", delay=20)
    expect(row.locator(".name-check")).to_contain_text("“Onboarding” already exists")
    shot("labels-rename-error")
    row.get_by_role("button", name="Save").click()
    expect(row.get_by_role("alert")).to_contain_text("A label with this name already exists")
    reengage.refresh_from_db()
    assert reengage.name == "Reengage"
    field = row.get_by_label("Rename “Reengage”")
    field.fill("Re-engage")
    row.get_by_role("button", name="Save").click()
    expect(row).to_contain_text("Re-engage")
    expect(row).to_contain_text("Renamed from “Reengage”.")
    reengage.refresh_from_db()
    assert reengage.name == "Re-engage"

    # Cancel puts the row back as it was.
    row.get_by_role("button", name="Rename Re-engage").click()
    row.get_by_role("button", name="Cancel").click()
    expect(row.get_by_role("button", name="Rename Re-engage")).to_be_visible()

    # Delete asks first, saying how many campaigns lose the label.
    page.locator(f"#label-{onboarding.pk}").get_by_role("button", name="Delete Onboarding").click()
    dialog = page.locator("dialog#modal")
    expect(dialog).to_contain_text(
        "Delete “Onboarding”? It is on 4 campaigns; it will be removed from them."
    )
    shot("labels-delete-confirm")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert Label.objects.filter(pk=onboarding.pk).exists()

    page.locator(f"#label-{onboarding.pk}").get_by_role("button", name="Delete Onboarding").click()
    dialog.get_by_role("button", name="Delete label").click()
    expect(page.locator(".flash-success")).to_contain_text(
        "Deleted the label “Onboarding”; it was removed from 4 campaigns."
    )
    expect(page.locator("tbody tr")).to_have_count(2)
    assert not Label.objects.filter(pk=onboarding.pk).exists()


def test_creating_a_label_on_the_labels_page_checks_the_name_as_it_is_typed(
    page: Page, sign_in, admin
):
    sign_in(admin)
    page.goto("/settings/labels/")
    field = page.get_by_role("textbox", name="Create label")
    field.press_sequentially("<Promo>", delay=20)
    expect(page.locator("#new-label-check")).to_contain_text(
        "Label names cannot start with or contain > <."
    )
    field.fill("Promo")
    expect(page.locator("#new-label-check")).to_be_empty()
    page.get_by_role("button", name="Create label").click()
    expect(page.locator(".flash-success")).to_contain_text("Created the label “Promo”.")
    expect(page.locator("tbody")).to_contain_text("Promo")


def test_export_csv_downloads_every_label(
    page: Page, sign_in, admin, campaign_factory, label_factory
):
    onboarding = label_factory(name="Onboarding", created_by=admin)
    label_factory(name="Café ☕, spring")
    label_factory(name="=1+1")
    campaign_factory().labels.add(onboarding)

    sign_in(admin)
    page.goto("/settings/labels/")
    with page.expect_download() as info:
        page.get_by_role("button", name="Export CSV").click()
    download = info.value
    assert download.suggested_filename == f"labels-{timezone.localdate().isoformat()}.csv"
    with open(download.path(), encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["name", "campaigns", "created_by", "created_at"]
    by_name = {row[0]: row for row in rows[1:]}
    assert set(by_name) == {"Onboarding", "Café ☕, spring", "'=1+1"}
    assert by_name["Onboarding"][1:3] == ["1", "ada@example.com"]


def test_the_editor_creates_labels_typed_by_name_and_checks_them_as_typed(
    page: Page, sign_in, marketer, label_factory, shot
):
    label_factory(name="Onboarding")
    sign_in(marketer)
    page.goto("/campaigns/new/")
    page.get_by_label("Name", exact=True).fill("Welcome e-mail")
    page.get_by_label("Labels", exact=True).select_option(label="Onboarding")
    new_labels = page.get_by_label("New labels")
    new_labels.press_sequentially("Score Updates, Sale!", delay=20)
    check = page.locator("#new-labels-check")
    expect(check).to_contain_text("“Score Updates” will be created.")
    expect(check).to_contain_text("“Sale!”: Label names cannot contain !.")
    shot("labels-editor")

    # Sent anyway, the field says why and nothing is saved.
    page.get_by_role("button", name="Create draft").click()
    expect(page.locator(".field-error")).to_contain_text("“Sale!”: Label names cannot contain !.")
    assert not Campaign.objects.exists() and not Label.objects.filter(name="Score Updates").exists()

    page.get_by_label("New labels").fill("Score Updates, onboarding")
    page.get_by_role("button", name="Create draft").click()
    expect(page.locator(".flash-success")).to_contain_text("was created as a draft")
    expect(page.locator(".labels")).to_contain_text("Onboarding")
    expect(page.locator(".labels")).to_contain_text("Score Updates")
    campaign = Campaign.objects.get(name="Welcome e-mail")
    assert names_on(campaign) == ["Onboarding", "Score Updates"]
    expect(page.locator(".timeline")).to_contain_text("Created")


def test_only_admins_see_the_settings_entry(page: Page, sign_in, marketer):
    sign_in(marketer)
    expect(page.get_by_role("link", name="Labels")).to_have_count(0)
    page.goto("/settings/labels/")
    expect(page.get_by_role("heading", name="Your role does not allow this")).to_be_visible()
