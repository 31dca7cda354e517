"""The segment pages and the estimate fragment, through Django's test client (the browser tests
drive the same pages in Chromium)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from audience import segment_services as services
from audience.models import Profile, PropertyDefinition, Segment

pytestmark = pytest.mark.django_db


def group(*conditions: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "group", "match": "all", "conditions": list(conditions), **extra}


PUNE = group({"type": "property", "property": "city", "op": "eq", "value": "Pune"})


@pytest.fixture
def people(db):
    PropertyDefinition.objects.create(name="city", type="string")
    Profile.objects.create(identity="ana", email="ana@example.com", properties={"city": "Pune"})
    Profile.objects.create(identity="ben", properties={"city": "Pune"})
    Profile.objects.create(identity="cy", properties={"city": "Goa"})


@pytest.fixture
def page(client_for, marketer):
    return client_for(marketer)


def test_the_list_shows_segments_and_fetches_each_count_lazily(page, marketer, people):
    pune = services.segment_create(actor=marketer, name="Pune", definition=PUNE)
    html = page.get("/audience/segments/").content.decode()
    assert "Pune" in html and f'hx-get="/audience/segments/{pune.pk}/count/"' in html
    assert 'hx-trigger="revealed"' in html
    assert page.get(f"/audience/segments/{pune.pk}/count/").content.decode().strip() == "2"
    assert page.get("/audience/segments/999999/count/").status_code == 404


def test_the_list_takes_a_fixed_number_of_queries(
    page, marketer, people, django_assert_max_num_queries
):
    for i in range(5):
        services.segment_create(actor=marketer, name=f"S{i}", definition=PUNE)
    with django_assert_max_num_queries(8):
        assert page.get("/audience/segments/").status_code == 200


def test_creating_a_segment(page, people):
    form = page.get("/audience/segments/new/")
    assert form.status_code == 200 and 'hx-include="#id_definition"' in form.content.decode()
    response = page.post(
        "/audience/segments/new/",
        {"name": "Pune", "description": "", "definition": json.dumps(PUNE)},
    )
    segment = Segment.objects.get()
    assert (
        response.status_code == 302 and response["Location"] == f"/audience/segments/{segment.pk}/"
    )
    assert segment.definition == PUNE


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ("{not json", "Not valid JSON (line 1, column 2)"),
        (
            json.dumps(group({"type": "property", "property": "city", "op": "gt", "value": 1})),
            "conditions[0].op: &#x27;gt&#x27; does not apply to city, a text property.",
        ),
        (
            json.dumps(group({"type": "segment", "segment_id": 5555})),
            "conditions[0].segment_id: Segment 5555 does not exist.",
        ),
    ],
    ids=["not json", "wrong operator", "no such segment"],
)
def test_a_bad_definition_is_shown_beside_the_field(page, people, definition, message):
    response = page.post("/audience/segments/new/", {"name": "Bad", "definition": definition})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Segment.objects.exists()


def test_editing_shows_who_uses_it_and_saves(page, marketer, people, campaign_factory):
    pune = services.segment_create(actor=marketer, name="Pune", definition=PUNE)
    campaign_factory(name="Spring", who=group({"type": "segment", "segment_id": pune.pk}))
    html = page.get(f"/audience/segments/{pune.pk}/").content.decode()
    assert "Used by campaign “Spring”" in html
    response = page.post(
        f"/audience/segments/{pune.pk}/",
        {"name": "Pune people", "description": "x", "definition": json.dumps(PUNE)},
    )
    assert response.status_code == 302
    assert Segment.objects.get(pk=pune.pk).name == "Pune people"


def test_deleting_asks_first_and_refuses_while_in_use(page, marketer, people, campaign_factory):
    pune = services.segment_create(actor=marketer, name="Pune", definition=PUNE)
    campaign = campaign_factory(
        name="Spring", who=group({"type": "segment", "segment_id": pune.pk})
    )
    confirm = page.get(f"/audience/segments/{pune.pk}/delete/").content.decode()
    assert "Campaign “Spring”" in confirm and "It cannot be deleted while it is in use" in confirm
    refused = page.post(f"/audience/segments/{pune.pk}/delete/")
    assert refused.status_code == 409
    assert (
        "“Pune” is used by campaign “Spring”. Change those audiences first."
        in refused.content.decode()
    )
    campaign.delete()
    done = page.post(f"/audience/segments/{pune.pk}/delete/")
    assert done.status_code == 302 and not Segment.objects.exists()


def test_the_estimate_fragment_counts_or_lists_the_problems(page, people):
    counted = page.post("/audience/estimate/", {"who": json.dumps(PUNE)}).content.decode()
    assert "2 people" in counted
    assert "reachable by e-mail <span" in counted and 'data-reachable="e-mail">1<' in counted
    assert (
        "1 person"
        in page.post(
            "/audience/estimate/",
            {
                "definition": json.dumps(
                    group({"type": "property", "property": "city", "op": "eq", "value": "Goa"})
                )
            },
        ).content.decode()
    )
    broken = page.post("/audience/estimate/", {"who": "{"}).content.decode()
    assert "No estimate: the Who has errors." in broken and "Not valid JSON" in broken
    invalid = page.post(
        "/audience/estimate/", {"who": json.dumps(group(match="most"))}
    ).content.decode()
    assert "who.match: Must be one of: all, any." in invalid


def test_the_campaign_editor_shows_the_live_estimate(page, people, campaign_factory):
    html = page.get("/campaigns/new/").content.decode()
    assert 'hx-post="/audience/estimate/"' in html and 'hx-include="#id_who"' in html
    campaign = campaign_factory(name="Spring")
    assert 'hx-include="#id_who"' in page.get(f"/campaigns/{campaign.pk}/edit/").content.decode()


def test_people_without_a_role_see_no_segment_page(client_for, outsider, marketer, people):
    pune = services.segment_create(actor=marketer, name="Pune", definition=PUNE)
    client = client_for(outsider)
    for url in ("/audience/segments/", f"/audience/segments/{pune.pk}/", "/audience/segments/new/"):
        assert client.get(url).status_code == 403
    assert client.post("/audience/estimate/", {"who": json.dumps(PUNE)}).status_code == 403
    assert client.post(f"/audience/segments/{pune.pk}/delete/").status_code == 403
    assert client_for(None).get("/audience/segments/").status_code == 302
    assert Segment.objects.filter(pk=pune.pk).exists()
