"""The lifecycle services (campaigns/services.py) through their public functions, on PostgreSQL.

Each write is checked for what it changes, the one audit row it leaves, and, when refused, that it
wrote nothing at all (campaigns, audit rows and label links are counted before and after).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from accounts.roles import ROLE_PERMISSIONS, Perm, Role
from campaigns import services
from campaigns.choices import Action, Status
from campaigns.models import Campaign, CampaignAudit, default_who
from config.errors import Forbidden, Invalid, InvalidTransition, NotFound, ReadOnly
from tests.factories import UserFactory, later_when, push_what

S = Status
pytestmark = pytest.mark.django_db


def snapshot() -> tuple[int, int, int]:
    """Everything a refused write must leave alone."""
    return (
        Campaign.objects.count(),
        CampaignAudit.objects.count(),
        Campaign.labels.through.objects.count(),
    )


def iso(moment: dt.datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


def ahead(**delta: float) -> dt.datetime:
    return (timezone.now() + dt.timedelta(**delta)).replace(microsecond=0)


def draft_input(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Weekly digest",
        "channel": "push",
        "type": "single_message",
        "delivery": "one_time",
        "who": default_who(),
        "what": push_what(),
        "when": later_when(),
        "labels": [],
    }
    data.update(overrides)
    return data


def variants(*splits: int) -> dict[str, Any]:
    message = push_what()["message"]
    return {
        "variants": [
            {"name": f"V{i}", "split": s, "message": message} for i, s in enumerate(splits)
        ]
    }


def audit_rows(campaign: Campaign) -> list[CampaignAudit]:
    return list(CampaignAudit.objects.filter(campaign=campaign).order_by("id"))


# ------------------------------------------------------------------------------------------------
# Create
# ------------------------------------------------------------------------------------------------
def test_create_makes_a_draft_with_one_audit_row(marketer, label_factory) -> None:
    onboarding = label_factory(name="Onboarding")
    campaign = services.campaign_create(actor=marketer, **draft_input(labels=[onboarding.pk]))

    campaign.refresh_from_db()
    assert campaign.status == S.DRAFT
    assert campaign.created_by == marketer
    assert campaign.archived_at is None and campaign.next_run_at is None
    assert list(campaign.labels.all()) == [onboarding]
    [row] = audit_rows(campaign)
    assert (row.actor, row.action, row.from_status, row.to_status) == (
        marketer,
        Action.CREATE,
        "",
        S.DRAFT,
    )


MISSING = 999_999_999
BAD_CREATE: list[tuple[str, dict[str, Any], set[str]]] = [
    ("unknown channel", {"channel": "fax"}, {"channel"}),
    ("unknown type", {"type": "poll"}, {"type"}),
    ("unknown delivery", {"delivery": "whenever"}, {"delivery"}),
    (
        "percentages not summing to 100",
        {"type": "ab_test", "what": variants(50, 40)},
        {"what.variants"},
    ),
    (
        "template that does not parse",
        {"what": push_what("Hi {{ profile.name")},
        {"what.message.title"},
    ),
    ("message for another channel", {"channel": "sms"}, {"what.message"}),
    ("send later without a time", {"when": {"send": "later"}}, {"when.start_at"}),
    (
        "schedule that ends before it starts",
        {
            "delivery": "recurring",
            "when": {
                "start_at": "2030-01-02T00:00Z",
                "end_at": "2030-01-01T00:00Z",
                "frequency": "daily",
                "send_time": "09:00",
            },
        },
        {"when.end_at"},
    ),
    (
        "unknown time zone",
        {"when": {**later_when(), "timezone": "Mars/Olympus"}},
        {"when.timezone"},
    ),
    ("unknown label", {"labels": [MISSING]}, {"labels"}),
    ("label id that is not a number", {"labels": ["onboarding"]}, {"labels"}),
    (
        "audience on a label that does not exist",
        {
            "who": {
                "type": "group",
                "match": "all",
                "conditions": [{"type": "label_sent", "label_id": MISSING}],
            },
        },
        {"who"},
    ),
    ("blank name", {"name": "   "}, {"name"}),
    ("name too long", {"name": "x" * 201}, {"name"}),
    (
        "every bad field at once",
        {"name": "", "channel": "fax", "labels": [MISSING]},
        {"name", "channel", "labels"},
    ),
]


@pytest.mark.parametrize(
    ("case", "overrides", "fields"), BAD_CREATE, ids=[c[0] for c in BAD_CREATE]
)
def test_create_refuses_invalid_input_and_writes_nothing(marketer, case, overrides, fields) -> None:
    before = snapshot()
    with pytest.raises(Invalid) as caught:
        services.campaign_create(actor=marketer, **draft_input(**overrides))
    assert set(caught.value.errors) == fields
    assert caught.value.code == "invalid"
    assert snapshot() == before


def test_create_accepts_a_past_start_time_in_a_draft(marketer) -> None:
    # Drafts are work in progress; only publishing insists the times lie ahead.
    campaign = services.campaign_create(
        actor=marketer, **draft_input(when={"send": "later", "start_at": "2020-01-01T09:00Z"})
    )
    assert campaign.status == S.DRAFT


# ------------------------------------------------------------------------------------------------
# Publish
# ------------------------------------------------------------------------------------------------
# Expected next_run_at worked out when the test runs: the publish time, the next 10:00.
NOW, NEXT_TEN = "now", "next 10:00"


def publish_cases() -> list[tuple[str, str, dict[str, Any], Status, dt.datetime | None]]:
    soon, later = ahead(days=2), ahead(days=9)
    day = (timezone.now() + dt.timedelta(days=3)).date()
    return [
        # Its send is due at once: the dispatch tick starts it (next_run_at: the publish time).
        ("one time, now", "one_time", {"send": "now"}, S.RUNNING, NOW),
        (
            "one time, later",
            "one_time",
            {"send": "later", "start_at": iso(soon)},
            S.SCHEDULED,
            soon,
        ),
        (
            "recurring",
            "recurring",
            {
                "start_at": f"{day}T00:00Z",
                "frequency": "daily",
                "send_time": "09:00",
                "end_after_runs": 3,
            },
            S.SCHEDULED,
            dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC),
        ),
        ("multiple dates", "multiple_dates", {"dates": [iso(later), iso(soon)]}, S.SCHEDULED, soon),
        ("action", "action", {"trigger": {"event": "Added To Cart"}}, S.RUNNING, None),
        (
            "action, start ahead",
            "action",
            {"trigger": {"event": "Added To Cart"}, "start_at": iso(soon)},
            S.SCHEDULED,
            soon,
        ),
        (
            "inaction",
            "inaction",
            {
                "trigger": {"event": "Added To Cart"},
                "absent_event": {"event": "Charged"},
                "window_minutes": 60,
            },
            S.RUNNING,
            None,
        ),
        (
            "inaction, start ahead",
            "inaction",
            {
                "trigger": {"event": "Added To Cart"},
                "absent_event": {"event": "Charged"},
                "window_minutes": 60,
                "start_at": iso(soon),
            },
            S.SCHEDULED,
            soon,
        ),
        ("api", "api", {}, S.RUNNING, None),
        ("api, start ahead", "api", {"start_at": iso(soon)}, S.SCHEDULED, soon),
        (
            "date property",
            "date_time",
            {"date_property": "birthday", "send_time": "10:00"},
            S.RUNNING,
            NEXT_TEN,
        ),
    ]


@pytest.mark.parametrize(
    ("case", "delivery", "when", "status", "next_run_at"),
    publish_cases(),
    ids=[c[0] for c in publish_cases()],
)
def test_publish_lands_per_delivery(marketer, case, delivery, when, status, next_run_at) -> None:
    draft = services.campaign_create(actor=marketer, **draft_input(delivery=delivery, when=when))
    before = timezone.now()

    published = services.campaign_publish(actor=marketer, campaign_id=draft.pk)

    published.refresh_from_db()
    assert published.status == status
    if next_run_at == NOW:
        assert before <= published.next_run_at <= timezone.now()
    elif next_run_at == NEXT_TEN:
        local = published.next_run_at.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE))
        assert (local.hour, local.minute) == (10, 0)
        assert before < published.next_run_at <= before + dt.timedelta(days=1)
    else:
        assert published.next_run_at == next_run_at
    assert published.last_active_at >= before
    publish_rows = [r for r in audit_rows(published) if r.action == Action.PUBLISH]
    assert [(r.actor, r.from_status, r.to_status) for r in publish_rows] == [
        (marketer, S.DRAFT, status)
    ]


PAST_PUBLISH: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "one time in the past",
        "one_time",
        {"send": "later", "start_at": "2020-01-01T09:00Z"},
        "when.start_at",
    ),
    (
        "recurring from the past",
        "recurring",
        {
            "start_at": "2020-01-01T00:00Z",
            "frequency": "daily",
            "send_time": "09:00",
            "end_after_runs": 2,
        },
        "when.start_at",
    ),
    (
        "a past date among many",
        "multiple_dates",
        {"dates": ["2020-01-01T09:00Z", "2099-01-01T09:00Z"]},
        "when.dates",
    ),
    (
        "action starting in the past",
        "action",
        {"trigger": {"event": "x"}, "start_at": "2020-01-01T00:00Z"},
        "when.start_at",
    ),
    ("api ending in the past", "api", {"end_at": "2020-01-01T00:00Z"}, "when.end_at"),
]


@pytest.mark.parametrize(
    ("case", "delivery", "when", "field"), PAST_PUBLISH, ids=[c[0] for c in PAST_PUBLISH]
)
def test_publish_refuses_past_times_and_changes_nothing(
    marketer, campaign_factory, case, delivery, when, field
) -> None:
    old = timezone.now() - dt.timedelta(days=3)
    draft = campaign_factory(delivery=delivery, when=when, last_active_at=old)
    before = snapshot()
    with pytest.raises(Invalid) as caught:
        services.campaign_publish(actor=marketer, campaign_id=draft.pk)
    assert field in caught.value.errors
    draft.refresh_from_db()
    assert (draft.status, draft.next_run_at, draft.last_active_at) == (S.DRAFT, None, old)
    assert snapshot() == before


def test_publish_revalidates_a_draft_stored_with_bad_content(marketer, campaign_factory) -> None:
    draft = campaign_factory(what={"message": {"title": "{% if %}", "body": "b"}})
    with pytest.raises(Invalid) as caught:
        services.campaign_publish(actor=marketer, campaign_id=draft.pk)
    assert set(caught.value.errors) == {"what.message.title"}


def test_recurring_first_send_is_never_before_its_start(marketer) -> None:
    day = (timezone.now() + dt.timedelta(days=3)).date()
    when = {
        "start_at": f"{day}T12:00Z",
        "frequency": "daily",
        "send_time": "09:00",
        "end_after_runs": 3,
    }
    draft = services.campaign_create(actor=marketer, **draft_input(delivery="recurring", when=when))
    published = services.campaign_publish(actor=marketer, campaign_id=draft.pk)
    assert published.next_run_at == dt.datetime.combine(
        day + dt.timedelta(days=1), dt.time(9), tzinfo=dt.UTC
    )


@pytest.mark.parametrize("status", [s for s in Status if s not in (S.DRAFT, S.REJECTED)])
def test_only_drafts_publish(marketer, campaign_factory, status) -> None:
    campaign = campaign_factory(status=status)
    before = snapshot()
    with pytest.raises(InvalidTransition):
        services.campaign_publish(actor=marketer, campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == status
    assert snapshot() == before


def test_with_approval_off_a_rejected_campaign_publishes_like_a_draft(
    marketer, campaign_factory
) -> None:
    campaign = campaign_factory(status=S.REJECTED)
    services.campaign_publish(actor=marketer, campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status in (S.SCHEDULED, S.RUNNING)


def test_archived_draft_cannot_be_published(marketer, campaign_factory) -> None:
    draft = campaign_factory(archived_at=timezone.now())
    with pytest.raises(ReadOnly) as caught:
        services.campaign_publish(actor=marketer, campaign_id=draft.pk)
    assert caught.value.message == "Archived campaigns are read-only; clone it to work on it again."
    draft.refresh_from_db()
    assert draft.status == S.DRAFT


# ------------------------------------------------------------------------------------------------
# Edit (section-aware)
# ------------------------------------------------------------------------------------------------
def test_editing_a_draft_saves_and_audits_the_changed_fields(
    marketer, approver, campaign_factory, label_factory
) -> None:
    label = label_factory()
    draft = campaign_factory(last_active_at=timezone.now() - dt.timedelta(days=30))
    old_name, new_what = draft.name, push_what("Hello again")

    edited = services.campaign_update(
        actor=approver,
        campaign_id=draft.pk,
        data={"name": "  Renamed  ", "what": new_what, "labels": [label.pk], "channel": "push"},
    )

    edited.refresh_from_db()
    assert (edited.name, edited.what, edited.updated_by) == ("Renamed", new_what, approver)
    assert list(edited.labels.all()) == [label]
    assert edited.last_active_at > timezone.now() - dt.timedelta(minutes=1)
    [row] = audit_rows(edited)
    assert (row.actor, row.action, row.from_status, row.to_status) == (
        approver,
        Action.EDIT,
        S.DRAFT,
        S.DRAFT,
    )
    assert row.changes == {  # channel was given unchanged, so it is no change
        "name": {"old": old_name, "new": "Renamed"},
        "what": {"old": push_what(), "new": new_what},
        "labels": {
            "old": [],
            "new": [label.pk],
            "added": [{"id": label.pk, "name": label.name}],
            "removed": [],
        },
    }


def test_an_edit_that_changes_nothing_writes_nothing(marketer, campaign_factory) -> None:
    draft = campaign_factory()
    before = snapshot()
    services.campaign_update(
        actor=marketer, campaign_id=draft.pk, data={"name": draft.name, "what": draft.what}
    )
    assert snapshot() == before


def test_changing_channel_of_a_draft_with_matching_content_is_allowed(
    marketer, campaign_factory
) -> None:
    draft = campaign_factory()
    edited = services.campaign_update(
        actor=marketer,
        campaign_id=draft.pk,
        data={"channel": "sms", "what": {"message": {"body": "Hi"}}},
    )
    assert edited.channel == "sms"


ALLOWED_EDITS: list[tuple[Status, dict[str, Any]]] = [
    (S.SCHEDULED, {"who": {"type": "group", "match": "any", "conditions": []}}),
    (S.SCHEDULED, {"what": push_what("New title")}),
    (S.SCHEDULED, {"name": "New name"}),
    (S.AWAITING_NEXT_RUN, {"name": "New name"}),
    (S.AWAITING_NEXT_RUN, {"what": push_what("New title")}),
    (S.RUNNING, {"what": push_what("New title")}),
    (S.PENDING_APPROVAL, {"who": {"type": "group", "match": "any", "conditions": []}}),
    (S.REJECTED, {"name": "New name"}),
]


@pytest.mark.parametrize(
    ("status", "data"), ALLOWED_EDITS, ids=[f"{s.value}-{next(iter(d))}" for s, d in ALLOWED_EDITS]
)
def test_edits_the_state_allows_are_saved(marketer, campaign_factory, status, data) -> None:
    campaign = campaign_factory(status=status, next_run_at=ahead(days=1))
    edited = services.campaign_update(actor=marketer, campaign_id=campaign.pk, data=data)
    edited.refresh_from_db()
    for key, value in data.items():
        assert getattr(edited, key) == value
    assert edited.status == status
    [row] = audit_rows(edited)
    assert (row.action, row.from_status, row.to_status, set(row.changes)) == (
        Action.EDIT,
        status,
        status,
        set(data),
    )


def test_labels_and_name_of_a_campaign_awaiting_its_next_run_can_change(
    marketer, campaign_factory, label_factory
) -> None:
    label = label_factory(name="Reengage")
    campaign = campaign_factory(status=S.AWAITING_NEXT_RUN, next_run_at=ahead(days=1))
    services.campaign_update(
        actor=marketer, campaign_id=campaign.pk, data={"name": "Week 2", "labels": [label.pk]}
    )
    campaign.refresh_from_db()
    assert campaign.name == "Week 2"
    assert list(campaign.labels.values_list("name", flat=True)) == ["Reengage"]


LOCKED_EDITS: list[tuple[str, Status, dict[str, Any], dict[str, str]]] = [
    (
        "running: who",
        S.RUNNING,
        {"who": {"type": "group", "match": "any", "conditions": []}},
        {"who": "Who is locked: Running: only What can change."},
    ),
    (
        "running: name",
        S.RUNNING,
        {"name": "x"},
        {"name": "Name is locked: Running: only What can change."},
    ),
    (
        "running: channel",
        S.RUNNING,
        {"channel": "sms", "what": {"message": {"body": "Hi"}}},
        {
            "channel": "The channel can change only while Who, What and When all can: "
            "Running: only What can change."
        },
    ),
    (
        "running: type",
        S.RUNNING,
        {"type": "ab_test", "what": variants(50, 50)},
        {
            "type": "The type can change only while Who, What and When all can: "
            "Running: only What can change."
        },
    ),
    (
        "awaiting: when",
        S.AWAITING_NEXT_RUN,
        {"when": later_when(days=3)},
        {"when": "When is locked: Awaiting next run: only What, the name and labels can change."},
    ),
    (
        "awaiting: delivery",
        S.AWAITING_NEXT_RUN,
        {"delivery": "api", "when": {}},
        {
            "delivery": "When is locked: "
            "Awaiting next run: only What, the name and labels can change.",
            "when": "When is locked: Awaiting next run: only What, the name and labels can change.",
        },
    ),
    (
        "pending after first run: who",
        S.PENDING_APPROVAL,
        {"who": {"type": "group", "match": "any", "conditions": []}},
        {"who": "Who is locked: The first run has happened: only What can change."},
    ),
]


@pytest.mark.parametrize(
    ("case", "status", "data", "errors"), LOCKED_EDITS, ids=[c[0] for c in LOCKED_EDITS]
)
def test_editing_a_locked_section_is_refused_listing_the_field(
    marketer, campaign_factory, case, status, data, errors
) -> None:
    campaign = campaign_factory(status=status, next_run_at=ahead(days=1), runs_count=1)
    stored = Campaign.objects.values().get(pk=campaign.pk)
    before = snapshot()

    with pytest.raises(ReadOnly) as caught:
        services.campaign_update(actor=marketer, campaign_id=campaign.pk, data=data)

    assert caught.value.errors == {field: [message] for field, message in errors.items()}
    assert Campaign.objects.values().get(pk=campaign.pk) == stored
    assert snapshot() == before


def test_one_locked_field_refuses_the_whole_edit(marketer, campaign_factory) -> None:
    campaign = campaign_factory(status=S.RUNNING)
    with pytest.raises(ReadOnly) as caught:
        services.campaign_update(
            actor=marketer,
            campaign_id=campaign.pk,
            data={"what": push_what("Allowed alone"), "name": "Not allowed"},
        )
    assert set(caught.value.errors) == {"name"}
    campaign.refresh_from_db()
    assert campaign.what == push_what()


@pytest.mark.parametrize("status", [S.SCHEDULED, S.AWAITING_NEXT_RUN])
def test_nothing_can_be_edited_after_the_scheduled_time(marketer, campaign_factory, status) -> None:
    campaign = campaign_factory(status=status, next_run_at=timezone.now() - dt.timedelta(seconds=1))
    before = snapshot()
    with pytest.raises(ReadOnly) as caught:
        services.campaign_update(
            actor=marketer, campaign_id=campaign.pk, data={"what": push_what("Too late")}
        )
    assert caught.value.message == "The scheduled time has passed; changes now would be discarded."
    assert snapshot() == before


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (S.STOPPED, "Stopped campaigns are final; clone it to send again."),
        (S.COMPLETED, "Completed campaigns are final; clone it to send again."),
    ],
)
def test_final_campaigns_cannot_be_edited(marketer, campaign_factory, status, reason) -> None:
    campaign = campaign_factory(status=status)
    with pytest.raises(ReadOnly) as caught:
        services.campaign_update(actor=marketer, campaign_id=campaign.pk, data={"name": "x"})
    assert caught.value.message == reason


def test_archived_campaign_cannot_be_edited(marketer, campaign_factory) -> None:
    draft = campaign_factory(archived_at=timezone.now())
    before = snapshot()
    with pytest.raises(ReadOnly):
        services.campaign_update(actor=marketer, campaign_id=draft.pk, data={"name": "x"})
    assert snapshot() == before


def test_editing_when_of_a_scheduled_campaign_moves_its_next_run(
    marketer, campaign_factory
) -> None:
    campaign = campaign_factory(status=S.SCHEDULED, next_run_at=ahead(days=7))
    moved = ahead(days=2)
    services.campaign_update(
        actor=marketer,
        campaign_id=campaign.pk,
        data={"when": {"send": "later", "start_at": iso(moved)}},
    )
    campaign.refresh_from_db()
    assert campaign.next_run_at == moved


def test_editing_a_scheduled_campaign_into_the_past_is_refused(marketer, campaign_factory) -> None:
    campaign = campaign_factory(status=S.SCHEDULED, next_run_at=ahead(days=7))
    stored = Campaign.objects.values().get(pk=campaign.pk)
    with pytest.raises(Invalid) as caught:
        services.campaign_update(
            actor=marketer,
            campaign_id=campaign.pk,
            data={"when": {"send": "later", "start_at": "2020-01-01T00:00Z"}},
        )
    assert set(caught.value.errors) == {"when.start_at"}
    assert Campaign.objects.values().get(pk=campaign.pk) == stored


BAD_EDITS: list[tuple[str, dict[str, Any], set[str]]] = [
    ("unknown field", {"status": "running"}, {"status"}),
    ("bad content", {"what": push_what("{{ unclosed")}, {"what.message.title"}),
    ("bad schedule", {"when": {"send": "later"}}, {"when.start_at"}),
    ("unknown label", {"labels": [MISSING]}, {"labels"}),
    ("label that is not an id", {"labels": ["x"]}, {"labels"}),
    ("blank name", {"name": ""}, {"name"}),
]


@pytest.mark.parametrize(("case", "data", "fields"), BAD_EDITS, ids=[c[0] for c in BAD_EDITS])
def test_invalid_edit_is_refused_and_saves_nothing(
    marketer, campaign_factory, case, data, fields
) -> None:
    draft = campaign_factory()
    stored = Campaign.objects.values().get(pk=draft.pk)
    before = snapshot()
    with pytest.raises(Invalid) as caught:
        services.campaign_update(actor=marketer, campaign_id=draft.pk, data=data)
    assert set(caught.value.errors) == fields
    assert Campaign.objects.values().get(pk=draft.pk) == stored
    assert snapshot() == before


# ------------------------------------------------------------------------------------------------
# Stop
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", sorted(services.rules.LIVE))
def test_stop_ends_a_live_campaign_for_good(marketer, approver, campaign_factory, status) -> None:
    campaign = campaign_factory(status=status, next_run_at=ahead(days=1))
    stopped = services.campaign_stop(actor=approver, campaign_id=campaign.pk)
    stopped.refresh_from_db()
    assert (stopped.status, stopped.next_run_at, stopped.updated_by) == (S.STOPPED, None, approver)
    [row] = audit_rows(stopped)
    assert (row.actor, row.action, row.from_status, row.to_status) == (
        approver,
        Action.STOP,
        status,
        S.STOPPED,
    )


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (S.DRAFT, "Drafts are not live; there is nothing to stop."),
        (S.STOPPED, "The campaign is already stopped."),
        (S.COMPLETED, "The campaign has completed; there is nothing to stop."),
        (S.PENDING_APPROVAL, "The campaign is awaiting approval and not live yet."),
        (S.REJECTED, "Rejected campaigns are not live; there is nothing to stop."),
    ],
)
def test_stop_refuses_campaigns_that_are_not_live(
    marketer, campaign_factory, status, reason
) -> None:
    campaign = campaign_factory(status=status)
    before = snapshot()
    with pytest.raises(InvalidTransition) as caught:
        services.campaign_stop(actor=marketer, campaign_id=campaign.pk)
    assert caught.value.message == reason
    assert snapshot() == before


# ------------------------------------------------------------------------------------------------
# Clone
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("archived", [False, True], ids=["active", "archived"])
@pytest.mark.parametrize("status", [S.RUNNING, S.COMPLETED, S.DRAFT])
def test_clone_is_a_new_draft_of_the_same_campaign_by_the_actor(
    marketer, approver, campaign_factory, label_factory, status, archived
) -> None:
    labels = [label_factory(name="Onboarding"), label_factory(name="Reengage")]
    source = campaign_factory(
        name="Diwali 2024 – Push",
        status=status,
        next_run_at=ahead(days=1),
        runs_count=3,
        archived_at=timezone.now() if archived else None,
        last_active_at=timezone.now() - dt.timedelta(days=9),
        who={
            "type": "group",
            "match": "any",
            "conditions": [{"type": "property", "property": "city", "op": "eq", "value": "Pune"}],
        },
    )
    source.labels.set(labels)
    source_row = Campaign.objects.values().get(pk=source.pk)

    clone = services.campaign_clone(actor=approver, campaign_id=source.pk)

    clone.refresh_from_db()
    assert clone.pk != source.pk
    assert clone.name == "Copy of Diwali 2024 – Push"
    assert (clone.status, clone.archived_at, clone.next_run_at, clone.runs_count) == (
        S.DRAFT,
        None,
        None,
        0,
    )
    assert (clone.created_by, clone.cloned_from) == (approver, source)
    assert (clone.channel, clone.type, clone.delivery) == (
        source.channel,
        source.type,
        source.delivery,
    )
    assert (clone.who, clone.what, clone.when) == (source.who, source.what, source.when)
    assert set(clone.labels.all()) == set(labels)
    assert Campaign.objects.values().get(pk=source.pk) == source_row  # the source is only read
    [made] = audit_rows(clone)
    assert (made.actor, made.action, made.to_status) == (approver, Action.CREATE, S.DRAFT)
    assert made.changes == {"cloned_from": {"id": source.pk, "name": source.name}}
    [noted] = audit_rows(source)
    assert (noted.actor, noted.action, noted.from_status, noted.to_status) == (
        approver,
        Action.CLONE,
        status,
        status,
    )
    assert noted.changes == {"clone": {"id": clone.pk, "name": clone.name}}


def test_clone_of_a_long_name_still_fits(marketer, campaign_factory) -> None:
    source = campaign_factory(name="n" * 200)
    clone = services.campaign_clone(actor=marketer, campaign_id=source.pk)
    assert len(clone.name) == 200 and clone.name.startswith("Copy of ")


# ------------------------------------------------------------------------------------------------
# Archive
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [S.DRAFT, S.COMPLETED, S.STOPPED, S.REJECTED])
def test_archive_makes_a_finished_or_unpublished_campaign_read_only(
    marketer, campaign_factory, status
) -> None:
    campaign = campaign_factory(status=status)
    archived = services.campaign_archive(actor=marketer, campaign_id=campaign.pk)
    archived.refresh_from_db()
    assert archived.archived_at is not None
    assert archived.status == status  # archival is orthogonal to the status
    [row] = audit_rows(archived)
    assert (row.actor, row.action, row.from_status, row.to_status) == (
        marketer,
        Action.ARCHIVE,
        status,
        status,
    )


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (S.SCHEDULED, "Live campaigns must be stopped before they are archived."),
        (S.RUNNING, "Live campaigns must be stopped before they are archived."),
        (S.AWAITING_NEXT_RUN, "Live campaigns must be stopped before they are archived."),
        (S.PENDING_APPROVAL, "Campaigns awaiting approval cannot be archived."),
    ],
)
def test_live_and_pending_campaigns_cannot_be_archived(
    marketer, campaign_factory, status, reason
) -> None:
    campaign = campaign_factory(status=status)
    before = snapshot()
    with pytest.raises(InvalidTransition) as caught:
        services.campaign_archive(actor=marketer, campaign_id=campaign.pk)
    assert caught.value.message == reason
    campaign.refresh_from_db()
    assert campaign.archived_at is None
    assert snapshot() == before


def test_archiving_twice_is_refused(marketer, campaign_factory) -> None:
    first = timezone.now() - dt.timedelta(days=2)
    campaign = campaign_factory(status=S.STOPPED, archived_at=first)
    with pytest.raises(ReadOnly):
        services.campaign_archive(actor=marketer, campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.archived_at == first


# ------------------------------------------------------------------------------------------------
# Who may do what
# ------------------------------------------------------------------------------------------------
def call(service: str, actor: Any, campaign: Campaign) -> Any:
    if service == "create":
        return services.campaign_create(actor=actor, **draft_input())
    if service == "edit":
        return services.campaign_update(
            actor=actor, campaign_id=campaign.pk, data={"name": "Renamed"}
        )
    return getattr(services, f"campaign_{service}")(actor=actor, campaign_id=campaign.pk)


# service -> (the permission it needs, the state the campaign must be in for it to succeed)
SERVICES: dict[str, tuple[Perm, Status]] = {
    "create": (Perm.CREATE, S.DRAFT),
    "edit": (Perm.EDIT, S.DRAFT),
    "publish": (Perm.PUBLISH, S.DRAFT),
    "stop": (Perm.STOP, S.RUNNING),
    "clone": (Perm.CLONE, S.COMPLETED),
    "archive": (Perm.ARCHIVE, S.COMPLETED),
}


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_each_role_may_do_what_the_roles_table_says(campaign_factory, service, role) -> None:
    perm, status = SERVICES[service]
    actor = UserFactory(roles=[role.value])
    campaign = campaign_factory(status=status)
    before = snapshot()
    if perm in ROLE_PERMISSIONS[role]:
        call(service, actor, campaign)
        assert CampaignAudit.objects.filter(actor=actor).exists()
    else:
        with pytest.raises(Forbidden):
            call(service, actor, campaign)
        assert snapshot() == before


@pytest.mark.parametrize("service", SERVICES)
def test_the_approver_role_may_run_every_campaign_service(
    approver, campaign_factory, service
) -> None:
    perm, status = SERVICES[service]
    assert perm in ROLE_PERMISSIONS[Role.APPROVER]
    call(service, approver, campaign_factory(status=status))


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("who", ["outsider", "anonymous", "inactive"])
def test_people_without_a_role_are_refused_and_nothing_is_written(
    outsider, campaign_factory, service, who
) -> None:
    actor = {
        "outsider": outsider,
        "anonymous": AnonymousUser(),
        "inactive": UserFactory(roles=["Admin"], is_active=False),
    }[who]
    campaign = campaign_factory(status=SERVICES[service][1])
    before = snapshot()
    with pytest.raises((Forbidden, NotFound)):
        call(service, actor, campaign)
    assert snapshot() == before


@pytest.mark.parametrize("service", ["edit", "publish", "stop", "clone", "archive"])
@pytest.mark.parametrize("campaign_id", [MISSING, "abc", None])
def test_an_unknown_campaign_is_not_found(marketer, service, campaign_id) -> None:
    missing = Campaign(pk=campaign_id)
    with pytest.raises(NotFound):
        call(service, marketer, missing)


# ------------------------------------------------------------------------------------------------
# Bulk
# ------------------------------------------------------------------------------------------------
def summary(results: list[services.BulkResult]) -> list[tuple[Any, bool, str]]:
    return [(r.id, r.ok, r.code) for r in results]


def test_bulk_stop_reports_each_id_in_order_and_one_refusal_undoes_nothing(
    marketer, campaign_factory
) -> None:
    running = campaign_factory(status=S.RUNNING)
    draft = campaign_factory(status=S.DRAFT)
    awaiting = campaign_factory(status=S.AWAITING_NEXT_RUN)
    archived = campaign_factory(status=S.RUNNING, archived_at=timezone.now())

    results = services.campaigns_bulk(
        actor=marketer,
        action="stop",
        ids=[
            running.pk,
            draft.pk,
            MISSING,
            "abc",
            running.pk,
            str(awaiting.pk),
            archived.pk,
            str(running.pk),
        ],
    )

    assert summary(results) == [
        (running.pk, True, "done"),
        (draft.pk, False, "invalid_transition"),
        (MISSING, False, "not_found"),
        ("abc", False, "not_found"),
        (awaiting.pk, True, "done"),
        (archived.pk, False, "read_only"),
    ]
    assert results[1].message == "Drafts are not live; there is nothing to stop."
    statuses = dict(Campaign.objects.values_list("pk", "status"))
    assert statuses == {
        running.pk: S.STOPPED,
        draft.pk: S.DRAFT,
        awaiting.pk: S.STOPPED,
        archived.pk: S.RUNNING,
    }
    assert CampaignAudit.objects.filter(action=Action.STOP).count() == 2


def test_bulk_archive_with_mixed_states(marketer, campaign_factory) -> None:
    draft = campaign_factory(status=S.DRAFT)
    live = campaign_factory(status=S.SCHEDULED)
    stopped = campaign_factory(status=S.STOPPED)
    results = services.campaigns_bulk(
        actor=marketer, action="archive", ids=[draft.pk, live.pk, stopped.pk]
    )
    assert summary(results) == [
        (draft.pk, True, "done"),
        (live.pk, False, "invalid_transition"),
        (stopped.pk, True, "done"),
    ]
    assert set(Campaign.objects.archived().values_list("pk", flat=True)) == {draft.pk, stopped.pk}
    assert CampaignAudit.objects.filter(action=Action.ARCHIVE).count() == 2


def test_bulk_clone_clones_each_campaign_once_archived_ones_included(
    marketer, campaign_factory
) -> None:
    done = campaign_factory(
        status=S.COMPLETED, archived_at=timezone.now(), name="Summer Sale – Email"
    )
    results = services.campaigns_bulk(
        actor=marketer, action="clone", ids=[done.pk, str(done.pk), f" {done.pk} "]
    )
    [result] = results
    clone = Campaign.objects.get(cloned_from=done)
    assert (result.id, result.ok, result.name) == (done.pk, True, "Summer Sale – Email")
    assert result.extra == {"clone_id": clone.pk, "clone_name": "Copy of Summer Sale – Email"}


@pytest.mark.parametrize(
    "raw", [1.5, True, None, [1], {"id": 1}, "1.0", "-1", 0, 2**63, "٣"], ids=repr
)
def test_bulk_ids_that_name_no_campaign_are_not_found_and_touch_nothing(
    marketer, campaign_factory, raw
) -> None:
    # Ids 1 and 3 exist, so truncating 1.5 or reading True as 1 would stop a real campaign.
    campaigns = [campaign_factory(status=S.RUNNING) for _ in range(3)]
    Campaign.objects.filter(pk=campaigns[0].pk).update(id=1)
    Campaign.objects.filter(pk=campaigns[2].pk).update(id=3)
    results = services.campaigns_bulk(actor=marketer, action="stop", ids=[raw])
    assert [(r.ok, r.code) for r in results] == [(False, "not_found")]
    assert set(Campaign.objects.values_list("status", flat=True)) == {S.RUNNING}


@pytest.mark.parametrize(
    ("action", "ids", "field"),
    [
        ("stop", [], "ids"),
        ("stop", "12", "ids"),
        ("pause", [1], "action"),
        ("stop", list(range(1, services.MAX_BULK + 2)), "ids"),
    ],
)
def test_bulk_refuses_bad_requests_whole(marketer, action, ids, field) -> None:
    with pytest.raises(Invalid) as caught:
        services.campaigns_bulk(actor=marketer, action=action, ids=ids)
    assert set(caught.value.errors) == {field}


def test_bulk_needs_the_permission(outsider, campaign_factory) -> None:
    running = campaign_factory(status=S.RUNNING)
    with pytest.raises(Forbidden):
        services.campaigns_bulk(actor=outsider, action="stop", ids=[running.pk])
    running.refresh_from_db()
    assert running.status == S.RUNNING
