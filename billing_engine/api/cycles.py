"""Contract-cycle invoicing (Zenskar semantics): a contract's billing cycles, a cycle's preview,
and its one draft: generated, read, approved or deleted.

Regenerating a cycle's draft keeps the draft's id and replaces its lines: a caller whose reply
was lost and who generates again converges on the same invoice instead of orphaning one.
Generation matches the whole cycle (bill-for date, window and start day), not the bill-for date
alone: a caller holding a stale cycle list gets `invoice_ids: []`, the upstream's "re-fetch the
cycles" answer, instead of an invoice for a window that no longer exists.
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing_rules.cycles import Cycle, compute_cycles, from_wire, to_wire
from billing_rules.rating import RatedLine, rate_window

from ..errors import (
    CycleNotFound,
    InvalidState,
    InvoiceAlreadyGeneratedForThisBillingPeriod,
    ValidationFailed,
)
from ..models import Contract, EngineInvoice, EngineInvoiceLine
from . import numbering
from .contracts import _contract_info, _load_contract
from .numbering import draft_number
from .values import InvoiceInfo, LineInfo, _by_uuid

# Fractional unit prices are kept to this many decimal places of a minor unit on stored lines;
# previews use the same, so a preview and the draft it announces are identical.
_UNIT_PLACES = Decimal("0.000001")


def billing_cycles(contract_id: str, *, as_of: date | None = None) -> list[dict]:
    """The upstream's billing-cycle entries, dates as its ISO strings.

    A fixed-term contract lists its whole term; an open-ended one lists the cycles starting
    before `as_of` (default today) + 12 months.
    """
    contract = _by_uuid(Contract.objects, contract_id, "contract")
    horizon = None
    if contract.end_date is None:
        horizon = _add_months(as_of or timezone.now().date(), 12)
    return [
        {
            "name": cycle.name,
            "start_date": to_wire(cycle.start),
            "end_date": to_wire(cycle.end),
            "bill_for_date": to_wire(cycle.bill_for),
            "billing_cycle_start_day": cycle.billing_cycle_start_day,
        }
        for cycle in _cycles(contract, horizon=horizon)
    ]


def preview(contract_id: str, *, bill_for_date: str) -> InvoiceInfo:
    """A dry run: exactly the lines generation would write for that cycle, saving nothing."""
    contract = _load_contract(contract_id)
    try:
        bill_for = from_wire(bill_for_date)
    except (TypeError, ValueError, AttributeError):
        raise CycleNotFound(f"{bill_for_date!r} is not a bill-for date.") from None
    cycle = _cycle_for(contract, bill_for)
    if cycle is None:
        raise CycleNotFound(f"No billing cycle of {contract.name!r} is billed on {bill_for_date}.")
    lines = _rate(contract, cycle)
    return InvoiceInfo(
        id="",
        number="",
        status="preview",
        contract_id=str(contract.id),
        customer_id=str(contract.customer_id),
        currency=contract.currency,
        period_start=cycle.start,
        period_end=cycle.end,
        bill_for=cycle.bill_for,
        billing_cycle_start_day=cycle.billing_cycle_start_day,
        total_minor=sum(line.amount_minor for line in lines),
        lines=tuple(lines),
    )


def generate_invoice(
    *,
    customer_id: str,
    contract_id: str,
    from_date: int,
    to_date: int,
    bill_for_date: int,
    billing_cycle_start_day: int,
) -> dict:
    """Generate the one draft of (contract, customer, cycle), as the upstream does.

    Answers `{"invoice_ids": [id]}`, or `{"invoice_ids": []}` when the values match no cycle of
    the contract (a failure: the caller should re-fetch the cycles). Regenerating replaces the
    existing draft's lines and keeps its id; once the cycle has an approved invoice it raises
    `InvoiceAlreadyGeneratedForThisBillingPeriod`. The contract row is locked for the whole
    check-and-write, so concurrent calls for one contract queue instead of racing.
    """
    errors: dict[str, list[str]] = {}
    start = _unix("from_date", from_date, errors)
    end = _unix("to_date", to_date, errors)
    bill_for = _unix("bill_for_date", bill_for_date, errors)
    if isinstance(billing_cycle_start_day, bool) or not isinstance(billing_cycle_start_day, int):
        errors["billing_cycle_start_day"] = ["must be an integer"]
    customer_pk = None
    try:
        customer_pk = uuid.UUID(str(customer_id))
    except ValueError:
        errors["customer_id"] = ["must be a UUID"]
    if errors:
        raise ValidationFailed(errors)

    with transaction.atomic():
        contract = _load_contract(contract_id, lock=True)
        if contract.customer_id != customer_pk:
            raise ValidationFailed({"customer_id": ["is not the contract's customer"]})
        cycle = _cycle_for(contract, bill_for)
        if cycle is None or (cycle.start, cycle.end, cycle.billing_cycle_start_day) != (
            start,
            end,
            billing_cycle_start_day,
        ):
            return {"invoice_ids": []}
        same_cycle = EngineInvoice.objects.filter(
            contract=contract, customer_id=customer_pk, bill_for=cycle.bill_for
        )
        if same_cycle.filter(status=EngineInvoice.Status.APPROVED).exists():
            raise InvoiceAlreadyGeneratedForThisBillingPeriod(
                f"InvoiceAlreadyGeneratedForThisBillingPeriod: {contract.name!r} already has an "
                f"approved invoice for {cycle.name}."
            )
        lines = _rate(contract, cycle)
        now = timezone.now()
        draft = same_cycle.select_for_update().filter(status=EngineInvoice.Status.DRAFT).first()
        if draft is None:
            draft_id = uuid.uuid4()
            draft = EngineInvoice(
                id=draft_id,
                contract=contract,
                customer_id=customer_pk,
                bill_for=cycle.bill_for,
                number=draft_number(draft_id),
                created_at=now,
            )
        else:
            draft.lines.all().delete()
        draft.period_start = cycle.start
        draft.period_end = cycle.end
        draft.billing_cycle_start_day = cycle.billing_cycle_start_day
        draft.currency = contract.currency
        draft.total_minor = sum(line.amount_minor for line in lines)
        draft.generated_at = now
        draft.save()
        write_lines(draft, lines)
    return {"invoice_ids": [str(draft.id)]}


def get_invoice(invoice_id: str) -> InvoiceInfo:
    return invoice_info(
        _by_uuid(EngineInvoice.objects.prefetch_related("lines"), invoice_id, "invoice")
    )


def approve_invoice(invoice_id: str) -> InvoiceInfo:
    """Draft → approved, taking the next gapless number of the year's invoice series in the
    same transaction (a rollback gives it back). Approved is final."""
    with transaction.atomic():
        invoice = lock_invoice(invoice_id)
        if invoice.status != EngineInvoice.Status.DRAFT:
            raise InvalidState(f"Invoice {invoice.number} is {invoice.status}, not a draft.")
        invoice.status = EngineInvoice.Status.APPROVED
        invoice.approved_at = timezone.now()
        invoice.number = numbering.take(series="INV", year=invoice.approved_at.year)
        invoice.save(update_fields=["status", "number", "approved_at"])
    return get_invoice(str(invoice.id))


def delete_invoice(invoice_id: str) -> None:
    """Delete a draft. Approved invoices stay (corrections are credit notes upstream)."""
    with transaction.atomic():
        invoice = lock_invoice(invoice_id)
        if invoice.status != EngineInvoice.Status.DRAFT:
            raise InvalidState(f"Invoice {invoice.number} is {invoice.status}; only drafts go.")
        invoice.delete()


def write_lines(invoice: EngineInvoice, lines: Iterable[LineInfo]) -> None:
    """Store an invoice's lines (the only writer of EngineInvoiceLine; the demo reuses it)."""
    EngineInvoiceLine.objects.bulk_create(
        EngineInvoiceLine(
            invoice=invoice,
            position=position,
            pricing_id=uuid.UUID(line.pricing_id),
            product_name=line.product_name,
            sku=line.sku,
            description=line.description,
            phase_type=line.phase_type,
            quantity=line.quantity,
            unit=line.unit,
            unit_amount_minor=line.unit_amount_minor,
            full_amount_minor=line.full_amount_minor,
            amount_minor=line.amount_minor,
            service_start=line.service_start,
            service_end=line.service_end,
            covered_days=line.covered_days,
            window_days=line.window_days,
        )
        for position, line in enumerate(lines, start=1)
    )


