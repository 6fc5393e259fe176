"""Benchmark of the history pages on a million invoices in PostgreSQL.

    .venv/bin/python bench/history.py [--invoices 1000000] [--repeat 30] [--explain]
                                      [--database-url postgres://postgres@127.0.0.1:5432/billing_admin_bench]

It uses its own database (default `billing_admin_bench` on the local PostgreSQL; override with
--database-url or BENCH_DATABASE_URL): creates it if missing, migrates it, and seeds it with
`bench/seed_history.py` up to --invoices invoices (a few minutes for a million, timed and printed;
later runs reuse the data). Then, with DJANGO_DEBUG off and a signed-in auditor on Django's test
client (the whole middleware stack, in this process), it prints the median and p95 server time of:

- the first history page, and a page 5,000 pages deep (its keyset cursor built once from the
  row at that position), and the same deep page through a plain offset-paginated ListView over
  the same queryset and page size (ratio printed);
- common filters: status=pending_approval; customer + submitted date range; currency + total
  range; and, for information, search, billing-date range, submitter, approver, a filtered deep
  page and the audit log;
- the invoice page (invoices:detail) of a revised invoice;
- the history CSV export: rows per second over 200,000 rows, and memory (tracemalloc peak and
  resident set growth) while streaming 50,000 and 200,000 rows, which should be the same.

Targets (exit status 1 if one is missed): each history request and the invoice page <= 50 ms
median; the deep page no slower than the first (within 20 % or 2 ms); >= 10x faster than the
offset ListView at that depth; CSV >= 20,000 rows/s with flat memory. --explain also prints
PostgreSQL's EXPLAIN (ANALYZE, BUFFERS) of each history request's main query.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/billing_admin_bench"
DEEP_PAGES = 5000
TARGET_MS = 50.0
TARGET_ROWS_PER_S = 20_000
RESULTS: list[tuple[str, bool]] = []


def configure(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "billing_admin.settings"
    os.environ["DJANGO_DEBUG"] = "false"  # no query log, production template caching
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver,localhost"
    os.environ["DJANGO_HTTPS"] = "false"
    os.environ.setdefault("CACHE_URL", "locmemcache://bench")
    os.environ.setdefault("DJANGO_LOG_LEVEL", "ERROR")


def ensure_database(database_url: str) -> None:
    import psycopg
    from psycopg import sql

    name = database_url.rsplit("/", 1)[1].split("?", 1)[0]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            print(f"creating database {name}")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def measure(fn, repeat: int) -> tuple[float, float]:
    """(median, p95) in milliseconds, after a warm-up."""
    for _ in range(3):
        fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def report(label: str, median: float, p95: float, target: float | None = TARGET_MS) -> float:
    ok = target is None or median <= target
    if target is not None:
        RESULTS.append((label, ok))
    verdict = "" if target is None else f"target <= {target:.0f} ms  {'ok' if ok else 'MISSED'}"
    print(f"  {label:<52} median {median:7.1f} ms   p95 {p95:7.1f} ms   {verdict}")
    return median


def check(label: str, ok: bool, text: str) -> None:
    RESULTS.append((label, ok))
    print(f"  {label:<52} {text}   {'ok' if ok else 'MISSED'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("the benchmark runs on PostgreSQL: pass a postgres:// URL")

    configure(args.database_url)
    ensure_database(args.database_url)
    import django

    django.setup()
    from django.conf import settings

    # No collectstatic here: plain static storage instead of the manifest one (as in tests).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    from django.core.management import call_command

    from bench.seed_history import seed_history
    from invoices.models import Invoice

    call_command("migrate", verbosity=0)
    have = Invoice.objects.count()
    if have < args.invoices:
        print(f"seeding {args.invoices - have:,} invoices (have {have:,}) ...")
        started = time.perf_counter()
        seed_history(args.invoices - have, force=True, verbosity=0)
        print(f"seeded in {time.perf_counter() - started:.1f} s")
        have = Invoice.objects.count()
    from django.db import connection

    # As autovacuum leaves a settled database: planner statistics, and the visibility map that
    # lets index-only scans skip the table.
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) invoices_invoice")
        cursor.execute("VACUUM (ANALYZE) invoices_auditevent")
    print(f"vacuum analyze: {time.perf_counter() - started:.1f} s")
    print(f"{have:,} invoices in {args.database_url.rsplit('/', 1)[1]}\n")
    run(args)
    missed = [label for label, ok in RESULTS if not ok]
    print("\nall targets met" if not missed else f"\nMISSED: {', '.join(missed)}")
    return 1 if missed else 0


def run(args) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client, RequestFactory
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse
    from django.utils import timezone
    from django.utils.http import urlencode
    from django.views.generic import ListView
    from django_htmx.middleware import HtmxDetails

    from invoices import keyset, selectors
    from invoices.forms import HistoryFilterForm
    from invoices.models import AuditEvent, Invoice
    from invoices.views import history as views_history

    auditor = get_user_model().objects.get(username="bench-auditor")
    client = Client()
    client.force_login(auditor)
    page_size = views_history.PAGE_SIZE
    url = reverse("invoices:history")
    ordered = Invoice.objects.order_by("-submitted_at", "-id")

    def get(path):
        def fetch():
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            return response

        return fetch

    def explain(label, path):
        if not args.explain:
            return
        with CaptureQueriesContext(connection) as ctx:
            get(path)()
        main = [q["sql"] for q in ctx.captured_queries if "LIMIT" in q["sql"]]
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + main[-1])
            plan = "\n".join("      " + row[0] for row in cursor.fetchall())
        print(f"    EXPLAIN {label}:\n{plan}")

    # --- pages ----------------------------------------------------------------------------
    print(f"history pages ({page_size} rows, median of {args.repeat})")
    first = report("first page", *measure(get(url), args.repeat))
    explain("first page", url)
    position = DEEP_PAGES * page_size
    moment, pk = ordered.values_list("submitted_at", "id")[position - 1]
    deep_url = url + "?" + urlencode({"after": keyset.encode_cursor(moment, pk)})
    expected_first = ordered.values_list("id", flat=True)[position]
    assert f'href="/invoices/{expected_first}/"' in get(deep_url)().content.decode()
    deep = report(
        f"page {DEEP_PAGES + 1:,} (rows {position + 1:,}+), keyset",
        *measure(get(deep_url), args.repeat),
    )
    explain("deep page", deep_url)
    check(
        "deep page no slower than the first",
        deep <= max(first * 1.2, first + 2.0),
        f"{deep:.1f} ms vs {first:.1f} ms",
    )

    # The same deep page through a plain offset-paginated ListView, and the keyset view, both
    # called directly with the same request set-up (no middleware), for the ratio.
    users = selectors.user_choices()

    class OffsetHistory(ListView):
        paginate_by = page_size
        template_name = "invoices/history.html"

        def get_queryset(self):
            return selectors.history_queryset().order_by("-submitted_at", "-id")

        def get_context_data(self, **kwargs):
            context = super().get_context_data(**kwargs)
            page = SimpleNamespace(
                rows=context["object_list"], next_cursor=None, previous_cursor=None, is_first=False
            )
            form = HistoryFilterForm({}, users=users)
            form.is_valid()
            return {**context, "page": page, "form": form, "query": "", "export_url": ""}

    factory = RequestFactory()
    offset_view = OffsetHistory.as_view()

    def direct(view, path):
        def call():
            request = factory.get(path)
            request.user = auditor
            request.htmx = HtmxDetails(request)
            response = view(request)
            response.render() if hasattr(response, "render") else None
            assert response.status_code == 200
            return response

        return call

    keyset_direct = report(
        f"page {DEEP_PAGES + 1:,}, keyset view called directly",
        *measure(direct(views_history.history_list, deep_url), args.repeat),
        target=None,
    )
    offset_direct = report(
        f"page {DEEP_PAGES + 1:,}, offset ListView (paginate_by={page_size})",
        *measure(direct(offset_view, f"{url}?page={DEEP_PAGES + 1}"), max(5, args.repeat // 3)),
        target=None,
    )
    ratio = offset_direct / keyset_direct
    check("keyset >= 10x faster than offset at that depth", ratio >= 10, f"{ratio:.1f}x")

    # --- filters --------------------------------------------------------------------------
    print("\nfilters (first page of each)")
    sample = (
        Invoice.objects.filter(kind="cycle", version=1)
        .order_by("-id")
        .values(
            "customer_id",
            "customer_name",
            "submitted_at",
            "submitted_by__username",
            "upstream_number",
        )[1000]
    )
    year_end = sample["submitted_at"].date()
    year_start = year_end.replace(year=year_end.year - 1)
    recent = (timezone.now() - timedelta(days=30)).date()
    approver = (
        Invoice.objects.filter(status="approved").values_list("decided_by__username", flat=True)
    )[0]
    filters = [
        ("status=pending_approval", {"status": "pending_approval"}, True),
        (
            "customer + submitted date range (1 year)",
            {
                "customer": sample["customer_id"],
                "submitted_from": year_start.isoformat(),
                "submitted_to": year_end.isoformat(),
            },
            True,
        ),
        (
            "currency + total range (EUR 1,000-5,000)",
            {"currency": "EUR", "total_min": "1,000", "total_max": "5,000"},
            True,
        ),
        (
            "customer name (part) + status",
            {"customer": sample["customer_name"].split()[1], "status": "rejected"},
            True,
        ),
        ("search: invoice number", {"q": sample["upstream_number"]}, True),
        ("search: customer name", {"q": " ".join(sample["customer_name"].split()[:2])}, True),
        (
            "billing date in one month",
            {
                "billed_from": year_start.isoformat(),
                "billed_to": year_start.replace(day=28).isoformat(),
            },
            True,
        ),
        ("billing date in the last 30 days", {"billed_from": recent.isoformat()}, True),
        ("submitter", {"submitter": sample["submitted_by__username"]}, True),
        ("approver", {"approver": approver}, True),
        (
            "kind=adhoc + backend=rebillia + currency=KWD",
            {"kind": "adhoc", "backend": "rebillia", "currency": "KWD"},
            True,
        ),
    ]
    for label, params, targeted in filters:
        path = url + "?" + urlencode(params)
        report(label, *measure(get(path), args.repeat), target=TARGET_MS if targeted else None)
        explain(label, path)
    approved = Invoice.objects.filter(status="approved").order_by("-submitted_at", "-id")
    moment, pk = approved.values_list("submitted_at", "id")[2000 * page_size - 1]
    path = url + "?" + urlencode({"status": "approved", "after": keyset.encode_cursor(moment, pk)})
    report("status=approved, page 2,001 (keyset)", *measure(get(path), args.repeat))
    explain("status=approved deep", path)

    # --- other pages ----------------------------------------------------------------------
    print("\nother pages")
    revised = Invoice.objects.filter(version=3).order_by("-id").values_list("id", flat=True)[0]
    report(
        f"invoice page (#{revised}, 3 versions)",
        *measure(get(reverse("invoices:detail", args=[revised])), args.repeat),
    )
    audit_url = reverse("invoices:audit")
    report("audit log, first page", *measure(get(audit_url), args.repeat))
    explain("audit log", audit_url)
    seq_at = AuditEvent.objects.order_by("-at", "-seq").values_list("at", "seq")[
        DEEP_PAGES * page_size - 1
    ]
    audit_deep = audit_url + "?" + urlencode({"after": keyset.encode_cursor(*seq_at)})
    report(f"audit log, page {DEEP_PAGES + 1:,}", *measure(get(audit_deep), args.repeat))
    report(
        "audit log, action=invoice.rejected",
        *measure(get(audit_url + "?action=invoice.rejected"), args.repeat),
    )

    # --- CSV export -----------------------------------------------------------------------
    print("\nCSV export of the whole history (streamed)")
    export_url = reverse("invoices:history_export")

    def stream(rows: int, *, trace: bool) -> dict:
        """Read the first `rows` CSV rows of the export, then hang up (as a client would)."""
        if trace:
            tracemalloc.start()
        rss_start = rss_peak = _rss()
        started = time.perf_counter()
        response = client.get(export_url)
        assert response.streaming
        seen = 0
        for chunk in response.streaming_content:
            seen += chunk.count(b"\n")
            if seen % 20_000 < 250:
                rss_peak = max(rss_peak, _rss())
            if seen > rows:
                break
        response.close()
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if trace else 0
        if trace:
            tracemalloc.stop()
        return {
            "rows": seen - 1,
            "seconds": elapsed,
            "peak": peak,
            "rss": max(rss_peak, _rss()) - rss_start,
        }

    stream(5000, trace=False)  # warm-up
    fast = stream(200_000, trace=False)
    rate = fast["rows"] / fast["seconds"]
    check(
        "export rows per second (200,000 rows)",
        rate >= TARGET_ROWS_PER_S,
        f"{rate:,.0f} rows/s ({fast['seconds']:.2f} s)",
    )
    small, large = stream(50_000, trace=True), stream(200_000, trace=True)
    for result in (small, large):
        print(
            f"  {result['rows']:>7,} rows: Python peak {result['peak'] / 2**20:6.2f} MiB "
            f"(tracemalloc), resident set +{result['rss'] / 2**20:5.1f} MiB"
        )
    flat = large["peak"] <= small["peak"] * 1.5 + 2**20
    check(
        "memory flat (200k rows vs 50k rows)",
        flat,
        f"{large['peak'] / max(small['peak'], 1):.2f}x the 50k peak",
    )


def _rss() -> int:
    """Resident set size of this process, in bytes (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


if __name__ == "__main__":
    sys.exit(main())
