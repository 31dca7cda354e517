"""Dispatch at scale: a one-time campaign to 1,000,000 profiles through two Celery workers, from
publish to the last ledger row, with the naive baseline, e-mail and webhooks through real sinks.

It measures, in one run:
- the send to all N profiles on e-mail with the dry-run adapter (everything but the network call)
  by two worker processes: recipients/s from campaign_publish to the run being done (target: N =
  1,000,000 in < 20 s on 2 cores), the time split (resolution, batches), and the peak RSS of each
  worker, also for a run to N/10 with fresh workers (memory must not grow with N);
- the naive alternative on a sample through the same workers: one Celery task per recipient
  with one ORM insert of its ledger row and one Notification Sent insert; its rate and the ratio;
- e-mails/s through the whole pipeline with the real EmailAdapter to Postfix's smtp-sink
  (target >= 2,000/s);
- webhooks/s with the real WebhookAdapter to nginx on loopback answering 204;
- with --profile N, where a batch's time goes (in this process, N recipients, no workers).

    make bench            # or: python bench/dispatch.py [--profiles N] [--small N] [--naive N]
                          #     [--email N] [--webhook N] [--batch N] [--only PARTS] [--profile N]

The profiles live in their own database (`<name>_bench_dispatch` beside DATABASE_URL's), loaded
once with COPY and reused while their number matches; --reload rebuilds it. Runs, ledgers and
events of earlier invocations are truncated at the start. The workers use their own Celery queue
and Redis database (--redis-db).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import importlib
import io
import json
import os
import pstats
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
# Before the bench folder: bench/labels.py must not hide the labels app.
sys.path.insert(0, str(ROOT))

from bench.audience import PROFILE_COLUMNS, copy  # noqa: E402 - how the audience bench loads
from bench.dispatchlib.naive import NAIVE_TASK  # noqa: E402
from scripts.services import die_with_parent  # noqa: E402

QUEUE = "bench_dispatch"
NAIVE_QUEUE = "bench_dispatch_naive"
NAMES = ["Asha", "Ben", "Chloé", "Dev", "Elif", "Farid", "Gita", "Hugo", "Ines", "Jun"]
ZONES = ["UTC", "Asia/Kolkata", "America/New_York", "Europe/Berlin", "America/Sao_Paulo", ""]
NO_EMAIL = 0.03  # share of profiles without an address (dropped: no_address)
OPTED_OUT = 0.02  # share opted out of e-mail (dropped: consent)
WEBHOOK_SECRET = "whsec_" + "YmVuY2gtZGlzcGF0Y2gtc2lnbmluZy1zZWNyZXQtMzI="
START_TIMEOUT = 60.0
RUN_TIMEOUT = 1800.0
HTML = (
    "<html><body><h1>Hello {{ profile.first_name }}</h1>"
    "<p>Your {{ profile.plan }} plan has new features this month. "
    + "We made dispatch faster and the reports clearer. "
    * 12
    + '</p><p><a href="https://example.com/whats-new?src=mail">See what is new</a></p>'
    "<p>Thanks,<br>The team</p></body></html>"
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument(
        "--small", type=int, default=0, help="the smaller run's size (default profiles / 10)"
    )
    parser.add_argument("--naive", type=int, default=5000, help="baseline sample (0: skip)")
    parser.add_argument("--email", type=int, default=20_000, help="e-mails to smtp-sink (0: skip)")
    parser.add_argument("--webhook", type=int, default=20_000, help="webhooks to nginx (0: skip)")
    parser.add_argument("--batch", type=int, default=5000, help="HERALD_DISPATCH_BATCH")
    parser.add_argument(
        "--labels",
        type=int,
        default=2,
        help="message labels on every campaign (each Notification Sent records them)",
    )
    parser.add_argument("--pool", choices=["solo", "prefork"], default="solo")
    parser.add_argument("--redis-db", type=int, default=15)
    parser.add_argument(
        "--only", default="small,full,naive,email,webhook", help="comma-separated parts to run"
    )
    parser.add_argument(
        "--profile", type=int, default=0, help="profile N recipients' batches in process"
    )
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        help="a module the workers and this process also import (to try a change); repeatable",
    )
    parser.add_argument("--reload", action="store_true", help="rebuild the bench database")
    # Every bench/*.py gets the same ARGS from `make bench`: the others' options are not errors.
    args, _unknown = parser.parse_known_args()
    args.small = args.small or max(1, args.profiles // 10)
    return args


# ---------------------------------------------------------------------------------------------
# Environment and data
# ---------------------------------------------------------------------------------------------
def redis_url(db: int) -> str:
    parts = urlparse(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    return urlunparse(parts._replace(path=f"/{db}"))


def base_env(args: argparse.Namespace) -> dict[str, str]:
    """What the bench process and every worker share: the database, the broker, the queue, the
    batch size, the dry-run e-mail channel."""
    url = redis_url(args.redis_db)
    return {
        "REDIS_URL": url,
        "CELERY_BROKER_URL": url,
        "CELERY_RESULT_BACKEND": url,
        "CELERY_TASK_DEFAULT_QUEUE": QUEUE,
        "HERALD_DISPATCH_BATCH": str(args.batch),
        "HERALD_DRY_RUN_CHANNELS": "email",
        "HERALD_EMAIL_PROVIDER": "",
        "HERALD_TRACKING_KEY": "bench-tracking-" + "k" * 40,
        "HERALD_BASE_URL": "https://herald.example.com",
        "HERALD_WEBHOOK_ALLOW_PRIVATE": "1",
        "HERALD_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "EMAIL_URL": "consolemail://",
    }


def profile_lines(count: int) -> Iterator[str]:
    rng = random.Random(7)
    stamp = "2025-01-01T00:00:00+00:00"
    for i in range(1, count + 1):
        draw = rng.random()
        email = "" if draw < NO_EMAIL else f"user{i}@example.com"
        consent = "opted_out" if NO_EMAIL <= draw < NO_EMAIL + OPTED_OUT else "opted_in"
        props = json.dumps(
            {"first_name": rng.choice(NAMES), "plan": rng.choice(["free", "pro"]), "n": i},
            ensure_ascii=False,
        ).replace("\\", "\\\\")
        yield (
            f"{i}\tu{i}\t{email}\t\t{rng.choice(ZONES)}\t{props}\t{consent}\tunknown\tunknown"
            f"\t{stamp}\t{stamp}\n"
        )


def load(profiles: int, reload: bool) -> None:
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    with connection.cursor() as cur:
        cur.execute("SELECT count(*), max(id) FROM audience_profile")
        have, top = cur.fetchone()
    if not reload and have == profiles and top == profiles:
        return
    print(f"loading {profiles:,} profiles with COPY ...", flush=True)
    started = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("TRUNCATE audience_event, audience_device, audience_profile CASCADE")
        copy(cur.cursor, "audience_profile", PROFILE_COLUMNS, profile_lines(profiles))
        cur.execute(
            "SELECT setval(pg_get_serial_sequence('audience_profile', 'id'), %s)", [profiles]
        )
        cur.execute(
            "INSERT INTO audience_propertydefinition (name, type, created_at) VALUES "
            "('first_name', 'string', now()), ('plan', 'string', now()), ('n', 'number', now()) "
            "ON CONFLICT (name) DO NOTHING"
        )
        cur.execute("VACUUM (ANALYZE) audience_profile")
    print(f"  loaded in {time.perf_counter() - started:.1f} s", flush=True)


def reset() -> None:
    """Earlier invocations' campaigns, runs, ledgers and events go; dispatch settings that would
    drop people (caps, quiet hours) or change providers are cleared."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE channels_delivery, channels_batch, channels_run, channels_trigger, "
            "channels_frequencycap, channels_providerconfig, audience_event, campaigns_campaign "
            "CASCADE"
        )
        cur.execute("UPDATE channels_quiethours SET enabled = false")
        cur.execute("VACUUM (ANALYZE) channels_delivery, channels_batch, channels_run")


