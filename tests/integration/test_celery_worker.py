"""The auto-archive task through a real Celery worker: a separate `celery worker` process, a Redis
broker and result backend, and the pytest-django test database (nothing eager, nothing mocked)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from celery import Celery
from celery.schedules import crontab
from django.conf import settings
from django.utils import timezone

import campaigns.tasks  # noqa: F401 - registers the task on every Celery app, the test's included
from campaigns.choices import Action, Status
from campaigns.models import Campaign, CampaignAudit
from tests.dburl import test_database_url

TASK = "campaigns.tasks.auto_archive_campaigns"
ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 60
TASK_TIMEOUT = 60


def isolated_redis_url() -> str:
    """REDIS_URL from the environment; its default database 0 is swapped for 14 so the test's
    queues and results never mix with a development worker's."""
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    parts = urlsplit(url)
    if parts.path in ("", "/", "/0"):
        parts = parts._replace(path="/14")
    return urlunsplit(parts)


def celery_executable() -> str:
    beside_python = Path(sys.executable).with_name("celery")
    found = str(beside_python) if beside_python.exists() else shutil.which("celery")
    assert found, "the celery command is not installed"
    return found


def worker_command(queue: str, name: str) -> list[str]:
    """One solo worker process on `queue`, named `name`, without the chatter between workers."""
    return [
        celery_executable(),
        "-A",
        "config",
        "worker",
        "-P",
        "solo",
        "-c",
        "1",
        "-Q",
        queue,
        "-n",
        name,
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel",
        "INFO",
    ]


@dataclass
class Worker:
    app: Celery  # a client app on the worker's broker and result backend
    queue: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def worker_env(redis_url: str) -> dict[str, str]:
    """A worker process's environment: the test database, its own Redis database as broker and
    result backend, this process's time zone."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": test_database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_RESULT_BACKEND": redis_url,
        "HERALD_TIME_ZONE": settings.TIME_ZONE,
    }


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Worker]:
    redis_url = isolated_redis_url()
    queue = f"herald-test-{uuid.uuid4().hex[:12]}"
    env = worker_env(redis_url)
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - a fixed command line
            worker_command(queue, f"{queue}@herald-test"),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    app = Celery("herald-integration-client", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.update(broker_url=redis_url, result_backend=redis_url)
    running = Worker(app=app, queue=queue, process=process, log=log)
    try:
        _wait_until_ready(running)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
        with app.connection_for_write() as connection:
            connection.default_channel.queue_delete(queue)
        # Celery names an automatic queue's exchange after it; kombu keeps that binding on its own.
        client = redis.Redis.from_url(redis_url)
        client.delete(f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        client.close()
        app.close()


def _wait_until_ready(worker: Worker) -> None:
    """A message published before the worker has declared its queue would have nowhere to go."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        assert worker.process.poll() is None, f"the worker exited:\n{worker.log_tail()}"
        if worker.app.control.ping(destination=[f"{worker.queue}@herald-test"], timeout=1.0):
            return
    pytest.fail(f"the worker did not answer within {STARTUP_TIMEOUT}s:\n{worker.log_tail()}")


@pytest.mark.slow
# transaction: the worker's own connection sees only committed rows. serialized_rollback: the test
# starts with the rows migrations made (the role groups), which a transactional test flushes.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_archives_due_campaigns(worker: Worker, campaign_factory) -> None:
    now = timezone.now()
    due = campaign_factory(status=Status.COMPLETED, last_active_at=now - dt.timedelta(days=400))
    recent = campaign_factory(status=Status.COMPLETED, last_active_at=now - dt.timedelta(days=30))
    live = campaign_factory(status=Status.RUNNING, last_active_at=now - dt.timedelta(days=400))

    result = worker.app.tasks[TASK].apply_async(queue=worker.queue)
    try:
        archived = result.get(timeout=TASK_TIMEOUT)
    except Exception as exc:  # the worker's log says why
        pytest.fail(f"the task did not succeed ({exc!r}):\n{worker.log_tail()}")
    finally:
        result.forget()

    assert archived == 1
    assert set(Campaign.objects.archived().values_list("pk", flat=True)) == {due.pk}
    [row] = CampaignAudit.objects.filter(action=Action.AUTO_ARCHIVE)
    assert (row.campaign_id, row.actor) == (due.pk, None)
    assert Campaign.objects.get(pk=recent.pk).archived_at is None
    assert Campaign.objects.get(pk=live.pk).archived_at is None
    assert f"Task {TASK}[{result.id}] succeeded" in worker.log.read_text(errors="replace")

    # A second delivery of the same task (a retry, or two beats) archives nothing more.
    again = worker.app.tasks[TASK].apply_async(queue=worker.queue)
    try:
        assert again.get(timeout=TASK_TIMEOUT) == 0
    finally:
        again.forget()
    assert CampaignAudit.objects.filter(action=Action.AUTO_ARCHIVE).count() == 1


def test_beat_runs_the_auto_archive_task_daily() -> None:
    from config.celery import app

    [entry] = [e for e in app.conf.beat_schedule.values() if e["task"] == TASK]
    schedule = entry["schedule"]
    assert isinstance(schedule, crontab)
    # One time of day, every day of every month.
    assert len(schedule.hour) == 1 and len(schedule.minute) == 1
    assert schedule.day_of_week == set(range(7))
    assert schedule.day_of_month == set(range(1, 32))
    assert schedule.month_of_year == set(range(1, 13))
    assert TASK in app.tasks
