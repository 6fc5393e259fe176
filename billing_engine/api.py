"""The embedded engine's in-process API: the only way in or out of `billing_engine`.

It speaks the upstream vendors' semantics (upstream/zenskar.md for contract cycles,
upstream/rebillia.md for ad-hoc invoices) so that switching the adapter from `embedded` to a
remote vendor changes transport, not behaviour. Everything returned is a frozen dataclass or a
plain dict, never a model instance, so callers cannot write through it.

Decisions worth knowing:
- Regenerating a cycle's draft keeps the draft's id and replaces its lines: a caller whose reply
  was lost and who generates again converges on the same invoice instead of orphaning one.
- Generation matches the whole cycle (bill-for date, window and start day), not the bill-for date
  alone: a caller holding a stale cycle list gets `invoice_ids: []`, the upstream's "re-fetch the
  cycles" answer, instead of an invoice for a window that no longer exists.
- Engine invoices take their gapless number on approval; drafts carry a provisional one.
- The ad-hoc side identifies customers by their integer `account_number` (Rebillia's ids are
  integers), the contract side by their UUID (Zenskar's are UUIDs).
"""

from __future__ import annotations

import calendar
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Prefetch, Q
from django.db.models.functions import Lower
from django.utils import timezone

from billing_rules.cycles import Cycle, compute_cycles, from_wire, to_wire
from billing_rules.rating import PhaseTerm, PricingTerm, RatedLine, Tier, rate_window

from .errors import (
    CycleNotFound,
    EngineError,
    InvalidState,
    InvoiceAlreadyGeneratedForThisBillingPeriod,
    NotFound,
    ValidationFailed,
)
from .models import (
    AdhocInvoice,
    AdhocInvoiceLine,
    CompanyCurrency,
    Contract,
    Country,
    Customer,
    EngineInvoice,
    EngineInvoiceLine,
    Gateway,
    NumberSequence,
    PaymentMethod,
    Phase,
    Pricing,
)

__all__ = [
    "AddressInfo",
    "ContractInfo",
    "CountryInfo",
    "CurrencyInfo",
    "CustomerInfo",
    "CustomerRef",
    "CycleNotFound",
    "EngineError",
    "GatewayInfo",
    "InvalidState",
    "InvoiceAlreadyGeneratedForThisBillingPeriod",
    "InvoiceInfo",
    "LineInfo",
    "NotFound",
    "PaymentMethodInfo",
    "PhaseRef",
    "PricingRef",
    "ValidationFailed",
    "address_book",
    "approve_invoice",
    "billing_cycles",
    "countries",
    "create_adhoc_invoice",
    "currencies",
    "delete_invoice",
    "find_adhoc_invoices",
    "gateways",
    "generate_invoice",
    "get_adhoc_invoice",
    "get_contract",
    "get_customer",
    "get_invoice",
    "payment_methods",
    "preview",
    "search_contracts",
    "search_customers",
]

MAX_PAGE = 250
# Fractional unit prices are kept to this many decimal places of a minor unit on stored lines;
# previews use the same, so a preview and the draft it announces are identical.
_UNIT_PLACES = Decimal("0.000001")


# --- values out -----------------------------------------------------------------------------
@dataclass(frozen=True)
class CustomerRef:
    id: str
    name: str
    email: str


@dataclass(frozen=True)
class PhaseRef:
    """Identity of the phase at the same index in `ContractInfo.phases` (the pure terms carry
    none)."""

    id: str
    name: str


@dataclass(frozen=True)
class PricingRef:
    id: str
    product_id: str
    unit: str


@dataclass(frozen=True)
class ContractInfo:
    id: str
    name: str
    status: str
    currency: str
    customer: CustomerRef
    start_date: date
    end_date: date | None  # exclusive
    cadence: str
    billing_cycle_start_day: int
    in_advance: bool
    phases: tuple[PhaseTerm, ...] = ()  # empty in search results
    phase_refs: tuple[PhaseRef, ...] = ()
    pricing_refs: tuple[PricingRef, ...] = ()


@dataclass(frozen=True)
class LineInfo:
    pricing_id: str
    product_name: str
    sku: str
    description: str
    phase_type: str
    quantity: Decimal
    unit: str
    unit_amount_minor: Decimal
    full_amount_minor: Decimal
    amount_minor: int
    service_start: datetime
    service_end: datetime
    covered_days: int
    window_days: int

    @property
    def prorated(self) -> bool:
        return self.covered_days < self.window_days