def bench_admin():  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import Group, User

    user, _ = User.objects.get_or_create(
        username="bench-admin@herald.local", defaults={"email": "bench-admin@herald.local"}
    )
    user.groups.add(Group.objects.get_or_create(name="Admin")[0])
    return user


def flush_broker(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


# ---------------------------------------------------------------------------------------------
# Processes: workers and sinks, stopped on every way out
# ---------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, what: str) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}")


def stop(proc: subprocess.Popen, timeout: float = 15.0) -> None:  # type: ignore[type-arg]
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def descendants(pid: int) -> list[int]:
    out = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
            for child in map(int, text.split()):
                out += [child, *descendants(child)]
    return out


def peak_rss_mb(pid: int) -> tuple[float, float]:
    """(VmHWM, VmRSS) of a process in MiB, from /proc."""
    values = {"VmHWM": 0.0, "VmRSS": 0.0}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in values:
                values[key] = int(rest.split()[0]) / 1024
    return values["VmHWM"], values["VmRSS"]


TASK_LINE = re.compile(r"Task (\S+)\[[^\]]+\] succeeded in ([0-9.]+)s")


@dataclass
class Workers:
    procs: list[subprocess.Popen]  # type: ignore[type-arg]
    logs: list[Path]
    pool: str

    def memory(self) -> list[tuple[str, float, float]]:
        """(process, peak RSS, RSS) of every worker process, prefork children included."""
        out = []
        for i, proc in enumerate(self.procs):
            for pid in [proc.pid, *descendants(proc.pid)]:
                role = "main" if pid == proc.pid else "child"
                label = f"worker {i + 1}" + ("" if self.pool == "solo" else f" {role} {pid}")
                out.append((label, *peak_rss_mb(pid)))
        return out

    def task_times(self) -> dict[str, list[float]]:
        """Seconds each finished task took, by task name, from the workers' logs."""
        times: dict[str, list[float]] = defaultdict(list)
        for log in self.logs:
            with contextlib.suppress(OSError):
                for match in TASK_LINE.finditer(log.read_text(errors="replace")):
                    times[match.group(1)].append(float(match.group(2)))
        return times


@contextlib.contextmanager
def workers(args: argparse.Namespace, tmp: Path, tag: str, **env: str) -> Iterator[Workers]:
    """Two worker processes (solo pool twice, or one prefork pool of two) on the bench queue."""
    flush_broker(redis_url(args.redis_db))
    full_env = {**os.environ, **base_env(args), **env}
    celery = str(Path(sys.executable).with_name("celery"))
    commands = []
    if args.pool == "solo":
        commands = [["-P", "solo", "-n", f"bench-dispatch-{tag}-{i}@%h"] for i in (1, 2)]
    else:
        commands = [["-P", "prefork", "-c", "2", "-n", f"bench-dispatch-{tag}@%h"]]
    procs, logs = [], []
    try:
        for i, extra in enumerate(commands):
            log = tmp / f"worker-{tag}-{i + 1}.log"
            logs.append(log)
            procs.append(
                subprocess.Popen(
                    [
                        celery,
                        "-A",
                        "config",
                        "worker",
                        *extra,
                        "-Q",
                        QUEUE,
                        "-I",
                        ",".join(["bench.dispatchlib.naive", *args.imports]),
                        "--without-gossip",
                        "--without-mingle",
                        "--without-heartbeat",
                        "-l",
                        "INFO",
                        f"--logfile={log}",
                    ],
                    cwd=ROOT,
                    env=full_env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=open(tmp / f"worker-{tag}-{i + 1}.err", "w"),  # noqa: SIM115
                    preexec_fn=die_with_parent,  # noqa: PLW1509 - no threads in this process
                )
            )
        deadline = time.monotonic() + START_TIMEOUT
        for proc, log in zip(procs, logs, strict=True):
            while not (log.exists() and " ready." in log.read_text(errors="replace")):
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = Path(str(log).replace(".log", ".err")).read_text(errors="replace")
                    raise RuntimeError(f"worker did not start:\n{err[-3000:]}")
                time.sleep(0.1)
        yield Workers(procs, logs, args.pool)
    finally:
        for proc in procs:
            stop(proc)


@contextlib.contextmanager
def serving(name: str, command: list[str], port: int, tmp: Path) -> Iterator[None]:
    """Run a sink's `command` (its errors in tmp/<name>.err) until it listens on `port`; stop
    it on the way out."""
    proc = subprocess.Popen(  # noqa: S603 - the bench's own command lines
        command,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / f"{name}.err", "w"),  # noqa: SIM115
        preexec_fn=die_with_parent,  # noqa: PLW1509
    )
    try:
        wait_for_port(port, proc, name)
        yield
    finally:
        stop(proc)


