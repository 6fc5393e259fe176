"""Demo contracts with their phases and pricings: every cadence, anchor day, term shape and
archetype (trial, price rise, mid-term change, pause), each derived from its position only."""

from __future__ import annotations

import calendar
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from ..models import Contract, Customer, Phase, Pricing, Product
from .catalogue import (
    CADENCE_MONTHS,
    FLAT,
    PER_UNIT,
    PLANS,
    TIERED,
    UNITS,
    VOLUME,
    _cycle_factor,
    _nice_minor,
)
from .common import REFERENCE, _Sync, demo_id

EURO = {"AT", "BE", "CH", "DE", "DK", "ES", "FI", "FR", "IE", "IT", "NL", "NO", "PT", "SE"}

CADENCES = ["P1M", "P1M", "P3M", "P1M", "P1Y", "P1M", "P6M", "P3M", "P1M", "P1Y", "P1M"]
ANCHORS = [1, 15, 28, 31]
ARCHETYPES = ["simple", "trial", "rise", "midterm change", "pause"]
CONTRACTS_PER_CUSTOMER = 3


def _add_months(day: date, months: int, anchor: int | None = None) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    wanted = anchor if anchor is not None else day.day
    return date(year, month, min(wanted, calendar.monthrange(year, month)[1]))


@dataclass
class _Plan:
    contract: dict
    phases: list[dict]
    pricings: list[dict]