def _add_months(day: date, months: int) -> date:
    """Same day `months` later, clamped to the month's length (Feb 29 + 12 months = Feb 28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _cycles(contract: Contract, *, horizon: date | None) -> list[Cycle]:
    return compute_cycles(
        start=contract.start_date,
        end=contract.end_date,
        cadence=contract.cadence,
        anchor_day=contract.billing_cycle_start_day,
        in_advance=contract.in_advance,
        horizon=horizon,
    )


def _cycle_for(contract: Contract, bill_for: datetime) -> Cycle | None:
    """The contract's cycle billed on `bill_for`, looking as far ahead as that date needs (a
    cycle is well defined whether or not it is inside the listing horizon)."""
    horizon = None if contract.end_date else bill_for.date() + timedelta(days=1)
    for cycle in _cycles(contract, horizon=horizon):
        if cycle.bill_for == bill_for:
            return cycle
    return None


def _unix(name: str, value: object, errors: dict[str, list[str]]) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int):
        errors[name] = ["must be an integer UNIX timestamp (seconds, UTC)"]
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        errors[name] = ["is out of range"]
        return None


def lock_invoice(invoice_id: str) -> EngineInvoice:
    """Lock the invoice's contract, then the invoice: the same order generation takes, so an
    approval and a regeneration of one cycle can never interleave."""
    contract_ids = EngineInvoice.objects.values_list("contract_id", flat=True)
    contract_id = _by_uuid(contract_ids, invoice_id, "invoice")
    list(Contract.objects.select_for_update().filter(pk=contract_id).values_list("pk"))
    return _by_uuid(EngineInvoice.objects.select_for_update(), invoice_id, "invoice")


def _rate(contract: Contract, cycle: Cycle) -> list[LineInfo]:
    """The cycle's lines, rated from the contract's terms (`contract` as `_load_contract` loads
    it)."""
    phases = _contract_info(contract, with_terms=True).phases
    units = {str(p.id): p.unit for phase in contract.phases.all() for p in phase.pricings.all()}
    return [
        _line_info(rated, units.get(rated.pricing_id, ""))
        for rated in rate_window(phases=phases, start=cycle.start, end=cycle.end)
    ]


# A line reaches LineInfo from two places: rated (units joined in, amounts quantized) and stored.
def _line_info(rated: RatedLine, unit: str) -> LineInfo:
    return LineInfo(
        pricing_id=rated.pricing_id,
        product_name=rated.product_name,
        sku=rated.sku,
        description=rated.description,
        phase_type=rated.phase_type,
        quantity=rated.quantity,
        unit=unit,
        unit_amount_minor=rated.unit_amount_minor.quantize(_UNIT_PLACES),
        full_amount_minor=rated.full_amount_minor.quantize(_UNIT_PLACES),
        amount_minor=rated.amount_minor,
        service_start=rated.service_start,
        service_end=rated.service_end,
        covered_days=rated.covered_days,
        window_days=rated.window_days,
    )


def _stored_line(line: EngineInvoiceLine) -> LineInfo:
    return LineInfo(
        pricing_id=str(line.pricing_id),
        product_name=line.product_name,
        sku=line.sku,
        description=line.description,
        phase_type=line.phase_type,
        quantity=line.quantity,
        unit=line.unit,
        unit_amount_minor=line.unit_amount_minor,
        full_amount_minor=line.full_amount_minor,
        amount_minor=line.amount_minor,
        service_start=line.service_start,
        service_end=line.service_end,
        covered_days=line.covered_days,
        window_days=line.window_days,
    )


def invoice_info(invoice: EngineInvoice) -> InvoiceInfo:
    credited = 0
    if invoice.status != EngineInvoice.Status.DRAFT:
        credited = invoice.credit_notes.aggregate(total=Sum("amount_minor"))["total"] or 0
    return InvoiceInfo(
        id=str(invoice.id),
        number=invoice.number,
        status=invoice.status,
        contract_id=str(invoice.contract_id),
        customer_id=str(invoice.customer_id),
        currency=invoice.currency,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        bill_for=invoice.bill_for,
        billing_cycle_start_day=invoice.billing_cycle_start_day,
        total_minor=invoice.total_minor,
        lines=tuple(_stored_line(line) for line in invoice.lines.all()),
        created_at=invoice.created_at,
        approved_at=invoice.approved_at,
        credited_minor=credited,
        voided_at=invoice.voided_at,
    )
