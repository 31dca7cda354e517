"""GET one campaign, its timeline, and the JSON Schemas of its sections."""

from __future__ import annotations

import datetime as dt

import jsonschema
from django.utils import timezone

from campaigns.choices import Status
from tests.api.conftest import new_campaign

LIST = "/api/v1/campaigns/"


def test_detail_has_every_section_and_what_can_change(api, campaign_factory, marketer):
    campaign = campaign_factory(name="Digest", status=Status.AWAITING_NEXT_RUN)
    body = api.get(f"{LIST}{campaign.pk}/").json()
    assert body["id"] == campaign.pk
    assert body["who"] == campaign.who
    assert body["what"] == campaign.what
    assert body["when"] == campaign.when
    assert body["status_display"] == "Awaiting Next Run"
    assert body["channel_display"] == "Push Notifications"
    assert body["created_by"] == {"id": marketer.pk, "email": marketer.email}
    assert body["sms_segments"] is None
    assert body["editable"]["what"] == {"editable": True, "reason": ""}
    assert body["editable"]["who"] == {
        "editable": False,
        "reason": "Awaiting next run: only What, the name and labels can change.",
    }
    assert body["actions"]["publish"]["allowed"] is False
    assert body["actions"]["stop"]["allowed"] is True


def test_archived_campaign_is_found_by_id_and_says_it_is_read_only(api, campaign_factory):
    campaign = campaign_factory(archived_at=timezone.now())
    body = api.get(f"{LIST}{campaign.pk}/").json()
    assert body["archived"] is True
    assert body["actions"]["edit"]["allowed"] is False
    assert "read-only" in body["actions"]["edit"]["reason"]
    assert body["actions"]["clone"] == {"allowed": True, "reason": "", "code": ""}
    assert all(not section["editable"] for section in body["editable"].values())


def test_sms_single_message_reports_its_segments(api):
    body = {"message": {"body": "x" * 161}}
    created = api.post(LIST, new_campaign(channel="sms", what=body), format="json").json()
    assert created["sms_segments"] == {"encoding": "GSM-7", "characters": 161, "segments": 2}


def test_role_without_a_permission_sees_the_action_refused_with_why(
    api, campaign_factory, monkeypatch
):
    from accounts import roles

    monkeypatch.setitem(roles.ROLE_PERMISSIONS, roles.Role.MARKETER, frozenset({roles.Perm.VIEW}))
    body = api.get(f"{LIST}{campaign_factory().pk}/").json()
    assert body["actions"]["publish"] == {
        "allowed": False,
        "reason": "Your role does not allow you to publish campaigns.",
        "code": "permission_denied",
    }
    assert body["editable"]["what"]["editable"] is False


def test_unknown_id_is_a_404(api):
    for path in ("999999/", "99999999999999999999999/", "999999/timeline/"):
        response = api.get(f"{LIST}{path}")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_timeline_lists_what_happened_newest_first(api, marketer):
    created = api.post(LIST, new_campaign(), format="json").json()
    api.patch(f"{LIST}{created['id']}/", {"name": "Renamed"}, format="json")
    api.post(f"{LIST}{created['id']}/publish/")
    rows = api.get(f"{LIST}{created['id']}/timeline/").json()["results"]
    assert [row["action"] for row in rows] == ["publish", "edit", "create"]
    assert rows[0]["actor"] == marketer.email
    assert (rows[0]["from_status"], rows[0]["to_status"]) == ("draft", "scheduled")
    assert rows[1]["changes"] == {"name": {"old": "Weekly digest", "new": "Renamed"}}
    assert rows[2]["action_display"] == "Created"


def test_timeline_pages_with_a_cursor(api, campaign_factory):
    campaign = campaign_factory()
    for _ in range(3):
        api.post(f"{LIST}{campaign.pk}/clone/")
    first = api.get(f"{LIST}{campaign.pk}/timeline/", {"page_size": 2}).json()
    assert len(first["results"]) == 2
    second = api.get(first["next"]).json()
    assert len(second["results"]) == 1
    assert second["next"] is None


def test_system_actions_have_no_actor(api, campaign_factory):
    from campaigns.services import campaigns_auto_archive

    old = timezone.now() - dt.timedelta(days=400)
    campaign = campaign_factory(status=Status.STOPPED, last_active_at=old)
    campaigns_auto_archive()
    row = api.get(f"{LIST}{campaign.pk}/timeline/").json()["results"][0]
    assert row["action"] == "auto_archive"
    assert row["actor"] is None


def test_schemas_validate_the_sections_the_server_accepts(api):
    schemas = api.get(f"{LIST}schemas/").json()
    body = new_campaign()
    jsonschema.validate(body["who"], schemas["who"])
    jsonschema.validate(body["what"], schemas["what"]["single_message"]["push"])
    jsonschema.validate(body["what"]["message"], schemas["message"]["push"])
    jsonschema.validate(body["when"], schemas["when"]["one_time"])
    assert set(schemas["when"]) == {
        "one_time",
        "action",
        "inaction",
        "date_time",
        "recurring",
        "api",
        "multiple_dates",
    }
    assert api.post(LIST, body, format="json").status_code == 201


def test_editable_and_actions_cover_every_section_and_user_action(api, campaign_factory):
    from approvals.policy import ACTIONS
    from campaigns.choices import Section

    body = api.get(f"{LIST}{campaign_factory().pk}/").json()
    assert set(body["editable"]) == {s.value for s in Section}
    assert set(body["actions"]) == {a.value for a in ACTIONS}
