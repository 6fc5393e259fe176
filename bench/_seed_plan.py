"""The seed's plan: customers, their contracts and the slots (cycles and ad-hoc requests) that
get invoiced, when, and in how many versions. No database access.

Used by `bench/seed_history.py`; `bench/_seed_rows.py` turns each slot into rows.
"""

from __future__ import annotations

import calendar
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from billing_rules.cycles import compute_cycles
from invoices import money

DAY = 86400.0
HOUR = 3600.0
# Revisions take at most ~50 days (two rejections); slots newer than this have one version, so
# every planned version fits before "now" and the seed writes exactly --invoices rows.
RECENT = 60 * DAY

CURRENCIES = (("USD", 50), ("EUR", 25), ("GBP", 12), ("JPY", 8), ("KWD", 5))
# Rough value of one USD in each currency, to keep prices plausible.
FX = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "JPY": 150.0, "KWD": 0.31}
CADENCES = (("P1M", 72), ("P3M", 18), ("P6M", 4), ("P1Y", 6))
CADENCE_MONTHS = {"P1M": 1, "P3M": 3, "P6M": 6, "P1Y": 12}
# name, description, unit, USD price range per unit (major), quantity range, metered
CATALOGUE = (
    ("Platform fee", "Platform access", "", (200, 5000), (1, 1), False),
    ("Seats", "Named user seats", "seat", (8, 60), (5, 400), False),
    ("API calls", "API requests, per thousand", "1k calls", (1, 5), (50, 5000), True),
    ("Storage", "Object storage", "TB", (20, 90), (1, 80), True),
    ("Support plan", "Premium support, business hours", "", (100, 3000), (1, 1), False),
    ("Data egress", "Outbound transfer", "GB", (1, 3), (100, 9000), True),
    ("Managed database", "Managed PostgreSQL cluster", "node", (150, 900), (1, 6), False),
)

NAMES_A = (
    "Northwind",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Hooli",
    "Vandelay",
    "Aperture",
    "Soylent",
    "Wonka",
    "Sterling",
    "Oscorp",
    "Gringotts",
    "Monarch",
    "Acme",
    "Dunder",
    "Pied Piper",
    "Blue Sun",
    "Ollivander",
    "Zorg",
    "Nakatomi",
)
NAMES_B = (
    "Robotics",
    "Foods",
    "Logistics",
    "Health",
    "Energy",
    "Media",
    "Labs",
    "Systems",
    "Analytics",
    "Retail",
    "Capital",
    "Dynamics",
    "Works",
    "Networks",
    "Studios",
    "Pharma",
    "Motors",
    "Textiles",
    "Mining",
    "Travel",
)
NAMES_C = (
    "Ltd",
    "GmbH",
    "Inc.",
    "S.A.",
    "B.V.",
    "AB",
    "Oy",
    "K.K.",
    "LLC",
    "plc",
    "S.r.l.",
    "A/S",
    "Pty Ltd",
    "SAS",
)
PLANS = ("Starter", "Growth", "Business", "Enterprise", "Platform", "Support", "Data", "Scale")


@dataclass(slots=True)
class Customer:
    id: str
    name: str
    email: str


@dataclass(slots=True)
class Product:
    name: str
    description: str
    unit: str
    unit_minor: int
    unit_price: str  # canonical decimal text, as snapshot_line writes it
    quantity: int
    metered: bool


@dataclass(slots=True)
class ContractPlan:
    id: str
    name: str
    customer: Customer
    backend: str
    currency: str
    cadence: str
    anchor: int
    in_advance: bool
    start: date
    end: date | None
    clerk: int
    products: list[Product] = field(default_factory=list)


@dataclass(slots=True)
class Slot:
    """One thing that was invoiced: a contract cycle, or an ad-hoc request (with revisions)."""

    at: float  # first submission, UNIX seconds
    versions: int
    contract: ContractPlan | None = None
    start: date | None = None
    end: date | None = None
    customer: Customer | None = None


@dataclass(slots=True)
class Plan:
    slots: list[Slot]
    contracts: int
    customers: int


