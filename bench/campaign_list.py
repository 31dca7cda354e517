"""All Campaigns at scale: the page, the list endpoint and its counts over 100,000 campaigns.

For every filter the page offers (All, each status, each quick filter, each drawer filter alone,
and four drawer filters at once) it measures the server time of the first page of 50 rows: the
dashboard page, the REST list, the REST counts (the chips), and, as the baseline in the same run,
Django admin's changelist on the same filter where the admin can express it. It prints p50/p95
per URL and the number of SQL queries.

    make bench                      # or: python bench/campaign_list.py [--campaigns N] [--repeat N]

The data (100,000 campaigns by 50 creators, 900 labels) lives in its own database (`<name>_bench`
beside DATABASE_URL's), loaded once with COPY and reused while its size matches; --reload rebuilds
it. --only SUBSTRING measures only the cases whose name contains it.
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
from dataclasses import dataclass
from datetime import date, timedelta
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
# The signed-in bench admin is one of them, so "Mine" has campaigns as it would for a marketer.
CREATORS = 50
PAGE_URL = "/campaigns/"
API_URL = "/api/v1/campaigns/"
COUNTS_URL = "/api/v1/campaigns/counts/"
ADMIN_URL = "/admin/campaigns/campaign/"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=100_000)
    parser.add_argument("--labels", type=int, default=900)
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per URL")
    parser.add_argument("--reload", action="store_true", help="rebuild the bench database")
    parser.add_argument("--only", default="", help="measure only cases whose name contains this")
    parser.add_argument(
        "--targets", default="page,api,counts,admin", help="comma-separated subset to measure"
    )
    return parser.parse_args()


def configure_environment(suffix: str = "_bench") -> str:
    """Point Django at the bench database (DATABASE_URL's name + suffix) with production-like
    settings (DEBUG off)."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/herald")
    parts = urlparse(base)
    bench_db = (parts.path.lstrip("/") or "herald") + suffix
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
    if (
        not reload
        and Campaign.objects.count() == campaigns
        and Campaign.objects.order_by().values("created_by").distinct().count() == CREATORS
    ):
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
    for i in range(CREATORS - 1):
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


def cases(today: date, creator: tuple[int, str], label: int, me: int) -> list[Case]:
    """(name, the page/API query, the admin changelist's query or None where it has no match).

    Every case but archived=all keeps archived campaigns out, as the page does by default; the
    admin shows everything unless told, so its query says archived_at__isnull=True.
    """
    live = "archived_at__isnull=True"
    creator_id, creator_email = creator
    month_ago, two_months_ago = today - timedelta(days=30), today - timedelta(days=60)
    out: list[Case] = [Case("All", "", live)]
    out += [Case(f"status={s}", f"status={s}", f"{live}&status__exact={s}") for s in STATUS_WEIGHTS]
    quick_admin = {
        "running": "status__exact=running",
        "scheduled": "status__exact=scheduled",
        "awaiting_approval": "status__exact=pending_approval",
        "mine": f"created_by={me}",
        "drafts": "status__exact=draft",
    }
    out += [Case(f"quick={q}", f"quick={q}", f"{live}&{a}") for q, a in quick_admin.items()]
    out += [
        Case(
            "channel_group=web",
            "channel_group=web",
            f"{live}&channel__in=web_popup,web_exit_intent",
        ),
        Case("type=ab_test", "type=ab_test", f"{live}&type__exact=ab_test"),
        Case("delivery=recurring", "delivery=recurring", f"{live}&delivery__exact=recurring"),
        Case(
            "created_by=<e-mail>", f"created_by={creator_email}", f"{live}&created_by={creator_id}"
        ),
        Case("label=<id>", f"label={label}", f"{live}&labels={label}"),
        Case("q=diwali", "q=diwali", f"{live}&q=diwali"),
        Case(
            "last_active 30-60 days ago",
            f"last_active_after={two_months_ago}&last_active_before={month_ago}",
            # Full timestamps: the admin reads a bare date as a naive datetime (and warns).
            f"{live}&last_active_at__gte={two_months_ago}T00:00:00%2B00:00"
            f"&last_active_at__lt={month_ago}T00:00:00%2B00:00",
        ),
        Case("archived=all", "archived=all", ""),
        Case(
            "four filters",
            f"channel_group=push&type=single_message&created_by={creator_email}&label={label}",
            f"{live}&channel__in=push&type__exact=single_message&created_by={creator_id}"
            f"&labels={label}",
        ),
    ]
    # The sorts the table's headers offer, on the unfiltered list.
    for ordering in ("name", "-status", "created_at"):
        admin_ordering = {"name": "1", "-status": "-5", "created_at": None}[ordering]
        out.append(
            Case(
                f"ordering={ordering}",
                f"ordering={ordering}",
                f"{live}&o={admin_ordering}" if admin_ordering else None,
            )
        )
    return out


@dataclass(frozen=True)
class Case:
    name: str
    query: str
    admin: str | None


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
    from django.utils import timezone

    from labels.models import Label

    load(args.campaigns, args.labels, args.reload)
    admin = User.objects.get(username="bench-admin@herald.local")
    client = Client()
    client.force_login(admin)
    creator = User.objects.get(username="creator7@herald.local")
    label = Label.objects.get(name="Label 042").pk
    today = timezone.localdate()

    print()
    print(
        f"command: python bench/campaign_list.py --campaigns {args.campaigns} --labels {args.labels} "
        f"--repeat {args.repeat}" + (f" --only {args.only}" if args.only else "")
    )
    print(
        f"{args.campaigns:,} campaigns, {args.labels} labels, {CREATORS} creators, 50 rows a page, "
        f"{args.repeat} timed requests each"
    )
    header = f"{'case':<28} {'target':<7} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8} {'status':>7}"
    print(header)
    print("-" * len(header))
    worst: dict[str, float] = {}
    queries_seen: dict[str, set[int]] = {}
    ratios = []
    for case in cases(today, (creator.pk, creator.email), label, admin.pk):
        if args.only and args.only not in case.name:
            continue
        sep = "&" if case.query else ""
        urls = {
            "page": f"{PAGE_URL}?{case.query}",
            "api": f"{API_URL}?{case.query}{sep}page_size=50",
            "counts": f"{COUNTS_URL}?{case.query}",
        }
        if case.admin is not None:
            urls["admin"] = f"{ADMIN_URL}?{case.admin}"
        urls = {t: u for t, u in urls.items() if t in args.targets.split(",")}
        results = {}
        for target, url in urls.items():
            p50, p95, queries, code = measure(client, url, args.repeat)
            results[target] = p50
            worst[target] = max(worst.get(target, 0.0), p95)
            queries_seen.setdefault(target, set()).add(queries)
            print(f"{case.name:<28} {target:<7} {p50:8.1f} {p95:8.1f} {queries:8d} {code:7d}")
        if "admin" in results and results["page"]:
            ratios.append(results["admin"] / results["page"])
    print()
    for target, p95 in worst.items():
        counts = sorted(queries_seen[target])
        print(
            f"{target:<7} worst p95 {p95:6.1f} ms (target < 50 ms), queries "
            f"{counts[0]}{'' if len(counts) == 1 else f'-{counts[-1]}'}"
        )
    if ratios:
        print(
            f"median speed-up of the page over the admin changelist: "
            f"{statistics.median(ratios):.2f}x"
        )


if __name__ == "__main__":
    main()
