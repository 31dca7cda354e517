"""The Who builder in a real browser: a form over the Who JSON that rewrites the textarea (which
the server still validates) and moves the live estimate, on the segment and campaign forms."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.utils import timezone
from playwright.sync_api import Page, expect

from audience.models import Event, Profile, PropertyDefinition, Segment

pytestmark = pytest.mark.browser

NOTE = "The builder cannot show this audience; edit it as JSON"


@pytest.fixture
def people(db):
    PropertyDefinition.objects.create(name="plan", type="string")
    ana = Profile.objects.create(
        identity="ana", email="ana@example.com", properties={"plan": "pro"}
    )
    Profile.objects.create(identity="ben", email="ben@example.com", properties={"plan": "pro"})
    Profile.objects.create(identity="cy", email="cy@example.com", properties={"plan": "free"})
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audience_event (profile_id, name, ts, properties, campaign_id, label_ids)"
            " VALUES (%s, 'Charged', %s, '{}'::jsonb, NULL, ARRAY[]::bigint[])",
            [ana.pk, timezone.now()],
        )
    yield
    # Events are not among the tables the test flush empties (see test_segments_semantics.py).
    Event.objects.filter(profile_id=ana.pk).delete()


def who_json(page: Page, textarea: str) -> dict:
    return json.loads(page.locator(textarea).input_value())


def test_a_segment_is_built_with_the_builder_and_saved(
    page: Page, sign_in, marketer, people, screenshot
):
    sign_in(marketer)
    page.goto("/audience/segments/new/")
    estimate = page.locator("#id_definition-estimate")
    builder = page.locator("[data-who-builder-root]")
    textarea = page.locator("#id_definition")
    # The example (App Launched in the last 30 days) is shown as a row; the JSON is hidden.
    expect(builder).to_be_visible()
    expect(textarea).to_be_hidden()
    rows = builder.locator("li.who-builder-row")
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_label("Event", exact=True)).to_have_value("App Launched")
    expect(estimate.locator("[data-estimate-total]")).to_have_text("0 people")

    page.get_by_label("Name").fill("Pro without a charge")
    rows.first.get_by_role("button", name="Remove").click()
    expect(rows).to_have_count(0)
    assert who_json(page, "#id_definition")["conditions"] == []
    expect(estimate.locator("[data-estimate-total]")).to_have_text("3 people")

    # plan eq pro
    builder.get_by_role("button", name="Add condition").click()
    expect(rows).to_have_count(1)
    row = rows.nth(0)
    expect(row.get_by_label("Condition type")).to_have_value("property")
    row.get_by_label("Property", exact=True).fill("plan")
    expect(row.get_by_label("Operator")).to_have_value("eq")
    row.get_by_label("Value", exact=True).fill("pro")
    expect(estimate.locator("[data-estimate-total]")).to_have_text("2 people")
    assert who_json(page, "#id_definition")["conditions"] == [
        {"type": "property", "property": "plan", "op": "eq", "value": "pro"}
    ]

    # did not do Charged in the last 30 days
    builder.get_by_role("button", name="Add condition").click()
    expect(rows).to_have_count(2)
    row = rows.nth(1)
    row.get_by_label("Condition type").select_option("event")
    row.get_by_label("Event", exact=True).fill("Charged")
    row.get_by_label("Did or did not").select_option("false")
    expect(estimate.locator("[data-estimate-total]")).to_have_text("1 person")
    expected = {
        "type": "group",
        "match": "all",
        "conditions": [
            {"type": "property", "property": "plan", "op": "eq", "value": "pro"},
            {"type": "event", "event": "Charged", "window": {"last_days": 30}, "did": False},
        ],
    }
    assert who_json(page, "#id_definition") == expected
    # The JSON stays one click away, pretty-printed.
    page.get_by_role("button", name="Edit as JSON").click()
    expect(textarea).to_be_visible()
    expect(textarea).to_have_value(json.dumps(expected, indent=2))
    screenshot("who-builder-segment")

    page.get_by_role("button", name="Save segment").click()
    expect(page.locator(".flash-success")).to_contain_text(
        "Segment “Pro without a charge” was saved."
    )
    assert Segment.objects.get().definition == expected
    # Its page shows the stored definition in the builder again.
    expect(page.locator("[data-who-builder-root] li.who-builder-row")).to_have_count(2)


def test_the_campaign_form_shows_its_example_who_in_the_builder(
    page: Page, sign_in, marketer, screenshot
):
    sign_in(marketer)
    page.goto("/campaigns/new/")
    builder = page.locator("#section-who [data-who-builder-root]")
    rows = builder.locator("li.who-builder-row")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).get_by_label("Condition type")).to_have_value("event")
    expect(rows.nth(0).get_by_label("Event", exact=True)).to_have_value("App Launched")
    expect(rows.nth(0).get_by_label("In the last (days)")).to_have_value("30")
    country = rows.nth(1)
    expect(country.get_by_label("Property", exact=True)).to_have_value("country")
    expect(country.get_by_label("Operator")).to_have_value("in")
    expect(country.get_by_label("Values (comma-separated)")).to_have_value("IN, US")
    expect(page.locator("#id_who")).to_be_hidden()

    country.get_by_label("Values (comma-separated)").fill("IN, US, GB")
    builder.get_by_label("Match").first.select_option("any")
    rows.nth(0).get_by_label("In the last (days)").fill("7")
    who = who_json(page, "#id_who")
    assert who["match"] == "any"
    assert who["conditions"][0]["window"] == {"last_days": 7}
    assert who["conditions"][1]["value"] == ["IN", "US", "GB"]

    # A nested group, negated.
    builder.get_by_role("button", name="Add group").first.click()
    expect(rows).to_have_count(3)
    group = builder.locator("fieldset.who-builder-group fieldset.who-builder-group")
    group.get_by_label("Not (leave these people out)").check()
    group.get_by_role("button", name="Add condition").click()
    group.get_by_label("Property", exact=True).fill("vip")
    group.get_by_label("Value", exact=True).fill("true")
    assert who_json(page, "#id_who")["conditions"][2] == {
        "type": "group",
        "match": "all",
        "conditions": [{"type": "property", "property": "vip", "op": "eq", "value": True}],
        "negate": True,
    }
    screenshot("who-builder-campaign")


def test_an_unknown_shape_falls_back_to_the_textarea_with_a_note(
    page: Page, sign_in, marketer, campaign_factory
):
    campaign = campaign_factory(
        who={
            "type": "group",
            "match": "all",
            "conditions": [
                {
                    "type": "event",
                    "event": "Charged",
                    "window": {"from": "2026-01-01", "to": "2026-01-31"},
                }
            ],
        }
    )
    sign_in(marketer)
    page.goto(f"/campaigns/{campaign.pk}/edit/")
    section = page.locator("#section-who")
    expect(section.locator("[data-who-builder-note]")).to_have_text(NOTE)
    expect(section.locator("[data-who-builder-root]")).to_be_hidden()
    expect(page.locator("#id_who")).to_be_visible()
    expect(section.get_by_role("button", name="Edit as JSON")).to_be_hidden()

    # Typing a shape the builder knows brings it back.
    page.locator("#id_who").fill('{"type": "group", "match": "any", "conditions": []}')
    expect(section.locator("[data-who-builder-root]")).to_be_visible()
    expect(section.locator("[data-who-builder-note]")).to_be_hidden()
