"""Benchmark of the embedded engine's hot paths.

    .venv/bin/python bench/engine.py [--repeat N] [--no-db]

Prints median and p95 of:
- listing the cycles of a 10-year monthly contract (billing_rules.cycles), target < 5 ms;
- rating one cycle of a contract with 200 pricings of mixed types (billing_rules.rating),
  target < 20 ms;
and, unless --no-db, the same two through billing_engine.api on an in-memory SQLite database
(queries included), for information. Each median is also printed as a share of a fixed
pure-Python loop timed in the same run (the machine-speed line). Exits non-zero if a target is
missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _speed  # noqa: E402
from billing_rules.cycles import compute_cycles  # noqa: E402
from billing_rules.rating import PhaseTerm, PricingTerm, Tier, rate_window  # noqa: E402

TARGETS_MS = {"cycles": 5.0, "rating": 20.0}
TIERS = (Tier(10, Decimal(500)), Tier(100, Decimal(400)), Tier(None, Decimal(300)))
KINDS = ("flat_fee", "per_unit", "tiered", "volume")


def measure(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median, p95) in milliseconds, after a warm-up."""
    for _ in range(min(50, repeat)):
        fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def ten_year_cycles() -> list:
    return compute_cycles(
        start=date(2026, 1, 31),
        end=date(2036, 1, 31),
        cadence="P1M",
        anchor_day=31,
        in_advance=True,
    )


def pricings(count: int) -> tuple[PricingTerm, ...]:
    """`count` pricings cycling through the four types, a third of them starting mid-cycle."""
    terms = []
    for index in range(count):
        kind = KINDS[index % len(KINDS)]
        terms.append(
            PricingTerm(
                id=f"p{index}",
                product_name=f"Product {index}",
                sku=f"SKU-{index:04d}",
                description="",
                pricing_type=kind,
                unit_amount_minor=Decimal(1250 + index),
                quantity=Decimal(5 + index % 150),
                tiers=TIERS if kind in ("tiered", "volume") else (),
                start=date(2026, 6, 10) if index % 3 == 0 else date(2026, 1, 1),
                end=None,
            )
        )
    return tuple(terms)


def pure(repeat: int) -> dict[str, tuple[float, float]]:
    assert len(ten_year_cycles()) == 120
    phases = [
        PhaseTerm(phase_type="active", start=date(2026, 1, 1), end=None, pricings=pricings(200))
    ]
    start, end = datetime(2026, 5, 28, tzinfo=UTC), datetime(2026, 6, 28, tzinfo=UTC)
    assert len(rate_window(phases=phases, start=start, end=end)) == 200
    return {
        "cycles": measure(ten_year_cycles, repeat),
        "rating": measure(lambda: rate_window(phases=phases, start=start, end=end), repeat),
    }


def through_the_engine(repeat: int) -> dict[str, tuple[float, float]]:
    """The same work through billing_engine.api, database queries included."""
    os.environ["DATABASE_URL"] = "sqlite://:memory:"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from billing_engine import api
    from billing_engine.models import Contract, Customer, Phase, Pricing, Product

    customer = Customer.objects.create(
        account_number=1,
        name="Bench Ltd",
        email="bench@example.com",
        street1="1 Bench Road",
        city="London",
        zip="N1 1AA",
        country="GB",
    )
    long_contract = Contract.objects.create(
        customer=customer,
        name="Ten years monthly",
        currency="USD",
        start_date=date(2026, 1, 31),
        end_date=date(2036, 1, 31),
        cadence="P1M",
        billing_cycle_start_day=31,
    )
    wide_contract = Contract.objects.create(
        customer=customer,
        name="Two hundred pricings",
        currency="USD",
        start_date=date(2026, 1, 28),
        cadence="P1M",
        billing_cycle_start_day=28,
        in_advance=False,
    )
    phase = Phase.objects.create(
        contract=wide_contract, name="Active", phase_type="active", start_date=date(2026, 1, 28)
    )
    tiers = [
        {"up_to": tier.up_to, "unit_amount_minor": int(tier.unit_amount_minor)} for tier in TIERS
    ]
    rows = []
    for term in pricings(200):
        product = Product.objects.create(name=term.product_name, sku=term.sku)
        rows.append(
            Pricing(
                phase=phase,
                product=product,
                pricing_type=term.pricing_type,
                unit_amount_minor=int(term.unit_amount_minor),
                quantity=term.quantity,
                tiers=tiers if term.tiers else [],
                start_date=max(term.start, phase.start_date),
            )
        )
    Pricing.objects.bulk_create(rows)
    repeat = max(20, repeat // 10)
    return {
        "api.billing_cycles (10 years)": measure(
            lambda: api.billing_cycles(str(long_contract.id)), repeat
        ),
        "api.preview (200 pricings)": measure(
            lambda: api.preview(str(wide_contract.id), bill_for_date="2026-06-28T00:00:00Z"),
            repeat,
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1000)
    parser.add_argument("--no-db", action="store_true", help="only the pure modules")
    args = parser.parse_args()

    failed = False
    print(_speed.machine_line())
    loop = _speed.loop_ms()  # the baseline: each median also as a share of the fixed loop
    print(f"{'measure':<34}{'median ms':>11}{'p95 ms':>10}{'x loop':>9}{'target':>10}")
    for name, (median, p95) in pure(args.repeat).items():
        target = TARGETS_MS[name]
        verdict = "ok" if p95 < target else "MISSED"
        failed |= verdict != "ok"
        label = {"cycles": "cycles, 10 years monthly", "rating": "rate one cycle, 200 pricings"}
        print(
            f"{label[name]:<34}{median:>11.3f}{p95:>10.3f}{median / loop:>9.3f}"
            f"{f'< {target:g}':>10}  {verdict}"
        )
    if not args.no_db:
        for name, (median, p95) in through_the_engine(args.repeat).items():
            print(f"{name:<34}{median:>11.3f}{p95:>10.3f}{median / loop:>9.3f}{'(info)':>10}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
