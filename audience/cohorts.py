"""Cohort retention: of the people whose first qualifying event fell on a given day (or week),
the share who came back, doing the return event, on day (week) N after it.

The qualifying event is an event by name, "was sent a campaign labelled X" (a Notification Sent
event whose labels at send time include X) or "was sent campaign C"; a saved segment can narrow
the people (its definition as it matches now). One SQL query computes the table: a CTE finds
each profile's first qualifying event in the period, a second buckets their later return events
by offset, and the counts come back per (cohort date, offset).

Days and weeks are calendar days and ISO weeks (Monday to Sunday) in the project's time zone
(settings.TIME_ZONE). A return counts when it comes strictly after the first qualifying event,
so day 0 is "came back the same day". "Any event" as the return means any event but Notification
Sent (a send is done to a person, not by them). Cells whose day or week has not begun yet are
empty, not 0%.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from audience.models import NOTIFICATION_SENT, Segment
from audience.segments import compile_who
from campaigns.choices import Status
from campaigns.models import Campaign
from config.errors import DomainError, Invalid
from labels.models import Label

QUALIFYING = {
    "event": "Did an event",
    "label": "Was sent a campaign labelled",
    "campaign": "Was sent a campaign",
}
UNITS = {"day": 1, "week": 7}
# Day 0 to day 30, or week 0 to week 4.
MAX_OFFSET = {"day": 30, "week": 4}
DEFAULT_PERIOD_DAYS = 30
MAX_PERIOD_DAYS = 180
MAX_EVENT_NAME = 120
INT4_MAX = 2**31 - 1
# One table from a page or the API: long enough for cohorts of hundreds of thousands over the
# target data (docs/audience.md, "Cohorts"), short enough that a pathological one lets go.
STATEMENT_TIMEOUT_MS = 30_000
WORK_MEM = "64MB"
BIGINT_MAX = 2**63 - 1


@dataclass(frozen=True)
class CohortSpec:
    qualifying: str  # a key of QUALIFYING
    event: str  # qualifying == "event"
    label_id: int | None  # qualifying == "label"
    campaign_id: int | None  # qualifying == "campaign"
    segment_id: int | None
    return_event: str  # "" for any event
    unit: str  # a key of UNITS
    start: dt.date  # first cohort date (a Monday for weeks)
    end: dt.date  # last day of the period (a Sunday for weeks)

    @property
    def offsets(self) -> list[int]:
        return list(range(MAX_OFFSET[self.unit] + 1))

    def query(self) -> dict[str, str]:
        """The spec as query-string parameters (for the CSV link and the API)."""
        params = {"qualifying": self.qualifying, "unit": self.unit}
        if self.qualifying == "event":
            params["event"] = self.event
        elif self.qualifying == "label":
            params["label"] = str(self.label_id)
        else:
            params["campaign"] = str(self.campaign_id)
        if self.segment_id is not None:
            params["segment"] = str(self.segment_id)
        if self.return_event:
            params["return_event"] = self.return_event
        params["start"], params["end"] = self.start.isoformat(), self.end.isoformat()
        return params


def project_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def today() -> dt.date:
    return timezone.now().astimezone(project_zone()).date()


def _id(data: Mapping[str, Any], name: str, errors: dict[str, list[str]], top: int) -> int | None:
    raw = str(data.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 0 < int(raw) <= top:
        errors.setdefault(name, []).append("Not an id.")
        return None
    return int(raw)


def _date(data: Mapping[str, Any], name: str, errors: dict[str, list[str]]) -> dt.date | None:
    raw = str(data.get(name) or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors.setdefault(name, []).append("Not a date (YYYY-MM-DD).")
        return None


def _name(data: Mapping[str, Any], name: str, errors: dict[str, list[str]]) -> str:
    value = str(data.get(name) or "").strip()
    if len(value) > MAX_EVENT_NAME or "\x00" in value:
        errors.setdefault(name, []).append(
            f"An event name has at most {MAX_EVENT_NAME} characters."
        )
        return ""
    return value


def parse_spec(data: Mapping[str, Any], *, now: dt.date | None = None) -> CohortSpec:
    """The table asked for by a query string (the page's form and the API use the same names);
    Invalid with errors per parameter when it cannot be computed."""
    errors: dict[str, list[str]] = {}
    qualifying = str(data.get("qualifying") or "event")
    if qualifying not in QUALIFYING:
        errors["qualifying"] = [f"Choose one of: {', '.join(QUALIFYING)}."]
    unit = str(data.get("unit") or "day")
    if unit not in UNITS:
        errors["unit"] = ["Choose day or week."]
        unit = "day"
    event = _name(data, "event", errors)
    return_event = _name(data, "return_event", errors)
    label_id = _id(data, "label", errors, INT4_MAX)
    campaign_id = _id(data, "campaign", errors, BIGINT_MAX)
    segment_id = _id(data, "segment", errors, BIGINT_MAX)
    if qualifying == "event" and not event and "event" not in errors:
        errors["event"] = ["Name the event that puts a person in a cohort."]
    if qualifying == "label" and label_id is None and "label" not in errors:
        errors["label"] = ["Choose the label."]
    if qualifying == "campaign" and campaign_id is None and "campaign" not in errors:
        errors["campaign"] = ["Choose the campaign."]
    if segment_id is not None and not Segment.objects.filter(pk=segment_id).exists():
        errors["segment"] = [f"There is no saved segment #{segment_id}."]

    end = _date(data, "end", errors) or (now or today())
    start = _date(data, "start", errors) or end - dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if unit == "week":
        # Whole weeks, Monday to Sunday.
        start -= dt.timedelta(days=start.weekday())
        end += dt.timedelta(days=6 - end.weekday())
    if start > end:
        errors.setdefault("start", []).append("The period starts after it ends.")
    elif (end - start).days + 1 > MAX_PERIOD_DAYS + (12 if unit == "week" else 0):
        errors.setdefault("end", []).append(
            f"A period has at most {MAX_PERIOD_DAYS} days of cohorts."
        )
    if start.year < 2000 or end.year > 2999:
        errors.setdefault("start", []).append("Choose dates between 2000 and 2999.")
    if errors:
        raise Invalid("The cohort table cannot be computed from these choices.", errors=errors)
    return CohortSpec(
        qualifying=qualifying,
        event=event if qualifying == "event" else "",
        label_id=label_id if qualifying == "label" else None,
        campaign_id=campaign_id if qualifying == "campaign" else None,
        segment_id=segment_id,
        return_event=return_event,
        unit=unit,
        start=start,
        end=end,
    )


# ---------------------------------------------------------------------------------------------
# The query
# ---------------------------------------------------------------------------------------------
def _qualifying_sql(spec: CohortSpec) -> tuple[str, list[Any]]:
    if spec.qualifying == "label":
        return "e.name = %s AND e.label_ids @> ARRAY[%s]::integer[]", [
            NOTIFICATION_SENT,
            spec.label_id,
        ]
    if spec.qualifying == "campaign":
        return "e.name = %s AND e.campaign_id = %s", [NOTIFICATION_SENT, spec.campaign_id]
    return "e.name = %s", [spec.event]


def _segment_sql(spec: CohortSpec) -> tuple[str, list[Any]]:
    if spec.segment_id is None:
        return "", []
    definition = Segment.objects.values_list("definition", flat=True).get(pk=spec.segment_id)
    sql, params = compile_who(definition)
    return f"AND e.profile_id IN ({sql})", list(params)


def cohort_sql(spec: CohortSpec) -> tuple[str, list[Any]]:
    """The one query: rows (cohort_date, offset, people), offset -1 being the cohort's size."""
    zone = settings.TIME_ZONE
    tz = project_zone()
    period_start = dt.datetime.combine(spec.start, dt.time.min, tzinfo=tz)
    period_end = dt.datetime.combine(spec.end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    qualifying, q_params = _qualifying_sql(spec)
    segment, s_params = _segment_sql(spec)
    if spec.return_event:
        returns, r_params = "r.name = %s", [spec.return_event]
    else:
        returns, r_params = "r.name <> %s", [NOTIFICATION_SENT]
    unit_days = UNITS[spec.unit]
    horizon_days = (MAX_OFFSET[spec.unit] + 1) * unit_days
    sql = f"""
        WITH firsts AS (
            SELECT e.profile_id, min(e.ts) AS first_ts
            FROM audience_event e
            WHERE {qualifying} AND e.ts >= %s AND e.ts < %s {segment}
            GROUP BY e.profile_id
        ), cohort AS (
            SELECT profile_id, first_ts,
                   date_trunc(%s, first_ts AT TIME ZONE %s)::date AS cohort_date
            FROM firsts
        ), returns AS (
            SELECT DISTINCT c.profile_id, c.cohort_date,
                   (date_trunc(%s, r.ts AT TIME ZONE %s)::date - c.cohort_date) / %s AS n
            FROM cohort c
            JOIN audience_event r ON r.profile_id = c.profile_id
            WHERE r.ts > c.first_ts
              AND r.ts < ((c.cohort_date + %s)::timestamp AT TIME ZONE %s)
              AND {returns}
        )
        SELECT cohort_date, -1 AS n, count(*) FROM cohort GROUP BY cohort_date
        UNION ALL
        SELECT cohort_date, n, count(*) FROM returns GROUP BY cohort_date, n
        ORDER BY 1, 2
    """  # noqa: S608 - the interpolated parts are this module's own SQL; values are parameters
    params = [
        *q_params,
        period_start,
        period_end,
        *s_params,
        spec.unit,
        zone,
        spec.unit,
        zone,
        unit_days,
        horizon_days,
        zone,
        *r_params,
    ]
    return sql, params


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CohortRow:
    date: dt.date | None  # None for the row of all cohorts together
    size: int
    returned: list[int | None]  # per offset; None where the day or week has not begun
    share: list[float | None]


@dataclass(frozen=True)
class CohortTable:
    spec: CohortSpec
    rows: list[CohortRow]
    total: CohortRow  # all cohorts, each offset over the cohorts that have reached it

    @property
    def offsets(self) -> list[int]:
        return self.spec.offsets


def _dates(spec: CohortSpec) -> Iterator[dt.date]:
    step = dt.timedelta(days=UNITS[spec.unit])
    day = spec.start
    while day <= spec.end:
        yield day
        day += step


class CohortTooSlow(DomainError):
    """The table took longer than STATEMENT_TIMEOUT_MS to compute."""

    code = "too_slow"
    http_status = 503


def _counts(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """Run the query with a time limit, memory for its sorts and no JIT (which costs more than it
    saves here); the settings are LOCAL and put back, so an outer transaction keeps its own."""
    names = ("statement_timeout", "work_mem", "jit")
    values = (str(STATEMENT_TIMEOUT_MS), WORK_MEM, "off")
    swap = "SELECT " + ", ".join("set_config(%s, %s, true)" for _ in names)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join("current_setting(%s)" for _ in names), names)
            saved = cursor.fetchone()
            cursor.execute(swap, [v for pair in zip(names, values, strict=True) for v in pair])
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            cursor.execute(swap, [v for pair in zip(names, saved, strict=True) for v in pair])
            return rows
    except DatabaseError as exc:
        if getattr(exc.__cause__, "pgcode", None) == "57014":  # query_canceled
            raise CohortTooSlow(
                f"This table took more than {STATEMENT_TIMEOUT_MS // 1000} s to compute; choose "
                "a shorter period, a segment or a rarer qualifying event."
            ) from exc
        raise


def cohort_table(spec: CohortSpec, *, now: dt.date | None = None) -> CohortTable:
    """Run the query and lay the counts out as the heat map shows them."""
    sql, params = cohort_sql(spec)
    counts = _counts(sql, params)
    sizes: dict[dt.date, int] = {}
    returned: dict[tuple[dt.date, int], int] = {}
    for cohort_date, offset, people in counts:
        if offset < 0:
            sizes[cohort_date] = people
        else:
            returned[(cohort_date, offset)] = people
    current = now or today()
    if spec.unit == "week":
        current -= dt.timedelta(days=current.weekday())
    unit = dt.timedelta(days=UNITS[spec.unit])
    rows = []
    reached_size = [0] * len(spec.offsets)
    reached_back = [0] * len(spec.offsets)
    for cohort_date in _dates(spec):
        size = sizes.get(cohort_date, 0)
        back: list[int | None] = []
        share: list[float | None] = []
        for n in spec.offsets:
            if cohort_date + n * unit > current:
                back.append(None)
                share.append(None)
                continue
            people = returned.get((cohort_date, n), 0)
            back.append(people)
            share.append(people / size if size else None)
            reached_size[n] += size
            reached_back[n] += people
        rows.append(CohortRow(cohort_date, size, back, share))
    total = CohortRow(
        None,
        sum(sizes.get(d, 0) for d in _dates(spec)),
        [b if s else None for b, s in zip(reached_back, reached_size, strict=True)],
        [b / s if s else None for b, s in zip(reached_back, reached_size, strict=True)],
    )
    return CohortTable(spec, rows, total)


def describe(spec: CohortSpec) -> dict[str, str]:
    """The table's inputs in words, for headings and the CSV's file name."""
    if spec.qualifying == "label":
        name = Label.objects.filter(pk=spec.label_id).values_list("name", flat=True).first()
        who = f"Was sent a campaign labelled “{name or f'#{spec.label_id} (deleted)'}”"
    elif spec.qualifying == "campaign":
        name = Campaign.objects.filter(pk=spec.campaign_id).values_list("name", flat=True).first()
        who = f"Was sent the campaign “{name or f'#{spec.campaign_id} (deleted)'}”"
    else:
        who = f"Did {spec.event}"
    segment = ""
    if spec.segment_id is not None:
        segment = Segment.objects.filter(pk=spec.segment_id).values_list("name", flat=True).first()
    return {
        "qualifying": who,
        "segment": segment or "",
        "return_event": spec.return_event or "any event",
        "unit": spec.unit,
    }


def percent(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.1f}"


def csv_rows(table: CohortTable) -> Iterator[list[Any]]:
    """The table as CSV rows: cohort, size, then the share (in %) per offset."""
    for row in table.rows:
        yield [row.date.isoformat() if row.date else "", row.size, *map(percent, row.share)]
    yield ["all", table.total.size, *map(percent, table.total.share)]


def csv_header(table: CohortTable) -> list[str]:
    return ["cohort", "size", *(f"{table.spec.unit} {n} %" for n in table.offsets)]


# ---------------------------------------------------------------------------------------------
# The form's choices
# ---------------------------------------------------------------------------------------------
_EVENT_NAMES = """
    WITH RECURSIVE names(name) AS (
        (SELECT name FROM audience_event ORDER BY name LIMIT 1)
        UNION ALL
        SELECT (SELECT e.name FROM audience_event e WHERE e.name > n.name ORDER BY e.name LIMIT 1)
        FROM names n WHERE n.name IS NOT NULL
    )
    SELECT name FROM names WHERE name IS NOT NULL LIMIT %s
"""


def known_event_names(limit: int = 200) -> list[str]:
    """The distinct event names, for the form's suggestions: a skip scan of the (name, ts) index,
    one index probe per name, however many events there are."""
    with connection.cursor() as cursor:
        cursor.execute(_EVENT_NAMES, [limit])
        return [row[0] for row in cursor.fetchall()]


def campaign_choices(limit: int = 500) -> list[tuple[int, str]]:
    """Campaigns that may have sent something: the ones that went live, by name."""
    sent = (Status.RUNNING, Status.AWAITING_NEXT_RUN, Status.COMPLETED, Status.STOPPED)
    rows = Campaign.objects.filter(Q(status__in=sent) | Q(live_status__in=sent))
    return list(rows.order_by("name", "id").values_list("pk", "name")[:limit])
