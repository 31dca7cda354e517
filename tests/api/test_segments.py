"""The segments API and the audience estimate: list, save, read with its count, change, delete
(409 while in use), estimate with reachability; every error in the project's shape."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from audience import segment_services as services
from audience.models import Device, Profile, PropertyDefinition, Segment

pytestmark = pytest.mark.django_db

SEGMENTS = "/api/v1/audience/segments/"
ESTIMATE = "/api/v1/audience/estimate/"


def detail(segment: Segment | int) -> str:
    return f"{SEGMENTS}{getattr(segment, 'pk', segment)}/"


def group(*conditions: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "group", "match": "all", "conditions": list(conditions), **extra}


PUNE = group({"type": "property", "property": "city", "op": "eq", "value": "Pune"})


@pytest.fixture
def people(db):
    PropertyDefinition.objects.create(name="city", type="string")
    ana = Profile.objects.create(
        identity="ana", email="ana@example.com", properties={"city": "Pune"}
    )
    Profile.objects.create(
        identity="ben", phone="+14155550101", sms_consent="opted_in", properties={"city": "Pune"}
    )
    Profile.objects.create(identity="cy", properties={"city": "Goa"})
    Device.objects.create(profile=ana, kind="push", token="t-ana")


@pytest.fixture
def pune(marketer, people):
    return services.segment_create(actor=marketer, name="Pune", definition=PUNE)


def test_save_answers_201_with_the_segment_and_its_count(api, marketer, people):
    response = api.post(
        SEGMENTS,
        {"name": "  Pune ", "description": "People in Pune", "definition": PUNE},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    segment = Segment.objects.get()
    assert body == {
        "id": segment.pk,
        "name": "Pune",
        "description": "People in Pune",
        "definition": PUNE,
        "created_by": {"id": marketer.pk, "email": marketer.email},
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
        "count": 2,
    }


def test_list_and_retrieve(api, pune, marketer):
    services.segment_create(actor=marketer, name="Everyone", definition=group())
    listed = api.get(SEGMENTS).json()
    assert [row["name"] for row in listed] == ["Everyone", "Pune"]
    assert "count" not in listed[0]
    assert [row["name"] for row in api.get(SEGMENTS, {"q": "pun"}).json()] == ["Pune"]
    one = api.get(detail(pune)).json()
    assert one["count"] == 2 and one["definition"] == PUNE
    assert api.get(detail(999_999)).status_code == 404


def test_patch_renames_describes_and_redefines(api, pune):
    response = api.patch(
        detail(pune),
        {
            "name": "Goa",
            "description": "",
            "definition": group(
                {"type": "property", "property": "city", "op": "eq", "value": "Goa"}
            ),
        },
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["name"] == "Goa" and response.json()["count"] == 1
    assert api.patch(detail(pune), {}, format="json").status_code == 400


def test_invalid_definitions_are_400s_naming_the_fields(api, people):
    response = api.post(
        SEGMENTS,
        {
            "name": "",
            "definition": group(
                {"type": "property", "property": "city", "op": "gt", "value": 3},
                {"type": "segment", "segment_id": 424242},
            ),
        },
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["errors"]) == {"name"}  # the serializer stops at the name
    response = api.post(
        SEGMENTS,
        {
            "name": "Bad",
            "definition": group(
                {"type": "property", "property": "city", "op": "gt", "value": 3},
                {"type": "segment", "segment_id": 424242},
            ),
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "definition.conditions[1].segment_id": ["Segment 424242 does not exist."]
    }
    response = api.post(
        SEGMENTS,
        {
            "name": "Bad",
            "definition": group({"type": "property", "property": "city", "op": "gt", "value": 3}),
        },
        format="json",
    )
    assert response.json()["errors"] == {
        "definition.conditions[0].op": ["'gt' does not apply to city, a text property."]
    }
    assert api.post(SEGMENTS, {"name": "Bad"}, format="json").json()["errors"] == {
        "definition": ["This field is required."]
    }
    assert not Segment.objects.exists()


def test_delete_answers_204_or_409_while_in_use(api, pune, campaign_factory):
    campaign_factory(name="Spring", who=group({"type": "segment", "segment_id": pune.pk}))
    response = api.delete(detail(pune))
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert "campaign “Spring”" in response.json()["message"]
    Segment.objects.create(name="Unused", definition=group(), created_by=pune.created_by)
    unused = Segment.objects.get(name="Unused")
    assert api.delete(detail(unused)).status_code == 204
    assert api.delete(detail(unused)).status_code == 404


def test_estimate_counts_and_reachability(api, people):
    response = api.post(ESTIMATE, {"who": PUNE}, format="json")
    assert response.status_code == 200
    assert response.json() == {
        "total": 2,
        "reachable": {"email": 1, "sms": 1, "whatsapp": 0, "push": 1, "web_push": 0},
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "who"),
        ({"who": "everyone"}, "who"),
        ({"who": group(match="most")}, "who.match"),
        (
            {"who": group({"type": "event", "event": "x", "count": {"op": "gte", "value": -1}})},
            "who.conditions[0].count.value",
        ),
        (
            {"who": group({"type": "property", "property": "age", "op": "gt", "value": "soon"})},
            "who.conditions[0].value",
        ),
    ],
    ids=["missing", "not a group", "bad match", "negative count", "gt on text"],
)
def test_estimate_of_an_invalid_who_is_a_400_naming_the_field(api, db, body, field):
    response = api.post(ESTIMATE, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()


def test_malformed_json_is_a_400(api, db):
    response = api.post(ESTIMATE, "{not json", content_type="application/json")
    assert response.status_code == 400


def test_without_a_role_nothing_is_shown_or_changed(api_for, outsider, pune):
    client = api_for(outsider)
    assert client.get(SEGMENTS).status_code == 403
    assert client.post(ESTIMATE, {"who": PUNE}, format="json").status_code == 403
    assert client.delete(detail(pune)).status_code == 403
    assert APIClient().get(detail(pune)).status_code == 401
    assert Segment.objects.filter(pk=pune.pk).exists()


def test_the_schema_documents_the_estimate_and_the_segment_node(api, client, db):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    estimate = schema["paths"]["/api/v1/audience/estimate/"]["post"]
    assert set(estimate["responses"]) >= {"200", "400", "403"}
    assert set(schema["components"]["schemas"]["Estimate"]["properties"]) == {"total", "reachable"}
    who = api.get("/api/v1/campaigns/schemas/").json()["who"]
    assert "segment" in who["$defs"]["node"]["properties"]["type"]["enum"]
    assert who["$defs"]["segment"]["required"] == ["type", "segment_id"]
