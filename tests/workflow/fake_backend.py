"""An in-memory billing backend behind the port, with switchable failures and call counts.

Used by workflow tests that need failure paths the real adapters only show under faults. It keeps
the upstream's generation semantics: one draft per (contract, customer, cycle), regenerating
replaces the draft, an approved cycle cannot be generated again.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal

from invoices.backends.base import (
    AlreadyInvoicedUpstream,
    BackendRejected,
    BillingCycle,
    CannotBeVoided,
    CheckResult,
    Contract,
    ContractSummary,
    CreditNoteResult,
    CustomerRef,
    CycleNotMatched,
    Draft,
    DraftState,
    InvoiceBalance,
    LineItem,
    NotFoundUpstream,
    Page,
    Phase,
    Preview,
    RemoteInvoice,
    sum_amounts,
)


def cycle(start: str, end: str, *, day: int = 1, in_arrears: bool = False) -> BillingCycle:
    bill_for = end if in_arrears else start
    return BillingCycle(
        name=f"{start} – {end}",
        start_date=f"{start}T00:00:00Z",
        end_date=f"{end}T00:00:00Z",
        bill_for_date=f"{bill_for}T00:00:00Z",
        billing_cycle_start_day=day,
    )


def line(name: str, amount: str, qty: str = "1") -> LineItem:
    return LineItem(
        name=name,
        description=f"{name} service",
        quantity=Decimal(qty),
        unit="",
        unit_price=Decimal(amount) / Decimal(qty),
        amount=Decimal(amount),
        service_start=datetime(2026, 5, 1, tzinfo=UTC),
        service_end=datetime(2026, 6, 1, tzinfo=UTC),
    )


@dataclass
class FakeDraft:
    id: str
    contract_id: str
    customer_id: str
    bill_for_date: str
    lines: tuple[LineItem, ...]
    currency: str
    status: str = "draft"
    number: str = ""
    credits: list[Decimal] = field(default_factory=list)  # credit notes, major units
    period: tuple[datetime, datetime] | None = None  # the backend's own cycle, as generated
    discounted: Decimal | None = None  # a document-level total (a discount); None: sum of lines

    @property
    def total(self) -> Decimal:
        return sum_amounts(self.lines) if self.discounted is None else self.discounted

    @property
    def amount_due(self) -> Decimal:
        return self.total - sum(self.credits, Decimal(0))


@dataclass
class FakeCycleBackend:
    name: str = "embedded"
    preview_is_exact: bool = True
    contracts: dict[str, Contract] = field(default_factory=dict)
    cycles: dict[str, tuple[BillingCycle, ...]] = field(default_factory=dict)
    lines: dict[tuple[str, str], tuple[LineItem, ...]] = field(default_factory=dict)
    drafts: dict[str, FakeDraft] = field(default_factory=dict)
    calls: Counter = field(default_factory=Counter)
    # method name -> list of exceptions to raise on the next calls (consumed in order)
    failures: dict[str, list[Exception]] = field(default_factory=dict)
    # method name -> seconds to sleep inside the call (to widen race windows)
    delays: dict[str, float] = field(default_factory=dict)
    # an exception raised AFTER the upstream effect happened (a lost reply)
    after_effect: dict[str, Exception] = field(default_factory=dict)
    # regenerating a cycle keeps its draft's id (as the embedded engine and Zenskar do)
    keep_draft_ids: bool = False
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    current = None  # the instance `from_settings` hands out

    @classmethod
    def from_settings(cls, settings):
        return cls.current

    # --- test set-up ---
    def add_contract(
        self,
        contract_id: str = "c-1",
        *,
        name: str = "Acme hosting",
        customer: str = "Acme Ltd",
        currency: str = "USD",
        cycles: tuple[BillingCycle, ...] = (),
        lines: tuple[LineItem, ...] = (),
    ) -> Contract:
        contract = Contract(
            id=contract_id,
            name=name,
            status="active",
            currency=currency,
            customer=CustomerRef(id=f"cust-{contract_id}", name=customer),
            start_date=datetime(2026, 1, 1, tzinfo=UTC),
            end_date=None,
            phases=(
                Phase(
                    id="ph-1",
                    name="Main",
                    phase_type="active",
                    start_date=datetime(2026, 1, 1, tzinfo=UTC),
                    end_date=None,
                    pricings=(),
                ),
            ),
        )
        self.contracts[contract_id] = contract
        self.cycles[contract_id] = cycles
        for c in cycles:
            self.lines[(contract_id, c.bill_for_date)] = lines
        return contract

    def fail(self, method: str, *errors: Exception) -> None:
        self.failures.setdefault(method, []).extend(errors)

    def _enter(self, method: str) -> None:
        with self._lock:
            self.calls[method] += 1
            pending = self.failures.get(method)
            error = pending.pop(0) if pending else None
        if method in self.delays:
            time.sleep(self.delays[method])
        if error is not None:
            raise error

    # --- the port ---
    def search_contracts(self, *, query="", cursor=None, limit=20):
        self._enter("search_contracts")
        found = [
            ContractSummary(**{k: getattr(c, k) for k in ContractSummary.__dataclass_fields__})
            for c in self.contracts.values()
            if query.lower() in c.name.lower() or query.lower() in c.customer.name.lower()
        ]
        start = int(cursor or 0)
        page = found[start : start + limit]
        nxt = str(start + limit) if start + limit < len(found) else None
        return Page(tuple(page), nxt, None, len(found))

    def get_contract(self, contract_id):
        self._enter("get_contract")
        try:
            return self.contracts[contract_id]
        except KeyError:
            raise NotFoundUpstream("No such contract.") from None

    def list_billing_cycles(self, contract_id):
        self._enter("list_billing_cycles")
        return self.cycles.get(contract_id, ())

    def preview_cycle(self, contract, cycle):
        self._enter("preview_cycle")
        lines = self.lines.get((contract.id, cycle.bill_for_date), ())
        return Preview(contract.currency, lines, sum_amounts(lines), self.preview_is_exact)

    def generate_draft(self, *, contract_id, customer_id, cycle):
        self._enter("generate_draft")
        # Like the vendor: the cycle is matched by its bill-for date, and the draft covers the
        # backend's own cycle for that date (which may have changed since it was listed).
        listed = {c.bill_for_date: c for c in self.cycles.get(contract_id, ())}
        own = listed.get(cycle.bill_for_date)
        if own is None:
            raise CycleNotMatched("bill_for_date matched no cycle")
        with self._lock:
            same = [
                d
                for d in self.drafts.values()
                if (d.contract_id, d.customer_id, d.bill_for_date)
                == (contract_id, customer_id, cycle.bill_for_date)
            ]
            if any(d.status == "approved" for d in same):
                raise AlreadyInvoicedUpstream("InvoiceAlreadyGeneratedForThisBillingPeriod")
            for d in same:
                del self.drafts[d.id]
            kept = [d.id for d in same if self.keep_draft_ids]
            draft_id = kept[0] if kept else f"inv-{next(self._ids)}"
            self.drafts[draft_id] = FakeDraft(
                id=draft_id,
                contract_id=contract_id,
                customer_id=customer_id,
                bill_for_date=cycle.bill_for_date,
                lines=self.lines.get((contract_id, cycle.bill_for_date), ()),
                currency=self.contracts[contract_id].currency,
                number=f"INV-{draft_id}",
                period=(own.start, own.end),
            )
        self._after("generate_draft")
        return draft_id

    def _after(self, method: str) -> None:
        error = self.after_effect.pop(method, None)
        if error is not None:
            raise error

    def get_draft(self, invoice_id):
        self._enter("get_draft")
        try:
            d = self.drafts[invoice_id]
        except KeyError:
            raise NotFoundUpstream("No such invoice.") from None
        return Draft(
            id=d.id,
            number=d.number,
            status=d.status,
            state=DraftState.DRAFT if d.status == "draft" else DraftState.APPROVED,
            currency=d.currency,
            total=d.total,
            lines=d.lines,
            contract_id=d.contract_id,
            customer_id=d.customer_id,
            period=d.period,
        )

    def approve_draft(self, invoice_id):
        self._enter("approve_draft")
        with self._lock:
            d = self.drafts.get(invoice_id)
            if d is None:
                raise NotFoundUpstream("No such invoice.")
            if d.status == "approved":
                raise AlreadyInvoicedUpstream("InvoiceAlreadyGeneratedForThisBillingPeriod")
            d.status = "approved"
        self._after("approve_draft")
        return RemoteInvoice(id=d.id, number=d.number, status="approved", currency=d.currency)

    def delete_draft(self, invoice_id):
        self._enter("delete_draft")
        with self._lock:
            d = self.drafts.get(invoice_id)
            if d is None:
                raise NotFoundUpstream("No such invoice.")
            if d.status != "draft":
                raise AlreadyInvoicedUpstream("approved invoices cannot be deleted")
            del self.drafts[invoice_id]

    # --- corrections ---
    def invoice_balance(self, invoice_id):
        self._enter("invoice_balance")
        d = self._invoice(invoice_id)
        return InvoiceBalance(
            id=d.id,
            status=d.status,
            currency=d.currency,
            total=d.total,
            amount_due=d.amount_due,
            voided=d.status == "void",
            credited=sum(d.credits, Decimal(0)),
        )

    def credit_note(self, invoice_id, amount, reason):
        self._enter("credit_note")
        with self._lock:
            d = self._invoice(invoice_id)
            if d.status != "approved":
                raise BackendRejected(f"invoice is {d.status}", status=409)
            if amount <= 0 or amount > d.amount_due:
                raise BackendRejected("credit note amount exceeds the amount due", status=400)
            d.credits.append(amount)
            note_id = f"cn-{len(d.credits)}-{d.id}"
        self._after("credit_note")
        return CreditNoteResult(
            id=note_id,
            number=f"CN-{note_id}",
            invoice_id=d.id,
            currency=d.currency,
            amount=amount,
            amount_due=d.amount_due,
        )

    def void_invoice(self, invoice_id):
        self._enter("void_invoice")
        with self._lock:
            d = self._invoice(invoice_id)
            if d.status != "approved" or d.amount_due != 0:
                raise CannotBeVoided("INVOICE_CANNOT_BE_VOIDED: the balance is not zero")
            d.status = "void"
        self._after("void_invoice")
        return RemoteInvoice(id=d.id, number=d.number, status="void", currency=d.currency)

    def _invoice(self, invoice_id) -> FakeDraft:
        try:
            return self.drafts[invoice_id]
        except KeyError:
            raise NotFoundUpstream("No such invoice.") from None

    def check(self):
        return CheckResult("contract-cycle invoicing", True, "fake")

    # --- helpers for assertions ---
    def change_lines(self, draft_id: str, lines: tuple[LineItem, ...]) -> None:
        self.drafts[draft_id] = replace(self.drafts[draft_id], lines=lines)
