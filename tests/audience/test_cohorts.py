"""Cohort retention on a small example whose every number was worked out by hand (the comments
say how), then the choices around it: any event, a segment, weeks, the time zone, cells not
reached yet, and the inputs refused."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.db import connection

from audience import cohorts, partitions
from audience.cohorts import cohort_table, parse_spec
from audience.models import Profile, Segment
from audience.services import record_notification_sent
from campaigns.choices import Status
from config.errors import Invalid

pytestmark = pytest.mark.django_db

UTC = dt.UTC
# Long after the example: every cell of its cohorts has been reached.
LATER = dt.date(2025, 4, 30)


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, minute, tzinfo=UTC)


def add_event(profile: Profile, name: str, ts: dt.datetime, **properties: Any) -> None:
    partitions.ensure_for([ts])
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audience_event (profile_id, name, ts, properties) "
            "VALUES (%s, %s, %s, %s::jsonb)",
            [profile.pk, name, ts, json.dumps(properties)],
        )


@pytest.fixture
def example(campaign_factory, label_factory):
    """Eight people, a campaign labelled Onboarding and one labelled Promotions.

    Sent Onboarding (first time in the period 1-3 March):
      A  1 Mar 09:00 · launches 1 Mar 08:00 (before: not counted), 1 Mar 10:00 (day 0),
         2 Mar 08:00 and 20:00 (day 1, counted once), 4 Mar (day 3), 31 Mar (day 30),
         1 Apr (day 31: beyond the table)
      B  1 Mar 15:00, again 2 Mar · launches 3 Mar (day 2)
      C  2 Mar 12:00 · launches 2 Mar 11:00 (before), 3 Mar (day 1), 5 Mar (day 3)
      D  2 Mar 23:30 · nothing
      E  28 Feb (before the period) and 3 Mar 09:00 · launches 4 Mar (day 1)
      H  3 Mar 10:00 · views a product 4 Mar (day 1 for "any event" only)
    Not in a cohort:
      F  sent Promotions only, launches every day
      G  launches, never sent anything
    """
    onboarding, promotions = label_factory(name="Onboarding"), label_factory(name="Promotions")
    welcome = campaign_factory(name="Welcome", status=Status.RUNNING)
    welcome.labels.add(onboarding)
    sale = campaign_factory(name="Sale", status=Status.RUNNING)
    sale.labels.add(promotions)
    people = {
        key: Profile.objects.create(identity=f"user-{key}", properties={"plan": plan})
        for key, plan in [
            ("A", "pro"),
            ("B", "free"),
            ("C", "pro"),
            ("D", "free"),
            ("E", "free"),
            ("F", "pro"),
            ("G", "pro"),
            ("H", "free"),
        ]
    }

    def sent(key: str, ts: dt.datetime, campaign=welcome) -> None:
        record_notification_sent(
            profile_id=people[key].pk, campaign=campaign, channel="push", variant=None, ts=ts
        )

    def launch(key: str, ts: dt.datetime) -> None:
        add_event(people[key], "App Launched", ts)

    sent("A", at(1, 9))
    for ts in (at(1, 8), at(1, 10), at(2, 8), at(2, 20), at(4, 12), at(31, 12), at(1, 12, month=4)):
        launch("A", ts)
    sent("B", at(1, 15))
    sent("B", at(2, 9))
    launch("B", at(3, 12))
    sent("C", at(2, 12))
    for ts in (at(2, 11), at(3, 12), at(5, 12)):
        launch("C", ts)
    sent("D", at(2, 23, 30))
    sent("E", at(28, 9, month=2))
    sent("E", at(3, 9))
    launch("E", at(4, 12))
    sent("H", at(3, 10))
    add_event(people["H"], "Product Viewed", at(4, 12), product="SKU-1")
    sent("F", at(1, 9), campaign=sale)
    for day in range(1, 10):
        launch("F", at(day, 12))
        launch("G", at(day, 12))
    return {"people": people, "onboarding": onboarding, "welcome": welcome}


def spec(example, **params: str):
    query = {
        "qualifying": "label",
        "label": str(example["onboarding"].pk),
        "return_event": "App Launched",
        "unit": "day",
        "start": "2025-03-01",
        "end": "2025-03-03",
        **params,
    }
    return parse_spec(query)


def shares(row, upto: int | None = None) -> list[float | None]:
    return row.share[: upto if upto is not None else len(row.share)]


def test_retention_by_day_matches_the_hand_count(example):
    table = cohort_table(spec(example), now=LATER)

    assert [(row.date, row.size) for row in table.rows] == [
        (dt.date(2025, 3, 1), 2),  # A, B
        (dt.date(2025, 3, 2), 2),  # C, D
        (dt.date(2025, 3, 3), 2),  # E, H
    ]
    first, second, third = table.rows
    # 1 March: A on days 0, 1, 3 and 30; B on day 2.
    assert first.returned[:5] == [1, 1, 1, 1, 0]
    assert first.returned[30] == 1
    assert sum(first.returned) == 5
    assert shares(first, 4) == [0.5, 0.5, 0.5, 0.5]
    # 2 March: C on days 1 and 3 (its launch before the send is not a return).
    assert second.returned[:5] == [0, 1, 0, 1, 0]
    assert sum(second.returned) == 2
    # 3 March: E on day 1; H never launched.
    assert third.returned[:3] == [0, 1, 0]
    assert sum(third.returned) == 1
    # All cohorts: 6 people; day 1 has A, C and E.
    assert table.total.size == 6
    assert table.total.returned[:4] == [1, 3, 1, 2]
    assert table.total.share[1] == pytest.approx(0.5)
    assert table.total.share[30] == pytest.approx(1 / 6)
    assert len(table.offsets) == 31


def test_any_event_counts_other_events_but_not_sends(example):
    table = cohort_table(spec(example, return_event=""), now=LATER)

    first, _, third = table.rows
    # H's product view on 4 March now counts; B's second send on 2 March does not.
    assert third.returned[:2] == [0, 2]
    assert first.returned[:3] == [1, 1, 1]


def test_a_segment_narrows_the_cohorts(example, marketer):
    pro = Segment.objects.create(
        name="Pro plan",
        created_by=marketer,
        definition={
            "type": "group",
            "match": "all",
            "conditions": [{"type": "property", "property": "plan", "op": "eq", "value": "pro"}],
        },
    )

    table = cohort_table(spec(example, segment=str(pro.pk)), now=LATER)

    # Only A (1 March) and C (2 March) are on the pro plan; F is pro but was not sent Onboarding.
    assert [row.size for row in table.rows] == [1, 1, 0]
    assert table.rows[0].share[:4] == [1.0, 1.0, 0.0, 1.0]
    assert table.rows[2].share[0] is None  # no cohort: no share


def test_a_campaign_or_an_event_can_be_the_qualifying_event(example):
    by_campaign = cohort_table(
        spec(example, qualifying="campaign", campaign=str(example["welcome"].pk)), now=LATER
    )
    assert [row.size for row in by_campaign.rows] == [2, 2, 2]

    by_event = cohort_table(
        spec(example, qualifying="event", event="App Launched", return_event="App Launched"),
        now=LATER,
    )
    # First launches in the period: A, F, G on 1 March (A at 08:00); B and C on 2-3 March.
    assert [row.size for row in by_event.rows] == [3, 1, 1]


def test_retention_by_week(example):
    table = cohort_table(spec(example, unit="week"), now=LATER)

    # 1-3 March widen to Monday 24 February .. Sunday 9 March: two weekly cohorts.
    assert (table.spec.start, table.spec.end) == (dt.date(2025, 2, 24), dt.date(2025, 3, 9))
    assert [(row.date, row.size) for row in table.rows] == [
        # A, B (Saturday 1st), C, D (Sunday 2nd), and E: the widened period takes in its
        # send on Friday 28 February.
        (dt.date(2025, 2, 24), 5),
        (dt.date(2025, 3, 3), 1),  # H
    ]
    week_of_24th, week_of_3rd = table.rows
    # Week 0: A (1-2 March). Week 1: A (4th), B (3rd), C (3rd, 5th), E (4th). A's 31 March is
    # week 5, beyond the table.
    assert week_of_24th.returned == [1, 4, 0, 0, 0]
    assert week_of_3rd.returned == [0, 0, 0, 0, 0]  # H never launched
    assert len(table.offsets) == 5


def test_days_are_the_project_time_zones(example, settings):
    settings.TIME_ZONE = "Asia/Kolkata"

    table = cohort_table(spec(example), now=LATER)

    # D's send at 23:30 UTC on 2 March is 05:00 on 3 March in India.
    assert [row.size for row in table.rows] == [2, 1, 3]


def test_cells_not_reached_yet_are_empty_not_zero(example):
    table = cohort_table(spec(example), now=dt.date(2025, 3, 4))

    first, second, third = table.rows
    assert first.returned[:4] == [1, 1, 1, 1] and first.returned[4] is None
    assert second.returned[2] == 0 and second.returned[3] is None
    assert third.share[1] == 0.5 and third.share[2] is None
    assert table.total.returned[3] == 1 and table.total.returned[4] is None


def test_labels_renamed_after_the_send_still_select_their_sends(example, admin):
    from labels.services import label_rename

    label_rename(actor=admin, label_id=example["onboarding"].pk, name="Activation")

    table = cohort_table(spec(example), now=LATER)

    assert [row.size for row in table.rows] == [2, 2, 2]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"qualifying": "segment"}, "qualifying"),
        ({"qualifying": "label", "label": ""}, "label"),
        ({"qualifying": "label", "label": "x"}, "label"),
        ({"qualifying": "label", "label": str(2**31)}, "label"),
        ({"qualifying": "campaign", "campaign": "0"}, "campaign"),
        ({"qualifying": "event", "event": ""}, "event"),
        ({"qualifying": "event", "event": "x" * 121}, "event"),
        ({"qualifying": "event", "event": "A", "unit": "month"}, "unit"),
        ({"qualifying": "event", "event": "A", "start": "2025-13-01"}, "start"),
        (
            {"qualifying": "event", "event": "A", "start": "2025-03-02", "end": "2025-03-01"},
            "start",
        ),
        ({"qualifying": "event", "event": "A", "start": "2024-01-01", "end": "2025-01-01"}, "end"),
        ({"qualifying": "event", "event": "A", "segment": "999999"}, "segment"),
        ({"qualifying": "event", "event": "A", "return_event": "\x00"}, "return_event"),
    ],
)
def test_inputs_that_cannot_make_a_table_are_refused_by_field(params, field):
    with pytest.raises(Invalid) as refused:
        parse_spec(params)

    assert field in refused.value.errors


def test_the_default_period_is_the_last_30_days():
    spec = parse_spec({"qualifying": "event", "event": "App Launched"}, now=dt.date(2025, 3, 31))

    assert (spec.start, spec.end) == (dt.date(2025, 3, 2), dt.date(2025, 3, 31))
    assert (spec.unit, spec.return_event) == ("day", "")


def test_a_table_that_takes_too_long_is_refused_with_a_clear_error(db, monkeypatch):
    monkeypatch.setattr(cohorts, "STATEMENT_TIMEOUT_MS", 50)

    with pytest.raises(cohorts.CohortTooSlow) as refused:
        cohorts._counts("SELECT pg_sleep(1)", [])

    assert refused.value.http_status == 503 and "took more than" in refused.value.message
    # The connection's own settings are as they were.
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('statement_timeout')")
        assert cursor.fetchone()[0] == "0"
