"""`make run`: Herald on this machine with everything it needs, until Ctrl-C.

1. PostgreSQL and Redis: those DATABASE_URL and REDIS_URL name, else embedded ones (services.py).
2. migrate and seed_demo, in this process.
3. The web server (runserver on 127.0.0.1:$PORT, 8000 by default), a Celery worker and Celery beat
   as child processes, their output prefixed with their names.

Ctrl-C (SIGINT), SIGTERM or SIGHUP stops the children, then the embedded servers, and exits 0.
When a child dies by itself, everything is stopped the same way and the exit code is 1.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import services

ROOT = services.ROOT
BEAT_SCHEDULE = services.DATA / "celerybeat-schedule"
STOP_TIMEOUT = 15.0  # a Celery worker's warm shutdown finishes the task in hand
_output_lock = threading.Lock()


def say(message: str) -> None:
    with _output_lock:
        print(f"[run] {message}", flush=True)


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    pump: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> None:
        # A session of its own: the terminal's Ctrl-C reaches only run.py, which then stops the
        # children in order (and whole process groups: runserver's reloader, Celery's pool).
        self.proc = subprocess.Popen(  # noqa: S603
            self.argv,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=services.die_with_parent,
        )

    def start_pump(self) -> None:
        self.pump = threading.Thread(target=self._copy_output, name=self.name, daemon=True)
        self.pump.start()

    def _copy_output(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        prefix = f"{self.name:<6} | ".encode()
        for line in iter(self.proc.stdout.readline, b""):
            with _output_lock:
                sys.stdout.buffer.write(prefix + line)
                sys.stdout.buffer.flush()

    def signal_group(self, signum: int) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, signum)
        except ProcessLookupError:
            pass  # the whole group has exited already


class StopRequest:
    """Turns SIGINT, SIGTERM and SIGHUP into a flag the main loop checks, so that stopping happens
    in one place and in order, never in the middle of starting something."""

    def __init__(self) -> None:
        self.event = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: object) -> None:
        if not self.event.is_set():
            print(f"\n[run] {signal.Signals(signum).name}: stopping everything", flush=True)
        self.event.set()

    def wait(self, seconds: float) -> bool:
        return self.event.wait(seconds)

    def __bool__(self) -> bool:
        return self.event.is_set()


def prepare_database() -> list[tuple[str, str, str]]:
    """Migrate and seed the demo data; return the demo logins as (role, e-mail, password)."""
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command
    from django.db import connections

    django.setup()
    call_command("migrate", interactive=False, verbosity=1)
    call_command("seed_demo")
    connections.close_all()  # the children open their own
    from campaigns.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERS

    return [(role.value, email, DEMO_PASSWORD) for email, role, _first, _last in DEMO_USERS]


def children(port: str) -> list[Child]:
    python = sys.executable
    return [
        Child("web", [python, "manage.py", "runserver", f"127.0.0.1:{port}"]),
        Child(
            "beat",
            [
                python,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                # Beat would say so at every dispatch tick (every few seconds).
                "-l",
                "warning",
                "-s",
                str(BEAT_SCHEDULE),
            ],
        ),
        Child("worker", [python, "-m", "celery", "-A", "config", "worker", "-l", "info"]),
    ]


def wait_for_port(port: int, web: Child, stop: StopRequest, timeout: float = 60.0) -> bool:
    assert web.proc is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop and web.proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            stop.wait(0.2)
    return False


def banner(port: str, logins: list[tuple[str, str, str]]) -> None:
    url = f"http://127.0.0.1:{port}/"
    lines = [
        "",
        f"Herald is running at {url}",
        "Demo logins:",
        *(f"    {role:<9} {email:<24} password: {password}" for role, email, password in logins),
        f"API docs: {url}api/docs/    Django admin: {url}admin/",
        "Ctrl-C stops everything.",
        "",
    ]
    with _output_lock:
        print("\n".join(lines), flush=True)


def supervise(procs: list[Child], stop: StopRequest) -> int:
    """Wait for a stop request (0) or for a child to die (1)."""
    while not stop.wait(0.5):
        for child in procs:
            assert child.proc is not None
            code = child.proc.poll()
            if code is not None:
                say(f"{child.name} exited with code {code}: stopping everything")
                return 1
    return 0


def stop_all(procs: list[Child]) -> None:
    """SIGTERM every child's process group, wait, then SIGKILL whatever is left."""
    started = [child for child in procs if child.proc is not None]
    for child in started:
        child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in started:
        assert child.proc is not None
        try:
            child.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"{child.name} did not stop in {STOP_TIMEOUT:.0f}s: killing it")
        # Also reaps what the leader left behind in its group (pool processes, reloader child).
        child.signal_group(signal.SIGKILL)
        child.proc.wait()
        if child.pump is not None:
            child.pump.join(timeout=2)
    say("web, worker and beat stopped")


# Every channel (campaigns.choices.Channel), not imported: this script runs before Django is set up.
DEMO_DRY_RUN = (
    "push in_app app_inbox email web_push web_popup web_exit_intent native_display "
    "web_native_display webhook sms whatsapp facebook_audience google_ads tiktok_audience partner"
).split()


def main() -> int:
    os.chdir(ROOT)
    stop = StopRequest()
    os.environ["DJANGO_DEBUG"] = "1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["PYTHONUNBUFFERED"] = "1"  # the children's output shows up as it happens
    port = os.environ.get("PORT", "8000")
    # The demo's campaigns send for real through the pipeline (runs, the ledger, Notification
    # Sent), to nobody: channels without a provider configured use the dry-run adapter, and so
    # does e-mail unless a provider or EMAIL_URL says otherwise (docs/dispatch.md).
    os.environ.setdefault("HERALD_DRY_RUN_CHANNELS", ",".join(DEMO_DRY_RUN))
    os.environ.setdefault("HERALD_QUIET_TASK_LOG", "1")
    if "EMAIL_URL" not in os.environ:
        os.environ.setdefault("HERALD_EMAIL_PROVIDER", "")
    if (ROOT / ".env").exists():
        say("note: settings also read .env; the environment and this script's values win over it")
    with services.services("run", persist_redis=True):
        logins = prepare_database()
        if stop:
            return 0
        procs = children(port)
        try:
            # Every child is started before any output thread exists (preexec_fn and threads
            # do not mix), then their output is copied.
            for child in procs:
                child.start()
            for child in procs:
                child.start_pump()
            web = procs[0]
            if wait_for_port(int(port), web, stop):
                banner(port, logins)
            return supervise(procs, stop)
        finally:
            stop_all(procs)


if __name__ == "__main__":
    sys.exit(main())