@dataclass(frozen=True)
class InvoiceInfo:
    id: str  # "" for a preview
    number: str
    status: str  # draft | approved | preview
    contract_id: str
    customer_id: str
    currency: str
    period_start: datetime
    period_end: datetime  # exclusive
    bill_for: datetime
    billing_cycle_start_day: int
    total_minor: int
    lines: tuple[LineInfo, ...]
    created_at: datetime | None = None
    approved_at: datetime | None = None


@dataclass(frozen=True)
class CustomerInfo:
    id: str  # UUID (the contract side)
    account_number: int  # the ad-hoc side's integer id
    name: str
    contact_name: str
    email: str
    phone: str
    street1: str
    street2: str
    city: str
    state: str
    zip: str
    country: str  # ISO alpha-2


@dataclass(frozen=True)
class PaymentMethodInfo:
    id: int
    type: str
    account_name: str
    masked_number: str


@dataclass(frozen=True)
class AddressInfo:
    id: int
    contact_name: str
    street1: str
    street2: str
    city: str
    state: str
    zip: str
    country_id: int
    country_code: str
    type: str
    contact_email: str
    contact_phone: str
    contact_company: str


@dataclass(frozen=True)
class CurrencyInfo:
    id: int
    iso3: str
    symbol: str
    name: str


@dataclass(frozen=True)
class GatewayInfo:
    id: int
    currency_id: int
    display_name: str
    type: str
    status: str


@dataclass(frozen=True)
class CountryInfo:
    id: int
    alpha2: str
    name: str


