"""The embedded contract-cycle adapter: contracts, billing cycles, previews, the cycle's draft,
and the corrections of an approved invoice (credit notes, a void at a zero balance)."""

from __future__ import annotations

from dataclasses import fields
from decimal import Decimal

from django.db import DatabaseError

from billing_engine import api
from billing_rules.cycles import midnight
from invoices import money

from ..base import (
    BackendRejected,
    BackendUnavailable,
    BillingCycle,
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
    Page,
    Phase,
    Preview,
    Pricing,
    RemoteInvoice,
    Tier,
    sum_amounts,
)
from .common import NAME, _at, _plain, _unit_major, engine_errors, engine_page


def _summary(info: api.ContractInfo) -> ContractSummary:
    return ContractSummary(
        id=info.id,
        name=info.name,
        status=info.status,
        currency=info.currency,
        customer=CustomerRef(
            id=info.customer.id, name=info.customer.name, email=info.customer.email
        ),
        start_date=midnight(info.start_date),
        end_date=_at(info.end_date),
    )


def _note(line: api.LineInfo) -> str:
    if line.phase_type == "trial":
        return "Trial: no charge"
    if line.prorated:
        return f"Prorated: {line.covered_days} of {line.window_days} days"
    return ""


def _line_item(line: api.LineInfo, currency: str) -> LineItem:
    return LineItem(
        name=line.product_name,
        description=line.description,
        quantity=_plain(line.quantity),
        unit=line.unit,
        unit_price=_unit_major(line.unit_amount_minor, currency),
        amount=money.to_major(line.amount_minor, currency),
        service_start=line.service_start,
        service_end=line.service_end,
        prorated=line.prorated,
        note=_note(line),
    )


