"""The 900-label cap and the case-insensitive uniqueness under real concurrent transactions.

Each contender runs in its own thread (so its own PostgreSQL connection and transaction) or its own
process (as gunicorn workers would). To be sure they collide rather than run one after the other,
a holder transaction takes the creation lock first and lets go only once PostgreSQL reports every
contender queued behind it; then they all race for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections, transaction

from config.errors import Invalid, LimitReached
from labels import services
from labels.models import Label
from labels.rules import MAX_LABELS
from tests.concurrency import run_together
from tests.dburl import test_database_url

# serialized_rollback: each test starts with the rows migrations made (the role groups), which a
# transactional test case flushes at the end.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
TIMEOUT = 60
ROOT = Path(__file__).resolve().parents[2]


def fill_to(count: int) -> None:
    Label.objects.bulk_create(Label(name=f"Existing {i:03d}") for i in range(count))


def lock_waiters() -> int:
    """Transactions of this database waiting for an advisory lock (other test databases excluded)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        return cursor.fetchone()[0]


@contextmanager
def creation_lock_held() -> Iterator[Callable[[int, float], bool]]:
    """Hold label creation's advisory lock in another transaction; the yielded function waits until
    `n` transactions queue behind it (or `wait` seconds pass), then lets go and says whether they did.

    If they never queue (a service that stopped taking the lock), the lock is let go anyway, so the
    test fails on its assertions rather than hanging.
    """
    locked, release = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def hold() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                # The service's own key, so the contenders queue exactly where they would in production.
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [services._CREATE_LOCK_KEY])
                locked.set()
                release.wait(TIMEOUT)
        except BaseException as exc:  # reported to the test thread
            failure.append(exc)
            locked.set()
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(TIMEOUT) and not failure, failure

    def release_when_queued(n: int, wait: float = 10.0) -> bool:
        deadline = time.monotonic() + wait
        while lock_waiters() < n and time.monotonic() < deadline:
            time.sleep(0.01)
        queued = lock_waiters() >= n
        release.set()
        return queued

    try:
        yield release_when_queued
    finally:
        release.set()
        holder.join(TIMEOUT)
        assert not failure, failure


def creator(actor: Any, name: str) -> Callable[[], Any]:
    return lambda: services.label_create(actor=actor, name=name)


def test_thirty_creations_at_once_with_890_labels_stop_at_exactly_900(marketer) -> None:
    fill_to(MAX_LABELS - 10)
    names = [f"Rush {i:02d}" for i in range(30)]

    queued: list[bool] = []
    with creation_lock_held() as release_when_queued:
        results = run_together(
            *[creator(marketer, name) for name in names],
            while_started=lambda: queued.append(release_when_queued(len(names))),
        )

    created = [r for r in results if isinstance(r, Label)]
    refused = [r for r in results if isinstance(r, LimitReached)]
    assert len(created) == 10, results
    assert len(refused) == 20, results
    assert all("900" in r.message for r in refused)
    assert Label.objects.count() == MAX_LABELS
    assert set(Label.objects.filter(name__startswith="Rush").values_list("name", flat=True)) == {
        label.name for label in created
    }
    assert queued == [True], "the creations never all queued on the creation lock"


def test_thirty_creations_at_once_below_the_cap_all_succeed(marketer) -> None:
    results = run_together(*[creator(marketer, f"Calm {i:02d}") for i in range(30)])
    assert all(isinstance(r, Label) for r in results), results
    assert Label.objects.count() == 30


def test_two_creations_of_one_name_in_different_case_create_exactly_one(marketer) -> None:
    fill_to(5)

    queued: list[bool] = []
    with creation_lock_held() as release_when_queued:
        results = run_together(
            creator(marketer, "Flash Sale"),
            creator(marketer, "FLASH SALE"),
            while_started=lambda: queued.append(release_when_queued(2)),
        )

    created = [r for r in results if isinstance(r, Label)]
    refused = [r for r in results if isinstance(r, Invalid)]
    assert len(created) == 1 and len(refused) == 1, results
    assert "already exists" in refused[0].message
    assert list(Label.objects.filter(name__iexact="flash sale").values_list("name", flat=True)) == [
        created[0].name
    ]
    assert Label.objects.count() == 6
    assert queued == [True], "the creations never both queued on the creation lock"


def test_a_case_duplicate_racing_for_the_last_free_place_is_refused_as_a_duplicate(
    marketer,
) -> None:
    fill_to(MAX_LABELS - 1)

    queued: list[bool] = []
    with creation_lock_held() as release_when_queued:
        results = run_together(
            creator(marketer, "Last one"),
            creator(marketer, "LAST ONE"),
            while_started=lambda: queued.append(release_when_queued(2)),
        )

    assert sorted(type(r).__name__ for r in results) == ["Invalid", "Label"], results
    assert Label.objects.count() == MAX_LABELS
    assert queued == [True], "the creations never both queued on the creation lock"


def test_get_or_create_racing_on_one_name_returns_one_label_to_both(marketer) -> None:
    queued: list[bool] = []
    with creation_lock_held() as release_when_queued:
        results = run_together(
            lambda: services.labels_get_or_create(actor=marketer, names=["Flash Sale"]),
            lambda: services.labels_get_or_create(actor=marketer, names=["flash sale"]),
            while_started=lambda: queued.append(release_when_queued(2)),
        )

    assert all(isinstance(r, list) for r in results), results
    [first], [second] = results
    assert first.pk == second.pk
    assert Label.objects.count() == 1
    assert queued == [True], "the creations never both queued on the creation lock"


# A separate Python process creating one label, as a web worker would; prints what happened.
_CHILD = """
import json, sys
import django
django.setup()
from django.contrib.auth.models import User
from config.errors import DomainError
from labels.services import label_create
try:
    label = label_create(actor=User.objects.get(pk=int(sys.argv[1])), name=sys.argv[2])
    print(json.dumps({"created": label.name}))
except DomainError as exc:
    print(json.dumps({"refused": exc.code}))
"""


def test_separate_processes_creating_at_once_stop_at_exactly_900(marketer) -> None:
    fill_to(MAX_LABELS - 3)
    env = {**os.environ, "DATABASE_URL": test_database_url(), "DATABASE_CONN_MAX_AGE": "0"}
    processes = 8

    with creation_lock_held() as release_when_queued:
        children = [
            subprocess.Popen(  # noqa: S603 - our own interpreter and script
                [sys.executable, "-c", _CHILD, str(marketer.pk), f"Worker {i}"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(processes)
        ]
        # Starting Python and Django takes a while; they queue on the lock as they arrive.
        queued = release_when_queued(processes, TIMEOUT)
        outputs = [child.communicate(timeout=TIMEOUT) for child in children]

    assert queued, "the worker processes never all queued on the creation lock"
    assert all(child.returncode == 0 for child in children), outputs
    results = [json.loads(out) for out, _ in outputs]
    assert sum("created" in r for r in results) == 3, results
    assert sum(r.get("refused") == "limit_reached" for r in results) == processes - 3, results
    assert Label.objects.count() == MAX_LABELS
