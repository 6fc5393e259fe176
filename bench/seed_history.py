"""Fill the database with a large, realistic invoice history, fast (for benchmarks).

    .venv/bin/python bench/seed_history.py --invoices 1000000 [--batch 10000] [--contracts N]
                                           [--seed S] [--force]

Runs on the database of the environment (DATABASE_URL, DJANGO_DEBUG, ... as for manage.py; the
schema migrated). `bench/history.py` calls `seed_history()` on its own database. It lives with the
benchmarks, not in the app: it writes invoices and audit rows directly, without the services.

What it writes, spread over the last `--years` (default 3) years:
- ~20 users (12 clerks, 8 managers) and an auditor, `bench-*`, with unusable passwords;
- contracts (monthly, quarterly, half-yearly and yearly; in advance and in arrears; some ended)
  of customers, on the `embedded` and `zenskar` backends, in USD EUR GBP JPY KWD, and the cycle
  invoices of their cycles (computed by `billing_rules.cycles`, as the engine lists them, with
  the wire strings kept verbatim), with a few cycles left uninvoiced;
- ad-hoc invoices (`embedded` and `rebillia`) with the request JSON and snapshot lines the real
  services store (`invoices.adhoc`);
- 1–6 snapshot lines per invoice in the shape of `invoices.snapshots.snapshot_line`, totals equal
  to the sum of the lines, content hashes computed like the services do;
- statuses as time leaves them (recent ones pending, older ones approved, some withdrawn, some
  rejected, a few failed), rejected versions revised by newer versions of the same lineage;
- for every invoice, the audit events the services would have written (submitted,
  approval_started, approved, rejected, draft_deleted, withdrawn, approval_failed), appended to
  the existing hash chain (`manage.py verify_audit` still passes).

The model's constraints hold (one live invoice per cycle, four eyes, cycle invoices have a
bill-for date) because the database checks them on insert. PostgreSQL is filled with COPY
(psycopg's `cursor.copy`), SQLite with `bulk_create`, one transaction per batch that holds the
audit chain's head row. Refuses to run with DJANGO_DEBUG off unless --force: never point it at
a production database.

Without --contracts, it makes as many contracts as the cycle invoices need (about one per 40
invoices: over three years a monthly contract has at most ~36 cycles); with --contracts N the
cycle invoices those contracts can hold are made and the rest are ad-hoc.

Modules: `_seed_plan.py` (customers, contracts, what gets invoiced when), `_seed_rows.py` (invoice
rows and audit events), `_seed_write.py` (users, batches, COPY).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._seed_plan import SeedError  # noqa: E402

__all__ = ["SeedError", "Seeded", "main", "seed_history"]


@dataclass(frozen=True, slots=True)
class Seeded:
    seed: int
    invoices: int
    events: int
    seconds: float


def seed_history(
    invoices: int,
    *,
    batch: int = 10_000,
    contracts: int | None = None,
    adhoc_share: float = 0.22,
    years: float = 3.0,
    seed: int | None = None,
    force: bool = False,
    verbosity: int = 1,
    stdout: TextIO | None = None,
) -> Seeded:
    """Append `invoices` invoices and their audit events to the configured database (Django set
    up, schema migrated). Prints the plan and a summary to `stdout` (default sys.stdout), and a
    line per batch with verbosity >= 1. Raises SeedError with DJANGO_DEBUG off unless `force`."""
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from bench._seed_plan import plan_history
    from bench._seed_rows import RowMaker
    from bench._seed_write import analyze, seed_users, write_batch

    out = stdout if stdout is not None else sys.stdout
    if not settings.DEBUG and not force:
        raise SeedError(
            "seed_history writes a large made-up history. It refuses to run with DJANGO_DEBUG "
            "off; pass --force if this really is a benchmark database."
        )
    if invoices < 1:
        raise SeedError("--invoices must be at least 1.")
    started = time.perf_counter()
    if seed is None:
        seed = random.randrange(2**32)
    rng = random.Random(seed)
    now = timezone.now()
    rows = RowMaker(rng, now)

    def progress(written: int, events: int) -> None:
        if verbosity >= 1:
            seconds = time.perf_counter() - started
            out.write(f"  {written:>9} invoices, {events:>9} events, {seconds:7.1f} s\n")

    users = seed_users(rng)
    plan = plan_history(
        rng, now, invoices, years=years, adhoc_share=adhoc_share, contracts=contracts
    )
    out.write(
        f"seed {seed}: {len(users['clerks'])} clerks, {len(users['managers'])} managers, "
        f"{plan.contracts} contracts, {plan.customers} customers, "
        f"{len(plan.slots)} slots planned in {time.perf_counter() - started:.1f} s\n"
    )

    written = events = 0
    pending, size = [], 0
    for slot in plan.slots:
        pending.append(slot)
        size += slot.versions
        if size >= batch:
            w, e = write_batch(rows, pending, users)
            written, events = written + w, events + e
            progress(written, events)
            pending, size = [], 0
    if pending:
        w, e = write_batch(rows, pending, users)
        written, events = written + w, events + e
        progress(written, events)
    load_seconds = time.perf_counter() - started
    analyze()
    elapsed = time.perf_counter() - started
    out.write(
        f"seed_history: {written} invoices and {events} audit events in {elapsed:.1f} s "
        f"(load {load_seconds:.1f} s, {written / max(load_seconds, 1e-9):,.0f} "
        f"invoices/s; analyze {elapsed - load_seconds:.1f} s) on {connection.vendor}\n"
    )
    return Seeded(seed, written, events, elapsed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, required=True, help="How many invoices.")
    parser.add_argument(
        "--batch", type=int, default=10_000, help="Invoices per transaction (default 10000)."
    )
    parser.add_argument(
        "--contracts", type=int, default=None, help="Contracts (default: as many as needed)."
    )
    parser.add_argument(
        "--adhoc-share", type=float, default=0.22, help="Share of ad-hoc invoices (0.22)."
    )
    parser.add_argument("--years", type=float, default=3.0, help="History length (3).")
    parser.add_argument("--seed", type=int, default=None, help="Random seed.")
    parser.add_argument(
        "--force",
        action="store_true",
        help="Run even with DJANGO_DEBUG off (never on a production database).",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="No progress line per batch.")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_admin.settings")
    import django

    django.setup()
    try:
        seed_history(
            args.invoices,
            batch=args.batch,
            contracts=args.contracts,
            adhoc_share=args.adhoc_share,
            years=args.years,
            seed=args.seed,
            force=args.force,
            verbosity=0 if args.quiet else 1,
        )
    except SeedError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
