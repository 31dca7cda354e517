"""Running calls at the same moment, each in its own thread and so its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections


def _in_thread(
    fn: Callable[[], Any], barrier: threading.Barrier, out: list[Any], index: int, timeout: float
) -> None:
    try:
        barrier.wait(timeout=timeout)
        out[index] = fn()
    except Exception as exc:  # the outcome is what the test inspects
        out[index] = exc
    finally:
        connections.close_all()  # this thread's connection, not the test's


def run_together(
    *calls: Callable[[], Any],
    while_started: Callable[[], Any] | None = None,
    timeout: float = 60,
) -> list[Any]:
    """Start every call at once (a barrier), each in its own thread.

    Returns each call's result, or the exception it raised, in the order given."""
    barrier = threading.Barrier(len(calls))
    out: list[Any] = [None] * len(calls)
    threads = [
        threading.Thread(target=_in_thread, args=(fn, barrier, out, i, timeout))
        for i, fn in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    if while_started:
        while_started()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a transaction never finished"
    return out
