"""Profile one page of the app in this process: where its time goes, function by function.

    .venv/bin/python bench/profile_page.py [--path /history/] [--user bench-auditor]
                                           [--requests 50] [--sort tottime] [--limit 30]
                                           [--database-url postgres://...billing_admin_bench]

It uses bench/history.py's database and set-up (DJANGO_DEBUG off, the whole middleware stack on
Django's test client, signed in as --user), warms the page up, then runs it --requests times
under cProfile and prints the functions that took the most time (--sort tottime: own time;
cumulative: with callees), the page's median time without the profiler, and its queries.
Seed the database first (bench/history.py does). `--path` may be any URL of the app, e.g.
`/audit/`, `/approvals/` (with --user bench-manager-01), `/invoices/mine/` (bench-clerk-01),
`/invoices/<id>/`.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._inprocess import DEFAULT_URL, configure, plain_static_files  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--path", default="/history/")
    parser.add_argument("--user", default="bench-auditor")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative", "ncalls"])
    parser.add_argument("--dump", help="also write the profile to this file (pstats)")
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--htmx", action="store_true", help="as htmx asks for it (the fragment)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    args = parser.parse_args()

    configure(args.database_url)
    logging.disable(logging.WARNING)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    plain_static_files()
    headers = {"HX-Request": "true"} if args.htmx else {}
    client = Client()
    client.force_login(get_user_model().objects.get(username=args.user))

    def fetch():
        response = client.get(args.path, headers=headers)
        assert response.status_code == 200, response.status_code
        return response

    for _ in range(5):
        fetch()
    samples, cpu = [], []
    for _ in range(args.requests):
        started, started_cpu = time.perf_counter(), time.process_time()
        fetch()
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        size = len(fetch().content)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.requests):
        fetch()
    profiler.disable()
    stats = pstats.Stats(profiler)
    print(
        f"{args.path} as {args.user}: median {statistics.median(samples):.1f} ms "
        f"({statistics.median(cpu):.1f} ms of this process's CPU) without the profiler "
        f"({args.requests} requests), {len(queries)} queries, {size:,} bytes, "
        f"{stats.total_calls / args.requests:,.0f} Python function calls per request\n"
    )
    if args.dump:
        stats.dump_stats(args.dump)  # for pstats: who calls what (print_callers)
    stats.strip_dirs().sort_stats(args.sort).print_stats(args.limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
