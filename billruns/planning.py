"""The dry run: every due cycle without a live local invoice, with its preview total, grouped by
currency, and the exceptions a run would skip, and why.

Everything is asked of the billing backend through the port (`invoices.backends.cycle_backend`):
the contract list a page at a time, each kept contract's billing cycles, and for each contract
with a due cycle the contract's terms and one preview per cycle (exact on the embedded engine,
an estimate from the contract's terms on Zenskar). On a remote backend the per-contract reads go
out BILLRUN_CONCURRENCY at a time. Live local invoices are found with one query for all
contracts, not one per cycle.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from invoices import money, services, workflow
from invoices.backends import cycle_backend
from invoices.backends.base import BackendError, BillingCycle, ContractSummary
from invoices.models import Invoice

from .config import concurrency

PAGE_SIZE = 100
DEFAULT_STATUSES = ("active",)
# Contract statuses people choose from (the embedded engine's, which mirror the vendor's).
CONTRACT_STATUSES = ("active", "paused", "disputed", "expired", "draft")


@dataclass(frozen=True)
class PlanFilters:
    through: date
    currency: str = ""
    customer: str = ""
    statuses: tuple[str, ...] = DEFAULT_STATUSES

    def matches(self, contract: ContractSummary) -> bool:
        """The currency and customer filters (the status filter makes exceptions instead)."""
        if self.currency and contract.currency.upper() != self.currency:
            return False
        if self.customer:
            wanted = self.customer.casefold()
            customer = contract.customer
            if customer.id != self.customer and wanted not in customer.name.casefold():
                return False
        return True


@dataclass(frozen=True)
class PlannedCycle:
    contract_id: str
    contract_name: str
    customer_id: str
    customer_name: str
    currency: str
    cycle: BillingCycle
    total_minor: int


@dataclass(frozen=True)
class Skip:
    """A contract or cycle a run leaves out, and why (shown to the clerk before launching)."""

    contract_id: str
    contract_name: str
    customer_name: str
    reason: str
    cycle_name: str = ""

    def as_dict(self) -> dict:
        return {
            "contract_id": self.contract_id,
            "contract_name": self.contract_name,
            "customer_name": self.customer_name,
            "cycle_name": self.cycle_name,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Group:
    currency: str
    count: int
    total_minor: int


@dataclass
class Plan:
    filters: PlanFilters
    backend: str
    exact: bool
    cycles: list[PlannedCycle] = field(default_factory=list)
    exceptions: list[Skip] = field(default_factory=list)
    contracts_listed: int = 0
    contracts_planned: int = 0
    already_live: int = 0  # due cycles that already have a live local invoice

    @property
    def groups(self) -> list[Group]:
        return groups_of((c.currency, c.total_minor) for c in self.cycles)

    def summary(self) -> dict:
        """What a run keeps of its plan besides the items (JSON)."""
        return {
            "exceptions": [skip.as_dict() for skip in self.exceptions],
            "contracts_listed": self.contracts_listed,
            "contracts_planned": self.contracts_planned,
            "already_live": self.already_live,
        }


def groups_of(pairs) -> list[Group]:
    """Counts and totals per currency, in currency order."""
    counts: dict[str, int] = defaultdict(int)
    totals: dict[str, int] = defaultdict(int)
    for currency, total_minor in pairs:
        counts[currency] += 1
        totals[currency] += total_minor or 0
    return [Group(code, counts[code], totals[code]) for code in sorted(counts)]


#: (what is being done, how many done, out of how many)
Progress = Callable[[str, int, int], None]
READING_CYCLES = "Reading billing cycles"
PREVIEWING = "Previewing due cycles"


def build_plan(filters: PlanFilters, *, progress: Progress | None = None) -> Plan:
    """The plan for `filters`. Raises BackendError only if the contract list itself cannot be
    read; a contract that cannot be read is an exception of the plan, not a failure."""
    backend = cycle_backend()
    workers = concurrency(backend.name)
    plan = Plan(filters=filters, backend=backend.name, exact=backend.preview_is_exact)
    report = progress or (lambda stage, done, total: None)

    contracts = _kept_contracts(backend, filters, plan)
    report(READING_CYCLES, 0, len(contracts))
    # 1. Each contract's cycles; the due ones.
    due: dict[str, tuple[ContractSummary, list[BillingCycle]]] = {}
    for done, (contract, cycles, error) in enumerate(
        _each(lambda c: backend.list_billing_cycles(c.id), contracts, workers), start=1
    ):
        if error is not None:
            plan.exceptions.append(_not_read(contract, error))
        else:
            wanted = [c for c in cycles if c.bill_for.date() <= filters.through]
            if wanted:
                due[contract.id] = (contract, wanted)
        if done % 10 == 0 or done == len(contracts):
            report(READING_CYCLES, done, len(contracts))
    # 2. One query for every live local invoice of those contracts.
    live = _live_cycles(backend.name, list(due))
    to_preview = []
    for contract, cycles in due.values():
        fresh = [c for c in cycles if (contract.id, contract.customer.id, c.bill_for) not in live]
        plan.already_live += len(cycles) - len(fresh)
        if fresh:
            to_preview.append((contract, fresh))
    plan.contracts_planned = len(to_preview)
    # 3. Each remaining contract's terms and its due cycles' previews.
    report(PREVIEWING, 0, len(to_preview))
    for done, ((contract, _cycles), previews, error) in enumerate(
        _each(lambda pair: _previews(backend, *pair), to_preview, workers), start=1
    ):
        if error is not None:
            plan.exceptions.append(_not_read(contract, error))
        else:
            for cycle, total_minor, skip_reason in previews:
                if skip_reason:
                    plan.exceptions.append(
                        Skip(
                            contract.id,
                            contract.name,
                            contract.customer.name,
                            skip_reason,
                            cycle.name,
                        )
                    )
                    continue
                plan.cycles.append(
                    PlannedCycle(
                        contract_id=contract.id,
                        contract_name=contract.name,
                        customer_id=contract.customer.id,
                        customer_name=contract.customer.name,
                        currency=contract.currency,
                        cycle=cycle,
                        total_minor=total_minor,
                    )
                )
        if done % 10 == 0 or done == len(to_preview):
            report(PREVIEWING, done, len(to_preview))
    # Oldest first, and one contract's cycles apart from each other: workers working side by side
    # take different contracts (no queueing on one contract's lock upstream).
    plan.cycles.sort(key=lambda c: (c.cycle.bill_for, c.currency, c.customer_name, c.contract_id))
    return plan


def _kept_contracts(backend, filters: PlanFilters, plan: Plan) -> list[ContractSummary]:
    """Every listed contract matching the filters; those in another status become exceptions."""
    kept, cursor = [], None
    while True:
        page = backend.search_contracts(query="", cursor=cursor, limit=PAGE_SIZE)
        for contract in page.items:
            plan.contracts_listed += 1
            if not filters.matches(contract):
                continue
            if contract.status.lower() not in filters.statuses:
                plan.exceptions.append(
                    Skip(
                        contract.id,
                        contract.name,
                        contract.customer.name,
                        f"Contract is {contract.status or 'without a status'}: this run bills "
                        f"{' and '.join(filters.statuses)} contracts only.",
                    )
                )
                continue
            kept.append(contract)
        cursor = page.next_cursor
        if not cursor or not page.items:
            return kept


def _each(fn, items, workers):
    from .threads import bounded_map

    for item, result, error in bounded_map(fn, items, workers):
        if error is not None and not isinstance(error, BackendError | money.MoneyError):
            raise error
        yield item, result, error


def _previews(backend, contract: ContractSummary, cycles: list[BillingCycle]):
    """(cycle, total in minor units, reason to skip it or "") for each due cycle."""
    terms = backend.get_contract(contract.id)
    found = []
    for cycle in cycles:
        try:
            preview = backend.preview_cycle(terms, cycle)
            total_minor = money.to_minor(preview.total, preview.currency)
        except (BackendError, money.MoneyError) as exc:
            found.append((cycle, 0, f"Could not be previewed: {exc}"))
            continue
        if services.needs_empty_confirmation(preview.lines, total_minor):
            reason = "Zero total: a run does not submit it (submit it by hand to confirm it)."
            found.append((cycle, total_minor, reason))
        else:
            found.append((cycle, total_minor, ""))
    return found


def _not_read(contract: ContractSummary, error: BaseException) -> Skip:
    return Skip(
        contract.id,
        contract.name,
        contract.customer.name,
        f"Could not be read from the billing backend: {error}",
    )


def _live_cycles(backend_name: str, contract_ids: list[str]) -> set[tuple]:
    """(contract id, customer id, bill-for instant) of every live local cycle invoice of these
    contracts, in one query (chunked for very long lists)."""
    live: set[tuple] = set()
    for start in range(0, len(contract_ids), 1000):
        rows = Invoice.objects.filter(
            kind=Invoice.Kind.CYCLE,
            backend=backend_name,
            contract_id__in=contract_ids[start : start + 1000],
            status__in=workflow.LIVE_STATUSES,
        ).values_list("contract_id", "customer_id", "bill_for")
        live.update(rows)
    return live