def plan_history(
    rng: random.Random,
    now: datetime,
    total: int,
    *,
    years: float,
    adhoc_share: float,
    contracts: int | None,
) -> Plan:
    """What gets invoiced when: `total` invoices' worth of slots, oldest first."""
    now_ts = now.timestamp()
    window_start = now_ts - years * 365.25 * DAY
    adhoc_target = round(total * adhoc_share)
    cycle_target = total - adhoc_target
    customers: list[Customer] = []
    used_names: set[str] = set()

    def new_customer() -> Customer:
        name = f"{rng.choice(NAMES_A)} {rng.choice(NAMES_B)} {rng.choice(NAMES_C)}"
        if name in used_names:
            name = f"{name} ({len(used_names) + 1})"
        used_names.add(name)
        slug = name.split()[0].lower()
        customer = Customer(str(uuid.uuid4()), name, f"billing@{slug}.example.com")
        customers.append(customer)
        return customer

    slots: list[Slot] = []
    limit, contracts = contracts, 0
    cycle_invoices = 0
    while (limit is None and cycle_invoices < cycle_target) or (
        limit is not None and contracts < limit
    ):
        customer = rng.choice(customers) if customers and rng.random() < 0.35 else new_customer()
        plan = _contract(rng, now, customer, window_start)
        contracts += 1
        for start, end in _cycles(plan, now):
            bill_for = start if plan.in_advance else end
            at = _ts(bill_for) + rng.uniform(-2 * DAY, 8 * DAY) + rng.uniform(8, 18) * HOUR
            if at < window_start or at > now_ts or rng.random() < 0.03:
                continue  # before the window, not yet invoiced, or a gap
            versions = 1 if at > now_ts - RECENT else _versions(rng)
            slots.append(Slot(at, versions, contract=plan, start=start, end=end))
            cycle_invoices += versions
    if cycle_invoices > cycle_target:
        rng.shuffle(slots)
        kept, count = [], 0
        for slot in slots:
            if count + slot.versions <= cycle_target:
                kept.append(slot)
                count += slot.versions
        slots, cycle_invoices = kept, count
    adhoc_target = total - cycle_invoices
    extra_customers = max(1, adhoc_target // 60)
    pool = customers + [new_customer() for _ in range(extra_customers)]
    made = 0
    while made < adhoc_target:
        # Business grows: more invoices recently (density rises by about half over the span).
        at = window_start + (now_ts - window_start) * rng.random() ** 0.8
        versions = 1 if at > now_ts - RECENT else min(_versions(rng), adhoc_target - made)
        slots.append(Slot(at, versions, customer=rng.choice(pool)))
        made += versions
    slots.sort(key=lambda s: s.at)
    return Plan(slots, contracts, len(customers))


def _contract(
    rng: random.Random, now: datetime, customer: Customer, window_start: float
) -> ContractPlan:
    earliest = datetime.fromtimestamp(window_start, UTC).date() - timedelta(days=365)
    span = (now.date() - timedelta(days=30) - earliest).days
    start = earliest + timedelta(days=rng.randrange(max(span, 1)))
    anchor = start.day if rng.random() < 0.8 else rng.choice((1, 15, 28, 29, 30, 31))
    cadence = weighted(rng, CADENCES)
    end = None
    if rng.random() < 0.25:
        months = rng.randrange(12, 37)
        year, month = divmod(start.month - 1 + months, 12)
        end_year = start.year + year
        end = date(end_year, month + 1, min(start.day, calendar.monthrange(end_year, month + 1)[1]))
    currency = weighted(rng, CURRENCIES)
    plan = ContractPlan(
        id=str(uuid.uuid4()),
        name=f"{customer.name.split()[0]} – {rng.choice(PLANS)} {cadence_label(cadence)}",
        customer=customer,
        backend="zenskar" if rng.random() < 0.65 else "embedded",
        currency=currency,
        cadence=cadence,
        anchor=anchor,
        in_advance=rng.random() < 0.7,
        start=start,
        end=end,
        clerk=rng.randrange(12),
    )
    months = CADENCE_MONTHS[cadence]
    for name, description, unit, (low, high), (qlow, qhigh), metered in rng.sample(
        CATALOGUE, rng.randint(1, 6)
    ):
        per_period = 1 if metered or unit else months
        unit_minor = price(rng.uniform(low, high) * per_period, currency)
        plan.products.append(
            Product(
                name=name,
                description=description,
                unit=unit,
                unit_minor=unit_minor,
                unit_price=_decimal_text(unit_minor, currency),
                quantity=rng.randint(qlow, qhigh),
                metered=metered,
            )
        )
    return plan


def price(usd: float, currency: str) -> int:
    """A plausible price in `currency`'s minor units for about `usd` dollars."""
    e = money.exponent(currency)
    minor = int(usd * FX[currency] * 10**e)
    if e >= 2:
        minor -= minor % 10 ** (e - 1)  # prices end in a round decimal
    return max(minor, 1)


def _cycles(plan: ContractPlan, now: datetime) -> list[tuple[date, date]]:
    cycles = compute_cycles(
        start=plan.start,
        end=plan.end,
        cadence=plan.cadence,
        anchor_day=plan.anchor,
        in_advance=plan.in_advance,
        horizon=now.date() + timedelta(days=1),
    )
    return [(c.start.date(), c.end.date()) for c in cycles]


def weighted(rng: random.Random, choices):
    values, weights = zip(*choices, strict=True)
    return rng.choices(values, weights)[0]


def _versions(rng: random.Random) -> int:
    roll = rng.random()
    return 1 if roll < 0.88 else 2 if roll < 0.98 else 3


def _ts(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def _decimal_text(minor: int, currency: str) -> str:
    return format(money.to_major(minor, currency).normalize(), "f")


def cadence_label(cadence: str) -> str:
    return {"P1M": "monthly", "P3M": "quarterly", "P6M": "half-yearly", "P1Y": "yearly"}[cadence]


class SeedError(Exception):
    """The seed refuses to run (DJANGO_DEBUG off without force, a bad argument) or cannot."""