@contextlib.contextmanager
def smtp_sink(tmp: Path) -> Iterator[int]:
    port = free_port()
    command = ["/usr/sbin/smtp-sink"]
    if os.geteuid() == 0:
        command += ["-u", "nobody"]
    command += [f"127.0.0.1:{port}", "1000"]
    with serving("smtp-sink", command, port, tmp):
        yield port


NGINX_CONF = """
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 204; }}
    }}
}}
"""


@contextlib.contextmanager
def nginx(tmp: Path) -> Iterator[int]:
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port))
    command = ["/usr/sbin/nginx", "-p", str(tmp), "-e", str(tmp / "nginx-error.log")]
    command += ["-c", str(conf), "-g", "daemon off;"]
    with serving("nginx", command, port, tmp):
        yield port


# ---------------------------------------------------------------------------------------------
# One campaign, from publish to its run being done
# ---------------------------------------------------------------------------------------------
def who_first(n: int, total: int) -> dict[str, Any]:
    """Everyone, or the first n profiles (by the "n" property)."""
    if n >= total:
        return {"type": "group", "match": "all", "conditions": []}
    return {
        "type": "group",
        "match": "all",
        "conditions": [{"type": "property", "property": "n", "op": "lte", "value": n}],
    }


def email_what() -> dict[str, Any]:
    return {
        "message": {
            "subject": "{{ profile.first_name }}, what is new this month",
            "from_email": "news@example.com",
            "from_name": "Herald bench",
            "preheader": "Dispatch got faster",
            "html": HTML,
        }
    }


