"""Monthly partitions of the events table: created ahead of the clock by a daily task, and on
demand for the months a batch of older events needs.

A partition is `audience_event_pYYYYMM`, holding [first of the month, first of the next) in UTC.
Creation takes a transaction-scoped advisory lock, so two workers never race to create one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import connection, transaction

PARENT = "audience_event"
# pg_advisory_xact_lock key: "audience partitions".
LOCK_KEY = 0x61756450
MONTHS_AHEAD = 3


def month_start(moment: dt.datetime | dt.date) -> dt.date:
    if isinstance(moment, dt.datetime):
        moment = moment.astimezone(dt.UTC).date()
    return moment.replace(day=1)


def next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def partition_name(month: dt.date) -> str:
    return f"{PARENT}_p{month:%Y%m}"


def existing() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
            [PARENT],
        )
        return {row[0] for row in cursor.fetchall()}


def ensure_months(months: Iterable[dt.date]) -> list[str]:
    """Create the partitions of these months that do not exist yet; returns the names created."""
    wanted = sorted({month_start(m) for m in months})
    have = existing()
    missing = [m for m in wanted if partition_name(m) not in have]
    if not missing:
        return []
    created = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        have = existing()
        for month in missing:
            name = partition_name(month)
            if name in have:
                continue
            cursor.execute(
                f'CREATE TABLE "{name}" PARTITION OF "{PARENT}" '  # noqa: S608 - names built here
                "FOR VALUES FROM (%s) TO (%s)",
                [
                    f"{month.isoformat()} 00:00:00+00",
                    f"{next_month(month).isoformat()} 00:00:00+00",
                ],
            )
            created.append(name)
    return created


def ensure_for(timestamps: Iterable[dt.datetime]) -> list[str]:
    """The partitions these events need (ingestion calls it before inserting a batch)."""
    return ensure_months(month_start(ts) for ts in timestamps)


def ensure_ahead(today: dt.date | None = None, months: int = MONTHS_AHEAD) -> list[str]:
    """This month and the next `months` (the daily beat task)."""
    month = month_start(today or dt.datetime.now(dt.UTC))
    wanted = [month]
    for _ in range(months):
        month = next_month(month)
        wanted.append(month)
    return ensure_months(wanted)
