"""When a campaign sends: the occurrences of its When, one after another.

`first_run_at` (campaigns.validation) says when a schedule starts; this module says what comes
after a send, when the schedule ends, and what `next_run_at` a campaign has when it goes live. The
dispatch tick (channels.scheduler) starts a run at each `next_run_at` and asks `occurrence_after`
for the one that follows.

- One Time: one occurrence (now, or start_at).
- Multiple Dates: each date.
- Recurring: daily every N days, weekly on weekdays every N weeks, monthly on days of the month
  or on weekdays of the month ("first Monday", "last Friday") every N months, at send_time in the
  campaign's time zone, from start_at until end_at or end_after_runs runs.
- On a date/time: every day at send_time (the audience of a day is who has the date property
  offset_days from that day), from start_at (or publishing) until end_at.
- Action, Inaction and API: no occurrences; they run until end_at (ends_at) or a stop.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, rrule, weekday, weekdays
from django.conf import settings

from campaigns.choices import Delivery
from campaigns.validation import WEEKDAYS, _aware, first_run_at

SCHEDULED_DELIVERIES = frozenset(
    {Delivery.ONE_TIME, Delivery.RECURRING, Delivery.MULTIPLE_DATES, Delivery.DATE_TIME}
)
# Deliveries whose sends follow events or calls: live (Running) from their start to their end.
TRIGGERED_DELIVERIES = frozenset({Delivery.ACTION, Delivery.INACTION, Delivery.API})
# The earliest and latest UTC offsets in use: a send "at 10:00 in each user's time zone" starts
# when it is 10:00 at UTC+14 and ends when it is 10:00 at UTC-12.
EARLIEST_OFFSET = dt.timedelta(hours=14)


def zone(when: dict[str, Any]) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(when.get("timezone") or settings.TIME_ZONE)


def _month_weekday(code: str) -> weekday:
    """ "1mo" = the first Monday of the month, "-1fr" = the last Friday."""
    return weekdays[WEEKDAYS.index(code[-2:])](int(code[:-2]))


def _rule(delivery: Delivery, when: dict[str, Any], start: dt.datetime) -> rrule:
    tz = zone(when)
    local = start.astimezone(tz)
    hour, minute = (int(x) for x in when["send_time"].split(":"))
    anchor = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if delivery == Delivery.DATE_TIME:
        return rrule(DAILY, dtstart=anchor)
    freq = {"daily": DAILY, "weekly": WEEKLY, "monthly": MONTHLY}[when["frequency"]]
    byweekday: list[Any] | None = [weekdays[WEEKDAYS.index(d)] for d in when.get("weekdays", [])]
    byweekday = byweekday or [_month_weekday(c) for c in when.get("month_weekdays", [])] or None
    return rrule(
        freq,
        dtstart=anchor,
        interval=when.get("interval", 1),
        byweekday=byweekday,
        bymonthday=when.get("month_days"),
    )


def ends_at(delivery: str, when: dict[str, Any]) -> dt.datetime | None:
    """The schedule's end (end_at), after which nothing more is sent; None when open-ended."""
    if "end_at" in when and Delivery(delivery) != Delivery.ONE_TIME:
        return _aware(when["end_at"], when.get("timezone"))
    return None


def occurrence_after(
    delivery: str, when: dict[str, Any], after: dt.datetime, *, runs_done: int = 0
) -> dt.datetime | None:
    """The first send strictly after `after`, or None when the schedule has no more.

    `runs_done` counts the sends so far (Recurring's end_after_runs).
    """
    kind = Delivery(delivery)
    end = ends_at(delivery, when)
    found: dt.datetime | None = None
    if kind == Delivery.MULTIPLE_DATES:
        later = [d for d in (_aware(x, when.get("timezone")) for x in when["dates"]) if d > after]
        found = min(later, default=None)
    elif kind in (Delivery.RECURRING, Delivery.DATE_TIME):
        if kind == Delivery.RECURRING and runs_done >= when.get("end_after_runs", 10**9):
            return None
        start = _aware(when["start_at"], when.get("timezone")) if "start_at" in when else after
        found = _rule(kind, when, start).after(max(after, start - dt.timedelta(seconds=1)))
    if found is not None and end is not None and found > end:
        return None
    return found


def first_send(delivery: str, when: dict[str, Any], now: dt.datetime) -> dt.datetime | None:
    """The campaign's first send as publishing sets it (`next_run_at`), or None for triggered ones.

    A one-time send in each user's own time zone starts when its wall-clock time comes at UTC+14
    (and goes on, zone by zone, for a day). On a date/time: the first daily send time from now.
    """
    kind = Delivery(delivery)
    if kind in TRIGGERED_DELIVERIES:
        return first_run_at(delivery, when, now)
    if kind == Delivery.DATE_TIME:
        start = first_run_at(delivery, when, now)
        return occurrence_after(delivery, when, max(start or now, now) - dt.timedelta(seconds=1))
    first = first_run_at(delivery, when, now)
    if kind == Delivery.ONE_TIME and when.get("user_timezone") and when["send"] == "later":
        wall = dt.datetime.fromisoformat(when["start_at"][:16])
        earliest = wall.replace(tzinfo=dt.UTC) - EARLIEST_OFFSET
        return max(earliest, now)
    return first


def user_wall_time(when: dict[str, Any]) -> dt.datetime | None:
    """For sends in each user's own time zone: the wall-clock time (naive) they are for."""
    if not when.get("user_timezone"):
        return None
    if "start_at" in when:
        return dt.datetime.fromisoformat(when["start_at"][:16])
    return None
