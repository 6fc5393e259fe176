"""The cycle invoices an earlier billing run would already have approved."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.db import transaction

from .. import api
from ..api.contracts import _load_contract
from ..api.cycles import _cycles, _rate
from ..models import Contract, EngineInvoice
from .common import APPROVED_BEFORE, demo_id


def _seed_approved_invoices(contracts: list[Contract]) -> tuple[int, int]:
    """Approve the last few cycles billed before APPROVED_BEFORE on every third contract, as if
    an earlier billing run had done it. Cycles that already have an invoice (the demo's own from
    a previous run, or one made through the app) are left alone. They are numbered in the order
    they were approved, as the engine would have numbered them."""
    approved = 0
    owed = []
    for position, contract in enumerate(contracts):
        if position % 3 != 0 or contract.status == Contract.Status.DRAFT:
            continue
        cycles = [
            cycle
            for cycle in _cycles(contract, horizon=APPROVED_BEFORE)
            if cycle.bill_for.date() < APPROVED_BEFORE
        ][-3:]
        if not cycles:
            continue
        loaded = _load_contract(contract.id)
        taken = set(
            EngineInvoice.objects.filter(contract=contract).values_list("bill_for", flat=True)
        )
        for cycle in cycles:
            approved += 1
            if cycle.bill_for not in taken:
                issued = datetime.combine(cycle.bill_for.date(), time(9, 0), tzinfo=UTC)
                owed.append((issued, contract.id, contract, loaded, cycle))
    owed.sort(key=lambda item: item[:2])
    for issued, _, contract, loaded, cycle in owed:
        lines = _rate(loaded, cycle)
        approved_at = issued + timedelta(days=1, hours=2)
        with transaction.atomic():
            invoice = EngineInvoice(
                id=demo_id("invoice", contract.id, cycle.bill_for.date()),
                contract=contract,
                customer_id=contract.customer_id,
                period_start=cycle.start,
                period_end=cycle.end,
                bill_for=cycle.bill_for,
                billing_cycle_start_day=cycle.billing_cycle_start_day,
                status=EngineInvoice.Status.APPROVED,
                number=api.take(series="INV", year=approved_at.year),
                currency=contract.currency,
                total_minor=sum(line.amount_minor for line in lines),
                created_at=issued,
                generated_at=issued,
                approved_at=approved_at,
            )
            invoice.save(force_insert=True)
            api.write_lines(invoice, lines)
    return len(owed), approved
