"""The audience at scale: ingestion through the batch API, segment queries and the estimate over
1,000,000 profiles and 10,000,000 events.

It measures, each with its baseline in the same run:
- ingestion: events/s through POST /api/v1/ingest/events/ in batches of 1,000 (the server's time,
  in process: DRF parsing, per-record validation, the bulk insert), against one ORM insert per
  event on a sample;
- "did event E at least 2 times in the last 30 days AND property P = v" (target < 2 s);
- "was sent a campaign labelled X in the last 30 days" (target < 1 s);
- the campaign editor's estimate for the first of them (target < 1 s), through its endpoint;
the two segment queries also with index scans switched off (the un-indexed plan), and prints the
plans (EXPLAIN ANALYZE) that produce the figures.

    make bench            # or: python bench/audience.py [--profiles N] [--events N] [--repeat N]

The data lives in its own database (`<name>_bench_audience` beside DATABASE_URL's), loaded once with
COPY and reused while its size matches; --reload rebuilds it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EVENT_MIX = [  # name, weight
    ("App Launched", 45),
    ("Product Viewed", 25),
    ("Added to Cart", 8),
    ("Charged", 4),
    ("Pricing Viewed", 6),
    ("Notification Sent", 10),
    ("Notification Clicked", 2),
]
PLANS = ["free", "free", "free", "pro", "premium"]
COUNTRIES = ["IN", "US", "GB", "DE", "BR", "ID", "FR", "ES"]
LABELS = 40  # label ids 1..LABELS on Notification Sent events
CAMPAIGNS = 200
DAYS = 90
WARMUP = 3  # ingestion batches sent before the clock starts
SEGMENT_E = {
    "type": "group",
    "match": "all",
    "conditions": [
        {
            "type": "event",
            "event": "Charged",
            "count": {"op": "gte", "value": 2},
            "window": {"last_days": 30},
        },
        {"type": "property", "property": "plan", "op": "eq", "value": "pro"},
    ],
}
SEGMENT_LABEL = {
    "type": "group",
    "match": "all",
    "conditions": [{"type": "label_sent", "label_id": 7, "window": {"last_days": 30}}],
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per query")
    parser.add_argument("--batches", type=int, default=60, help="ingestion batches of 1,000")
    parser.add_argument("--reload", action="store_true", help="rebuild the bench database")
    parser.add_argument("--load-only", action="store_true", help="load the data, measure nothing")
    return parser.parse_args()


class LineStream(io.RawIOBase):
    """A file COPY reads from, filled line by line by a generator: a million rows never sit in
    memory at once."""

    def __init__(self, lines) -> None:  # type: ignore[no-untyped-def]
        self._lines = iter(lines)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:  # type: ignore[no-untyped-def]
        while len(self._buffer) < len(target):
            chunk = "".join(line for _, line in zip(range(2000), self._lines, strict=False))
            if not chunk:
                break
            self._buffer += chunk.encode()
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


# The columns of a profile line (profile_lines here, and bench/dispatch.py's).
PROFILE_COLUMNS = [
    "id",
    "identity",
    "email",
    "phone",
    "timezone",
    "properties",
    "email_consent",
    "sms_consent",
    "whatsapp_consent",
    "created_at",
    "updated_at",
]


def copy(cursor, table: str, columns: list[str], lines) -> None:  # type: ignore[no-untyped-def]
    quoted = ", ".join(f'"{c}"' for c in columns)
    cursor.copy_expert(f"COPY {table} ({quoted}) FROM STDIN", io.BufferedReader(LineStream(lines)))


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def profile_lines(count: int, now: dt.datetime):  # type: ignore[no-untyped-def]
    rng = random.Random(1)
    for i in range(1, count + 1):
        plan = rng.choice(PLANS)
        props = {
            "plan": plan,
            "country": rng.choice(COUNTRIES),
            "age": rng.randint(18, 70),
            "signup_date": (now - dt.timedelta(days=rng.randint(0, 900))).date().isoformat(),
        }
        email = f"user{i}@example.com" if rng.random() < 0.9 else ""
        phone = f"+1555{i:07d}" if rng.random() < 0.6 else ""
        consent = rng.choice(["opted_in", "opted_in", "unknown", "opted_out"])
        sms = rng.choice(["opted_in", "unknown", "opted_out"])
        yield (
            f"{i}\tu{i}\t{email}\t{phone}\tUTC\t{_esc(json.dumps(props))}\t{consent}\t{sms}"
            f"\tunknown\t{now.isoformat()}\t{now.isoformat()}\n"
        )


def event_lines(count: int, profiles: int, now: dt.datetime):  # type: ignore[no-untyped-def]
    rng = random.Random(2)
    names = [name for name, _ in EVENT_MIX]
    weights = [w for _, w in EVENT_MIX]
    start = now - dt.timedelta(days=DAYS)
    span = DAYS * 86400
    for i in range(1, count + 1):
        name = rng.choices(names, weights)[0]
        # Active users do most things: a skewed choice of profile.
        profile = int(profiles * (rng.random() ** 2)) + 1
        ts = start + dt.timedelta(seconds=rng.random() * span)
        campaign, labels, props = "\\N", "\\N", "{}"
        if name == "Charged":
            props = json.dumps({"amount": rng.randint(5, 500)})
        elif name.startswith("Notification"):
            c = rng.randint(1, CAMPAIGNS)
            campaign = str(c)
            ids = sorted({(c % LABELS) + 1, rng.randint(1, LABELS)})
            labels = "{" + ",".join(map(str, ids)) + "}"
            props = json.dumps({"campaign_id": c, "channel": "push", "labels": ids})
        yield (
            f"{i}\t{profile}\t{name}\t{ts.isoformat()}\t{_esc(props)}\t{campaign}\t{labels}"
            f"\t{now.isoformat()}\n"
        )


def load(profiles: int, events: int, reload: bool) -> None:
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM audience_profile")
        have_profiles = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM audience_event")
        have_events = cur.fetchone()[0]
    if not reload and have_profiles == profiles and have_events >= events:
        return
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    print(f"loading {profiles:,} profiles and {events:,} events with COPY ...", flush=True)
    with connection.cursor() as cur:
        cur.execute("TRUNCATE audience_event, audience_device, audience_profile CASCADE")
        started = time.perf_counter()
        copy(
            cur,
            "audience_profile",
            PROFILE_COLUMNS,
            profile_lines(profiles, now),
        )
        cur.execute("SELECT setval('audience_profile_id_seq', %s)", [profiles])
        print(f"  profiles in {time.perf_counter() - started:.1f} s", flush=True)
        cur.execute(
            "INSERT INTO audience_propertydefinition (name, type, created_at) VALUES "
            "('plan', 'string', now()), ('country', 'string', now()), ('age', 'number', now()), "
            "('signup_date', 'date', now()) ON CONFLICT (name) DO NOTHING"
        )
        started = time.perf_counter()
        copy(
            cur,
            "audience_event",
            [
                "id",
                "profile_id",
                "name",
                "ts",
                "properties",
                "campaign_id",
                "label_ids",
                "created_at",
            ],
            event_lines(events, profiles, now),
        )
        print(f"  events in {time.perf_counter() - started:.1f} s", flush=True)
        cur.execute("SELECT setval(pg_get_serial_sequence('audience_event', 'id'), %s)", [events])
        started = time.perf_counter()
        # VACUUM too: a freshly loaded table has no visibility map, so index-only scans would
        # still visit the heap.
        cur.execute("VACUUM (ANALYZE) audience_profile")
        cur.execute("VACUUM (ANALYZE) audience_event")
        print(f"  vacuumed and analyzed in {time.perf_counter() - started:.1f} s", flush=True)


def bench_user():  # type: ignore[no-untyped-def]
    """The Admin the bench signs in as (the estimate) and creates the ingest key with."""
    from django.contrib.auth.models import Group, User

    user, _ = User.objects.get_or_create(
        username="bench-admin@herald.local", defaults={"email": "bench-admin@herald.local"}
    )
    user.groups.add(Group.objects.get_or_create(name="Admin")[0])
    return user


def timed(fn, repeat: int) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times), result


def explain(sql: str, params: list) -> str:  # type: ignore[type-arg]
    from audience.segments import evaluation_cursor

    with evaluation_cursor(timeout_ms=None) as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
        return "\n".join("    " + row[0] for row in cur.fetchall())


def count_sql(sql: str, params: list, *, indexes: bool = True) -> int:  # type: ignore[type-arg]
    """Count the profiles a compiled Who selects, with the settings the engine plans for
    (audience.segments.evaluation_cursor): what the estimate and the dispatch pipeline run."""
    from audience.segments import evaluation_cursor

    with evaluation_cursor(timeout_ms=None) as cur:
        if not indexes:
            cur.execute("SET LOCAL enable_indexscan = off")
            cur.execute("SET LOCAL enable_bitmapscan = off")
            cur.execute("SET LOCAL enable_indexonlyscan = off")
        cur.execute(f"SELECT count(*) FROM ({sql}) AS matched", params)  # noqa: S608
        return cur.fetchone()[0]


def bench_segments(repeat: int) -> list[tuple[str, float, float, float, str]]:
    from audience.segments import compile_who

    rows = []
    for title, who, target in (
        ("did Charged >= 2 times in 30 days AND plan = pro", SEGMENT_E, 2000.0),
        ("was sent a campaign labelled #7 in 30 days", SEGMENT_LABEL, 1000.0),
    ):
        sql, params = compile_who(who)
        p50, worst, count = timed(lambda sql=sql, params=params: count_sql(sql, params), repeat)
        base50, _, base_count = timed(
            lambda sql=sql, params=params: count_sql(sql, params, indexes=False), 1
        )
        assert base_count == count, (base_count, count)
        print(f"\n{title}: {count:,} profiles")
        print(f"  p50 {p50:.0f} ms, worst {worst:.0f} ms (target < {target:.0f} ms)")
        print(f"  baseline, index scans off: {base50:.0f} ms ({base50 / p50:.1f}x)")
        print("  plan:\n" + explain(f"SELECT count(*) FROM ({sql}) AS matched", params))  # noqa: S608
        rows.append((title, p50, worst, target, f"{base50:.0f}"))
    return rows


def bench_estimate(repeat: int) -> tuple[float, float]:
    from django.test import Client

    client = Client()
    client.force_login(bench_user())
    body = json.dumps({"who": SEGMENT_E})

    def call() -> int:
        response = client.post("/api/v1/audience/estimate/", body, content_type="application/json")
        assert response.status_code == 200, response.content[:300]
        return response.json()["total"]

    p50, worst, total = timed(call, repeat)
    print(f"\nestimate (campaign editor) for the first segment: {total:,} people")
    print(f"  p50 {p50:.0f} ms, worst {worst:.0f} ms (target < 1000 ms)")
    return p50, worst


def bench_ingestion(batches: int) -> tuple[float, float]:
    """Events/s through the API, and one ORM insert per event on a sample, in the same run."""
    from django.db import connection
    from django.test import Client

    from audience.models import IngestKey

    key = "hk_bench_" + "k" * 32
    IngestKey.objects.get_or_create(
        digest=hashlib.sha256(key.encode()).hexdigest(),
        defaults={"name": "bench", "prefix": key[:8], "created_by": bench_user()},
    )
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    rng = random.Random(3)
    now = dt.datetime.now(dt.UTC)
    bodies = []
    for b in range(batches):
        records = [
            {
                "identity": f"u{rng.randint(1, 1_000_000)}",
                "name": rng.choice(["App Launched", "Product Viewed", "Charged"]),
                "ts": (now - dt.timedelta(seconds=rng.randint(0, 86400))).isoformat(),
                "properties": {"amount": rng.randint(1, 99), "source": "bench"},
                "record_id": f"bench-{time.time_ns()}-{b}-{i}",
            }
            for i in range(1000)
        ]
        bodies.append(json.dumps({"records": records}))

    def send(body: str) -> None:
        response = client.post("/api/v1/ingest/events/", body, content_type="application/json")
        assert response.status_code == 200, response.content[:300]
        assert not response.json()["rejected"], response.json()["rejected"][:3]

    # Warm-up, untimed: the first request imports the views and fills the caches.
    for body in bodies[:WARMUP]:
        send(body)
    started = time.perf_counter()
    for body in bodies[WARMUP:]:
        send(body)
    api_rate = (batches - WARMUP) * 1000 / (time.perf_counter() - started)

    # Baseline: one ORM insert (one round trip) per event.
    from audience.models import Event

    sample = 2000
    started = time.perf_counter()
    for i in range(sample):
        Event.objects.create(
            id=20_000_000 + i,
            profile_id=rng.randint(1, 1000),
            name="App Launched",
            ts=now,
            properties={"source": "bench-orm"},
            created_at=now,
        )
    orm_rate = sample / (time.perf_counter() - started)
    with connection.cursor() as cur:
        cur.execute("DELETE FROM audience_event WHERE properties->>'source' LIKE 'bench%%'")
    return api_rate, orm_rate


def main() -> None:
    # The bench's own folder is on the path when it runs as a script (as labels.py does).
    from campaign_list import configure_environment, ensure_database

    args = parse_args()
    bench_db = configure_environment("_bench_audience")
    ensure_database(bench_db)
    import django

    django.setup()
    load(args.profiles, args.events, args.reload)
    if args.load_only:
        return
    command = (
        f"python bench/audience.py --profiles {args.profiles} --events {args.events} "
        f"--repeat {args.repeat} --batches {args.batches}"
    )
    print(f"\ncommand: {command}")
    print(f"{args.profiles:,} profiles, {args.events:,} events over {DAYS} days")
    api_rate, orm_rate = bench_ingestion(args.batches)
    print(
        f"\ningestion: {api_rate:,.0f} events/s through the batch API "
        f"({args.batches - WARMUP} x 1,000 after {WARMUP} untimed)"
    )
    print(f"  target >= 20,000 events/s; baseline one ORM insert per event: {orm_rate:,.0f}/s")
    print(f"  ({api_rate / orm_rate:.0f}x)")
    rows = bench_segments(args.repeat)
    est50, est_worst = bench_estimate(args.repeat)
    print("\nsummary")
    print(f"  ingestion        {api_rate:>10,.0f} events/s  (target >= 20,000)")
    for title, p50, worst, target, base in rows:
        print(
            f"  {title[:44]:44} p50 {p50:6.0f} ms  worst {worst:6.0f}  (< {target:.0f}; "
            f"no index {base} ms)"
        )
    print(f"  estimate         p50 {est50:6.0f} ms  worst {est_worst:6.0f}  (< 1000)")


if __name__ == "__main__":
    main()
