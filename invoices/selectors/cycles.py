"""A contract's billing cycles with their local state: the clerk flow's list and the coverage
page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from .. import workflow
from ..backends.base import BillingCycle, Contract
from ..models import Invoice

S = Invoice.Status


# --- clerk flow: cycles with their local state ----------------------------------------------
@dataclass(frozen=True)
class CycleRow:
    cycle: BillingCycle
    state: str  # not_invoiced | a status of the latest local invoice for the cycle
    state_label: str
    live: Invoice | None  # the live invoice holding the cycle, if any
    latest: Invoice | None


def cycle_rows(*, backend: str, contract: Contract, cycles) -> list[CycleRow]:
    """Every fetched cycle, as fetched, with its local state (one query for all of them)."""
    local = (
        Invoice.objects.filter(
            kind=Invoice.Kind.CYCLE,
            backend=backend,
            contract_id=contract.id,
            customer_id=contract.customer.id,
        )
        .only("id", "status", "bill_for", "cycle_bill_for_date", "version", "decision_reason")
        .order_by("bill_for", "id")
    )
    latest: dict[str, Invoice] = {}
    live: dict[str, Invoice] = {}
    for invoice in local:
        key = invoice.cycle_bill_for_date
        latest[key] = invoice
        if invoice.is_live:
            live[key] = invoice
    rows = []
    for cycle in cycles:
        holder = live.get(cycle.bill_for_date) or _same_instant(live, cycle)
        last = latest.get(cycle.bill_for_date) or _same_instant(latest, cycle)
        shown = holder or last
        if shown is None:
            state, label = "not_invoiced", "Not invoiced"
        else:
            state, label = shown.status, shown.get_status_display()
        rows.append(CycleRow(cycle, state, label, holder, last))
    return rows


def _same_instant(invoices: dict[str, Invoice], cycle: BillingCycle) -> Invoice | None:
    """Match by instant when the backend now spells the same bill-for date differently."""
    for invoice in invoices.values():
        if invoice.bill_for == cycle.bill_for:
            return invoice
    return None


# --- contract coverage -----------------------------------------------------------------------
#: A due cycle is a gap when nothing live holds it: never invoiced, or only closed invoices.
GAP_STATES = frozenset({"not_invoiced", *workflow.CLOSED_STATUSES})


@dataclass(frozen=True)
class CoverageRow:
    row: CycleRow
    due: bool  # the bill-for date is in the past
    gap: bool  # due, and nothing live holds it (never invoiced, or only rejected/withdrawn)

    @property
    def cycle(self) -> BillingCycle:
        return self.row.cycle


@dataclass(frozen=True)
class Coverage:
    rows: list[CoverageRow]
    counts: dict[str, int]
    gaps: int


def coverage(*, backend: str, contract: Contract, cycles, now: datetime | None = None):
    """Every fetched cycle with its local state; due cycles that nothing live holds are gaps."""
    now = now or timezone.now()
    rows = []
    counts: dict[str, int] = {}
    for row in cycle_rows(backend=backend, contract=contract, cycles=cycles):
        due = row.cycle.bill_for < now
        gap = due and row.state in GAP_STATES
        rows.append(CoverageRow(row, due, gap))
        counts[row.state_label] = counts.get(row.state_label, 0) + 1
    return Coverage(rows, counts, sum(r.gap for r in rows))
