"""Create, edit and the lifecycle actions over the API, and how each kind of error looks."""

from __future__ import annotations

import pytest
from django.utils import timezone

from campaigns.choices import Status
from campaigns.models import Campaign
from tests.api.conftest import new_campaign

LIST = "/api/v1/campaigns/"


def detail(campaign_id: int, action: str = "") -> str:
    return f"{LIST}{campaign_id}/{action + '/' if action else ''}"


# --- create ------------------------------------------------------------------------------------


def test_create_makes_a_draft_owned_by_the_caller(api, marketer, label_factory):
    label = label_factory(name="Onboarding")
    response = api.post(LIST, new_campaign(labels=[label.pk]), format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "draft"
    assert body["created_by"]["id"] == marketer.pk
    assert body["labels"] == [{"id": label.pk, "name": "Onboarding"}]
    assert Campaign.objects.get(pk=body["id"]).name == "Weekly digest"


def test_create_defaults_type_and_delivery(api):
    body = new_campaign()
    del body["type"], body["delivery"]
    created = api.post(LIST, body, format="json").json()
    assert (created["type"], created["delivery"]) == ("single_message", "one_time")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"channel": "fax"}, "channel"),
        ({"who": "everyone"}, "who"),
        ({"what": ["not", "an", "object"]}, "what"),
        ({"what": {"message": {"body": "no title"}}}, "what.message.title"),
        ({"what": {"message": {"title": "{{ broken", "body": "b"}}}, "what.message.title"),
        ({"when": {"send": "later"}}, "when.start_at"),
        ({"labels": ["a"]}, "labels"),
        ({"labels": "1,2"}, "labels"),
        ({"labels": [999999]}, "labels"),
        ({"status": "running"}, "status"),
        ({"what": {"message": {"title": "nul\u0000", "body": "b"}}}, "what"),
    ],
)
def test_bad_create_is_a_400_naming_the_field_and_creates_nothing(api, changes, field):
    response = api.post(LIST, new_campaign(**changes), format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    errors = response.json()["errors"]
    assert any(key == field or key.startswith(f"{field}.") for key in errors), errors
    assert not Campaign.objects.exists()


def test_malformed_json_is_a_400(api):
    response = api.post(LIST, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


@pytest.mark.parametrize("raw", ["[]", "null", '"name"', "1", '{"name": 1e400}', "NaN"])
def test_json_that_is_not_an_object_of_fields_is_a_400(api, raw):
    response = api.post(LIST, raw, content_type="application/json")
    assert response.status_code == 400


def test_infinite_numbers_inside_a_section_are_a_400(api):
    raw = new_campaign()
    raw_json = __import__("json").dumps(raw).replace('"UTC"', '"UTC", "x": 1e400')
    response = api.post(LIST, raw_json, content_type="application/json")
    assert response.status_code == 400
    assert "when" in response.json()["errors"]


def test_form_encoded_body_is_refused_with_415(api):
    response = api.post(LIST, {"name": "x", "channel": "push"})
    assert response.status_code == 415


# --- edit --------------------------------------------------------------------------------------


def test_patch_changes_only_the_fields_sent(api, campaign_factory):
    campaign = campaign_factory(name="Before")
    what = {"message": {"title": "New title", "body": "New body"}}
    response = api.patch(detail(campaign.pk), {"what": what}, format="json")
    assert response.status_code == 200
    campaign.refresh_from_db()
    assert campaign.what == what
    assert campaign.name == "Before"


def test_patch_of_a_locked_section_is_a_409_read_only(api, campaign_factory):
    campaign = campaign_factory(status=Status.RUNNING)
    who = {"type": "group", "match": "any", "conditions": []}
    response = api.patch(detail(campaign.pk), {"who": who}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "read_only"
    assert body["errors"]["who"] == ["Who is locked: Running: only What can change."]


def test_archived_campaign_cannot_be_edited(api, campaign_factory):
    campaign = campaign_factory(archived_at=timezone.now())
    response = api.patch(detail(campaign.pk), {"name": "New"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "read_only"


def test_patch_with_wrong_types_is_a_400(api, campaign_factory):
    campaign = campaign_factory()
    for body in ({"who": "everyone"}, {"labels": [1.5]}, {"name": None}, {"created_by": 1}):
        response = api.patch(detail(campaign.pk), body, format="json")
        assert response.status_code == 400, body
        assert {key.split(".")[0] for key in response.json()["errors"]} == set(body)


def test_put_is_not_offered(api, campaign_factory):
    campaign = campaign_factory()
    assert api.put(detail(campaign.pk), new_campaign(), format="json").status_code == 405


def test_patch_of_unknown_campaign_is_a_404(api):
    assert api.patch(detail(999999), {"name": "x"}, format="json").status_code == 404


def test_role_without_edit_permission_gets_403(api, campaign_factory, monkeypatch):
    from accounts import roles

    monkeypatch.setitem(roles.ROLE_PERMISSIONS, roles.Role.MARKETER, frozenset({roles.Perm.VIEW}))
    campaign = campaign_factory()
    response = api.patch(detail(campaign.pk), {"name": "x"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert api.post(LIST, new_campaign(), format="json").status_code == 403


# --- lifecycle actions -------------------------------------------------------------------------


def test_publish_schedules_a_draft_that_sends_later(api, campaign_factory):
    campaign = campaign_factory()
    response = api.post(detail(campaign.pk, "publish"))
    assert response.status_code == 200
    assert response.json()["status"] == "scheduled"
    assert response.json()["next_run_at"] is not None


def test_publish_with_a_past_start_is_a_400(api, campaign_factory):
    campaign = campaign_factory(when={"send": "later", "start_at": "2020-01-01T10:00:00Z"})
    response = api.post(detail(campaign.pk, "publish"))
    assert response.status_code == 400
    assert response.json()["errors"]["when.start_at"] == ["Must be in the future."]


def test_publishing_twice_is_a_409_invalid_transition(api, campaign_factory):
    campaign = campaign_factory(status=Status.SCHEDULED)
    response = api.post(detail(campaign.pk, "publish"))
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"


def test_stop_ends_a_running_campaign(api, campaign_factory):
    campaign = campaign_factory(status=Status.RUNNING)
    response = api.post(detail(campaign.pk, "stop"))
    assert response.status_code == 200
    assert response.json()["status"] == "stopped"
    assert response.json()["actions"]["stop"]["allowed"] is False


def test_stopping_a_draft_is_a_409_with_the_reason(api, campaign_factory):
    campaign = campaign_factory()
    response = api.post(detail(campaign.pk, "stop"))
    assert response.status_code == 409
    assert response.json() == {
        "code": "invalid_transition",
        "message": "Drafts are not live; there is nothing to stop.",
        "errors": {},
    }


def test_clone_answers_201_with_the_new_draft(api, campaign_factory, label_factory):
    source = campaign_factory(name="Diwali", status=Status.COMPLETED, archived_at=timezone.now())
    source.labels.add(label_factory(name="Festive"))
    response = api.post(detail(source.pk, "clone"))
    assert response.status_code == 201
    clone = response.json()
    assert clone["id"] != source.pk
    assert clone["name"] == "Copy of Diwali"
    assert clone["status"] == "draft"
    assert clone["archived"] is False
    assert [label["name"] for label in clone["labels"]] == ["Festive"]


def test_archive_makes_a_stopped_campaign_read_only(api, campaign_factory):
    campaign = campaign_factory(status=Status.STOPPED)
    response = api.post(detail(campaign.pk, "archive"))
    assert response.status_code == 200
    assert response.json()["archived"] is True
    again = api.post(detail(campaign.pk, "archive"))
    assert again.status_code == 409
    assert again.json()["code"] == "read_only"


def test_archiving_a_live_campaign_is_a_409(api, campaign_factory):
    campaign = campaign_factory(status=Status.RUNNING)
    response = api.post(detail(campaign.pk, "archive"))
    assert response.status_code == 409
    assert response.json()["message"] == "Live campaigns must be stopped before they are archived."


@pytest.mark.parametrize("action", ["publish", "stop", "clone", "archive"])
def test_actions_on_an_unknown_campaign_are_a_404(api, action):
    response = api.post(detail(999999, action))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("action", ["publish", "stop", "clone", "archive"])
def test_outsider_cannot_act_on_a_campaign(api_for, outsider, campaign_factory, action):
    campaign = campaign_factory(status=Status.RUNNING)
    assert api_for(outsider).post(detail(campaign.pk, action)).status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == Status.RUNNING
    assert Campaign.objects.count() == 1


# --- bulk --------------------------------------------------------------------------------------


def test_bulk_stop_reports_on_each_campaign_in_order(api, campaign_factory):
    running = campaign_factory(status=Status.RUNNING)
    draft = campaign_factory(status=Status.DRAFT)
    response = api.post(
        f"{LIST}bulk/", {"action": "stop", "ids": [running.pk, draft.pk, 999999]}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["done"] == 1
    assert body["refused"] == 2
    assert body["results"] == [
        {"id": running.pk, "ok": True, "code": "done", "message": "Stopped."},
        {
            "id": draft.pk,
            "ok": False,
            "code": "invalid_transition",
            "message": "Drafts are not live; there is nothing to stop.",
        },
        {
            "id": 999999,
            "ok": False,
            "code": "not_found",
            "message": "Campaign 999999 does not exist.",
        },
    ]
    running.refresh_from_db()
    assert running.status == Status.STOPPED


def test_bulk_clone_returns_the_clone_ids(api, campaign_factory):
    source = campaign_factory(name="Promo")
    body = api.post(f"{LIST}bulk/", {"action": "clone", "ids": [source.pk]}, format="json").json()
    clone_id = body["results"][0]["clone_id"]
    assert Campaign.objects.get(pk=clone_id).name == "Copy of Promo"


def test_bulk_archive_archives_finished_campaigns(api, campaign_factory):
    stopped = campaign_factory(status=Status.STOPPED)
    body = api.post(
        f"{LIST}bulk/", {"action": "archive", "ids": [stopped.pk]}, format="json"
    ).json()
    assert body["done"] == 1
    stopped.refresh_from_db()
    assert stopped.archived_at is not None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "pause", "ids": [1]}, "action"),
        ({"action": "stop", "ids": []}, "ids"),
        ({"action": "stop", "ids": ["a"]}, "ids"),
        ({"action": "stop", "ids": "1,2"}, "ids"),
        ({"action": "stop", "ids": [1.5]}, "ids"),
        ({"action": "stop", "ids": list(range(1, 1002))}, "ids"),
        ({"action": "stop"}, "ids"),
    ],
)
def test_bad_bulk_request_is_a_400(api, body, field):
    response = api.post(f"{LIST}bulk/", body, format="json")
    assert response.status_code == 400
    assert any(key.startswith(field) for key in response.json()["errors"])


def test_outsider_bulk_request_changes_nothing(api_for, outsider, campaign_factory):
    campaign = campaign_factory(status=Status.RUNNING)
    response = api_for(outsider).post(
        f"{LIST}bulk/", {"action": "stop", "ids": [campaign.pk]}, format="json"
    )
    assert response.status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == Status.RUNNING