# --- helpers --------------------------------------------------------------------------------
def _uuid(value: object, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise NotFound(f"No {what} {value!r}.") from None


def _page(offset: int, limit: int) -> tuple[int, int]:
    errors = {}
    if offset < 0:
        errors["offset"] = ["must be 0 or more"]
    if limit < 1:
        errors["limit"] = ["must be 1 or more"]
    if errors:
        raise ValidationFailed(errors)
    return offset, min(limit, MAX_PAGE)


def _add_months(day: date, months: int) -> date:
    """Same day `months` later, clamped to the month's length (Feb 29 + 12 months = Feb 28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _customer_ref(customer: Customer) -> CustomerRef:
    return CustomerRef(id=str(customer.id), name=customer.name, email=customer.email)


def _contract_info(contract: Contract, *, with_terms: bool) -> ContractInfo:
    phases: tuple[PhaseTerm, ...] = ()
    phase_refs: tuple[PhaseRef, ...] = ()
    pricing_refs: tuple[PricingRef, ...] = ()
    if with_terms:
        phase_rows = list(contract.phases.all())
        try:
            phases = tuple(_phase_term(phase) for phase in phase_rows)
        except (ValueError, TypeError) as exc:
            raise InvalidState(
                f"Contract {contract.name!r} has terms that cannot be rated: {exc}"
            ) from exc
        phase_refs = tuple(PhaseRef(id=str(phase.id), name=phase.name) for phase in phase_rows)
        pricing_refs = tuple(
            PricingRef(id=str(p.id), product_id=str(p.product_id), unit=p.unit)
            for phase in phase_rows
            for p in phase.pricings.all()
        )
    return ContractInfo(
        id=str(contract.id),
        name=contract.name,
        status=contract.status,
        currency=contract.currency,
        customer=_customer_ref(contract.customer),
        start_date=contract.start_date,
        end_date=contract.end_date,
        cadence=contract.cadence,
        billing_cycle_start_day=contract.billing_cycle_start_day,
        in_advance=contract.in_advance,
        phases=phases,
        phase_refs=phase_refs,
        pricing_refs=pricing_refs,
    )


def _phase_term(phase: Phase) -> PhaseTerm:
    return PhaseTerm(
        phase_type=phase.phase_type,
        start=phase.start_date,
        end=phase.end_date,
        pricings=tuple(_pricing_term(pricing) for pricing in phase.pricings.all()),
    )


def _pricing_term(pricing: Pricing) -> PricingTerm:
    tiers = tuple(
        Tier(up_to=tier["up_to"], unit_amount_minor=Decimal(str(tier["unit_amount_minor"])))
        for tier in (pricing.tiers or [])
    )
    return PricingTerm(
        id=str(pricing.id),
        product_name=pricing.product.name,
        sku=pricing.product.sku,
        description=pricing.product.description,
        pricing_type=pricing.pricing_type,
        unit_amount_minor=Decimal(pricing.unit_amount_minor),
        quantity=Decimal(pricing.quantity),
        tiers=tiers,
        start=pricing.start_date,
        end=pricing.end_date,
    )


def _contracts_with_terms():
    pricings = Pricing.objects.select_related("product").order_by(
        "start_date", "product__name", "id"
    )
    phases = Phase.objects.order_by("start_date", "id").prefetch_related(
        Prefetch("pricings", queryset=pricings)
    )
    return Contract.objects.select_related("customer").prefetch_related(
        Prefetch("phases", queryset=phases)
    )


def _load_contract(contract_id: object, *, lock: bool = False) -> Contract:
    pk = _uuid(contract_id, "contract")
    queryset = _contracts_with_terms()
    if lock:
        # Lock only the contract row: `of=("self",)` keeps PostgreSQL from locking the customer.
        queryset = queryset.select_for_update(of=("self",))
    contract = queryset.filter(pk=pk).first()
    if contract is None:
        raise NotFound(f"No contract {contract_id}.")
    return contract


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


def _rate(contract: Contract, cycle: Cycle) -> list[LineInfo]:
    phases = _contract_info(contract, with_terms=True).phases
    units = {str(p.id): p.unit for phase in contract.phases.all() for p in phase.pricings.all()}
    return [
        _line_info(rated, units.get(rated.pricing_id, ""))
        for rated in rate_window(phases=phases, start=cycle.start, end=cycle.end)
    ]


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


def _invoice_info(invoice: EngineInvoice) -> InvoiceInfo:
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
    )


def next_number(series: str) -> int:
    """The next gapless number of a series. Call inside the transaction that uses it: the row
    stays locked until commit, so a rollback gives the number back."""
    NumberSequence.objects.get_or_create(name=series)
    sequence = NumberSequence.objects.select_for_update().get(name=series)
    sequence.last_value += 1
    sequence.save(update_fields=["last_value"])
    return sequence.last_value


def draft_number(invoice_id: uuid.UUID) -> str:
    return f"DRAFT-{invoice_id.hex[:12].upper()}"


def approved_number(value: int) -> str:
    return f"INV-{value:06d}"


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


# --- contract cycles (Zenskar semantics) ----------------------------------------------------
def search_contracts(
    *, query: str = "", offset: int = 0, limit: int = 20
) -> tuple[list[ContractInfo], int]:
    """Contracts whose name or customer's name contains `query` (any case), by name (ignoring
    case, so SQLite and PostgreSQL agree) then id so pages never shuffle. Two queries whatever
    the page size."""
    offset, limit = _page(offset, limit)
    queryset = Contract.objects.select_related("customer").order_by(Lower("name"), "name", "id")
    query = query.strip()
    if query:
        queryset = queryset.filter(Q(name__icontains=query) | Q(customer__name__icontains=query))
    total = queryset.count()
    rows = queryset[offset : offset + limit]
    return [_contract_info(row, with_terms=False) for row in rows], total


def get_contract(contract_id: str) -> ContractInfo:
    return _contract_info(_load_contract(contract_id), with_terms=True)


def billing_cycles(contract_id: str, *, as_of: date | None = None) -> list[dict]:
    """The upstream's billing-cycle entries, dates as its ISO strings.

    A fixed-term contract lists its whole term; an open-ended one lists the cycles starting
    before `as_of` (default today) + 12 months.
    """
    contract = Contract.objects.filter(pk=_uuid(contract_id, "contract")).first()
    if contract is None:
        raise NotFound(f"No contract {contract_id}.")
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


def _unix(name: str, value: object, errors: dict[str, list[str]]) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int):
        errors[name] = ["must be an integer UNIX timestamp (seconds, UTC)"]
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        errors[name] = ["is out of range"]
        return None


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


def _invoice_queryset():
    return EngineInvoice.objects.prefetch_related("lines")


def get_invoice(invoice_id: str) -> InvoiceInfo:
    invoice = _invoice_queryset().filter(pk=_uuid(invoice_id, "invoice")).first()
    if invoice is None:
        raise NotFound(f"No invoice {invoice_id}.")
    return _invoice_info(invoice)


def _lock_invoice(invoice_id: str) -> EngineInvoice:
    """Lock the invoice's contract, then the invoice: the same order generation takes, so an
    approval and a regeneration of one cycle can never interleave."""
    pk = _uuid(invoice_id, "invoice")
    contract_id = EngineInvoice.objects.filter(pk=pk).values_list("contract_id", flat=True).first()
    if contract_id is None:
        raise NotFound(f"No invoice {invoice_id}.")
    list(Contract.objects.select_for_update().filter(pk=contract_id).values_list("pk"))
    invoice = EngineInvoice.objects.select_for_update().filter(pk=pk).first()
    if invoice is None:
        raise NotFound(f"No invoice {invoice_id}.")
    return invoice


def approve_invoice(invoice_id: str) -> InvoiceInfo:
    """Draft → approved, taking the next gapless invoice number. Approved is final."""
    with transaction.atomic():
        invoice = _lock_invoice(invoice_id)
        if invoice.status != EngineInvoice.Status.DRAFT:
            raise InvalidState(f"Invoice {invoice.number} is {invoice.status}, not a draft.")
        invoice.status = EngineInvoice.Status.APPROVED
        invoice.number = approved_number(next_number("engine-invoice"))
        invoice.approved_at = timezone.now()
        invoice.save(update_fields=["status", "number", "approved_at"])
    return get_invoice(str(invoice.id))


def delete_invoice(invoice_id: str) -> None:
    """Delete a draft. Approved invoices stay (corrections are credit notes upstream)."""
    with transaction.atomic():
        invoice = _lock_invoice(invoice_id)
        if invoice.status != EngineInvoice.Status.DRAFT:
            raise InvalidState(f"Invoice {invoice.number} is {invoice.status}; only drafts go.")
        invoice.delete()


# --- ad-hoc (Rebillia semantics) ------------------------------------------------------------
def _customer_info(customer: Customer) -> CustomerInfo:
    return CustomerInfo(
        id=str(customer.id),
        account_number=customer.account_number,
        name=customer.name,
        contact_name=customer.contact_name,
        email=customer.email,
        phone=customer.phone,
        street1=customer.street1,
        street2=customer.street2,
        city=customer.city,
        state=customer.state,
        zip=customer.zip,
        country=customer.country,
    )


def _positive_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.isdigit() and value.isascii():
        number = int(value)
        return number if number > 0 else None
    return None


def _customer(customer_id: int | str) -> Customer:
    number = _positive_int(customer_id)
    customer = Customer.objects.filter(account_number=number).first() if number else None
    if customer is None:
        raise NotFound(f"No customer {customer_id}.")
    return customer


def search_customers(
    *, query: str = "", offset: int = 0, limit: int = 20
) -> tuple[list[CustomerInfo], int]:
    offset, limit = _page(offset, limit)
    queryset = Customer.objects.order_by(Lower("name"), "name", "id")
    query = query.strip()
    if query:
        queryset = queryset.filter(
            Q(name__icontains=query) | Q(contact_name__icontains=query) | Q(email__icontains=query)
        )
    total = queryset.count()
    return [_customer_info(row) for row in queryset[offset : offset + limit]], total


def get_customer(customer_id: int | str) -> CustomerInfo:
    """A customer by its ad-hoc id (the integer account number)."""
    return _customer_info(_customer(customer_id))


def payment_methods(customer_id: int | str) -> list[PaymentMethodInfo]:
    customer = _customer(customer_id)
    return [
        PaymentMethodInfo(
            id=method.id,
            type=method.type,
            account_name=method.account_name,
            masked_number=method.masked_number,
        )
        for method in customer.payment_methods.order_by("id")
    ]


def address_book(customer_id: int | str) -> list[AddressInfo]:
    customer = _customer(customer_id)
    return [
        AddressInfo(
            id=entry.id,
            contact_name=entry.contact_name,
            street1=entry.street1,
            street2=entry.street2,
            city=entry.city,
            state=entry.state,
            zip=entry.zip,
            country_id=entry.country_id,
            country_code=entry.country.alpha2,
            type=entry.type,
            contact_email=entry.contact_email,
            contact_phone=entry.contact_phone,
            contact_company=entry.contact_company,
        )
        for entry in customer.addresses.select_related("country").order_by("id")
    ]


def currencies() -> list[CurrencyInfo]:
    return [
        CurrencyInfo(id=row.id, iso3=row.iso3, symbol=row.symbol, name=row.name)
        for row in CompanyCurrency.objects.order_by("iso3")
    ]


def gateways(currency_id: int | str) -> list[GatewayInfo]:
    """The active gateways of one company currency."""
    number = _positive_int(currency_id)
    if not number or not CompanyCurrency.objects.filter(pk=number).exists():
        raise NotFound(f"No company currency {currency_id}.")
    return [
        GatewayInfo(
            id=row.id,
            currency_id=row.currency_id,
            display_name=row.display_name,
            type=row.type,
            status=row.status,
        )
        for row in Gateway.objects.filter(
            currency_id=number, status=Gateway.Status.ACTIVE
        ).order_by("display_name", "id")
    ]


def countries() -> list[CountryInfo]:
    return [
        CountryInfo(id=row.id, alpha2=row.alpha2, name=row.name)
        for row in Country.objects.order_by("name")
    ]


_REQUIRED_IDS = ("companyCurrencyId", "companyGatewayId", "customerId", "paymentMethodId")
_DATES = ("dateDue", "dateFrom", "dateTo")
_SHORT_TEXT = ("customerEmail", "customerName", "customerPhone")
_LONG_TEXT = ("terms", "comments")
_ADDRESSES = ("billingAddress", "shippingAddress")
_KNOWN = {
    *_REQUIRED_IDS,
    *_DATES,
    *_SHORT_TEXT,
    *_LONG_TEXT,
    *_ADDRESSES,
    "detail",
    "paymentType",
    "shippingAmount",
}
_PAYMENT_TYPES = (
    "offlinePaymentProvider",
    "thirdPartyPaymentProvider",
    "walletPaymentProvider",
    "otherPayment",
)
_ADDRESS_REQUIRED = ("contactName", "street1", "city", "zip")
_ADDRESS_OPTIONAL = ("street2", "state", "contactEmail", "contactPhone", "contactCompany")
_ADDRESS_KNOWN = {*_ADDRESS_REQUIRED, *_ADDRESS_OPTIONAL, "countryId", "type"}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: object, limit: int) -> str | None:
    return value if isinstance(value, str) and len(value) <= limit else None


class _Checker:
    """Collects every field error of a create body (a person fixes them all in one go)."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)


