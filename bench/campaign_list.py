"""All Campaigns at scale: the page and the list endpoint over 100,000 campaigns and 900 labels.

For each status quick filter (and the archived toggle) it measures the server time of the first page of
50 rows: the dashboard page, the REST endpoint, and, as the baseline in the same run, Django admin's
changelist on the same filter. It prints p50/p95 per URL and the number of SQL queries.

    make bench                      # or: python bench/campaign_list.py [--campaigns N] [--repeat N]

The data lives in its own database (`<name>_bench` beside DATABASE_URL's), loaded once with COPY and
reused while its size matches; --reload rebuilds it.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STATUS_WEIGHTS = {
    "draft": 14,
    "scheduled": 8,
    "awaiting_next_run": 6,
    "running": 12,
    "pending_approval": 4,
    "rejected": 2,
    "stopped": 18,
    "completed": 36,
}
PAGE_URL = "/campaigns/"
API_URL = "/api/v1/campaigns/"
ADMIN_URL = "/admin/campaigns/campaign/"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=100_000)
    parser.add_argument("--labels", type=int, default=900)
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per URL")
    parser.add_argument("--reload", action="store_true", help="rebuild the bench database")
    return parser.parse_args()


def configure_environment() -> str:
    """Point Django at the bench database with production-like settings (DEBUG off)."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/herald")
    parts = urlparse(base)
    bench_db = (parts.path.lstrip("/") or "herald") + "_bench"
    os.environ["DATABASE_URL"] = urlunparse(parts._replace(path="/" + bench_db))
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ["DJANGO_SECRET_KEY"] = "bench-" + "x" * 60
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"
    os.environ["DJANGO_SECURE_SSL_REDIRECT"] = "0"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    return bench_db


def ensure_database(name: str) -> None:
    import psycopg2

    admin_url = urlunparse(urlparse(os.environ["DATABASE_URL"])._replace(path="/postgres"))
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def copy_rows(cursor, table: str, columns: list[str], rows) -> None:  # type: ignore[no-untyped-def]
    buf = io.StringIO()
    for row in rows:
        buf.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
    buf.seek(0)
    quoted = ", ".join(f'"{c}"' for c in columns)
    cursor.copy_expert(f"COPY {table} ({quoted}) FROM STDIN", buf)


def load(campaigns: int, labels: int, reload: bool) -> None:
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection

    from campaigns.choices import CampaignType, Channel, Delivery
    from campaigns.models import Campaign

    call_command("migrate", verbosity=0)
    if not reload and Campaign.objects.count() == campaigns:
        return
    print(f"loading {campaigns:,} campaigns and {labels} labels ...", flush=True)
    started = time.perf_counter()
    rng = random.Random(42)
    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE campaigns_campaign_labels, campaigns_campaignaudit, campaigns_campaign, "
            "labels_label RESTART IDENTITY CASCADE"
        )
    admin, _ = User.objects.get_or_create(
        username="bench-admin@herald.local", defaults={"is_staff": True, "is_superuser": True}
    )
    admin.groups.add(Group.objects.get(name="Admin"))
    creators = [admin]
    for i in range(20):
        user, _ = User.objects.get_or_create(
            username=f"creator{i}@herald.local", email=f"creator{i}@herald.local"
        )
        user.groups.add(Group.objects.get(name="Marketer"))
        creators.append(user)
    statuses = list(STATUS_WEIGHTS)
    weights = list(STATUS_WEIGHTS.values())
    channels, kinds, deliveries = (
        list(Channel.values),
        list(CampaignType.values),
        list(Delivery.values),
    )
    what = '{"message": {"title": "Hello {{ profile.first_name }}", "body": "A message"}}'
    who = '{"type": "group", "match": "all", "conditions": []}'
    when = '{"send": "now"}'
    now = time.time()
    with connection.cursor() as cur:
        copy_rows(
            cur,
            "labels_label",
            ["name", "created_at", "updated_at"],
            (
                (f"Label {i:03d}", "2025-01-01 00:00:00+00", "2025-01-01 00:00:00+00")
                for i in range(labels)
            ),
        )

        def rows():  # type: ignore[no-untyped-def]
            for i in range(campaigns):
                status = rng.choices(statuses, weights)[0]
                ago = rng.uniform(0, 400 * 86400)
                stamp = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(now - ago))
                archived = (
                    stamp
                    if status in ("completed", "stopped", "draft") and ago > 200 * 86400
                    else None
                )
                yield (
                    f"Campaign {i:06d} {rng.choice(['Diwali', 'Summer', 'Onboarding', 'Winback'])}",
                    rng.choice(channels),
                    rng.choice(kinds),
                    rng.choice(deliveries),
                    status,
                    who,
                    what,
                    when,
                    rng.choice(creators).pk,
                    stamp,
                    stamp,
                    stamp,
                    0,
                    archived,
                )

        copy_rows(
            cur,
            "campaigns_campaign",
            [
                "name",
                "channel",
                "type",
                "delivery",
                "status",
                "who",
                "what",
                "when",
                "created_by_id",
                "created_at",
                "updated_at",
                "last_active_at",
                "runs_count",
                "archived_at",
            ],
            rows(),
        )

        def links():  # type: ignore[no-untyped-def]
            for cid in range(1, campaigns + 1):
                for lid in rng.sample(range(1, labels + 1), rng.choice([0, 1, 1, 2, 3])):
                    yield (cid, lid)

        copy_rows(cur, "campaigns_campaign_labels", ["campaign_id", "label_id"], links())
    # As autovacuum would have done by now on a live database: statistics and the visibility map
    # (without the latter, index-only scans still visit the heap).
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    print(f"loaded in {time.perf_counter() - started:.1f} s", flush=True)