def webhook_what(port: int) -> dict[str, Any]:
    return {"message": {"url": f"http://127.0.0.1:{port}/hook", "method": "POST"}}


# The labels every campaign of this invocation carries (--labels).
LABELS: list[Any] = []


def bench_labels(count: int) -> list[Any]:
    from labels.models import Label

    return [Label.objects.get_or_create(name=f"Bench label {i}")[0] for i in range(1, count + 1)]


def make_campaign(name: str, channel: str, who: dict[str, Any], what: dict[str, Any]):  # type: ignore[no-untyped-def]
    from django.utils import timezone

    from campaigns.models import Campaign

    campaign = Campaign.objects.create(
        name=name,
        channel=channel,
        type="single_message",
        delivery="one_time",
        status="draft",
        who=who,
        what=what,
        when={"send": "now"},
        created_by=bench_admin(),
        last_active_at=timezone.now(),
    )
    campaign.labels.set(LABELS)
    return campaign


@dataclass
class Figures:
    name: str
    targeted: int
    sent: int
    dropped: dict[str, int]
    failed: dict[str, int]
    seconds: float  # publish to the run's finish
    start: float  # publish to the run's row (the tick)
    first_batch: float  # publish to the first batch done
    batches: int
    claims: int  # more than batches: a batch was claimed again (a lease ran out)
    task_times: dict[str, list[float]] = field(default_factory=dict)
    memory: list[tuple[str, float, float]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.targeted / self.seconds if self.seconds else 0.0

    @property
    def sent_rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def publish_and_wait(name: str, campaign, expect: int, ws: Workers) -> Figures:  # type: ignore[no-untyped-def]
    """Publish, wait for the run to be done (sending the beat's tick every period as beat would),
    check the ledger and the events, and collect the figures."""
    from django.conf import settings
    from django.db import connection
    from django.db.models import Max, Min, Sum
    from django.utils import timezone

    from campaigns.services import campaign_publish
    from channels.models import Batch, Run, RunStatus
    from channels.tasks import tick

    published = timezone.now()
    started = time.monotonic()
    next_tick = started + settings.HERALD_DISPATCH_TICK
    campaign_publish(actor=bench_admin(), campaign_id=campaign.pk)
    run = None
    while True:
        run = Run.objects.filter(campaign=campaign).first()
        if run is not None and run.status in (RunStatus.DONE, RunStatus.STOPPED):
            break
        now = time.monotonic()
        if now > started + RUN_TIMEOUT:
            raise RuntimeError(f"{name}: not done after {RUN_TIMEOUT:.0f} s")
        if any(proc.poll() is not None for proc in ws.procs):
            raise RuntimeError(f"{name}: a worker exited")
        if now >= next_tick:
            tick.delay()
            next_tick = now + settings.HERALD_DISPATCH_TICK
        time.sleep(0.05)
    assert run.status == RunStatus.DONE, run.status
    batches = Batch.objects.filter(run=run).aggregate(
        first=Min("finished_at"), n=Max("seq"), claims=Sum("attempts")
    )
    totals = run.totals
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM channels_delivery WHERE run_id = %s", [run.pk])
        ledger = cur.fetchone()[0]
        # Every event carries the campaign's labels (none: NULL).
        cur.execute(
            "SELECT count(*) FROM audience_event WHERE campaign_id = %s AND name = %s "
            "AND label_ids IS NOT DISTINCT FROM %s::integer[]",
            [campaign.pk, "Notification Sent", sorted(label.pk for label in LABELS) or None],
        )
        events = cur.fetchone()[0]
    assert run.targeted == expect, (run.targeted, expect)
    assert ledger == expect, f"{name}: ledger has {ledger:,} rows, expected {expect:,}"
    assert events == totals["sent"], f"{name}: {events:,} events for {totals['sent']:,} sent"
    return Figures(
        name=name,
        targeted=run.targeted,
        sent=totals["sent"],
        dropped=totals["dropped"],
        failed=totals["failed_reasons"],
        seconds=(run.finished_at - published).total_seconds(),
        start=(run.created_at - published).total_seconds(),
        first_batch=(batches["first"] - published).total_seconds(),
        batches=batches["n"] or 0,
        claims=batches["claims"] or 0,
    )


def report_run(figures: Figures, *, target: str = "", unit: str = "recipients") -> None:
    print(f"\n{figures.name}: {figures.targeted:,} recipients, {figures.batches} batches")
    rate = figures.rate if unit == "recipients" else figures.sent_rate
    print(
        f"  {figures.seconds:.2f} s from publish to the run done: {rate:,.0f} {unit}/s"
        + (f" ({target})" if target else "")
    )
    print(
        f"  sent {figures.sent:,}, dropped {figures.dropped or {}}, failed {figures.failed or {}}"
    )
    print(
        f"  split: publish -> run created (the tick) {figures.start:.2f} s; publish -> first batch "
        f"done {figures.first_batch:.2f} s; batch claims {figures.claims} for {figures.batches}"
    )
    for task, times in sorted(figures.task_times.items()):
        if task.startswith("channels.tasks.") and times:
            per = (
                f", {1e6 * sum(times) / figures.targeted:.1f} µs/recipient"
                if task.endswith("send_batch")
                else ""
            )
            print(
                f"  {task.removeprefix('channels.tasks.')}: {len(times)} tasks, "
                f"{sum(times):.2f} s in all, median {statistics.median(times):.3f} s{per}"
            )
    for label, hwm, rss in figures.memory:
        print(f"  {label}: peak RSS {hwm:.0f} MiB (RSS now {rss:.0f} MiB)")


def run_part(ws: Workers, name: str, campaign, expect: int) -> Figures:  # type: ignore[no-untyped-def]
    before = ws.task_times()
    figures = publish_and_wait(name, campaign, expect, ws)
    time.sleep(0.3)  # the last task's log line
    after = ws.task_times()
    figures.task_times = {k: v[len(before.get(k, [])) :] for k, v in after.items()}
    figures.memory = ws.memory()
    return figures


# ---------------------------------------------------------------------------------------------
# The naive baseline
# ---------------------------------------------------------------------------------------------
def naive_baseline(ws: Workers, sample: int) -> tuple[float, float]:
    """Recipients/s with one task per recipient (ORM insert + record_notification_sent), and the
    seconds spent queueing the tasks."""
    from celery import current_app
    from django.db import connection
    from django.utils import timezone

    from bench.dispatchlib.naive import naive_send
    from channels import scheduler
    from channels.models import Run, RunStatus

    campaign = make_campaign("naive baseline", "email", who_first(sample, sample), email_what())
    run = Run.objects.create(
        campaign=campaign,
        kind="api",
        status=RunStatus.SENDING,
        scheduled_for=timezone.now(),
        snapshot=scheduler.snapshot_of(campaign),
        resolved=True,
        targeted=sample,
    )
    # Queued first on a queue nobody consumes, then the workers are told to take it: the clock
    # measures the workers, not this process's publishing.
    started = time.monotonic()
    with current_app.producer_or_acquire() as producer:
        for pid in range(1, sample + 1):
            naive_send.apply_async((run.pk, pid), queue=NAIVE_QUEUE, producer=producer)
    queued = time.monotonic() - started
    started = time.monotonic()
    current_app.control.add_consumer(NAIVE_QUEUE, reply=True, timeout=5.0)
    while True:
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM channels_delivery WHERE run_id = %s", [run.pk])
            done = cur.fetchone()[0]
        if done >= sample:
            break
        if time.monotonic() > started + RUN_TIMEOUT:
            raise RuntimeError(f"naive baseline: {done} of {sample} after {RUN_TIMEOUT:.0f} s")
        if any(proc.poll() is not None for proc in ws.procs):
            raise RuntimeError("naive baseline: a worker exited")
        time.sleep(0.05)
    return sample / (time.monotonic() - started), queued


# ---------------------------------------------------------------------------------------------
# In-process profile of the batch task
# ---------------------------------------------------------------------------------------------
def profile_batches(args: argparse.Namespace) -> None:
    """Resolve a run of N recipients here and work its batches with pipeline.send_batch: a wall
    clock around each phase for all batches but the last two, cProfile for those."""
    from django.db import connection, transaction
    from django.utils import timezone

    from audience import partitions
    from channels import pipeline, render, scheduler
    from channels.models import Batch

    n = min(args.profile, args.profiles)
    campaign = make_campaign("profile", "email", who_first(n, args.profiles), email_what())
    with transaction.atomic():
        run = scheduler.create_run(campaign, kind="api", scheduled_for=timezone.now())
    flush_broker(redis_url(args.redis_db))  # nobody takes the tasks the commit queued
    scheduler.resolve(run.pk)
    flush_broker(redis_url(args.redis_db))
    ids = list(Batch.objects.filter(run=run).order_by("seq").values_list("pk", flat=True))
    spent: dict[str, float] = defaultdict(float)
    rows: dict[str, int] = defaultdict(int)

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[name] += time.perf_counter() - t

        return wrapper

    def copy_rows(table: str, columns: Any, lines: Any) -> None:
        t0 = time.perf_counter()
        buffer = io.StringIO()
        buffer.writelines(lines)
        size = buffer.tell()
        buffer.seek(0)
        t1 = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)
            rows[table] += cursor.cursor.rowcount
        t2 = time.perf_counter()
        spent[f"  format {table} lines (in copy_rows)"] += t1 - t0
        spent[f"  COPY {table} (PostgreSQL)"] += t2 - t1
        rows[f"{table} bytes"] += size

    statements: dict[str, list[float]] = defaultdict(list)

    def statement_timer(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements[" ".join(sql.split())[:90]].append(time.perf_counter() - t)

    originals = {
        name: getattr(pipeline, name)
        for name in (
            "claim",
            "fence",
            "decide",
            "_load_recipients",
            "_over_cap",
            "_context",
            "deliver",
            "write_ledger",
            "write_sent_events",
            "copy_rows",
            "_add_counts",
            "_done",
            "adapter_for",
        )
    }
    choose, render_one = render.Plan.choose, render.Plan.render
    ensure_for = partitions.ensure_for
    labels = {
        "claim": "claim (UPDATE ... RETURNING)",
        "fence": "fence (lease UPDATE, inflight_ids)",
        "decide": "decide (all of it)",
        "_load_recipients": "  load profiles (SELECT ... ANY)",
        "_over_cap": "  frequency caps",
        "_context": "  _context",
        "deliver": "deliver (dry-run adapter)",
        "write_ledger": "write_ledger (all of it)",
        "write_sent_events": "write_sent_events (all of it)",
        "_add_counts": "_add_counts (SELECT FOR UPDATE + UPDATE)",
        "_done": "_done (batch done, run count)",
        "adapter_for": "adapter_for (ProviderConfig lookup)",
    }
    try:
        for name, fn in originals.items():
            if name != "copy_rows":
                setattr(pipeline, name, timed(labels[name], fn))
        pipeline.copy_rows = copy_rows
        render.Plan.choose = timed("  Plan.choose", choose)
        render.Plan.render = timed("  Plan.render (templates)", render_one)
        partitions.ensure_for = timed("  partitions.ensure_for", ensure_for)
        pipeline.send_batch(ids[0])  # warm-up: imports, compiled templates, connection
        spent.clear()
        rows.clear()
        timed_ids, profiled_ids = ids[1:-2], ids[-2:]
        started = time.perf_counter()
        with connection.execute_wrapper(statement_timer):
            for pk in timed_ids:
                pipeline.send_batch(pk)
        wall = time.perf_counter() - started
    finally:
        for name, fn in originals.items():
            setattr(pipeline, name, fn)
        render.Plan.choose, partitions.ensure_for = choose, ensure_for
        render.Plan.render = render_one
    recipients = sum(
        len(p) for p in Batch.objects.filter(pk__in=timed_ids).values_list("profile_ids", flat=True)
    )
    print(
        f"\nprofile: {len(timed_ids)} batches, {recipients:,} recipients in process, "
        f"{wall:.2f} s = {1e6 * wall / recipients:.1f} µs/recipient "
        f"({recipients / wall:,.0f} recipients/s for one process)"
    )
    print(f"  {'phase':<48} {'s':>7} {'µs/recipient':>13} {'share':>6}")
    for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(
            f"  {name:<48} {seconds:7.2f} {1e6 * seconds / recipients:13.1f} "
            f"{100 * seconds / wall:5.0f}%"
        )
    for table in ("channels_delivery", "audience_event"):
        if rows[table]:
            print(
                f"  COPY {table}: {rows[table]:,} rows, "
                f"{rows[f'{table} bytes'] / rows[table]:.0f} bytes a row, "
                f"{rows[table] / spent[f'  COPY {table} (PostgreSQL)']:,.0f} rows/s"
            )
    print("  SQL statements (besides COPY) by total time:")
    for sql, times in sorted(statements.items(), key=lambda kv: -sum(kv[1]))[:10]:
        print(
            f"    {sum(times):6.2f} s {len(times):5d}x {1e3 * statistics.median(times):7.2f} ms  {sql}"
        )
    profiler = cProfile.Profile()
    profiler.enable()
    for pk in profiled_ids:
        pipeline.send_batch(pk)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime")
    stats.print_stats(25)
    print(f"\ncProfile of the last {len(profiled_ids)} batches, by own time:")
    print("\n".join("  " + line for line in out.getvalue().splitlines()[4:]))


# ---------------------------------------------------------------------------------------------
def main() -> None:
    from campaign_list import configure_environment, ensure_database

    args = parse_args()
    bench_db = configure_environment("_bench_dispatch")
    ensure_database(bench_db)
    os.environ.update(base_env(args))
    import django

    django.setup()
    for module in args.imports:
        importlib.import_module(module)
    parts = set(args.only.split(","))
    load(args.profiles, args.reload)
    reset()
    LABELS[:] = bench_labels(args.labels)
    command = (
        f"python bench/dispatch.py --profiles {args.profiles} --small {args.small} "
        f"--naive {args.naive} --email {args.email} --webhook {args.webhook} --batch {args.batch} "
        f"--pool {args.pool} --labels {args.labels} --only {args.only}"
        + (f" --profile {args.profile}" if args.profile else "")
        + "".join(f" --import {module}" for module in args.imports)
    )
    print(f"\ncommand: {command}")
    print(
        f"{args.profiles:,} profiles ({NO_EMAIL:.0%} without e-mail, {OPTED_OUT:.0%} opted out), "
        f"batches of {args.batch:,}, {args.labels} labels on each campaign, two workers "
        f"({args.pool}), {os.cpu_count()} CPUs"
    )
    tmp = Path(tempfile.mkdtemp(prefix="herald-bench-dispatch-"))

    def interrupted(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, interrupted)
    results: dict[str, Any] = {}
    try:
        if "small" in parts and args.small < args.profiles:
            with workers(args, tmp, "small") as ws:
                campaign = make_campaign(
                    "dry run, small", "email", who_first(args.small, args.profiles), email_what()
                )
                results["small"] = run_part(ws, "dry-run e-mail, small N", campaign, args.small)
                report_run(results["small"])
        if "full" in parts or "naive" in parts:
            with workers(args, tmp, "full") as ws:
                if "full" in parts:
                    campaign = make_campaign(
                        "dry run, all",
                        "email",
                        who_first(args.profiles, args.profiles),
                        email_what(),
                    )
                    results["full"] = run_part(ws, "dry-run e-mail, all N", campaign, args.profiles)
                    report_run(results["full"], target="target: 1,000,000 in < 20 s")
                if "naive" in parts and args.naive:
                    rate, queued = naive_baseline(ws, args.naive)
                    results["naive"] = rate
                    print(
                        f"\nnaive baseline, one task per recipient (ORM insert + "
                        f"record_notification_sent), {args.naive:,} recipients, same workers: "
                        f"{rate:,.0f} recipients/s (queueing the tasks took {queued:.2f} s)"
                    )
                    own = ws.task_times().get(NAIVE_TASK, [])
                    if own:
                        print(
                            f"  task time in the workers: median {1e3 * statistics.median(own):.1f}"
                            f" ms, {sum(own):.1f} s in all"
                        )
                    if "full" in results:
                        print(f"  pipeline / naive: {results['full'].rate / rate:.0f}x")
        if "email" in parts and args.email:
            if not Path("/usr/sbin/smtp-sink").exists():
                print("\ne-mail through smtp-sink: skipped, install Debian's postfix for it")
            else:
                with smtp_sink(tmp) as port:
                    env = {
                        "HERALD_EMAIL_PROVIDER": "django",
                        "EMAIL_URL": f"smtp://127.0.0.1:{port}",
                    }
                    with workers(args, tmp, "email", **env) as ws:
                        campaign = make_campaign(
                            "smtp", "email", who_first(args.email, args.profiles), email_what()
                        )
                        results["email"] = run_part(
                            ws, "e-mail, EmailAdapter to smtp-sink", campaign, args.email
                        )
                        report_run(results["email"], target="target >= 2,000/s", unit="e-mails")
        if "webhook" in parts and args.webhook:
            if not Path("/usr/sbin/nginx").exists():
                print("\nwebhooks to nginx: skipped, install Debian's nginx for it")
            else:
                with nginx(tmp) as port, workers(args, tmp, "webhook") as ws:
                    campaign = make_campaign(
                        "webhook",
                        "webhook",
                        who_first(args.webhook, args.profiles),
                        webhook_what(port),
                    )
                    results["webhook"] = run_part(
                        ws, "webhooks, WebhookAdapter to nginx (204)", campaign, args.webhook
                    )
                    report_run(results["webhook"], unit="webhooks")
        if args.profile:
            profile_batches(args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    summary(args, results)


def summary(args: argparse.Namespace, results: dict[str, Any]) -> None:
    if not results:
        return
    print("\nsummary")
    for key, title in (("small", "dry run, small N"), ("full", "dry run, all N")):
        if key in results:
            f = results[key]
            peak = max((hwm for _, hwm, _ in f.memory), default=0.0)
            print(
                f"  {title:<22} {f.targeted:>9,} in {f.seconds:6.2f} s  {f.rate:>9,.0f} recipients/s"
                f"  worst worker peak RSS {peak:.0f} MiB"
            )
    if "naive" in results:
        line = f"  {'naive baseline':<22} {args.naive:>9,}            {results['naive']:>9,.0f} recipients/s"
        if "full" in results:
            line += f"  (pipeline {results['full'].rate / results['naive']:.0f}x)"
        print(line)
    for key, unit in (("email", "e-mails/s"), ("webhook", "webhooks/s")):
        if key in results:
            f = results[key]
            print(f"  {key:<22} {f.sent:>9,} in {f.seconds:6.2f} s  {f.sent_rate:>9,.0f} {unit}")


if __name__ == "__main__":
    main()