class EmbeddedCycleBackend:
    """Contract-cycle invoicing by the embedded engine. Its preview is a dry run of generation,
    so it is exact."""

    name = NAME
    preview_is_exact = True

    @classmethod
    def from_settings(cls, settings) -> EmbeddedCycleBackend:
        return cls()

    def search_contracts(
        self, *, query: str = "", cursor: str | None = None, limit: int = 20
    ) -> Page[ContractSummary]:
        return engine_page(api.search_contracts, _summary, query=query, cursor=cursor, limit=limit)

    def get_contract(self, contract_id: str) -> Contract:
        with engine_errors():
            info = api.get_contract(contract_id)
        refs = {ref.id: ref for ref in info.pricing_refs}
        phases = []
        for phase_ref, term in zip(info.phase_refs, info.phases, strict=True):
            pricings = tuple(
                Pricing(
                    id=pricing.id,
                    product_id=refs[pricing.id].product_id,
                    product_name=pricing.product_name,
                    sku=pricing.sku,
                    description=pricing.description,
                    pricing_type=pricing.pricing_type,
                    currency=info.currency,
                    unit_amount=_unit_major(pricing.unit_amount_minor, info.currency),
                    quantity=pricing.quantity,
                    unit=refs[pricing.id].unit,
                    tiers=tuple(
                        Tier(
                            up_to=None if tier.up_to is None else Decimal(tier.up_to),
                            unit_amount=_unit_major(tier.unit_amount_minor, info.currency),
                        )
                        for tier in pricing.tiers
                    ),
                    cadence=info.cadence,
                    start_date=midnight(pricing.start),
                    end_date=_at(pricing.end),
                )
                for pricing in term.pricings
            )
            phases.append(
                Phase(
                    id=phase_ref.id,
                    name=phase_ref.name,
                    phase_type=term.phase_type,
                    start_date=midnight(term.start),
                    end_date=_at(term.end),
                    pricings=pricings,
                )
            )
        summary = _summary(info)
        return Contract(
            **{f.name: getattr(summary, f.name) for f in fields(ContractSummary)},
            phases=tuple(phases),
            billing_cycle_start_day=info.billing_cycle_start_day,
            cadence=info.cadence,
            in_advance=info.in_advance,
        )

    def list_billing_cycles(self, contract_id: str) -> tuple[BillingCycle, ...]:
        with engine_errors():
            entries = api.billing_cycles(contract_id)
        return tuple(
            BillingCycle(
                name=entry["name"],
                start_date=entry["start_date"],
                end_date=entry["end_date"],
                bill_for_date=entry["bill_for_date"],
                billing_cycle_start_day=entry["billing_cycle_start_day"],
            )
            for entry in entries
        )

    def preview_cycle(self, contract: Contract, cycle: BillingCycle) -> Preview:
        with engine_errors():
            info = api.preview(contract.id, bill_for_date=cycle.bill_for_date)
        if (info.period_start, info.period_end) != (cycle.start, cycle.end):
            raise CycleNotMatched(
                f"The cycle {cycle.name} no longer matches the contract's cycles (it is now "
                f"{info.period_start:%Y-%m-%d} to {info.period_end:%Y-%m-%d}). Refresh the "
                "billing cycles and pick one again.",
                backend=NAME,
            )
        lines = tuple(_line_item(line, info.currency) for line in info.lines)
        return Preview(currency=info.currency, lines=lines, total=sum_amounts(lines), exact=True)

    def generate_draft(self, *, contract_id: str, customer_id: str, cycle: BillingCycle) -> str:
        with engine_errors():
            answer = api.generate_invoice(
                customer_id=customer_id,
                contract_id=contract_id,
                **cycle.generation_fields(),
            )
        ids = answer.get("invoice_ids") or []
        if not ids:
            raise CycleNotMatched(
                "The engine generated nothing: the billing cycle matched none of the contract's "
                "cycles. Refresh the billing cycles and pick one again.",
                backend=NAME,
            )
        return str(ids[0])

    def get_draft(self, invoice_id: str) -> Draft:
        with engine_errors():
            info = api.get_invoice(invoice_id)
        return _draft(info)

    def approve_draft(self, invoice_id: str) -> RemoteInvoice:
        with engine_errors():
            info = api.approve_invoice(invoice_id)
        return _draft(info).as_remote()

    def delete_draft(self, invoice_id: str) -> None:
        with engine_errors():
            api.delete_invoice(invoice_id)

    # --- corrections of an approved invoice ---------------------------------------------------
    def invoice_balance(self, invoice_id: str) -> InvoiceBalance:
        with engine_errors():
            info = api.get_invoice(invoice_id)
        return InvoiceBalance(
            id=info.id,
            status=info.status,
            currency=info.currency,
            total=money.to_major(info.total_minor, info.currency),
            amount_due=money.to_major(info.amount_due_minor, info.currency),
            voided=info.status == "void",
            credited=money.to_major(info.credited_minor, info.currency),
        )

    def credit_note(self, invoice_id: str, amount: Decimal, reason: str) -> CreditNoteResult:
        with engine_errors():
            currency = api.get_invoice(invoice_id).currency
        try:
            amount_minor = money.to_minor(amount, currency)
        except money.MoneyError as exc:
            raise BackendRejected(
                str(exc),
                status=422,
                code="validation_failed",
                field_errors={"credit_note_amount": [str(exc)]},
                backend=NAME,
            ) from None
        with engine_errors():
            note = api.credit_invoice(invoice_id, amount_minor=amount_minor, reason=reason)
            after = api.get_invoice(invoice_id)
        return CreditNoteResult(
            id=note.id,
            number=note.number,
            invoice_id=note.invoice_id,
            currency=currency,
            amount=money.to_major(note.amount_minor, currency),
            amount_due=money.to_major(after.amount_due_minor, currency),
        )

    def void_invoice(self, invoice_id: str) -> RemoteInvoice:
        with engine_errors():
            info = api.void_invoice(invoice_id)
        return _draft(info).as_remote()

    def check(self) -> CheckResult:
        shown = {"BILLING_BACKEND": NAME}
        try:
            with engine_errors():
                _, total = api.search_contracts(limit=1)
        except (BackendRejected, BackendUnavailable, DatabaseError) as exc:
            return CheckResult("contract cycles", False, f"Embedded engine: {exc}", shown)
        detail = f"Embedded engine: {total} contract(s) in the database."
        if not total:
            detail += " Run `manage.py seed_demo` for demo data, or add contracts in the admin."
        return CheckResult("contract cycles", True, detail, shown)


def _draft(info: api.InvoiceInfo) -> Draft:
    lines = tuple(_line_item(line, info.currency) for line in info.lines)
    return Draft(
        id=info.id,
        number=info.number,
        status=info.status,
        # The engine's invoices are `draft` until approved, then `approved` for good.
        state=DraftState.DRAFT if info.status == "draft" else DraftState.APPROVED,
        currency=info.currency,
        total=money.to_major(info.total_minor, info.currency),
        lines=lines,
        contract_id=info.contract_id,
        customer_id=info.customer_id,
        period=(info.period_start, info.period_end),
    )