def _contract_plan(customer: Customer, number: int, index: int, products) -> _Plan:
    """One contract's rows, derived from its position only (same input, same contract)."""
    rng = random.Random(f"contract:{customer.account_number}:{number}")
    key = f"{customer.id}:{number}"
    cadence = CADENCES[index % len(CADENCES)]
    anchor = ANCHORS[(index // 2) % len(ANCHORS)]
    archetype = ARCHETYPES[index % len(ARCHETYPES)]

    currency = "USD"
    if customer.country == "GB":
        currency = "GBP"
    elif customer.country in EURO:
        currency = "EUR"
    elif customer.country == "JP":
        currency = "JPY"
    elif customer.country == "KW":
        currency = "KWD"
    if index % 7 == 3 and currency != "USD":
        currency = "USD"  # some customers buy in dollars too
    elif index % 11 == 5 and currency == "USD":
        currency = "EUR"

    first_anchor = _add_months(date(2025, 1, 1), rng.randint(0, 18), anchor)
    if rng.random() < 0.5:
        start = first_anchor  # starts on its anchor date
    else:
        start = first_anchor - timedelta(days=rng.randint(3, 12))  # mid-cycle: a short stub
    if archetype == "rise":
        start = min(start, date(2025, 9, 1))  # so the price rise lands inside 2026
    months = CADENCE_MONTHS[cadence]
    term = rng.random()
    end: date | None
    if term < 0.45:
        end = None
    elif term < 0.8:
        end = _add_months(first_anchor, months * max(1, 24 // months), anchor)  # fixed term
    else:
        # Ended (or ending) part-way through a cycle: a short last cycle.
        end = _add_months(first_anchor, rng.randint(4, 14), anchor) + timedelta(days=9)
    if end is not None and end <= start + timedelta(days=40):
        end = _add_months(start, 6)

    # Consecutive indexes get different plans, so a customer's three contracts differ.
    plan_name = sorted(PLANS)[(index * 4) % len(PLANS)]
    phases: list[dict] = []
    pricings: list[dict] = []

    def add_phase(name: str, kind: str, phase_start: date, phase_end: date | None) -> dict | None:
        if end is not None:
            if phase_start >= end:
                return None
            phase_end = end if phase_end is None else min(phase_end, end)
        if phase_end is not None and phase_end <= phase_start:
            return None
        row = {
            "id": demo_id("phase", key, len(phases)),
            "contract_id": demo_id("contract", key),
            "name": name,
            "phase_type": kind,
            "start_date": phase_start,
            "end_date": phase_end,
        }
        phases.append(row)
        return row

    quantities = {
        sku: (None if bounds is None else rng.randint(*bounds)) for sku, bounds in PLANS[plan_name]
    }

    def add_pricings(phase: dict, uplift: Decimal = Decimal(1), *, only=None, start=None, end=None):
        for sku, _ in PLANS[plan_name]:
            if only is not None and sku not in only:
                continue
            pricings.append(
                _pricing_row(
                    key=key,
                    phase=phase,
                    sku=sku,
                    product=products[sku],
                    currency=currency,
                    cadence=cadence,
                    quantity=quantities[sku],
                    uplift=uplift,
                    start=start or phase["start_date"],
                    end=end or phase["end_date"],
                    serial=len(pricings),
                )
            )

    if archetype == "simple":
        add_pricings(add_phase("Subscription", "active", start, None))
    elif archetype == "trial":
        trial_end = _add_months(start, 1)
        trial = add_phase("Free trial", "trial", start, trial_end)
        add_pricings(trial)
        active = add_phase("Subscription", "active", trial_end, None)
        if active:
            add_pricings(active)
    elif archetype == "rise":
        trial_end = _add_months(start, 1)
        rise = _add_months(trial_end, 12)
        add_pricings(add_phase("Pilot (free)", "trial", start, trial_end))
        year_one = add_phase("Year one", "active", trial_end, rise)
        if year_one:
            add_pricings(year_one)
        year_two = add_phase("Year two (list price +8%)", "active", rise, None)
        if year_two:
            add_pricings(year_two, Decimal("1.08"))
    elif archetype == "midterm change":
        # Seats (or the first metered product) change on a day inside a cycle: both pricings
        # are on that cycle's invoice, each prorated.
        phase = add_phase("Subscription", "active", start, None)
        change = _add_months(start, rng.randint(2, 8)) + timedelta(days=9)
        metered = [sku for sku, bounds in PLANS[plan_name] if bounds is not None]
        if metered and (end is None or change < end):
            target = metered[0]
            add_pricings(phase, only=[sku for sku, _ in PLANS[plan_name] if sku != target])
            add_pricings(phase, only=[target], end=change)
            quantities[target] = quantities[target] * 3 // 2 + 1  # the account grew by half
            add_pricings(phase, only=[target], start=change)
        else:
            add_pricings(phase)
    else:  # pause
        pause_start = _add_months(start, rng.randint(3, 9))
        pause_end = _add_months(pause_start, 2)
        add_pricings(add_phase("Subscription", "active", start, pause_start))
        add_phase("Seasonal pause", "pause", pause_start, pause_end)
        resumed = add_phase("Subscription (resumed)", "active", pause_end, None)
        if resumed:
            add_pricings(resumed)

    status = Contract.Status.ACTIVE
    if start > REFERENCE:
        status = Contract.Status.DRAFT
    elif end is not None and end <= REFERENCE:
        status = Contract.Status.EXPIRED
    elif any(
        row["phase_type"] == "pause"
        and row["start_date"] <= REFERENCE < (row["end_date"] or date.max)
        for row in phases
    ):
        status = Contract.Status.PAUSED
    elif index % 29 == 13:
        status = Contract.Status.DISPUTED

    short = customer.name.split(" (")[0]
    contract = {
        "id": demo_id("contract", key),
        "customer_id": customer.id,
        "name": f"{short}: {plan_name}",
        "status": status,
        "currency": currency,
        "start_date": start,
        "end_date": end,
        "cadence": cadence,
        "billing_cycle_start_day": anchor,
        "in_advance": index % 10 not in (2, 5, 9),
    }
    return _Plan(contract=contract, phases=phases, pricings=pricings)


def _pricing_row(
    *, key, phase, sku, product, currency, cadence, quantity, uplift, start, end, serial
) -> dict:
    factor = _cycle_factor(cadence) * uplift
    tiers: list = []
    if sku in FLAT:
        kind, amount, qty = "flat_fee", _nice_minor(FLAT[sku] * factor, currency), Decimal(1)
    elif sku in PER_UNIT:
        kind, amount, qty = "per_unit", _nice_minor(PER_UNIT[sku] * factor, currency), quantity
    else:
        kind = "tiered" if sku in TIERED else "volume"
        table = TIERED.get(sku) or VOLUME[sku]
        amount, qty = 0, quantity
        tiers = [
            {"up_to": up_to, "unit_amount_minor": _nice_minor(price * factor, currency)}
            for up_to, price in table
        ]
    return {
        "id": demo_id("pricing", key, serial),
        "phase_id": phase["id"],
        "product_id": product.id,
        "pricing_type": kind,
        "unit_amount_minor": amount,
        "quantity": Decimal(qty),
        "unit": UNITS.get(sku, ""),
        "tiers": tiers,
        "start_date": start,
        "end_date": end,
    }


def _seed_contracts(customers: list[Customer], products: dict[str, Product]) -> list[Contract]:
    plans = []
    for position, customer in enumerate(customers):
        for number in range(CONTRACTS_PER_CUSTOMER):
            index = position * CONTRACTS_PER_CUSTOMER + number
            plans.append(_contract_plan(customer, number, index, products))
    _Sync(Contract, [plan.contract for plan in plans]).run()
    contract_ids = [plan.contract["id"] for plan in plans]
    phase_rows = [row for plan in plans for row in plan.phases]
    pricing_rows = [row for plan in plans for row in plan.pricings]
    # What an earlier version of the demo defined and this one does not, goes.
    Pricing.objects.filter(phase__contract_id__in=contract_ids).exclude(
        id__in=[row["id"] for row in pricing_rows]
    ).delete()
    Phase.objects.filter(contract_id__in=contract_ids).exclude(
        id__in=[row["id"] for row in phase_rows]
    ).delete()
    _Sync(Phase, phase_rows).run()
    _Sync(Pricing, pricing_rows).run()
    order = {pk: position for position, pk in enumerate(contract_ids)}
    contracts = list(Contract.objects.filter(id__in=contract_ids))
    contracts.sort(key=lambda contract: order[contract.id])
    return contracts
