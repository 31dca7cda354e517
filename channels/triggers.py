"""Action and Inaction campaigns: events that match a trigger wait as Trigger rows until due."""

from __future__ import annotations

import datetime as dt


def start_due_triggers(now: dt.datetime) -> int:
    return 0
