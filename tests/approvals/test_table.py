"""The creator-approver table of issue #5, cell by cell: state x scenario x role x section.

The expectations below are written from the issue's table (and the readings in docs/decisions/),
not from approvals.policy.APPROVAL_TABLE, so the two can disagree and a test says where. For each
cell, with the clock frozen before or after the scheduled time:

* campaign_rules() answers the table's editable sections, where an edit goes (mode), the actions
  allowed among edit / submit / publish / approve / reject / withdraw, and the notice;
* through the services, an edit of each section either lands (on the campaign for mode direct, in
  the pending proposal for mode revision) or is refused, naming the field or the notice's code,
  with nothing at all changed in the database.

States are reached through the services (publish, send for approval, propose, reject); a campaign
that has run is written directly (runs_count, next_run_at), since the scheduler does not exist yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine

from approvals import policy
from approvals import services as approvals
from campaigns import services
from campaigns.choices import Action, Delivery, Section, Status
from campaigns.models import Campaign
from config.errors import DomainError, ReadOnly, Refused
from tests.approvals.support import db_rows
from tests.factories import push_what

pytestmark = pytest.mark.django_db

UTC = dt.UTC
# "The scheduled time" of every campaign below: the next send of a live one, the send the changes
# were made for, or the first send of a campaign never live.
SCHEDULED = dt.datetime(2031, 3, 10, 9, 0, tzinfo=UTC)  # a Monday
SETUP = SCHEDULED - dt.timedelta(days=2)
CLOCKS = {
    "before": SCHEDULED - dt.timedelta(hours=1),
    "after": SCHEDULED + dt.timedelta(hours=1),
}
ONE_TIME_WHEN = {"send": "later", "start_at": "2031-03-10T09:00", "timezone": "UTC"}
WEEKLY_WHEN = {
    "start_at": "2031-03-03T09:00",
    "timezone": "UTC",
    "send_time": "09:00",
    "frequency": "weekly",
    "weekdays": ["mo"],
    "end_after_runs": 26,
}

# --------------------------------------------------------------------------------------------
# The table. One row per (state, clock, role); "approver" is the table's approver column, which
# Approvers and Admins share. Sections: n(ame) l(abels) who what when. Modes: direct (the edit
# changes the campaign now), revision (it changes a proposal that needs approval), none.
# --------------------------------------------------------------------------------------------
TABLE = """
state                     | clock  | role     | sections | mode     | allowed               | notice
# Scheduled: before, the creator edits (and so sends for approval), the approver edits and it is
# live at once; after, nobody edits and changes are discarded (nothing is pending to approve).
scheduled                 | before | creator  | all      | revision | edit                  | changes_need_approval
scheduled                 | before | approver | all      | direct   | edit                  | -
scheduled                 | after  | creator  | -        | none     | -                     | changes_discarded
scheduled                 | after  | approver | -        | none     | -                     | changes_discarded
# Awaiting Next Run: What only (the table, not the general "What, name and labels").
awaiting_next_run         | before | creator  | what     | revision | edit                  | changes_need_approval
awaiting_next_run         | before | approver | what     | direct   | edit                  | -
awaiting_next_run         | after  | creator  | -        | none     | -                     | changes_discarded
awaiting_next_run         | after  | approver | -        | none     | -                     | changes_discarded
# Running: one row, whatever the clock says.
running                   | before | creator  | what     | revision | edit                  | changes_need_approval
running                   | after  | creator  | what     | revision | edit                  | changes_need_approval
running                   | before | approver | what     | direct   | edit                  | -
running                   | after  | approver | what     | direct   | edit                  | -
# Approval Pending before the first run (never live: the campaign is its own proposal).
pending_new               | before | creator  | all      | direct   | edit withdraw         | -
pending_new               | after  | creator  | all      | direct   | edit withdraw         | -
pending_new               | before | approver | all      | direct   | edit approve reject   | -
pending_new               | after  | approver | all      | direct   | edit approve reject   | scheduled_in_past
# Approval Pending, first run done, awaiting the next (changes to a live campaign).
pending_ran               | before | creator  | what     | revision | edit withdraw         | -
pending_ran               | after  | creator  | -        | none     | withdraw              | changes_discarded
pending_ran               | before | approver | what     | revision | edit approve reject   | -
pending_ran               | after  | approver | -        | none     | approve reject        | changes_discarded
# Rejected, first run not started.
rejected_new              | before | creator  | all      | direct   | edit submit           | -
rejected_new              | after  | creator  | all      | direct   | edit submit           | -
rejected_new              | before | approver | what     | direct   | edit submit           | -
rejected_new              | after  | approver | -        | none     | -                     | changes_discarded
# Rejected, first run done, awaiting the next.
rejected_ran              | before | creator  | what     | revision | edit submit           | -
rejected_ran              | after  | creator  | what     | revision | edit submit           | -
rejected_ran              | before | approver | what     | revision | edit publish          | -
rejected_ran              | after  | approver | what     | revision | edit publish          | run_today_or_tomorrow
# Changes to a live Scheduled campaign awaiting approval: before its time, as Scheduled (all);
# after it, the send went out as it was: as the "first run done, after" row.
pending_of_scheduled      | before | creator  | all      | revision | edit withdraw         | -
pending_of_scheduled      | after  | creator  | -        | none     | withdraw              | changes_discarded
pending_of_scheduled      | before | approver | all      | revision | edit approve reject   | -
pending_of_scheduled      | after  | approver | -        | none     | approve reject        | changes_discarded
# Changes to a Running campaign awaiting approval: What only, as Running.
pending_of_running        | before | creator  | what     | revision | edit withdraw         | -
pending_of_running        | before | approver | what     | revision | edit approve reject   | -
# Not in the spec's table: drafts are built freely; approvers may publish others' drafts.
draft                     | before | creator  | all      | direct   | edit submit           | -
draft                     | before | approver | all      | direct   | edit submit publish   | -
"""
WORKFLOW_ACTIONS = (
    Action.EDIT,
    Action.SUBMIT,
    Action.PUBLISH,
    Action.APPROVE,
    Action.REJECT,
    Action.WITHDRAW,
)
SECTION_WORDS = {"all": set(Section), "what": {Section.WHAT}, "-": set()}


@dataclass(frozen=True)
class Row:
    state: str
    clock: str
    role: str
    sections: frozenset[Section]
    mode: str
    allowed: frozenset[Action]
    notice: str | None

    @property
    def id(self) -> str:
        return f"{self.state}/{self.clock}/{self.role}"


def _rows() -> list[Row]:
    lines = [line for line in TABLE.strip().splitlines() if not line.startswith("#")]
    out = []
    for line in lines[1:]:
        state, clock, role, sections, mode, allowed, notice = (p.strip() for p in line.split("|"))
        out.append(
            Row(
                state,
                clock,
                role,
                frozenset(SECTION_WORDS[sections]),
                mode,
                frozenset() if allowed == "-" else frozenset(Action(a) for a in allowed.split()),
                None if notice == "-" else notice,
            )
        )
    return out


ROWS = _rows()


def test_the_table_has_one_row_per_cell() -> None:
    keys = [row.id for row in ROWS]
    assert len(keys) == len(set(keys))


# --------------------------------------------------------------------------------------------
# Reaching each state.
# --------------------------------------------------------------------------------------------
@dataclass
class People:
    marketer: Any
    approver: Any
    admin: Any


def _draft(people: People, make: Callable[..., Campaign]) -> Campaign:
    return make(when=ONE_TIME_WHEN, updated_by=people.marketer)


def _weekly(people: People, make: Callable[..., Campaign], status: Status) -> Campaign:
    """A weekly campaign whose first run is done; its next send is SCHEDULED."""
    return make(
        status=status,
        delivery=Delivery.RECURRING,
        when=WEEKLY_WHEN,
        runs_count=1,
        last_run_at=SCHEDULED - dt.timedelta(days=7),
        next_run_at=SCHEDULED,
        updated_by=people.marketer,
    )


def _submitted(people: People, make: Callable[..., Campaign]) -> Campaign:
    campaign = _draft(people, make)
    approvals.campaign_submit(actor=people.marketer, campaign_id=campaign.pk, note="Please")
    return campaign


def _published(people: People, make: Callable[..., Campaign]) -> Campaign:
    campaign = _submitted(people, make)
    request = policy.pending_request(campaign)
    approvals.request_approve(actor=people.approver, request_id=request.pk)
    return campaign


def _published_triggered(people: People, make: Callable[..., Campaign]) -> Campaign:
    """Sent on an event: published straight into Running, before any run is counted."""
    campaign = make(
        delivery=Delivery.ACTION,
        when={"trigger": {"event": "App Installed"}, "delay_minutes": 30},
        updated_by=people.marketer,
    )
    request = approvals.campaign_submit(actor=people.marketer, campaign_id=campaign.pk)
    approvals.request_approve(actor=people.approver, request_id=request.pk)
    return campaign


def _proposed(people: People, campaign: Campaign) -> Campaign:
    approvals.campaign_propose(
        actor=people.marketer,
        campaign_id=campaign.pk,
        data={"what": push_what("Proposed before the review")},
        note="New copy",
    )
    return campaign


def _rejected(people: People, campaign: Campaign) -> Campaign:
    campaign.refresh_from_db()
    request = policy.pending_request(campaign)
    approvals.request_reject(actor=people.approver, request_id=request.pk, comment="Not yet.")
    return campaign


BUILDERS: dict[str, Callable[[People, Callable[..., Campaign]], Campaign]] = {
    "draft": _draft,
    "scheduled": _published,
    "awaiting_next_run": lambda p, make: _weekly(p, make, Status.AWAITING_NEXT_RUN),
    "running": lambda p, make: _weekly(p, make, Status.RUNNING),
    "pending_new": _submitted,
    "pending_ran": lambda p, make: _proposed(p, _weekly(p, make, Status.AWAITING_NEXT_RUN)),
    "rejected_new": lambda p, make: _rejected(p, _submitted(p, make)),
    "rejected_ran": lambda p, make: _rejected(
        p, _proposed(p, _weekly(p, make, Status.AWAITING_NEXT_RUN))
    ),
    "pending_of_scheduled": lambda p, make: _proposed(p, _published(p, make)),
    "pending_of_running": lambda p, make: _proposed(p, _published_triggered(p, make)),
}
EXPECTED_STATUS = {
    "pending_new": Status.PENDING_APPROVAL,
    "pending_ran": Status.PENDING_APPROVAL,
    "pending_of_scheduled": Status.PENDING_APPROVAL,
    "pending_of_running": Status.PENDING_APPROVAL,
    "rejected_new": Status.REJECTED,
    "rejected_ran": Status.REJECTED,
}


@pytest.fixture
def people(marketer, approver, admin) -> People:
    return People(marketer, approver, admin)


@pytest.fixture
def build(people, campaign_factory):
    """Campaign approval on, and the campaign in `state`, set up two days before its time."""

    def build_state(state: str) -> Campaign:
        with time_machine.travel(SETUP, tick=False):
            approvals.approval_settings_update(actor=people.admin, enabled=True)
            campaign = BUILDERS[state](people, campaign_factory)
        campaign.refresh_from_db()
        assert campaign.status == EXPECTED_STATUS.get(state, state)
        return campaign

    return build_state


def _user(people: People, role: str) -> Any:
    return {"creator": people.marketer, "approver": people.approver, "admin": people.admin}[role]


# --------------------------------------------------------------------------------------------
# The rules function.
# --------------------------------------------------------------------------------------------
RULE_CASES = [
    pytest.param(row, user, id=f"{row.id}:{user}")
    for row in ROWS
    for user in (["creator"] if row.role == "creator" else ["approver", "admin"])
]


@pytest.mark.parametrize(("row", "user"), RULE_CASES)
def test_rules_answer_the_cell(row: Row, user: str, people, build) -> None:
    campaign = build(row.state)

    with time_machine.travel(CLOCKS[row.clock], tick=False):
        answer = policy.campaign_rules(campaign, _user(people, user))

    assert answer.editable() == row.sections
    assert answer.mode == row.mode
    allowed = {a for a in WORKFLOW_ACTIONS if answer.allowed(a)}
    refusals = {a: answer.actions[a] for a in WORKFLOW_ACTIONS if a not in row.allowed}
    assert allowed == row.allowed, refusals
    assert answer.notice == row.notice
    assert answer.role == row.role
    for action, verdict in refusals.items():
        assert verdict.reason and verdict.code, action


def test_approver_after_the_time_of_a_live_campaign_has_nothing_to_approve(people, build):
    """Scheduled / Awaiting Next Run "after": the approver "can only approve", and approves only
    requests: a live campaign without pending changes has none."""
    campaign = build("scheduled")

    with time_machine.travel(CLOCKS["after"], tick=False):
        answer = policy.campaign_rules(campaign, people.approver)

    assert answer.actions[Action.APPROVE].code == "no_pending_request"


# --------------------------------------------------------------------------------------------
# The services, section by section.
# --------------------------------------------------------------------------------------------
FIELD_OF = {
    Section.NAME: "name",
    Section.LABELS: "labels",
    Section.WHO: "who",
    Section.WHAT: "what",
    Section.WHEN: "when",
}


def _new_value(section: Section, label_factory) -> Any:
    return {
        Section.NAME: lambda: "Renamed in review",
        Section.LABELS: lambda: [label_factory(name="Spring").pk],
        Section.WHO: lambda: {
            "type": "group",
            "match": "all",
            "conditions": [{"type": "property", "property": "country", "op": "eq", "value": "IN"}],
        },
        Section.WHAT: lambda: push_what("Changed in the cell test"),
        # Ahead of both clocks.
        Section.WHEN: lambda: {"send": "later", "start_at": "2031-03-12T10:00", "timezone": "UTC"},
    }[section]()


def _edit(row: Row, user: Any, campaign: Campaign, data: dict[str, Any]) -> Any:
    """Edit as the page and the API do: straight to the campaign, or as a proposal."""
    if row.mode == "revision":
        return approvals.campaign_propose(actor=user, campaign_id=campaign.pk, data=data)
    return services.campaign_update(actor=user, campaign_id=campaign.pk, data=data)


def _value_of(campaign: Campaign, field: str) -> Any:
    if field == "labels":
        return sorted(campaign.labels.values_list("pk", flat=True))
    return getattr(campaign, field)


SECTION_CASES = [
    pytest.param(row, section, id=f"{row.id}:{section.value}")
    for row in ROWS
    for section in Section
]


@pytest.mark.parametrize(("row", "section"), SECTION_CASES)
def test_services_follow_the_cell(row: Row, section: Section, people, build, label_factory):
    campaign = build(row.state)
    user = _user(people, row.role)
    field = FIELD_OF[section]
    new = _new_value(section, label_factory)
    before = db_rows()
    live_before = {f: _value_of(campaign, f) for f in FIELD_OF.values()}

    with time_machine.travel(CLOCKS[row.clock], tick=False):
        if section in row.sections:
            _edit(row, user, campaign, {field: new})
            done = True
        else:
            with pytest.raises(DomainError) as refused:
                _edit(row, user, campaign, {field: new})
            done = False

    campaign.refresh_from_db()
    if not done:
        if row.notice == "changes_discarded":
            assert isinstance(refused.value, Refused)
            assert refused.value.code == "changes_discarded"
        else:
            assert isinstance(refused.value, ReadOnly)
            assert list(refused.value.errors) == [field]
        assert db_rows() == before
    elif row.mode == "direct":
        assert _value_of(campaign, field) == new
    else:
        # The live campaign is untouched; the proposal carries the change, awaiting approval.
        assert {f: _value_of(campaign, f) for f in FIELD_OF.values()} == live_before
        assert campaign.status == Status.PENDING_APPROVAL
        assert campaign.live_status in (
            Status.SCHEDULED,
            Status.RUNNING,
            Status.AWAITING_NEXT_RUN,
        )
        pending = policy.pending_request(campaign)
        assert pending is not None and pending.proposed[field] == new


REVISION_ROWS = [pytest.param(row, id=row.id) for row in ROWS if row.mode == "revision"]


@pytest.mark.parametrize("row", REVISION_ROWS)
def test_a_direct_edit_where_changes_need_approval_is_refused(row: Row, people, build):
    campaign = build(row.state)
    before = db_rows()

    with (
        time_machine.travel(CLOCKS[row.clock], tick=False),
        pytest.raises(Refused) as refused,
    ):
        services.campaign_update(
            actor=_user(people, row.role),
            campaign_id=campaign.pk,
            data={"what": push_what("Straight to the live campaign")},
        )

    assert refused.value.code == "approval_required"
    assert db_rows() == before


DIRECT_ROWS = [pytest.param(row, id=row.id) for row in ROWS if row.mode == "direct"]


@pytest.mark.parametrize("row", DIRECT_ROWS)
def test_a_proposal_where_edits_are_direct_is_refused(row: Row, people, build):
    campaign = build(row.state)
    before = db_rows()

    with (
        time_machine.travel(CLOCKS[row.clock], tick=False),
        pytest.raises(Refused) as refused,
    ):
        approvals.campaign_propose(
            actor=_user(people, row.role),
            campaign_id=campaign.pk,
            data={"what": push_what("As a proposal")},
        )

    assert refused.value.code == "edit_directly"
    assert db_rows() == before


NONE_ROWS = [pytest.param(row, id=row.id) for row in ROWS if row.mode == "none"]


@pytest.mark.parametrize("row", NONE_ROWS)
def test_a_proposal_after_the_time_is_refused_as_discarded(row: Row, people, build):
    campaign = build(row.state)
    before = db_rows()

    with (
        time_machine.travel(CLOCKS[row.clock], tick=False),
        pytest.raises(Refused) as refused,
    ):
        approvals.campaign_propose(
            actor=_user(people, row.role),
            campaign_id=campaign.pk,
            data={"what": push_what("Too late")},
        )

    assert refused.value.code == "changes_discarded"
    assert db_rows() == before