def measure(client, url: str, repeat: int) -> tuple[float, float, int, int]:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):  # warm caches and connections
        client.get(url)
    timings = []
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    queries = len(ctx.captured_queries)
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    p95 = timings[min(len(timings) - 1, int(round(0.95 * len(timings))) - 1)]
    return statistics.median(timings), p95, queries, response.status_code


def main() -> None:
    args = parse_args()
    bench_db = configure_environment()
    ensure_database(bench_db)
    import django

    # whitenoise warns that collectstatic has not run; the benchmark serves no static files.
    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()
    from django.conf import settings

    # Production settings, except static files: no collectstatic manifest is needed to measure.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    from django.contrib.auth.models import User
    from django.test import Client

    load(args.campaigns, args.labels, args.reload)
    client = Client()
    client.force_login(User.objects.get(username="bench-admin@herald.local"))

    filters: list[tuple[str, str]] = [("All", "")] + [(s, f"status={s}") for s in STATUS_WEIGHTS]
    filters.append(("Archived", "archived=1"))
    print()
    print(
        f"command: python bench/campaign_list.py --campaigns {args.campaigns} --labels {args.labels} "
        f"--repeat {args.repeat}"
    )
    print(
        f"{args.campaigns:,} campaigns, {args.labels} labels, 50 rows a page, {args.repeat} timed requests each"
    )
    header = f"{'quick filter':<18} {'target':<7} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8} {'status':>7}"
    print(header)
    print("-" * len(header))
    worst = {"page": 0.0, "api": 0.0, "admin": 0.0}
    ratios = []
    for name, query in filters:
        admin_query = query.replace("status=", "status__exact=")
        if query == "archived=1":
            admin_query = "archived_at__isnull=False"
        urls = {
            "page": f"{PAGE_URL}?{query}",
            "api": f"{API_URL}?{query}{'&' if query else ''}page_size=50".replace(
                "archived=1", "archived=true"
            ),
            "admin": f"{ADMIN_URL}?{admin_query}",
        }
        results = {}
        for target, url in urls.items():
            p50, p95, queries, code = measure(client, url, args.repeat)
            results[target] = p50
            worst[target] = max(worst[target], p95)
            print(f"{name:<18} {target:<7} {p50:8.1f} {p95:8.1f} {queries:8d} {code:7d}")
        ratios.append(results["admin"] / results["page"] if results["page"] else 0.0)
    print()
    print(
        f"worst p95: page {worst['page']:.1f} ms, api {worst['api']:.1f} ms, admin changelist {worst['admin']:.1f} ms (target < 50 ms)"
    )
    print(
        f"median speed-up of the page over the admin changelist: {statistics.median(ratios):.2f}x"
    )


if __name__ == "__main__":
    main()
