"""Settings > Labels at scale: the Labels page, the label list endpoint and the CSV export over
100,000 campaigns and 900 labels.

For each URL it measures the server time of whole responses (a streamed export is read to its
end) and prints p50/p95 and the number of SQL queries. The baseline, in the same run, is the naive
way to get the same table: the labels, then one COUNT query per label (901 queries for 900 labels).

    make bench                      # every bench/*.py in turn; or: python bench/labels.py [--repeat N]

It shares bench/campaign_list.py's database (`<name>_bench` beside DATABASE_URL's) and its loader,
so the two benchmarks measure the same data; --reload rebuilds it.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

# The campaign list benchmark's set-up and data, so both measure one database.
from campaign_list import configure_environment, ensure_database, load, parse_args

TARGET_P95_MS = 200.0
# What is measured over HTTP: (name, candidate paths; the first that answers 200 is used).
URLS: list[tuple[str, list[str]]] = [
    ("page, by name", ["/settings/labels/"]),
    ("page, by campaigns desc", ["/settings/labels/?sort=-campaigns"]),
    ("page, search 'Label 1'", ["/settings/labels/?q=Label+1"]),
    ("page export CSV", ["/settings/labels/export/"]),
    ("api list", ["/api/v1/labels/"]),
    ("api list, by campaigns desc", ["/api/v1/labels/?ordering=-campaigns"]),
    ("api export CSV", ["/api/v1/labels/export/"]),
]


def percentiles(timings: list[float]) -> tuple[float, float]:
    """p50 and p95 as bench/campaign_list.py computes them (nearest rank)."""
    ordered = sorted(timings)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * len(ordered))) - 1)]
    return statistics.median(ordered), p95


def fetch(client: Any, url: str) -> tuple[int, int]:
    """GET url and read the whole body, streamed or not, as a browser downloading it would."""
    response = client.get(url)
    if response.streaming:
        size = sum(len(chunk) for chunk in response.streaming_content)
    else:
        size = len(response.content)
    return response.status_code, size


def measure(fn: Callable[[], Any], repeat: int) -> tuple[float, float, int, Any]:
    """p50 and p95 in ms over `repeat` calls after a warm-up, the queries of one call, its result."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):  # warm caches and connections
        fn()
    with CaptureQueriesContext(connection) as ctx:
        result = fn()
    queries = len(ctx.captured_queries)
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        timings.append((time.perf_counter() - started) * 1000)
    p50, p95 = percentiles(timings)
    return p50, p95, queries, result


def with_creators() -> None:
    """The loader leaves labels without a creator; give them one, so the page and the export join
    and print creators' e-mails as they would on a live workspace. Idempotent."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "WITH creators AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM auth_user),"
            " total AS (SELECT count(*) AS c FROM creators)"
            " UPDATE labels_label l SET created_by_id = creators.id FROM creators, total"
            " WHERE l.created_by_id IS NULL AND creators.n = l.id % total.c"
        )


def naive_rows() -> list[tuple[Any, ...]]:
    """The baseline: the labels, then one COUNT per label (the N+1 a template loop would make)."""
    from campaigns.models import Campaign
    from labels.models import Label

    return [
        (
            label.name,
            Campaign.objects.filter(labels=label).count(),
            label.created_by.email if label.created_by else "",
        )
        for label in Label.objects.select_related("created_by").order_by("name", "id")
    ]


def one_query_rows() -> list[tuple[Any, ...]]:
    """What the page and the export use: every count in one query (labels.selectors)."""
    from labels.selectors import labels_with_counts

    return [
        (label.name, label.campaigns_count, label.created_by.email if label.created_by else "")
        for label in labels_with_counts()
    ]


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

    from labels.models import Label

    load(args.campaigns, args.labels, args.reload)
    with_creators()
    client = Client()
    client.force_login(User.objects.get(username="bench-admin@herald.local"))

    print()
    print(
        f"command: python bench/labels.py --campaigns {args.campaigns} --labels {args.labels} "
        f"--repeat {args.repeat}"
    )
    print(
        f"{args.campaigns:,} campaigns, {Label.objects.count()} labels, "
        f"{args.repeat} timed requests each (whole bodies read)"
    )
    header = (
        f"{'target':<30} {'url':<38} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8} "
        f"{'status':>7} {'bytes':>8}"
    )
    print(header)
    print("-" * len(header))
    worst = 0.0
    page_p50: float | None = None
    missing = []
    for name, candidates in URLS:
        url = next((u for u in candidates if fetch(client, u)[0] == 200), None)
        if url is None:
            missing.append(f"{name} ({', '.join(candidates)})")
            status = fetch(client, candidates[0])[0]
            print(f"{name:<30} {candidates[0]:<38} {'-':>8} {'-':>8} {'-':>8} {status:>7} {'-':>8}")
            continue
        p50, p95, queries, (status, size) = measure(lambda u=url: fetch(client, u), args.repeat)
        worst = max(worst, p95)
        if name == "page, by name":
            page_p50 = p50
        print(f"{name:<30} {url:<38} {p50:8.1f} {p95:8.1f} {queries:8d} {status:7d} {size:8d}")

    one_query = measure(one_query_rows, args.repeat)
    naive = measure(naive_rows, args.repeat)
    if one_query[3] != naive[3]:
        raise SystemExit("the selector's and the naive counts differ: the benchmark is wrong")
    for name, (p50, p95, queries, _) in (
        ("labels_with_counts (in-process)", one_query),
        ("baseline: COUNT per label", naive),
    ):
        print(f"{name:<30} {'-':<38} {p50:8.1f} {p95:8.1f} {queries:8d} {'-':>7} {'-':>8}")

    print()
    verdict = "met" if worst < TARGET_P95_MS else "MISSED"
    print(f"worst p95 over the URLs: {worst:.1f} ms (target < {TARGET_P95_MS:.0f} ms: {verdict})")
    print(
        f"labels_with_counts against the naive COUNT per label: {naive[0] / one_query[0]:.1f}x "
        f"faster ({one_query[2]} query against {naive[2]})"
    )
    if page_p50 is not None:
        print(
            f"the whole Labels page against the naive counts alone: {naive[0] / page_p50:.1f}x "
            "faster"
        )
    if missing:
        print("not measured (no 200 answer yet): " + "; ".join(missing))


if __name__ == "__main__":
    main()
