"""Segments in a real browser: the builder's live estimate following the Who as it is typed,
the list's counts arriving row by row, deletion refused while a campaign uses the segment, and
the campaign editor's estimate beside its Who."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from audience import segment_services as services
from audience.models import Device, Profile, PropertyDefinition, Segment

pytestmark = pytest.mark.browser

PUNE = {
    "type": "group",
    "match": "all",
    "conditions": [{"type": "property", "property": "city", "op": "eq", "value": "Pune"}],
}


@pytest.fixture
def people(db):
    PropertyDefinition.objects.create(name="city", type="string")
    ana = Profile.objects.create(
        identity="ana", email="ana@example.com", properties={"city": "Pune"}
    )
    Device.objects.create(profile=ana, kind="push", token="t-ana")
    Profile.objects.create(
        identity="ben", phone="+14155550101", sms_consent="opted_in", properties={"city": "Pune"}
    )
    Profile.objects.create(identity="cy", email="cy@example.com", properties={"city": "Goa"})


def test_the_segment_builder_estimates_as_the_who_changes(
    page: Page, sign_in, marketer, people, screenshot
):
    sign_in(marketer)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Segments").click()
    page.get_by_role("button", name="New segment").click()
    estimate = page.locator("#id_definition-estimate")
    # The example (App Launched in the last 30 days) is counted on arrival: no events yet.
    expect(estimate).to_contain_text("0 people; reachable by e-mail 0")

    page.get_by_label("Name").fill("Pune")
    # The Who builder hides the JSON until asked (tests/browser/test_who_builder.py).
    page.get_by_role("button", name="Edit as JSON").click()
    page.locator("#id_definition").fill(json.dumps(PUNE, indent=2))
    expect(estimate.locator("[data-estimate-total]")).to_have_text("2 people")
    expect(estimate).to_contain_text("reachable by e-mail 1, SMS 1, WhatsApp 0, push 1, web push 0")

    page.locator("#id_definition").fill('{"type": "group", "match": "most", "conditions": []}')
    expect(estimate).to_contain_text("No estimate: the Who has errors.")
    expect(estimate).to_contain_text("who.match: Must be one of: all, any.")
    page.locator("#id_definition").fill("{")
    expect(estimate).to_contain_text("Not valid JSON")

    page.locator("#id_definition").fill(json.dumps(PUNE, indent=2))
    expect(estimate.locator("[data-estimate-total]")).to_have_text("2 people")
    screenshot("segment-builder")
    page.get_by_role("button", name="Save segment").click()

    expect(page.locator(".flash-success")).to_contain_text("Segment “Pune” was saved.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Pune")
    expect(page.locator("[data-used-by]")).to_contain_text("No campaign or segment uses it yet.")
    assert Segment.objects.get().definition == PUNE

    page.get_by_role("link", name="Segments", exact=True).first.click()
    row = page.locator("tr", has_text="Pune")
    expect(row.locator("[data-count]")).to_have_text("2")


def test_a_bad_definition_is_refused_with_its_field_named(page: Page, sign_in, marketer, people):
    sign_in(marketer)
    page.goto("/audience/segments/new/")
    page.get_by_label("Name").fill("Adults")
    bad = {
        "type": "group",
        "match": "all",
        "conditions": [{"type": "property", "property": "city", "op": "gt", "value": 18}],
    }
    page.get_by_role("button", name="Edit as JSON").click()
    page.locator("#id_definition").fill(json.dumps(bad))
    expect(page.locator("#id_definition-estimate")).to_contain_text(
        "who.conditions[0].op: 'gt' does not apply to city, a text property."
    )
    page.get_by_role("button", name="Save segment").click()
    expect(page.locator(".flash-error")).to_contain_text("Nothing was saved")
    expect(page.locator("#section-definition small.field-error")).to_contain_text(
        "conditions[0].op: 'gt' does not apply to city, a text property."
    )
    assert not Segment.objects.exists()


def test_deleting_a_segment_in_use_is_refused_then_done(
    page: Page, sign_in, marketer, people, campaign_factory, screenshot
):
    pune = services.segment_create(actor=marketer, name="Pune", definition=PUNE)
    campaign = campaign_factory(
        name="Spring",
        who={
            "type": "group",
            "match": "all",
            "conditions": [{"type": "segment", "segment_id": pune.pk}],
        },
    )
    sign_in(marketer)
    page.goto(f"/audience/segments/{pune.pk}/")
    expect(page.locator("[data-used-by]")).to_contain_text("Used by campaign “Spring”")
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page.locator("[data-users]")).to_contain_text("Campaign “Spring”")
    page.get_by_role("button", name="Delete segment").click()
    expect(page.locator("[data-refusal]")).to_have_text(
        "“Pune” is used by campaign “Spring”. Change those audiences first."
    )
    screenshot("segment-delete-refused")
    assert Segment.objects.filter(pk=pune.pk).exists()

    campaign.delete()
    page.goto(f"/audience/segments/{pune.pk}/delete/")
    expect(page.locator(".confirm-summary")).to_have_text("No campaign or segment uses it.")
    page.get_by_role("button", name="Delete segment").click()
    expect(page.locator(".flash-success")).to_contain_text("Segment “Pune” was deleted.")
    assert not Segment.objects.exists()


def test_the_campaign_editor_estimates_its_who(page: Page, sign_in, marketer, people, screenshot):
    pune = services.segment_create(actor=marketer, name="Pune", definition=PUNE)
    sign_in(marketer)
    page.goto("/campaigns/new/")
    estimate = page.locator("#id_who-estimate")
    expect(estimate.locator("[data-estimate-total]")).to_be_visible()
    who = {
        "type": "group",
        "match": "all",
        "conditions": [{"type": "segment", "segment_id": pune.pk}],
    }
    page.get_by_role("button", name="Edit as JSON").click()
    page.locator("#id_who").fill(json.dumps(who))
    expect(estimate.locator("[data-estimate-total]")).to_have_text("2 people")
    who["negate"] = True
    page.locator("#id_who").fill(json.dumps(who))
    expect(estimate.locator("[data-estimate-total]")).to_have_text("1 person")
    expect(estimate).to_contain_text("reachable by e-mail 1, SMS 0")
    screenshot("campaign-editor-estimate")
