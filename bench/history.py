"""Benchmark of the history pages on a million invoices in PostgreSQL, every figure a ratio.

    .venv/bin/python bench/history.py [--invoices 1000000] [--growth-from 100000] [--repeat 60]
                                      [--csv-rows 200000] [--explain]
                                      [--database-url postgres://postgres@127.0.0.1:5432/billing_admin_bench]

It uses its own database (default `billing_admin_bench` on the local PostgreSQL; override with
--database-url or BENCH_DATABASE_URL): creates it if missing, migrates it, and seeds it with
`bench/seed_history.py` up to --invoices invoices (about seven minutes for a million on two
cores, printed; later runs reuse the data). With DJANGO_DEBUG off and a signed-in auditor on
Django's test client (the whole middleware stack, in this process), it measures each page
interleaved, request for request, with its baseline, and prints the median, the p95 and the
ratio to the baseline:

- pages: the bare view `/bench/bare` (bench/urls_load.py: one indexed query through the same
  middleware and the same signed-in client; the request log loads the session and the user, so
  it makes three queries). Judged: every history request (the first page; page 5,001 by its
  keyset cursor; common filters; a filtered deep page), the audit log (first page, page 5,001,
  a filter) and the invoice page (a revised invoice): median <= 5x the bare view's.
- the deep page against the first (interleaved with it, request for request): within 20 %;
  the keyset view against a plain offset-paginated ListView at page 5,001 (both called
  directly, same template and rows): >= 10x faster.
- the history CSV export against a plain cursor loop over the same query writing the same rows
  with csv.writer (the database driver's limit): >= 0.5x its rows per second; memory
  (tracemalloc peak) the same for 50,000 and 200,000 rows.
- growth: the first page's ratio on a second database with --growth-from invoices
  (`<name>_growth`, seeded the same way) against its ratio at --invoices: <= 1.2.

A line with the machine's speed (a fixed pure-Python loop) and load average comes first and
last: other work on the machine makes every figure noisier. Exit status 1 if a target is
missed. --explain prints PostgreSQL's EXPLAIN (ANALYZE, BUFFERS) of each history request.
"""

from __future__ import annotations

import argparse
import calendar
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _history_pages, _speed  # noqa: E402
from bench._inprocess import (  # noqa: E402
    DEFAULT_URL,
    Results,
    configure,
    ensure_database,
    plain_static_files,
)

GROWTH_LIMIT = 1.2


def month_range(day: date) -> tuple[date, date]:
    """The first and last day of `day`'s calendar month: a billing-date range of one whole
    month, in order whatever the day (the 29th to the 31st, 29 February)."""
    return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])


def year_before(day: date) -> date:
    """The same day a year earlier (28 February for 29 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def prepare(database_url: str, invoices: int) -> int:
    """Migrate, seed up to `invoices`, vacuum; the number of invoices."""
    from django.core.management import call_command
    from django.db import connection

    from bench.seed_history import seed_history
    from invoices.models import Invoice

    call_command("migrate", verbosity=0)
    have = Invoice.objects.count()
    if have < invoices:
        print(f"seeding {invoices - have:,} invoices (have {have:,}) ...", flush=True)
        started = time.perf_counter()
        seed_history(invoices - have, force=True, verbosity=0)
        print(f"seeded in {time.perf_counter() - started:.1f} s")
        have = Invoice.objects.count()
    # As autovacuum leaves a settled database: planner statistics, and the visibility map that
    # lets index-only scans skip the table.
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) invoices_invoice")
        cursor.execute("VACUUM (ANALYZE) invoices_auditevent")
        cursor.execute("VACUUM (ANALYZE) invoices_searchname")
    print(
        f"{have:,} invoices in {database_url.rsplit('/', 1)[1]} "
        f"(vacuum analyze {time.perf_counter() - started:.1f} s)"
    )
    return have


def use_database(database_url: str) -> None:
    """Point Django's default connection at another database of the same server."""
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = database_url.rsplit("/", 1)[1].split("?", 1)[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument(
        "--growth-from", type=int, default=100_000, help="smaller database (0: skip)"
    )
    parser.add_argument("--repeat", type=int, default=60)
    parser.add_argument("--csv-rows", type=int, default=200_000)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("the benchmark runs on PostgreSQL: pass a postgres:// URL")

    configure(args.database_url)
    ensure_database(args.database_url)
    import django

    django.setup()
    plain_static_files()
    print(_speed.machine_line(), flush=True)
    prepare(args.database_url, args.invoices)
    results = Results()
    pages = _history_pages.Pages(args, results, month_range, year_before)
    first = pages.run()
    if args.growth_from:
        growth(args, pages, results, first)
    print()
    print(_speed.machine_line())
    missed = results.missed
    print("\nall targets met" if not missed else f"\nMISSED: {', '.join(missed)}")
    return 1 if missed else 0


def growth(args, pages, results: Results, big_ratio: float) -> None:
    """The first page on a database a tenth the size, against the big one: each database's
    ratio to the bare view, measured in turns (small, big, small, big, ...)."""
    small_url = args.database_url + "_growth"
    print(f"\ngrowth: the first page with {args.growth_from:,} and {args.invoices:,} invoices")
    ensure_database(small_url)
    use_database(small_url)
    prepare(small_url, args.growth_from)
    small, big = [], [big_ratio]
    for _ in range(3):
        use_database(small_url)
        small.append(pages.first_page_only(f"{args.growth_from:,} invoices").ratio)
        use_database(args.database_url)
        big.append(pages.first_page_only(f"{args.invoices:,} invoices").ratio)
    ratio = statistics.median(big) / statistics.median(small)
    results.check(
        f"first page, {args.invoices:,} / {args.growth_from:,} invoices",
        ratio <= GROWTH_LIMIT,
        f"{ratio:.2f} (median ratios to the bare view: {statistics.median(big):.1f}x and "
        f"{statistics.median(small):.1f}x; target <= {GROWTH_LIMIT})",
    )


if __name__ == "__main__":
    sys.exit(main())