def _check_address(check: _Checker, name: str, value: object) -> dict | None:
    if value is None or value == {}:
        return None  # an empty address is absent, not an error
    if not isinstance(value, dict):
        check.add(name, "must be an object")
        return None
    for key in sorted(set(value) - _ADDRESS_KNOWN):
        check.add(f"{name}.{key}", "is not a known field")
    for key in _ADDRESS_REQUIRED:
        text = value.get(key)
        if not isinstance(text, str) or not text.strip():
            check.add(f"{name}.{key}", "is required")
        elif len(text) > 255:
            check.add(f"{name}.{key}", "must be at most 255 characters")
    for key in _ADDRESS_OPTIONAL:
        if key in value and value[key] is not None and _text(value[key], 255) is None:
            check.add(f"{name}.{key}", "must be text of at most 255 characters")
    if value.get("type") not in ("residential", "commercial"):
        check.add(f"{name}.type", "must be residential or commercial")
    country_id = value.get("countryId")
    if not _is_int(country_id) or country_id <= 0:
        check.add(f"{name}.countryId", "must be a positive integer")
    elif not Country.objects.filter(pk=country_id).exists():
        check.add(f"{name}.countryId", "is not a known country")
    return value


def _validated_adhoc(body: object) -> dict:
    """The create body checked against rebillia.md's rules plus the cross-record ones; returns
    the parsed values or raises ValidationFailed with every problem at once."""
    if not isinstance(body, dict):
        raise ValidationFailed({"body": ["must be a JSON object"]})
    check = _Checker()
    for key in sorted(set(body) - _KNOWN):
        check.add(key, "is not a known field")
    for key in _REQUIRED_IDS:
        value = body.get(key)
        if not _is_int(value) or value <= 0:
            check.add(key, "is required and must be a positive integer")
    days: dict[str, date] = {}
    for key in _DATES:
        value = body.get(key)
        if not isinstance(value, str) or not _ISO_DATE.match(value):
            check.add(key, "is required as YYYY-MM-DD")
            continue
        try:
            days[key] = date.fromisoformat(value)
        except ValueError:
            check.add(key, "is not a real date")
    if "dateFrom" in days and "dateTo" in days and days["dateFrom"] > days["dateTo"]:
        check.add("dateTo", "must not be before dateFrom")
    if "dateFrom" in days and "dateDue" in days and days["dateDue"] < days["dateFrom"]:
        check.add("dateDue", "must not be before dateFrom")

    detail = body.get("detail")
    lines: list[tuple[str, int, int]] = []
    if not isinstance(detail, list) or not detail:
        check.add("detail", "needs at least one line")
    else:
        for index, line in enumerate(detail):
            prefix = f"detail.{index}"
            if not isinstance(line, dict):
                check.add(prefix, "must be an object")
                continue
            for key in sorted(set(line) - {"amount", "description", "qty"}):
                check.add(f"{prefix}.{key}", "is not a known field")
            amount, description, qty = line.get("amount"), line.get("description"), line.get("qty")
            ok = True
            if not _is_int(amount) or amount < 0:
                check.add(f"{prefix}.amount", "must be whole cents, 0 or more")
                ok = False
            if not isinstance(description, str) or not description.strip():
                check.add(f"{prefix}.description", "is required")
                ok = False
            elif len(description) > 255:
                check.add(f"{prefix}.description", "must be at most 255 characters")
                ok = False
            if not _is_int(qty) or qty < 1:
                check.add(f"{prefix}.qty", "must be a whole number, 1 or more")
                ok = False
            if ok:
                lines.append((description, qty, amount))

    for key in _SHORT_TEXT:
        if key in body and body[key] is not None and _text(body[key], 45) is None:
            check.add(key, "must be text of at most 45 characters")
    for key in _LONG_TEXT:
        if key in body and body[key] is not None and _text(body[key], 200) is None:
            check.add(key, "must be text of at most 200 characters")
    payment_type = body.get("paymentType")
    if payment_type is not None and payment_type not in _PAYMENT_TYPES:
        check.add("paymentType", f"must be one of {', '.join(_PAYMENT_TYPES)}")
    shipping = body.get("shippingAmount", 0)
    if shipping is None:
        shipping = 0
    if not _is_int(shipping) or shipping < 0:
        check.add("shippingAmount", "must be whole cents, 0 or more")
    addresses = {key: _check_address(check, key, body.get(key)) for key in _ADDRESSES}

    # Cross-record rules, for the ids that are well-formed.
    currency = gateway = customer = method = None
    if _is_int(body.get("companyCurrencyId")) and body["companyCurrencyId"] > 0:
        currency = CompanyCurrency.objects.filter(pk=body["companyCurrencyId"]).first()
        if currency is None:
            check.add("companyCurrencyId", "is not a company currency")
    if _is_int(body.get("companyGatewayId")) and body["companyGatewayId"] > 0:
        gateway = Gateway.objects.filter(pk=body["companyGatewayId"]).first()
        if gateway is None:
            check.add("companyGatewayId", "is not a gateway")
        elif gateway.status != Gateway.Status.ACTIVE:
            check.add("companyGatewayId", "is not active")
        elif currency is not None and gateway.currency_id != currency.id:
            check.add("companyGatewayId", "does not take this currency")
    if _is_int(body.get("customerId")) and body["customerId"] > 0:
        customer = Customer.objects.filter(account_number=body["customerId"]).first()
        if customer is None:
            check.add("customerId", "is not a customer")
    if _is_int(body.get("paymentMethodId")) and body["paymentMethodId"] > 0:
        method = PaymentMethod.objects.filter(pk=body["paymentMethodId"]).first()
        if method is None:
            check.add("paymentMethodId", "is not a payment method")
        elif customer is not None and method.customer_id != customer.id:
            check.add("paymentMethodId", "does not belong to the customer")

    if check.errors:
        raise ValidationFailed(check.errors)
    return {
        "currency": currency,
        "gateway": gateway,
        "customer": customer,
        "method": method,
        "days": days,
        "lines": lines,
        "shipping": shipping,
        "addresses": addresses,
    }


