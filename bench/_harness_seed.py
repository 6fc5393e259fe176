"""Seeding the bench's database (see bench/_harness.py): migrations and static files, the bench's
users, the engine's contracts (the demo's, or the bench's own), the words people search for."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bench._harness_env import PASSWORD, USER_PREFIX


# --- seeding --------------------------------------------------------------------------------
@dataclass
class Seed:
    users: dict[str, list[str]]  # role -> usernames
    search_terms: list[str]
    contracts: int
    engine_summary: str
    engine_invoices_before: set[str]
    history_pages: bool


def seed(*, clerks: int, managers: int, auditors: int, bare: int) -> Seed:
    """Migrate, collect static files, create the bench's users and the engine's contracts."""
    from django.core.management import call_command
    from django.urls import Resolver404, resolve

    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    try:
        resolve("/history/")
        resolve("/history/export.csv")
        history = True
    except Resolver404:
        history = False
    users = _seed_users(clerks, managers, auditors, bare, history=history)
    summary, contracts = _seed_engine()
    from billing_engine.models import Contract, EngineInvoice

    terms = _search_terms(Contract.objects.values_list("name", flat=True))
    before = {str(pk) for pk in EngineInvoice.objects.values_list("pk", flat=True)}
    return Seed(users, terms, contracts, summary, before, history)


def _seed_users(clerks, managers, auditors, bare, *, history: bool) -> dict[str, list[str]]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    from invoices import roles

    User = get_user_model()
    hashed = make_password(PASSWORD)  # one PBKDF2 run, shared by every bench user
    groups = {g.name: g for g in Group.objects.all()}
    plan = {
        "clerk": (clerks, [roles.CLERKS]),
        "manager": (managers, [roles.MANAGERS]),
        # Without the history pages, the auditors read the approvals and "my invoices" pages,
        # which need the clerk and manager roles (they never submit or decide anything).
        "auditor": (auditors, [roles.AUDITORS] if history else [roles.CLERKS, roles.MANAGERS]),
        "bare": (bare, []),
    }
    made: dict[str, list[str]] = {}
    for role, (count, group_names) in plan.items():
        made[role] = []
        for number in range(1, max(count, 1) + 1):
            username = f"{USER_PREFIX}{role}{number:02d}"
            user = User.objects.create(
                username=username,
                password=hashed,
                first_name=role.capitalize(),
                last_name=f"{number:02d}",
                email=f"{username}@bench.example.com",
            )
            user.groups.set([groups[name] for name in group_names])
            made[role].append(username)
    User.objects.create(username="bench_bare", password=hashed)
    return made


def _seed_engine() -> tuple[str, int]:
    from django.db import transaction

    from billing_engine.models import Contract

    summary = ""
    try:
        from billing_engine.demo import seed_engine_demo

        with transaction.atomic():
            summary = seed_engine_demo() or ""
    except Exception as exc:
        summary = f"seed_engine_demo failed ({type(exc).__name__}: {exc}); "
    count = Contract.objects.count()
    if count < 20:
        made = _bench_contracts(60)
        summary += f"demo has {count} contracts: created {made} bench contracts."
        count = Contract.objects.count()
    return summary.strip(), count


def _bench_contracts(count: int) -> int:
    """Contracts in the style of tests/engine/factories.py, if the demo data is unusable."""
    from datetime import date
    from decimal import Decimal

    from billing_engine.models import Contract, Customer, Phase, Pricing, Product

    rng = random.Random(9)
    seats, _ = Product.objects.get_or_create(
        sku="BENCH-SEAT", defaults={"name": "Seats", "description": "Named users"}
    )
    platform, _ = Product.objects.get_or_create(
        sku="BENCH-PLAT", defaults={"name": "Platform fee", "description": "Hosted platform"}
    )
    names = ["Northwind", "Contoso", "Fabrikam", "Tailspin", "Litware", "Adatum", "Proseware"]
    for i in range(count):
        customer = Customer.objects.create(
            account_number=900000 + i,
            name=f"{names[i % len(names)]} Bench {i:03d} Ltd",
            contact_name="Bench Contact",
            email=f"billing{i}@bench.example.com",
            street1="1 Bench Road",
            city="Bristol",
            zip="BS1 5TY",
            country="GB",
        )
        start = date(2025, 1 + i % 12, 1 + i % 28)
        contract = Contract.objects.create(
            customer=customer,
            name=f"{names[i % len(names)]} platform {i:03d}",
            status="active",
            currency=("USD", "EUR", "GBP")[i % 3],
            start_date=start,
            end_date=None,
            cadence="P1M",
            billing_cycle_start_day=(1, 15, 28, 31)[i % 4],
            in_advance=i % 2 == 0,
        )
        phase = Phase.objects.create(
            contract=contract, name="Active", phase_type="active", start_date=start
        )
        Pricing.objects.create(
            phase=phase,
            product=platform,
            pricing_type="flat_fee",
            unit_amount_minor=rng.randint(100, 900) * 100,
            quantity=Decimal(1),
            tiers=[],
            start_date=start,
        )
        Pricing.objects.create(
            phase=phase,
            product=seats,
            pricing_type="per_unit",
            unit_amount_minor=2500,
            quantity=Decimal(rng.randint(5, 80)),
            tiers=[],
            start_date=start,
            unit="seat",
        )
    return count


def _search_terms(names: Iterable[str]) -> list[str]:
    """Words people would type: the first word of customers' names and words of plan names."""
    terms: set[str] = set()
    for name in names:
        words = re.findall(r"[A-Za-z]{4,}", name)
        if words:
            terms.add(words[0].lower())
        if ":" in name:
            plan = re.findall(r"[A-Za-z]{4,}", name.split(":", 1)[1])
            if plan:
                terms.add(plan[0].lower())
    return sorted(terms) or [""]
