"""The state machine and the edit rules (campaigns/rules.py), table by table, as the spec says.

Each expected table below is written out by hand from the spec, one case per row, so a change to
rules.py that the spec does not allow fails here. The last tests keep docs/campaign-lifecycle.md in
step with rules.py: its tables are generated from rules.py and compared.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
from pathlib import Path

import pytest

from campaigns import rules, services
from campaigns.choices import Action, Delivery, Section, Status
from campaigns.models import Campaign

S, A = Status, Action
W, WHO, WHEN, NAME, LABELS = Section.WHAT, Section.WHO, Section.WHEN, Section.NAME, Section.LABELS
OK = None  # an allowed action, or an editable section

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
PAST = NOW - dt.timedelta(minutes=1)
FUTURE = NOW + dt.timedelta(days=1)

ARCHIVED = "Archived campaigns are read-only; clone it to work on it again."
LIVE_ARCHIVE = "Live campaigns must be stopped before they are archived."
TIME_PASSED = "The scheduled time has passed; changes now would be discarded."
AFTER_FIRST_RUN = "The first run has happened: only What can change."
AWAITING = "Awaiting next run: only What, the name and labels can change."
RUNNING = "Running: only What can change."


def make(
    status: Status,
    *,
    archived: bool = False,
    next_run_at: dt.datetime | None = None,
    runs_count: int = 0,
    live_status: str = "",
) -> Campaign:
    """An unsaved campaign: the rules read its fields and never touch the database."""
    return Campaign(
        status=status,
        live_status=live_status,
        archived_at=NOW if archived else None,
        next_run_at=next_run_at,
        runs_count=runs_count,
    )


# ------------------------------------------------------------------------------------------------
# What a user can do in each state: (state, action, archived) -> allowed (OK) or the exact reason.
# ------------------------------------------------------------------------------------------------
ACTION_TABLE: list[tuple[Status, Action, bool, str | None]] = [
    # Draft: the only state that publishes.
    (S.DRAFT, A.EDIT, False, OK),
    (S.DRAFT, A.PUBLISH, False, OK),
    (S.DRAFT, A.STOP, False, "Drafts are not live; there is nothing to stop."),
    (S.DRAFT, A.CLONE, False, OK),
    (S.DRAFT, A.ARCHIVE, False, OK),
    # Scheduled for later: edits Who/What/When, can be stopped, must be stopped before archiving.
    (S.SCHEDULED, A.EDIT, False, OK),
    (S.SCHEDULED, A.PUBLISH, False, "A campaign that is Scheduled cannot be published."),
    (S.SCHEDULED, A.STOP, False, OK),
    (S.SCHEDULED, A.CLONE, False, OK),
    (S.SCHEDULED, A.ARCHIVE, False, LIVE_ARCHIVE),
    # Awaiting next run: live.
    (S.AWAITING_NEXT_RUN, A.EDIT, False, OK),
    (
        S.AWAITING_NEXT_RUN,
        A.PUBLISH,
        False,
        "A campaign that is Awaiting Next Run cannot be published.",
    ),
    (S.AWAITING_NEXT_RUN, A.STOP, False, OK),
    (S.AWAITING_NEXT_RUN, A.CLONE, False, OK),
    (S.AWAITING_NEXT_RUN, A.ARCHIVE, False, LIVE_ARCHIVE),
    # Running: live.
    (S.RUNNING, A.EDIT, False, OK),
    (S.RUNNING, A.PUBLISH, False, "A campaign that is Running cannot be published."),
    (S.RUNNING, A.STOP, False, OK),
    (S.RUNNING, A.CLONE, False, OK),
    (S.RUNNING, A.ARCHIVE, False, LIVE_ARCHIVE),
    # Approval pending: editable, not live, not archivable while someone reviews it.
    (S.PENDING_APPROVAL, A.EDIT, False, OK),
    (
        S.PENDING_APPROVAL,
        A.PUBLISH,
        False,
        "A campaign that is Approval Pending cannot be published.",
    ),
    (S.PENDING_APPROVAL, A.STOP, False, "The campaign is awaiting approval and not live yet."),
    (S.PENDING_APPROVAL, A.CLONE, False, OK),
    (S.PENDING_APPROVAL, A.ARCHIVE, False, "Campaigns awaiting approval cannot be archived."),
    # Rejected: editable (and re-submitted through approvals), archivable.
    (S.REJECTED, A.EDIT, False, OK),
    # The state allows it; approvals.policy allows it only with campaign approval off, or to an
    # approver publishing rejected changes of a live campaign.
    (S.REJECTED, A.PUBLISH, False, OK),
    (S.REJECTED, A.STOP, False, "Rejected campaigns are not live; there is nothing to stop."),
    (S.REJECTED, A.CLONE, False, OK),
    (S.REJECTED, A.ARCHIVE, False, OK),
    # Stopped and Completed are final.
    (S.STOPPED, A.EDIT, False, "Stopped campaigns are final; clone it to send again."),
    (S.STOPPED, A.PUBLISH, False, "A campaign that is Stopped cannot be published."),
    (S.STOPPED, A.STOP, False, "The campaign is already stopped."),
    (S.STOPPED, A.CLONE, False, OK),
    (S.STOPPED, A.ARCHIVE, False, OK),
    (S.COMPLETED, A.EDIT, False, "Completed campaigns are final; clone it to send again."),
    (S.COMPLETED, A.PUBLISH, False, "A campaign that is Completed cannot be published."),
    (S.COMPLETED, A.STOP, False, "The campaign has completed; there is nothing to stop."),
    (S.COMPLETED, A.CLONE, False, OK),
    (S.COMPLETED, A.ARCHIVE, False, OK),
    # Archived (drafts included) is read-only whatever the state: only clone brings it back.
    (S.DRAFT, A.EDIT, True, ARCHIVED),
    (S.DRAFT, A.PUBLISH, True, ARCHIVED),
    (S.DRAFT, A.STOP, True, ARCHIVED),
    (S.DRAFT, A.CLONE, True, OK),
    (S.DRAFT, A.ARCHIVE, True, ARCHIVED),
    (S.SCHEDULED, A.EDIT, True, ARCHIVED),
    (S.SCHEDULED, A.PUBLISH, True, ARCHIVED),
    (S.SCHEDULED, A.STOP, True, ARCHIVED),
    (S.SCHEDULED, A.CLONE, True, OK),
    (S.SCHEDULED, A.ARCHIVE, True, ARCHIVED),
    (S.AWAITING_NEXT_RUN, A.EDIT, True, ARCHIVED),
    (S.AWAITING_NEXT_RUN, A.PUBLISH, True, ARCHIVED),
    (S.AWAITING_NEXT_RUN, A.STOP, True, ARCHIVED),
    (S.AWAITING_NEXT_RUN, A.CLONE, True, OK),
    (S.AWAITING_NEXT_RUN, A.ARCHIVE, True, ARCHIVED),
    (S.RUNNING, A.EDIT, True, ARCHIVED),
    (S.RUNNING, A.PUBLISH, True, ARCHIVED),
    (S.RUNNING, A.STOP, True, ARCHIVED),
    (S.RUNNING, A.CLONE, True, OK),
    (S.RUNNING, A.ARCHIVE, True, ARCHIVED),
    (S.PENDING_APPROVAL, A.EDIT, True, ARCHIVED),
    (S.PENDING_APPROVAL, A.PUBLISH, True, ARCHIVED),
    (S.PENDING_APPROVAL, A.STOP, True, ARCHIVED),
    (S.PENDING_APPROVAL, A.CLONE, True, OK),
    (S.PENDING_APPROVAL, A.ARCHIVE, True, ARCHIVED),
    (S.REJECTED, A.EDIT, True, ARCHIVED),
    (S.REJECTED, A.PUBLISH, True, ARCHIVED),
    (S.REJECTED, A.STOP, True, ARCHIVED),
    (S.REJECTED, A.CLONE, True, OK),
    (S.REJECTED, A.ARCHIVE, True, ARCHIVED),
    (S.STOPPED, A.EDIT, True, ARCHIVED),
    (S.STOPPED, A.PUBLISH, True, ARCHIVED),
    (S.STOPPED, A.STOP, True, ARCHIVED),
    (S.STOPPED, A.CLONE, True, OK),
    (S.STOPPED, A.ARCHIVE, True, ARCHIVED),
    (S.COMPLETED, A.EDIT, True, ARCHIVED),
    (S.COMPLETED, A.PUBLISH, True, ARCHIVED),
    (S.COMPLETED, A.STOP, True, ARCHIVED),
    (S.COMPLETED, A.CLONE, True, OK),
    (S.COMPLETED, A.ARCHIVE, True, ARCHIVED),
]


def test_action_table_covers_every_state_action_and_archived_flag_once() -> None:
    cases = [(state, action, archived) for state, action, archived, _ in ACTION_TABLE]
    assert len(cases) == len(set(cases))
    assert set(cases) == set(itertools.product(Status, rules.USER_ACTIONS, (False, True)))


def test_user_actions_are_edit_publish_stop_clone_archive() -> None:
    assert rules.USER_ACTIONS == (A.EDIT, A.PUBLISH, A.STOP, A.CLONE, A.ARCHIVE)


@pytest.mark.parametrize(
    ("state", "action", "archived", "expected"),
    ACTION_TABLE,
    ids=[f"{s.value}-{a.value}-{'archived' if ar else 'active'}" for s, a, ar, _ in ACTION_TABLE],
)
def test_action_verdict(
    state: Status, action: Action, archived: bool, expected: str | None
) -> None:
    verdict = rules.action_verdict(make(state, archived=archived), action)
    assert verdict == rules.Verdict(expected is None, expected or "")


# ------------------------------------------------------------------------------------------------
# What can be edited: (state, situation, section) -> editable (OK) or the exact reason.
#   before:          before the scheduled time (next_run_at ahead), no run yet
#   after_time:      next_run_at has passed
#   after_first_run: runs_count > 0 (the approval states' "first run was completed")
#   archived:        archived_at set
# ------------------------------------------------------------------------------------------------
EDIT_TABLE: list[tuple[Status, str, Section, str | None]] = [
    # Draft: everything.
    (S.DRAFT, "before", NAME, OK),
    (S.DRAFT, "before", LABELS, OK),
    (S.DRAFT, "before", WHO, OK),
    (S.DRAFT, "before", W, OK),
    (S.DRAFT, "before", WHEN, OK),
    # "For Campaigns Scheduled for Later, you can edit ... Who, What, and When."
    (S.SCHEDULED, "before", NAME, OK),
    (S.SCHEDULED, "before", LABELS, OK),
    (S.SCHEDULED, "before", WHO, OK),
    (S.SCHEDULED, "before", W, OK),
    (S.SCHEDULED, "before", WHEN, OK),
    # "Scheduled, after scheduled time: cannot edit."
    (S.SCHEDULED, "after_time", NAME, TIME_PASSED),
    (S.SCHEDULED, "after_time", LABELS, TIME_PASSED),
    (S.SCHEDULED, "after_time", WHO, TIME_PASSED),
    (S.SCHEDULED, "after_time", W, TIME_PASSED),
    (S.SCHEDULED, "after_time", WHEN, TIME_PASSED),
    # "For Live Campaigns Awaiting Next Run: What section, Campaign name, and Message labels."
    (S.AWAITING_NEXT_RUN, "before", NAME, OK),
    (S.AWAITING_NEXT_RUN, "before", LABELS, OK),
    (S.AWAITING_NEXT_RUN, "before", WHO, AWAITING),
    (S.AWAITING_NEXT_RUN, "before", W, OK),
    (S.AWAITING_NEXT_RUN, "before", WHEN, AWAITING),
    # "Awaiting Next Run, after scheduled time: cannot edit."
    (S.AWAITING_NEXT_RUN, "after_time", NAME, TIME_PASSED),
    (S.AWAITING_NEXT_RUN, "after_time", LABELS, TIME_PASSED),
    (S.AWAITING_NEXT_RUN, "after_time", WHO, TIME_PASSED),
    (S.AWAITING_NEXT_RUN, "after_time", W, TIME_PASSED),
    (S.AWAITING_NEXT_RUN, "after_time", WHEN, TIME_PASSED),
    # "Running: can modify only the What section." Its scheduled time does not matter.
    (S.RUNNING, "before", NAME, RUNNING),
    (S.RUNNING, "before", LABELS, RUNNING),
    (S.RUNNING, "before", WHO, RUNNING),
    (S.RUNNING, "before", W, OK),
    (S.RUNNING, "before", WHEN, RUNNING),
    (S.RUNNING, "after_time", NAME, RUNNING),
    (S.RUNNING, "after_time", LABELS, RUNNING),
    (S.RUNNING, "after_time", WHO, RUNNING),
    (S.RUNNING, "after_time", W, OK),
    (S.RUNNING, "after_time", WHEN, RUNNING),
    # "Pending for approval, before first run: can edit all ... before and after the scheduled
    # time."
    (S.PENDING_APPROVAL, "before", NAME, OK),
    (S.PENDING_APPROVAL, "before", LABELS, OK),
    (S.PENDING_APPROVAL, "before", WHO, OK),
    (S.PENDING_APPROVAL, "before", W, OK),
    (S.PENDING_APPROVAL, "before", WHEN, OK),
    (S.PENDING_APPROVAL, "after_time", NAME, OK),
    (S.PENDING_APPROVAL, "after_time", LABELS, OK),
    (S.PENDING_APPROVAL, "after_time", WHO, OK),
    (S.PENDING_APPROVAL, "after_time", W, OK),
    (S.PENDING_APPROVAL, "after_time", WHEN, OK),
    # "Pending, first run completed: can only edit the What section."
    (S.PENDING_APPROVAL, "after_first_run", NAME, AFTER_FIRST_RUN),
    (S.PENDING_APPROVAL, "after_first_run", LABELS, AFTER_FIRST_RUN),
    (S.PENDING_APPROVAL, "after_first_run", WHO, AFTER_FIRST_RUN),
    (S.PENDING_APPROVAL, "after_first_run", W, OK),
    (S.PENDING_APPROVAL, "after_first_run", WHEN, AFTER_FIRST_RUN),
    # "Rejected, first run yet to start: the creator can edit all ... before and after the
    # scheduled time."
    (S.REJECTED, "before", NAME, OK),
    (S.REJECTED, "before", LABELS, OK),
    (S.REJECTED, "before", WHO, OK),
    (S.REJECTED, "before", W, OK),
    (S.REJECTED, "before", WHEN, OK),
    (S.REJECTED, "after_time", NAME, OK),
    (S.REJECTED, "after_time", LABELS, OK),
    (S.REJECTED, "after_time", WHO, OK),
    (S.REJECTED, "after_time", W, OK),
    (S.REJECTED, "after_time", WHEN, OK),
    # "Rejected, first run completed: only the What section (before and after the scheduled time)."
    (S.REJECTED, "after_first_run", NAME, AFTER_FIRST_RUN),
    (S.REJECTED, "after_first_run", LABELS, AFTER_FIRST_RUN),
    (S.REJECTED, "after_first_run", WHO, AFTER_FIRST_RUN),
    (S.REJECTED, "after_first_run", W, OK),
    (S.REJECTED, "after_first_run", WHEN, AFTER_FIRST_RUN),
    # Stopped and Completed: final.
    (S.STOPPED, "before", NAME, "Stopped campaigns are final."),
    (S.STOPPED, "before", LABELS, "Stopped campaigns are final."),
    (S.STOPPED, "before", WHO, "Stopped campaigns are final."),
    (S.STOPPED, "before", W, "Stopped campaigns are final."),
    (S.STOPPED, "before", WHEN, "Stopped campaigns are final."),
    (S.COMPLETED, "before", NAME, "Completed campaigns are final."),
    (S.COMPLETED, "before", LABELS, "Completed campaigns are final."),
    (S.COMPLETED, "before", WHO, "Completed campaigns are final."),
    (S.COMPLETED, "before", W, "Completed campaigns are final."),
    (S.COMPLETED, "before", WHEN, "Completed campaigns are final."),
    # "Archived campaigns (including drafts) are read-only."
    (S.DRAFT, "archived", NAME, ARCHIVED),
    (S.DRAFT, "archived", LABELS, ARCHIVED),
    (S.DRAFT, "archived", WHO, ARCHIVED),
    (S.DRAFT, "archived", W, ARCHIVED),
    (S.DRAFT, "archived", WHEN, ARCHIVED),
    (S.REJECTED, "archived", NAME, ARCHIVED),
    (S.REJECTED, "archived", LABELS, ARCHIVED),
    (S.REJECTED, "archived", WHO, ARCHIVED),
    (S.REJECTED, "archived", W, ARCHIVED),
    (S.REJECTED, "archived", WHEN, ARCHIVED),
    (S.COMPLETED, "archived", NAME, ARCHIVED),
    (S.COMPLETED, "archived", LABELS, ARCHIVED),
    (S.COMPLETED, "archived", WHO, ARCHIVED),
    (S.COMPLETED, "archived", W, ARCHIVED),
    (S.COMPLETED, "archived", WHEN, ARCHIVED),
]

SITUATIONS = {
    "before": {"next_run_at": FUTURE},
    "after_time": {"next_run_at": PAST},
    "after_first_run": {"next_run_at": FUTURE, "runs_count": 1},
    "archived": {"archived": True},
}


def test_edit_table_covers_every_state_and_section_before_the_scheduled_time() -> None:
    before = {
        (state, section) for state, situation, section, _ in EDIT_TABLE if situation == "before"
    }
    assert before == set(itertools.product(Status, Section))
    rows = [(state, situation, section) for state, situation, section, _ in EDIT_TABLE]
    assert len(rows) == len(set(rows))


@pytest.mark.parametrize(
    ("state", "situation", "section", "expected"),
    EDIT_TABLE,
    ids=[f"{s.value}-{sit}-{sec.value}" for s, sit, sec, _ in EDIT_TABLE],
)
def test_editable_sections(
    state: Status, situation: str, section: Section, expected: str | None
) -> None:
    campaign = make(state, **SITUATIONS[situation])
    assert rules.editable_sections(campaign, now=NOW)[section] == expected


def test_drafts_edit_everything_even_with_a_past_next_run_at() -> None:
    sections = rules.editable_sections(make(S.DRAFT, next_run_at=PAST), now=NOW)
    assert set(sections.values()) == {None}


def test_the_scheduled_time_itself_counts_as_passed() -> None:
    sections = rules.editable_sections(make(S.SCHEDULED, next_run_at=NOW), now=NOW)
    assert set(sections.values()) == {TIME_PASSED}


@pytest.mark.parametrize("state", [S.SCHEDULED, S.AWAITING_NEXT_RUN])
def test_edit_is_refused_once_the_scheduled_time_has_passed(state: Status) -> None:
    campaign = make(state, next_run_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    assert rules.action_verdict(campaign, A.EDIT) == rules.Verdict(False, TIME_PASSED)


@pytest.mark.parametrize("state", [S.RUNNING, S.PENDING_APPROVAL, S.REJECTED])
def test_edit_stays_allowed_after_the_scheduled_time_where_the_spec_allows_it(
    state: Status,
) -> None:
    campaign = make(state, next_run_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC), runs_count=1)
    assert rules.action_verdict(campaign, A.EDIT) == rules.Verdict(True)


# ------------------------------------------------------------------------------------------------
# The tables themselves.
# ------------------------------------------------------------------------------------------------
def test_there_is_no_pause_anywhere() -> None:
    words = [*Status.values, *Action.values, *Section.values, *(str(a) for a in rules.TRANSITIONS)]
    words += [name.lower() for name in dir(rules) + dir(services)]
    assert not [w for w in words if "pause" in w.lower()]


def test_stopped_and_completed_have_no_way_out() -> None:
    for action, moves in rules.TRANSITIONS.items():
        assert not set(moves) & rules.FINAL, action


def test_stop_applies_to_live_campaigns_only_and_always_lands_in_stopped() -> None:
    # Approval Pending / Rejected stop only while a live version runs (their live_status).
    workflow = {S.PENDING_APPROVAL: {S.STOPPED}, S.REJECTED: {S.STOPPED}}
    assert rules.TRANSITIONS[A.STOP] == {state: {S.STOPPED} for state in rules.LIVE} | workflow
    assert rules.LIVE == {S.SCHEDULED, S.RUNNING, S.AWAITING_NEXT_RUN}
    for state in workflow:
        assert not rules.action_verdict(make(state), A.STOP).allowed
        assert rules.action_verdict(make(state, live_status=S.RUNNING), A.STOP).allowed


def test_publish_turns_a_draft_into_scheduled_or_running() -> None:
    assert rules.TRANSITIONS[A.PUBLISH][S.DRAFT] == {S.SCHEDULED, S.RUNNING}
    assert set(rules.TRANSITIONS[A.PUBLISH]) == {S.DRAFT, S.REJECTED}


def test_every_editable_field_belongs_to_a_section() -> None:
    assert set(rules.FIELD_SECTIONS) == set(services.EDITABLE_FIELDS)
    assert rules.SHAPE_FIELDS == {"channel", "type", "delivery"}


# Where publishing lands: (delivery, first run, expected). The first run is relative to NOW.
PUBLISH_TABLE: list[tuple[Delivery, dt.datetime | None, Status]] = [
    (Delivery.ONE_TIME, NOW, S.RUNNING),  # send now
    (Delivery.ONE_TIME, FUTURE, S.SCHEDULED),  # send later
    (Delivery.RECURRING, FUTURE, S.SCHEDULED),
    (Delivery.MULTIPLE_DATES, FUTURE, S.SCHEDULED),
    (Delivery.ACTION, None, S.RUNNING),
    (Delivery.ACTION, FUTURE, S.SCHEDULED),
    (Delivery.INACTION, None, S.RUNNING),
    (Delivery.INACTION, FUTURE, S.SCHEDULED),
    (Delivery.API, None, S.RUNNING),
    (Delivery.API, FUTURE, S.SCHEDULED),
    (Delivery.DATE_TIME, None, S.RUNNING),
    (Delivery.DATE_TIME, FUTURE, S.SCHEDULED),
]


def test_publish_table_covers_every_delivery() -> None:
    assert {delivery for delivery, _, _ in PUBLISH_TABLE} == set(Delivery)


@pytest.mark.parametrize(
    ("delivery", "first_run", "expected"),
    PUBLISH_TABLE,
    ids=[
        f"{d.value}-{'none' if f is None else 'now' if f == NOW else 'later'}"
        for d, f, _ in PUBLISH_TABLE
    ],
)
def test_publish_target(
    delivery: Delivery, first_run: dt.datetime | None, expected: Status
) -> None:
    assert rules.publish_target(delivery, first_run, NOW) == expected
    assert expected in rules.transition_target(A.PUBLISH, S.DRAFT)


# ------------------------------------------------------------------------------------------------
# docs/campaign-lifecycle.md: its generated tables must match rules.py.
# Regenerate with: HERALD_WRITE_DOCS=1 .venv/bin/pytest tests/campaigns/test_rules.py -k doc
# ------------------------------------------------------------------------------------------------
DOC = Path(__file__).resolve().parents[2] / "docs" / "campaign-lifecycle.md"
_BLOCK = re.compile(
    r"(<!-- generated:(?P<name>[a-z-]+) -->\n)(?P<body>.*?)(<!-- /generated:(?P=name) -->)", re.S
)


def _cell(reason: str | None) -> str:
    return "yes" if reason is None else f"no: {reason}"


def _render_actions() -> str:
    names = {
        A.EDIT: "Edit",
        A.PUBLISH: "Publish",
        A.STOP: "Stop",
        A.CLONE: "Clone",
        A.ARCHIVE: "Archive",
    }
    lines = [
        "| State | " + " | ".join(names[a] for a in rules.USER_ACTIONS) + " |",
        "|---" * (len(rules.USER_ACTIONS) + 1) + "|",
    ]
    for state in Status:
        cells = [
            _cell(rules.action_verdict(make(state), a).reason or None) for a in rules.USER_ACTIONS
        ]
        lines.append(f"| {state.label} | " + " | ".join(cells) + " |")
    cells = [
        _cell(rules.action_verdict(make(S.DRAFT, archived=True), a).reason or None)
        for a in rules.USER_ACTIONS
    ]
    lines.append("| *Archived* (any state) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _render_transitions() -> str:
    lines = ["| Action | From | To |", "|---|---|---|"]
    for action, moves in rules.TRANSITIONS.items():
        # In the order states are declared: set order changes with the interpreter's hash seed.
        for source in [s for s in Status if s in moves]:
            targets = moves[source]
            to = ", ".join(t.label for t in Status if t in targets)
            lines.append(
                f"| {Action(action).label} (`{Action(action).value}`)"
                f" | {Status(source).label} | {to} |"
            )
    return "\n".join(lines) + "\n"


def _render_edits() -> str:
    rows = [(state.label, make(state, next_run_at=FUTURE)) for state in Status]
    rows += [
        ("Scheduled, after the scheduled time", make(S.SCHEDULED, next_run_at=PAST)),
        (
            "Awaiting Next Run, after the scheduled time",
            make(S.AWAITING_NEXT_RUN, next_run_at=PAST),
        ),
        ("Approval Pending, after the first run", make(S.PENDING_APPROVAL, runs_count=1)),
        ("Rejected, after the first run", make(S.REJECTED, runs_count=1)),
        ("*Archived* (any state)", make(S.DRAFT, archived=True)),
    ]
    lines = [
        "| State | " + " | ".join(s.label for s in Section) + " |",
        "|---" * (len(Section) + 1) + "|",
    ]
    for title, campaign in rows:
        sections = rules.editable_sections(campaign, now=NOW)
        lines.append(f"| {title} | " + " | ".join(_cell(sections[s]) for s in Section) + " |")
    return "\n".join(lines) + "\n"


def _render_fields() -> str:
    lines = ["| Field | Section |", "|---|---|"]
    for field, section in rules.FIELD_SECTIONS.items():
        note = (
            " (only while Who, What and When may all change)" if field in rules.SHAPE_FIELDS else ""
        )
        lines.append(f"| `{field}` | {section.label}{note} |")
    return "\n".join(lines) + "\n"


def _render_publish() -> str:
    lines = ["| Delivery | First send | Lands in |", "|---|---|---|"]
    for delivery, first_run, _ in PUBLISH_TABLE:
        when = (
            "none (event/API driven)"
            if first_run is None
            else "now"
            if first_run == NOW
            else "ahead"
        )
        lines.append(
            f"| {delivery.label} | {when}"
            f" | {rules.publish_target(delivery, first_run, NOW).label} |"
        )
    return "\n".join(lines) + "\n"


GENERATED = {
    "actions": _render_actions,
    "transitions": _render_transitions,
    "edits": _render_edits,
    "fields": _render_fields,
    "publish": _render_publish,
}


def test_lifecycle_doc_tables_match_rules() -> None:
    text = DOC.read_text(encoding="utf-8")
    found = {m["name"]: m["body"] for m in _BLOCK.finditer(text)}
    if os.environ.get("HERALD_WRITE_DOCS"):
        text = _BLOCK.sub(lambda m: m[1] + GENERATED[m["name"]]() + m[4], text)
        DOC.write_text(text, encoding="utf-8")
        found = {m["name"]: m["body"] for m in _BLOCK.finditer(text)}
    assert set(found) == set(GENERATED), "docs/campaign-lifecycle.md lacks a generated block"
    for name, render in GENERATED.items():
        assert found[name] == render(), (
            f"docs/campaign-lifecycle.md table '{name}' is out of date with campaigns/rules.py; "
            "regenerate it with HERALD_WRITE_DOCS=1 (see tests/campaigns/test_rules.py)"
        )


def test_lifecycle_doc_states_the_decisions() -> None:
    text = DOC.read_text(encoding="utf-8").lower()
    for phrase in (
        "last active",
        "no pause",
        "clone",
        "auto-archiv",
        "channel",
        "six calendar months",
    ):
        assert phrase in text, phrase