def _adhoc_dict(invoice: AdhocInvoice) -> dict:
    lines = list(invoice.lines.all())
    return {
        "id": invoice.id,
        "invoiceNo": invoice.invoice_no,
        "status": invoice.status,
        "customerId": invoice.customer.account_number,
        "companyCurrencyId": invoice.currency_id,
        "currency": invoice.currency.iso3,
        "companyGatewayId": invoice.gateway_id,
        "paymentMethodId": invoice.payment_method_id,
        "paymentType": invoice.payment_type or None,
        "dateFrom": invoice.date_from.isoformat(),
        "dateTo": invoice.date_to.isoformat(),
        "dateDue": invoice.date_due.isoformat(),
        "customerEmail": invoice.customer_email,
        "customerName": invoice.customer_name,
        "customerPhone": invoice.customer_phone,
        "billingAddress": invoice.billing_address,
        "shippingAddress": invoice.shipping_address,
        "shippingAmount": invoice.shipping_amount_minor,
        "terms": invoice.terms,
        "comments": invoice.comments,
        "detail": [
            {"amount": line.amount_minor, "description": line.description, "qty": line.qty}
            for line in lines
        ],
        "total": invoice.total_minor,
        "balanceDue": invoice.total_minor,
        "createdAt": invoice.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _adhoc_queryset():
    return AdhocInvoice.objects.select_related("customer", "currency").prefetch_related("lines")


def create_adhoc_invoice(body: dict) -> dict:
    """Create (post) an ad-hoc invoice from exactly Rebillia's create body; cents at the wire.

    Live as soon as it exists (there are no ad-hoc drafts), so callers create it only after
    approval. Answers the created invoice as Rebillia does: `{id, invoiceNo, status, total,
    balanceDue, dateDue, ...}`.
    """
    values = _validated_adhoc(body)
    total = sum(qty * amount for _, qty, amount in values["lines"]) + values["shipping"]
    with transaction.atomic():
        invoice = AdhocInvoice.objects.create(
            invoice_no=f"AH-{next_number('adhoc-invoice'):06d}",
            status="posted",
            customer=values["customer"],
            currency=values["currency"],
            gateway=values["gateway"],
            payment_method=values["method"],
            payment_type=body.get("paymentType") or "",
            date_from=values["days"]["dateFrom"],
            date_to=values["days"]["dateTo"],
            date_due=values["days"]["dateDue"],
            customer_email=body.get("customerEmail") or "",
            customer_name=body.get("customerName") or "",
            customer_phone=body.get("customerPhone") or "",
            billing_address=values["addresses"]["billingAddress"],
            shipping_address=values["addresses"]["shippingAddress"],
            shipping_amount_minor=values["shipping"],
            terms=body.get("terms") or "",
            comments=body.get("comments") or "",
            total_minor=total,
        )
        AdhocInvoiceLine.objects.bulk_create(
            AdhocInvoiceLine(
                invoice=invoice,
                position=position,
                description=description,
                qty=qty,
                amount_minor=amount,
            )
            for position, (description, qty, amount) in enumerate(values["lines"], start=1)
        )
    return _adhoc_dict(_adhoc_queryset().get(pk=invoice.pk))


def get_adhoc_invoice(invoice_id: int | str) -> dict:
    number = _positive_int(invoice_id)
    invoice = _adhoc_queryset().filter(pk=number).first() if number else None
    if invoice is None:
        raise NotFound(f"No ad-hoc invoice {invoice_id}.")
    return _adhoc_dict(invoice)


def _as_date(value: date | str, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed({name: ["is required as YYYY-MM-DD"]}) from None


def find_adhoc_invoices(
    *, customer_id: int | str, date_from: date | str, date_to: date | str
) -> list[dict]:
    """The customer's invoices for exactly that period, newest first: what a caller whose create
    reply was lost looks through before deciding anything (never re-send blindly)."""
    customer = _customer(customer_id)
    rows = _adhoc_queryset().filter(
        customer=customer,
        date_from=_as_date(date_from, "date_from"),
        date_to=_as_date(date_to, "date_to"),
    )
    return [_adhoc_dict(row) for row in rows.order_by("-id")]
