"""The minimal labels endpoint: list and create by name."""

from __future__ import annotations

from labels.models import Label

LABELS = "/api/v1/labels/"


def test_labels_are_listed_by_name(api, label_factory):
    label_factory(name="Reengage")
    label_factory(name="Onboarding")
    assert [row["name"] for row in api.get(LABELS).json()] == ["Onboarding", "Reengage"]


def test_label_is_created_by_name(api):
    response = api.post(LABELS, {"name": "Score Updates"}, format="json")
    assert response.status_code == 201
    assert response.json()["name"] == "Score Updates"
    assert Label.objects.filter(name="Score Updates").exists()


def test_label_name_taken_in_another_case_is_a_400(api, label_factory):
    label_factory(name="Onboarding")
    response = api.post(LABELS, {"name": "ONBOARDING"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"name": ["A label with this name already exists."]}


def test_label_without_a_name_is_a_400(api):
    for body in ({}, {"name": ""}, {"name": "x" * 65}, {"name": ["a"]}):
        response = api.post(LABELS, body, format="json")
        assert response.status_code == 400
        assert "name" in response.json()["errors"]


def test_outsider_sees_no_labels(api_for, outsider, label_factory):
    label_factory()
    assert api_for(outsider).get(LABELS).status_code == 403
