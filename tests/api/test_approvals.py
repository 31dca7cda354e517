"""The creator-approver workflow over the API: the setting, the rules, requests, revisions and
their diffs, the approver's queue, decisions, and what each refusal answers with."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from approvals.models import ApprovalRequest, ApprovalSettings, ApprovalSettingsChange
from approvals.services import approval_settings_update, campaign_propose, campaign_submit
from campaigns.choices import Status
from campaigns.models import Campaign
from tests.factories import push_what

SETTINGS = "/api/v1/approvals/settings/"
HISTORY = "/api/v1/approvals/settings/history/"
REQUESTS = "/api/v1/approvals/requests/"
CAMPAIGNS = "/api/v1/campaigns/"
WEEK = dt.timedelta(days=7)


def request_url(pk: int, verb: str = "") -> str:
    return f"{REQUESTS}{pk}/{verb + '/' if verb else ''}"


def campaign_url(pk: int, verb: str = "") -> str:
    return f"{CAMPAIGNS}{pk}/{verb + '/' if verb else ''}"


@pytest.fixture
def live(campaign_factory):
    """A campaign scheduled a week from now."""

    def make(status: Status = Status.SCHEDULED, **fields: Any) -> Campaign:
        fields.setdefault("next_run_at", (timezone.now() + WEEK).replace(microsecond=0))
        return campaign_factory(status=status, **fields)

    return make


def error(response, status_code: int, code: str) -> dict[str, Any]:
    assert response.status_code == status_code, response.content
    body = response.json()
    assert body["code"] == code, body
    return body


def ok(response, status_code: int = 200) -> dict[str, Any]:
    assert response.status_code == status_code, response.content
    return response.json()


# ---------------------------------------------------------------------------------------------
# The setting
# ---------------------------------------------------------------------------------------------
def test_every_role_reads_the_setting_which_is_off_until_an_admin_changes_it(api_for, marketer):
    body = ok(api_for(marketer).get(SETTINGS))
    assert body == {
        "enabled": False,
        "allow_self_approval": False,
        "updated_by": None,
        "updated_at": None,
    }
    assert not ApprovalSettings.objects.exists()  # reading created nothing


def test_admin_switches_approval_on_and_every_change_is_in_the_history(api_for, admin):
    client = api_for(admin)
    body = ok(client.put(SETTINGS, {"enabled": True, "allow_self_approval": False}, format="json"))
    assert body["enabled"] is True
    assert body["updated_by"] == {"id": admin.pk, "email": admin.email}
    ok(client.patch(SETTINGS, {"allow_self_approval": True}, format="json"))
    ok(client.patch(SETTINGS, {"allow_self_approval": True}, format="json"))  # no change
    assert ok(client.get(SETTINGS))["allow_self_approval"] is True

    history = ok(client.get(HISTORY, {"page_size": 1}))
    assert history["results"][0]["changes"] == {"allow_self_approval": {"old": False, "new": True}}
    assert history["results"][0]["actor"] == {"id": admin.pk, "email": admin.email}
    older = ok(client.get(history["next"]))
    assert older["results"][0]["changes"] == {"enabled": {"old": False, "new": True}}
    assert older["next"] is None


@pytest.mark.parametrize("who", ["marketer", "approver"])
def test_only_admins_change_the_setting_or_read_its_history(api_for, request, who):
    client = api_for(request.getfixturevalue(who))
    error(
        client.put(SETTINGS, {"enabled": True, "allow_self_approval": True}),
        403,
        "permission_denied",
    )
    error(client.patch(SETTINGS, {"enabled": "nonsense"}, format="json"), 403, "permission_denied")
    error(client.get(HISTORY), 403, "permission_denied")
    assert not ApprovalSettingsChange.objects.exists()
    assert ok(client.get(SETTINGS))["enabled"] is False


@pytest.mark.parametrize(
    ("method", "body", "field"),
    [
        ("put", {"enabled": True}, "allow_self_approval"),
        ("put", {"enabled": "maybe", "allow_self_approval": False}, "enabled"),
        ("patch", {"enabled": None}, "enabled"),
        ("patch", {"enabled": True, "updated_by": 1}, "updated_by"),
    ],
)
def test_bad_setting_input_is_a_400_naming_the_field_and_changes_nothing(
    api_for, admin, method, body, field
):
    response = getattr(api_for(admin), method)(SETTINGS, body, format="json")
    assert field in error(response, 400, "invalid")["errors"]
    assert not ApprovalSettingsChange.objects.exists()
    assert not ApprovalSettings.objects.filter(enabled=True).exists()


# ---------------------------------------------------------------------------------------------
# The rules
# ---------------------------------------------------------------------------------------------
def test_rules_of_a_draft_with_approval_off_let_a_marketer_publish(api, campaign_factory):
    body = ok(api.get(campaign_url(campaign_factory().pk, "rules")))
    assert body["role"] == "creator"
    assert body["approval_on"] is False
    assert body["mode"] == "direct"
    assert body["actions"]["publish"] == {"allowed": True, "reason": "", "code": ""}
    assert body["actions"]["submit"]["code"] == "approval_off"
    assert body["notice"] is None
    assert body["request"] is None
    assert all(section["editable"] for section in body["sections"].values())


def test_rules_of_a_draft_with_approval_on_send_a_marketer_to_submit(
    api, campaign_factory, approval_on
):
    body = ok(api.get(campaign_url(campaign_factory().pk, "rules")))
    assert body["approval_on"] is True
    assert body["actions"]["publish"]["allowed"] is False
    assert body["actions"]["publish"]["code"] == "approval_required"
    assert body["actions"]["submit"]["allowed"] is True
    assert body["actions"]["approve"]["code"] == "permission_denied"


def test_rules_of_a_scheduled_campaign_before_and_after_its_time(
    api_for, marketer, approver, live, approval_on
):
    campaign = live()
    creator = ok(api_for(marketer).get(campaign_url(campaign.pk, "rules")))
    assert creator["scenario"] == "scheduled/before"
    assert creator["mode"] == "revision"
    assert creator["notice"]["code"] == "changes_need_approval"
    assert creator["scheduled_at"] == campaign.next_run_at.isoformat().replace("+00:00", "Z")
    assert all(section["editable"] for section in creator["sections"].values())
    reviewer = ok(api_for(approver).get(campaign_url(campaign.pk, "rules")))
    assert (reviewer["role"], reviewer["mode"], reviewer["notice"]) == ("approver", "direct", None)

    with time_machine.travel(campaign.next_run_at + dt.timedelta(minutes=1), tick=False):
        creator = ok(api_for(marketer).get(campaign_url(campaign.pk, "rules")))
        reviewer = ok(api_for(approver).get(campaign_url(campaign.pk, "rules")))
    assert creator["scenario"] == "scheduled/after"
    assert creator["notice"]["code"] == "changes_discarded"
    assert creator["mode"] == "none"
    assert not any(section["editable"] for section in creator["sections"].values())
    assert creator["actions"]["edit"]["code"] == "changes_discarded"
    assert reviewer["notice"]["code"] == "changes_discarded"


def test_rules_tell_an_approver_a_pending_campaign_was_scheduled_in_the_past(
    api_for, marketer, approver, campaign_factory, approval_on
):
    campaign = campaign_factory()
    request = campaign_submit(actor=marketer, campaign_id=campaign.pk)
    with time_machine.travel(request.target_run_at + dt.timedelta(hours=1), tick=False):
        body = ok(api_for(approver).get(campaign_url(campaign.pk, "rules")))
        creator = ok(api_for(marketer).get(campaign_url(campaign.pk, "rules")))
    assert body["scenario"] == "pending_approval/new/after"
    assert body["notice"]["code"] == "scheduled_in_past"
    assert body["actions"]["approve"]["allowed"] is True
    assert body["request"] == request.pk
    assert creator["actions"]["withdraw"]["allowed"] is True
    assert creator["actions"]["approve"]["code"] == "permission_denied"


def test_rules_of_an_unknown_campaign_are_a_404(api):
    error(api.get(campaign_url(999999, "rules")), 404, "not_found")


# ---------------------------------------------------------------------------------------------
# Sending for approval
# ---------------------------------------------------------------------------------------------
def test_marketer_sends_a_draft_for_approval_with_a_note_and_a_chosen_approver(
    api, marketer, approver, campaign_factory, approval_on
):
    campaign = campaign_factory(name="Launch")
    body = ok(
        api.post(
            campaign_url(campaign.pk, "submit"),
            {"note": "For Monday.", "approvers": [approver.pk]},
            format="json",
        ),
        201,
    )
    assert body["kind"] == "publish"
    assert body["status"] == "pending"
    assert body["note"] == "For Monday."
    assert body["approvers"] == [{"id": approver.pk, "email": approver.email}]
    assert body["requested_by"] == {"id": marketer.pk, "email": marketer.email}
    assert body["campaign"]["status"] == "pending_approval"
    assert body["base"] == {}
    assert body["past_due"] is False
    # A campaign never live: everything is added.
    assert {c["kind"] for c in body["diff"]} == {"added"}
    assert {
        "field": "name",
        "section": "name",
        "path": "name",
        "kind": "added",
        "old": None,
        "new": "Launch",
    } in body["diff"]
    campaign.refresh_from_db()
    assert campaign.status == Status.PENDING_APPROVAL


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"approvers": "7"}, "approvers"),
        ({"approvers": [999999]}, "approvers"),
        ({"approvers": ["MARKETER"]}, "approvers"),
        ({"note": "x" * 2001}, "note"),
        ({"note": None}, "note"),
        ({"status": "scheduled"}, "status"),
    ],
)
def test_bad_submit_input_is_a_400_and_changes_nothing(
    api, marketer, campaign_factory, approval_on, body, field
):
    campaign = campaign_factory()
    if body.get("approvers") == ["MARKETER"]:
        body = {"approvers": [marketer.pk]}
    response = api.post(campaign_url(campaign.pk, "submit"), body, format="json")
    assert field in error(response, 400, "invalid")["errors"]
    campaign.refresh_from_db()
    assert campaign.status == Status.DRAFT
    assert not ApprovalRequest.objects.exists()


def test_submit_with_approval_off_is_refused(api, campaign_factory):
    campaign = campaign_factory()
    error(api.post(campaign_url(campaign.pk, "submit"), {}, format="json"), 409, "approval_off")


def test_submit_of_an_unknown_campaign_is_a_404(api, approval_on):
    error(api.post(campaign_url(999999, "submit"), {}, format="json"), 404, "not_found")


# ---------------------------------------------------------------------------------------------
# Publishing
# ---------------------------------------------------------------------------------------------
def test_marketer_cannot_publish_with_approval_on(api, campaign_factory, approval_on):
    campaign = campaign_factory()
    error(api.post(campaign_url(campaign.pk, "publish")), 409, "approval_required")
    campaign.refresh_from_db()
    assert campaign.status == Status.DRAFT


def test_approver_publishes_a_draft_unless_they_wrote_it(
    api_for, approver, campaign_factory, approval_on
):
    theirs = campaign_factory()
    own = campaign_factory(created_by=approver, updated_by=approver)
    client = api_for(approver)
    assert ok(client.post(campaign_url(theirs.pk, "publish")))["status"] == "scheduled"
    error(client.post(campaign_url(own.pk, "publish")), 409, "self_approval")


def test_publish_takes_changes_with_it(api, campaign_factory):
    campaign = campaign_factory()
    body = ok(
        api.post(
            campaign_url(campaign.pk, "publish"), {"changes": {"name": "Renamed"}}, format="json"
        )
    )
    assert (body["name"], body["status"]) == ("Renamed", "scheduled")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"run_on": "yesterday"}, "run_on"),
        ({"changes": "name"}, "changes.non_field_errors"),
        ({"changes": {"status": "running"}}, "changes.status"),
        ({"later": True}, "later"),
    ],
)
def test_bad_publish_input_is_a_400(api, campaign_factory, body, field):
    campaign = campaign_factory()
    response = api.post(campaign_url(campaign.pk, "publish"), body, format="json")
    assert field in error(response, 400, "invalid")["errors"]
    campaign.refresh_from_db()
    assert campaign.status == Status.DRAFT


def test_a_draft_does_not_choose_when_it_runs(api, campaign_factory):
    campaign = campaign_factory()
    response = api.post(campaign_url(campaign.pk, "publish"), {"run_on": "today"}, format="json")
    assert "run_on" in error(response, 400, "invalid")["errors"]
    campaign.refresh_from_db()
    assert campaign.status == Status.DRAFT


def test_approver_publishes_rejected_changes_after_the_time_choosing_today_or_tomorrow(
    api_for, marketer, approver, live, approval_on
):
    campaign = live(Status.AWAITING_NEXT_RUN, runs_count=1)
    usual = campaign.next_run_at
    proposal = ok(
        api_for(marketer).post(
            campaign_url(campaign.pk, "revisions"),
            {"changes": {"what": push_what("New title")}},
            format="json",
        ),
        201,
    )
    reviewer = api_for(approver)
    ok(reviewer.post(request_url(proposal["id"], "reject"), {"comment": "Not yet."}, format="json"))

    # Before the time the next run keeps its time: run_on is refused.
    response = reviewer.post(
        campaign_url(campaign.pk, "publish"), {"run_on": "today"}, format="json"
    )
    assert "run_on" in error(response, 400, "invalid")["errors"]

    later = usual + dt.timedelta(hours=2)
    with time_machine.travel(later, tick=False):
        rules = ok(reviewer.get(campaign_url(campaign.pk, "rules")))
        assert rules["notice"]["code"] == "run_today_or_tomorrow"
        response = reviewer.post(campaign_url(campaign.pk, "publish"), {}, format="json")
        assert "run_on" in error(response, 409, "run_today_or_tomorrow")["errors"]
        body = ok(
            reviewer.post(
                campaign_url(campaign.pk, "publish"), {"run_on": "tomorrow"}, format="json"
            )
        )
    assert body["status"] == "awaiting_next_run"
    assert body["live_status"] == ""
    assert body["what"] == push_what("New title")
    tomorrow = timezone.localtime(later).date() + dt.timedelta(days=1)
    next_run = dt.datetime.fromisoformat(body["next_run_at"].replace("Z", "+00:00"))
    assert timezone.localtime(next_run).date() == tomorrow
    assert timezone.localtime(next_run).time() == timezone.localtime(usual).time()


# ---------------------------------------------------------------------------------------------
# Revisions of live campaigns
# ---------------------------------------------------------------------------------------------
def test_marketer_edits_a_live_campaign_through_a_revision_and_the_live_one_keeps_running(
    api, marketer, live, approval_on
):
    campaign = live(name="Digest")
    response = api.patch(campaign_url(campaign.pk), {"name": "Weekly"}, format="json")
    error(response, 409, "approval_required")

    created = ok(
        api.post(
            campaign_url(campaign.pk, "revisions"),
            {"changes": {"name": "Weekly"}, "note": "Clearer name."},
            format="json",
        ),
        201,
    )
    assert created["kind"] == "revision"
    assert created["campaign"]["status"] == "pending_approval"
    assert created["campaign"]["live_status"] == "scheduled"
    assert created["diff"] == [
        {
            "field": "name",
            "section": "name",
            "path": "name",
            "kind": "changed",
            "old": "Digest",
            "new": "Weekly",
        }
    ]
    campaign.refresh_from_db()
    assert (campaign.name, campaign.status, campaign.live_status) == (
        "Digest",
        Status.PENDING_APPROVAL,
        Status.SCHEDULED,
    )

    updated = ok(
        api.post(
            campaign_url(campaign.pk, "revisions"),
            {"changes": {"what": push_what("Fresh")}},
            format="json",
        )
    )
    assert updated["id"] == created["id"]
    assert {c["path"] for c in updated["diff"]} == {"name", "what.message.title"}
    title = next(c for c in updated["diff"] if c["path"] == "what.message.title")
    assert (title["section"], title["new"]) == ("what", "Fresh")

    detail = ok(api.get(campaign_url(campaign.pk)))
    assert detail["live_status"] == "scheduled"
    assert detail["approval"] == {"notice": None, "mode": "revision", "request": created["id"]}
    assert detail["name"] == "Digest"


def test_revision_of_a_locked_section_is_refused_naming_the_field(api, live, approval_on):
    campaign = live(Status.RUNNING)
    who = {"type": "group", "match": "any", "conditions": []}
    response = api.post(
        campaign_url(campaign.pk, "revisions"), {"changes": {"who": who}}, format="json"
    )
    assert "who" in error(response, 409, "read_only")["errors"]
    campaign.refresh_from_db()
    assert campaign.status == Status.RUNNING
    assert not ApprovalRequest.objects.exists()


def test_revision_after_the_scheduled_time_is_refused_as_discarded(api, live, approval_on):
    campaign = live()
    with time_machine.travel(campaign.next_run_at + dt.timedelta(seconds=1), tick=False):
        response = api.post(
            campaign_url(campaign.pk, "revisions"), {"changes": {"name": "Late"}}, format="json"
        )
    error(response, 409, "changes_discarded")
    assert not ApprovalRequest.objects.exists()


def test_approver_edits_a_live_campaign_directly_not_through_a_revision(
    api_for, approver, live, approval_on
):
    campaign = live()
    response = api_for(approver).post(
        campaign_url(campaign.pk, "revisions"), {"changes": {"name": "X"}}, format="json"
    )
    error(response, 409, "edit_directly")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "changes"),
        ({"changes": {}}, "changes"),
        ({"changes": "name=X"}, "changes.non_field_errors"),
        ({"changes": {"status": "running"}}, "changes.status"),
        ({"changes": {"name": ""}}, "changes.name"),
        ({"changes": {"labels": [999999]}}, "labels"),
        ({"changes": {"name": "X"}, "approvers": {"id": 1}}, "approvers"),
        ({"changes": {"name": "X"}, "extra": 1}, "extra"),
    ],
)
def test_bad_revision_input_is_a_400_and_changes_nothing(api, live, approval_on, body, field):
    campaign = live(name="Digest")
    response = api.post(campaign_url(campaign.pk, "revisions"), body, format="json")
    assert field in error(response, 400, "invalid")["errors"]
    campaign.refresh_from_db()
    assert (campaign.status, campaign.name) == (Status.SCHEDULED, "Digest")
    assert not ApprovalRequest.objects.exists()


def test_a_campaigns_requests_are_listed_newest_first_each_with_its_diff(
    api_for, marketer, approver, campaign_factory, label_factory, approval_on
):
    label = label_factory(name="Onboarding")
    campaign = campaign_factory(name="Digest")
    first = campaign_submit(actor=marketer, campaign_id=campaign.pk)
    client = api_for(approver)
    ok(client.post(request_url(first.pk, "approve"), {}, format="json"))
    second = campaign_propose(
        actor=marketer, campaign_id=campaign.pk, data={"labels": [label.pk], "name": "Weekly"}
    )

    body = ok(client.get(campaign_url(campaign.pk, "revisions"), {"page_size": 1}))
    newest = body["results"][0]
    assert newest["id"] == second.pk
    assert newest["kind"] == "revision"
    assert {(c["field"], c["kind"], c["old"], c["new"]) for c in newest["diff"]} == {
        ("name", "changed", "Digest", "Weekly"),
        ("labels", "added", None, "Onboarding"),
    }
    older = ok(client.get(body["next"]))["results"][0]
    assert (older["id"], older["kind"], older["status"]) == (first.pk, "publish", "approved")
    assert older["decided_by"] == {"id": approver.pk, "email": approver.email}
    assert {c["kind"] for c in older["diff"]} == {"added"}


def test_revisions_of_an_unknown_campaign_are_a_404(api, approval_on):
    error(api.get(campaign_url(999999, "revisions")), 404, "not_found")
    response = api.post(
        campaign_url(999999, "revisions"), {"changes": {"name": "X"}}, format="json"
    )
    error(response, 404, "not_found")


# ---------------------------------------------------------------------------------------------
# The queue
# ---------------------------------------------------------------------------------------------
def test_queue_lists_pending_requests_oldest_first_and_flags_past_ones(
    api_for, marketer, approver, campaign_factory, approval_on
):
    now = timezone.now()
    with time_machine.travel(now - dt.timedelta(hours=2), tick=False):
        older = campaign_submit(actor=marketer, campaign_id=campaign_factory(name="A").pk)
    newer = campaign_submit(actor=marketer, campaign_id=campaign_factory(name="B").pk)
    client = api_for(approver)
    rows = ok(client.get(REQUESTS))["results"]
    assert [row["id"] for row in rows] == [older.pk, newer.pk]
    row = rows[0]
    assert row["campaign"]["name"] == "A"
    assert row["campaign"]["channel"] == "push"
    assert row["campaign"]["status"] == "pending_approval"
    assert row["requested_by"] == {"id": marketer.pk, "email": marketer.email}
    assert row["past_due"] is False
    assert "diff" not in row

    with time_machine.travel(now + WEEK + dt.timedelta(days=1), tick=False):
        rows = ok(client.get(REQUESTS))["results"]
    assert [row["past_due"] for row in rows] == [True, True]


def test_queue_filters_by_status_and_campaign(
    api_for, marketer, approver, campaign_factory, approval_on
):
    one, two = campaign_factory(), campaign_factory()
    rejected = campaign_submit(actor=marketer, campaign_id=one.pk)
    client = api_for(approver)
    ok(client.post(request_url(rejected.pk, "reject"), {"comment": "No."}, format="json"))
    pending = campaign_submit(actor=marketer, campaign_id=two.pk)

    assert [r["id"] for r in ok(client.get(REQUESTS))["results"]] == [pending.pk]
    rows = ok(client.get(REQUESTS, {"status": "rejected"}))["results"]
    assert [(r["id"], r["comment"]) for r in rows] == [(rejected.pk, "No.")]
    rows = ok(client.get(REQUESTS, {"status": "all"}))["results"]
    assert [r["id"] for r in rows] == [pending.pk, rejected.pk]
    rows = ok(client.get(REQUESTS, {"status": "all", "campaign": one.pk}))["results"]
    assert [r["id"] for r in rows] == [rejected.pk]


@pytest.mark.parametrize(
    "query", [{"status": "open"}, {"campaign": "one"}, {"campaign": 0}, {"awaiting_me": "perhaps"}]
)
def test_bad_queue_parameters_are_a_400(api, query):
    response = api.get(REQUESTS, query)
    assert set(error(response, 400, "invalid")["errors"]) == set(query)


def test_awaiting_me_keeps_the_requests_this_approver_may_decide(
    api_for, marketer, approver, second_approver, admin, campaign_factory, approval_on
):
    for_second = campaign_submit(
        actor=marketer, campaign_id=campaign_factory().pk, approvers=[second_approver.pk]
    )
    for_anyone = campaign_submit(actor=marketer, campaign_id=campaign_factory().pk)
    own = campaign_factory(created_by=approver, updated_by=approver)
    by_approver = campaign_submit(actor=approver, campaign_id=own.pk)

    def awaiting(user) -> list[int]:
        rows = ok(api_for(user).get(REQUESTS, {"awaiting_me": "true"}))["results"]
        return [row["id"] for row in rows]

    assert awaiting(approver) == [for_anyone.pk]
    assert awaiting(second_approver) == [for_second.pk, for_anyone.pk, by_approver.pk]
    assert awaiting(admin) == [for_second.pk, for_anyone.pk, by_approver.pk]
    assert awaiting(marketer) == []

    approval_settings_update(actor=admin, allow_self_approval=True)
    assert awaiting(approver) == [for_anyone.pk, by_approver.pk]


def test_awaiting_me_costs_the_same_queries_for_many_requests(
    token_client, marketer, approver, second_approver, campaign_factory, approval_on
):
    client = token_client(approver)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            ok(client.get(REQUESTS, {"awaiting_me": "true"}))
        return len(captured)

    campaign_submit(actor=marketer, campaign_id=campaign_factory().pk, approvers=[approver.pk])
    few = queries()
    for i in range(6):
        chosen = [second_approver.pk] if i % 2 else []
        campaign_submit(actor=marketer, campaign_id=campaign_factory().pk, approvers=chosen)
    assert queries() == few


def test_a_requests_diff_is_against_the_live_campaign_now(
    api_for, marketer, approver, live, approval_on
):
    campaign = live(name="Digest")
    request = campaign_propose(actor=marketer, campaign_id=campaign.pk, data={"name": "Weekly"})
    Campaign.objects.filter(pk=campaign.pk).update(name="Digest (live)")
    body = ok(api_for(approver).get(request_url(request.pk)))
    assert body["base"]["name"] == "Digest"
    assert body["proposed"]["name"] == "Weekly"
    assert body["diff"] == [
        {
            "field": "name",
            "section": "name",
            "path": "name",
            "kind": "changed",
            "old": "Digest (live)",
            "new": "Weekly",
        }
    ]


@pytest.mark.parametrize("verb", ["", "approve", "reject", "withdraw"])
def test_unknown_request_is_a_404(api_for, approver, verb):
    client = api_for(approver)
    url = request_url(999999, verb)
    response = client.get(url) if not verb else client.post(url, {"comment": "x"}, format="json")
    error(response, 404, "not_found")


# ---------------------------------------------------------------------------------------------
# Decisions
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def pending(marketer, campaign_factory, approval_on):
    """A draft sent for approval by the marketer."""
    return campaign_submit(actor=marketer, campaign_id=campaign_factory().pk, note="Please.")


def test_approver_approves_and_the_campaign_is_published(api_for, approver, pending):
    body = ok(
        api_for(approver).post(
            request_url(pending.pk, "approve"), {"comment": "Nice."}, format="json"
        )
    )
    assert (body["status"], body["comment"], body["notice"]) == ("approved", "Nice.", None)
    assert body["decided_by"] == {"id": approver.pk, "email": approver.email}
    assert body["campaign"]["status"] == "scheduled"
    assert Campaign.objects.get(pk=pending.campaign_id).status == Status.SCHEDULED


def test_admin_approves_too(api_for, admin, pending):
    body = ok(api_for(admin).post(request_url(pending.pk, "approve"), {}, format="json"))
    assert body["status"] == "approved"


def test_approving_twice_or_a_withdrawn_request_is_refused_as_not_pending(
    api_for, marketer, approver, pending, campaign_factory
):
    client = api_for(approver)
    ok(client.post(request_url(pending.pk, "approve"), {}, format="json"))
    error(client.post(request_url(pending.pk, "approve"), {}, format="json"), 409, "not_pending")
    error(
        client.post(request_url(pending.pk, "reject"), {"comment": "No"}, format="json"),
        409,
        "not_pending",
    )

    other = campaign_submit(actor=marketer, campaign_id=campaign_factory().pk)
    withdrawn = ok(api_for(marketer).post(request_url(other.pk, "withdraw")))
    assert withdrawn["status"] == "withdrawn"
    assert withdrawn["campaign"]["status"] == "draft"
    error(client.post(request_url(other.pk, "approve"), {}, format="json"), 409, "not_pending")
    error(api_for(marketer).post(request_url(other.pk, "withdraw")), 409, "not_pending")


def test_approver_cannot_approve_their_own_campaign_unless_an_admin_allows_it(
    api_for, approver, admin, campaign_factory, approval_on
):
    own = campaign_factory(created_by=approver, updated_by=approver)
    request = campaign_submit(actor=approver, campaign_id=own.pk)
    client = api_for(approver)
    error(client.post(request_url(request.pk, "approve"), {}, format="json"), 409, "self_approval")
    assert ApprovalRequest.objects.get(pk=request.pk).status == "pending"
    ok(api_for(admin).patch(SETTINGS, {"allow_self_approval": True}, format="json"))
    assert (
        ok(client.post(request_url(request.pk, "approve"), {}, format="json"))["status"]
        == "approved"
    )


def test_an_approver_not_chosen_cannot_decide(
    api_for, marketer, approver, second_approver, campaign_factory, approval_on
):
    request = campaign_submit(
        actor=marketer, campaign_id=campaign_factory().pk, approvers=[second_approver.pk]
    )
    error(
        api_for(approver).post(request_url(request.pk, "approve"), {}, format="json"),
        409,
        "not_chosen",
    )
    ok(api_for(second_approver).post(request_url(request.pk, "approve"), {}, format="json"))


@pytest.mark.parametrize("verb", ["approve", "reject"])
def test_marketers_do_not_decide(api_for, marketer, pending, verb):
    response = api_for(marketer).post(
        request_url(pending.pk, verb), {"comment": "x"}, format="json"
    )
    error(response, 403, "permission_denied")
    assert ApprovalRequest.objects.get(pk=pending.pk).status == "pending"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "comment"),
        ({"comment": ""}, "comment"),
        ({"comment": "   "}, "comment"),
        ({"comment": "x" * 2001}, "comment"),
        ({"comment": ["why"]}, "comment"),
    ],
)
def test_rejecting_needs_a_comment(api_for, approver, pending, body, field):
    response = api_for(approver).post(request_url(pending.pk, "reject"), body, format="json")
    assert field in error(response, 400, "invalid")["errors"]
    assert ApprovalRequest.objects.get(pk=pending.pk).status == "pending"
    assert Campaign.objects.get(pk=pending.campaign_id).status == Status.PENDING_APPROVAL


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"comment": "x" * 2001}, "comment"),
        ({"changes": ["name"]}, "changes.non_field_errors"),
        ({"changes": {"created_by": 1}}, "changes.created_by"),
        ({"verdict": "yes"}, "verdict"),
    ],
)
def test_bad_approve_input_is_a_400_and_changes_nothing(api_for, approver, pending, body, field):
    response = api_for(approver).post(request_url(pending.pk, "approve"), body, format="json")
    assert field in error(response, 400, "invalid")["errors"]
    assert ApprovalRequest.objects.get(pk=pending.pk).status == "pending"


def test_rejection_leaves_the_live_campaign_as_it_was(
    api_for, marketer, approver, live, approval_on
):
    campaign = live(name="Digest")
    request = campaign_propose(actor=marketer, campaign_id=campaign.pk, data={"name": "Weekly"})
    body = ok(
        api_for(approver).post(
            request_url(request.pk, "reject"), {"comment": "Keep it."}, format="json"
        )
    )
    assert body["status"] == "rejected"
    assert (body["campaign"]["status"], body["campaign"]["live_status"]) == (
        "rejected",
        "scheduled",
    )
    campaign.refresh_from_db()
    assert campaign.name == "Digest"
    detail = ok(api_for(marketer).get(campaign_url(campaign.pk)))
    assert detail["approval"]["request"] == request.pk
    assert detail["actions"]["submit"]["allowed"] is True


def test_approval_applies_the_revision_with_the_approvers_own_edits(
    api_for, marketer, approver, live, approval_on
):
    campaign = live(name="Digest")
    request = campaign_propose(actor=marketer, campaign_id=campaign.pk, data={"name": "Weekly"})
    body = ok(
        api_for(approver).post(
            request_url(request.pk, "approve"),
            {"changes": {"what": push_what("Edited by the approver")}},
            format="json",
        )
    )
    assert body["status"] == "approved"
    assert (body["campaign"]["status"], body["campaign"]["live_status"]) == ("scheduled", "")
    campaign.refresh_from_db()
    assert campaign.name == "Weekly"
    assert campaign.what == push_what("Edited by the approver")


def test_approvers_edits_to_a_locked_section_refuse_the_approval(
    api_for, marketer, approver, live, approval_on
):
    campaign = live(Status.AWAITING_NEXT_RUN, runs_count=1, name="Digest")
    request = campaign_propose(
        actor=marketer, campaign_id=campaign.pk, data={"what": push_what("New")}
    )
    response = api_for(approver).post(
        request_url(request.pk, "approve"), {"changes": {"name": "Renamed"}}, format="json"
    )
    assert "name" in error(response, 409, "read_only")["errors"]
    campaign.refresh_from_db()
    assert (campaign.name, campaign.status) == ("Digest", Status.PENDING_APPROVAL)
    assert ApprovalRequest.objects.get(pk=request.pk).status == "pending"


def test_approving_after_the_scheduled_time_discards_the_changes_with_a_notice(
    api_for, marketer, approver, live, approval_on
):
    campaign = live(name="Digest")
    request = campaign_propose(actor=marketer, campaign_id=campaign.pk, data={"name": "Weekly"})
    with time_machine.travel(campaign.next_run_at + dt.timedelta(minutes=5), tick=False):
        body = ok(api_for(approver).post(request_url(request.pk, "approve"), {}, format="json"))
    assert body["status"] == "discarded"
    assert body["notice"]["code"] == "changes_discarded"
    assert body["notice"]["message"]
    assert (body["campaign"]["status"], body["campaign"]["live_status"]) == ("scheduled", "")
    campaign.refresh_from_db()
    assert campaign.name == "Digest"


def test_only_the_requester_or_creator_withdraws(api_for, other_marketer, approver, pending):
    error(api_for(other_marketer).post(request_url(pending.pk, "withdraw")), 409, "not_requester")
    assert ApprovalRequest.objects.get(pk=pending.pk).status == "pending"


# ---------------------------------------------------------------------------------------------
# The campaign list, with rows in the workflow
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("page_size", [5, 50])
def test_list_rows_in_the_workflow_cost_two_queries_more_whatever_their_number(
    token_client,
    marketer,
    approver,
    campaign_factory,
    live,
    approval_on,
    page_size,
    django_assert_max_num_queries,
):
    for i in range(60):
        campaign = live(name=f"Live {i}") if i % 3 == 0 else campaign_factory(name=f"Draft {i}")
        if i % 3 == 0:
            request = campaign_propose(
                actor=marketer, campaign_id=campaign.pk, data={"name": f"N{i}"}
            )
            if i % 2:
                from approvals.services import request_reject

                request_reject(actor=approver, request_id=request.pk, comment="No")
        elif i % 3 == 1:
            campaign_submit(actor=marketer, campaign_id=campaign.pk)
    client = token_client(approver)
    # The token, the roles, the page, its labels, the approval setting, the requests of the rows
    # in the workflow, their chosen approvers.
    with django_assert_max_num_queries(7):
        response = client.get(CAMPAIGNS, {"page_size": page_size})
    rows = ok(response)["results"]
    assert len(rows) == page_size
    pending_rows = [r for r in rows if r["status"] == "pending_approval"]
    assert pending_rows and all(r["actions"]["approve"]["allowed"] for r in pending_rows)
