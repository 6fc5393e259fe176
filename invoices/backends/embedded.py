"""The embedded adapter: the port over `billing_engine.api`, in process.

Thin on purpose: the engine holds the semantics (it mimics the upstream vendors), this module only
translates. Engine values become the port's frozen dataclasses, minor units become major-unit
`Decimal`s, and the engine's refusals become the port's errors:

    NotFound                                     -> NotFoundUpstream
    generate answering {"invoice_ids": []}       -> CycleNotMatched
    CycleNotFound (preview)                      -> CycleNotMatched
    InvoiceAlreadyGeneratedForThisBillingPeriod  -> AlreadyInvoicedUpstream
    InvalidState                                 -> BackendRejected(status=409)
    ValidationFailed                             -> BackendRejected(status=422, field_errors=...)
    a database that cannot answer now            -> BackendUnavailable

Cycle strings travel verbatim: the generate call converts them to UNIX seconds exactly as the
Zenskar adapter does, so both backends are driven by the same values.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime
from decimal import Decimal

from django.db import DatabaseError, OperationalError

from billing_engine import api
from billing_rules.cycles import midnight
from invoices import money

from .base import (
    DEAD_ADHOC_STATUSES,
    Address,
    AdhocCustomer,
    AdhocInvoiceRequest,
    AlreadyInvoicedUpstream,
    BackendRejected,
    BackendUnavailable,
    BillingCycle,
    CheckResult,
    Contract,
    ContractSummary,
    Country,
    Currency,
    CustomerRef,
    CycleNotMatched,
    Draft,
    DraftState,
    Gateway,
    LineItem,
    NotFoundUpstream,
    OutcomeUnknown,
    Page,
    PaymentMethod,
    Phase,
    Preview,
    Pricing,
    RemoteInvoice,
    Tier,
    sum_amounts,
)

NAME = "embedded"


@contextmanager
def engine_errors() -> Iterator[None]:
    """Translate the engine's refusals into the port's errors (see the module docstring)."""
    try:
        yield
    except api.NotFound as exc:
        raise NotFoundUpstream(exc.message, backend=NAME) from exc
    except api.CycleNotFound as exc:
        raise CycleNotMatched(
            f"{exc.message} Refresh the billing cycles and pick one again.", backend=NAME
        ) from exc
    except api.InvoiceAlreadyGeneratedForThisBillingPeriod as exc:
        raise AlreadyInvoicedUpstream(exc.message, backend=NAME) from exc
    except api.InvalidState as exc:
        raise BackendRejected(exc.message, status=409, code="invalid_state", backend=NAME) from exc
    except api.ValidationFailed as exc:
        raise BackendRejected(
            exc.message,
            status=422,
            code="validation_failed",
            field_errors=exc.field_errors,
            backend=NAME,
        ) from exc
    except OperationalError as exc:
        raise BackendUnavailable(
            "The billing engine's database cannot answer right now; try again shortly.",
            backend=NAME,
        ) from exc


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    if not cursor.isascii() or not cursor.isdigit():
        raise BackendRejected(f"Not a page cursor: {cursor!r}.", status=400, backend=NAME)
    return int(cursor)


def _page_cursors(offset: int, shown: int, limit: int, total: int) -> tuple[str | None, ...]:
    next_cursor = str(offset + shown) if offset + shown < total else None
    previous = str(max(0, offset - limit)) if offset > 0 else None
    return next_cursor, previous


def _scale(currency: str) -> Decimal:
    return Decimal(10) ** money.exponent(currency)


def _unit_major(minor: Decimal, currency: str) -> Decimal:
    """A unit price in major units: the currency's decimals, more only where the price has them
    (a 0.125 USD unit price stays 0.125; 12.5 stays 12.50)."""
    places = Decimal(1).scaleb(-money.exponent(currency))
    value = minor / _scale(currency)
    rounded = value.quantize(places)
    return rounded if rounded == value else value.normalize()


def _plain(number: Decimal) -> Decimal:
    """Without the storage's trailing zeros (25.0000 -> 25, 2.5000 -> 2.5), never as 1E+2."""
    if number == number.to_integral_value():
        return number.quantize(Decimal(1))
    return number.normalize()


def _at(day) -> datetime | None:
    return None if day is None else midnight(day)


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
        offset = _offset(cursor)
        with engine_errors():
            rows, total = api.search_contracts(query=query, offset=offset, limit=limit)
        next_cursor, previous = _page_cursors(offset, len(rows), limit, total)
        return Page(
            items=tuple(_summary(row) for row in rows),
            next_cursor=next_cursor,
            previous_cursor=previous,
            total_count=total,
        )

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


# --- ad-hoc ---------------------------------------------------------------------------------
def _adhoc_customer(info: api.CustomerInfo) -> AdhocCustomer:
    return AdhocCustomer(
        id=str(info.account_number),
        name=info.contact_name or info.name,
        email=info.email,
        business_name=info.name,
    )


def _address_is_empty(address: Address) -> bool:
    """Nothing typed in it (the type has a default and does not count)."""
    return not any(
        (getattr(address, f.name) or "").strip() for f in fields(address) if f.name != "type"
    )


def _int_or_text(value: str) -> int | str:
    """Ids travel as integers, as on Rebillia's wire; anything else is left for the engine to
    refuse with a field error."""
    text = str(value).strip()
    return int(text) if text.isascii() and text.isdigit() else text


class EmbeddedAdhocBackend:
    """Ad-hoc invoices by the embedded engine, through exactly Rebillia's create body."""

    name = NAME

    @classmethod
    def from_settings(cls, settings) -> EmbeddedAdhocBackend:
        return cls()

    def search_customers(
        self, *, query: str = "", cursor: str | None = None, limit: int = 20
    ) -> Page[AdhocCustomer]:
        offset = _offset(cursor)
        with engine_errors():
            rows, total = api.search_customers(query=query, offset=offset, limit=limit)
        next_cursor, previous = _page_cursors(offset, len(rows), limit, total)
        return Page(
            items=tuple(_adhoc_customer(row) for row in rows),
            next_cursor=next_cursor,
            previous_cursor=previous,
            total_count=total,
        )

    def get_customer(self, customer_id: str) -> AdhocCustomer:
        with engine_errors():
            return _adhoc_customer(api.get_customer(customer_id))

    def payment_methods(self, customer_id: str) -> tuple[PaymentMethod, ...]:
        with engine_errors():
            rows = api.payment_methods(customer_id)
        return tuple(
            PaymentMethod(
                id=str(row.id),
                type=row.type,
                account_name=row.account_name,
                masked_number=row.masked_number,
            )
            for row in rows
        )

    def address_book(self, customer_id: str) -> tuple[Address, ...]:
        with engine_errors():
            rows = api.address_book(customer_id)
        return tuple(
            Address(
                contact_name=row.contact_name,
                street1=row.street1,
                city=row.city,
                zip=row.zip,
                country_code=row.country_code,
                type=row.type,
                street2=row.street2,
                state=row.state,
                contact_email=row.contact_email,
                contact_phone=row.contact_phone,
                contact_company=row.contact_company,
            )
            for row in rows
        )

    def currencies(self) -> tuple[Currency, ...]:
        with engine_errors():
            rows = api.currencies()
        return tuple(
            Currency(id=str(row.id), code=row.iso3, symbol=row.symbol, name=row.name)
            for row in rows
        )

    def gateways(self, currency_id: str) -> tuple[Gateway, ...]:
        with engine_errors():
            rows = api.gateways(currency_id)
        return tuple(Gateway(id=str(row.id), name=row.display_name, type=row.type) for row in rows)

    def countries(self) -> tuple[Country, ...]:
        with engine_errors():
            rows = api.countries()
        return tuple(Country(id=str(row.id), code=row.alpha2, name=row.name) for row in rows)

    def build_invoice_body(self, request: AdhocInvoiceRequest) -> dict:
        """Rebillia's create body for the request: cents at the wire, countries by id."""
        body: dict = {
            "companyCurrencyId": _int_or_text(request.currency_id),
            "companyGatewayId": _int_or_text(request.gateway_id),
            "customerId": _int_or_text(request.customer_id),
            "paymentMethodId": _int_or_text(request.payment_method_id),
            "detail": [
                {
                    "amount": line.unit_amount_minor,
                    "description": (line.description or "").strip(),
                    "qty": line.quantity,
                }
                for line in request.lines
            ],
            "dateDue": request.date_due.isoformat(),
            "dateFrom": request.date_from.isoformat(),
            "dateTo": request.date_to.isoformat(),
        }
        for key, value in (
            ("customerEmail", request.customer_email),
            ("customerName", request.customer_name),
            ("customerPhone", request.customer_phone),
            ("terms", request.terms),
            ("comments", request.comments),
            ("paymentType", request.payment_type),
        ):
            if (value or "").strip():
                body[key] = value.strip()
        if request.shipping_minor:
            body["shippingAmount"] = request.shipping_minor
        countries = None
        unknown: dict[str, list[str]] = {}
        for key, address in (
            ("billingAddress", request.billing_address),
            ("shippingAddress", request.shipping_address),
        ):
            if address is None or _address_is_empty(address):
                continue
            if countries is None:
                countries = {country.code: int(country.id) for country in self.countries()}
            code = (address.country_code or "").strip().upper()
            if code not in countries:
                unknown[f"{key}.countryId"] = [f"unknown country code {code!r}"]
            body[key] = _address_body(address, countries.get(code))
        if unknown:
            raise BackendRejected(
                "The invoice names a country the engine does not know.",
                status=422,
                code="validation_failed",
                field_errors=unknown,
                backend=NAME,
            )
        return body

    def create_invoice(self, request: AdhocInvoiceRequest) -> RemoteInvoice:
        body = self.build_invoice_body(request)
        with engine_errors():
            created = api.create_adhoc_invoice(body)
        return _remote(created, request.currency_code)

    def find_invoice(self, request: AdhocInvoiceRequest) -> RemoteInvoice | None:
        with engine_errors():
            try:
                rows = api.find_adhoc_invoices(
                    customer_id=request.customer_id,
                    date_from=request.date_from,
                    date_to=request.date_to,
                )
            except api.NotFound:
                return None
        found = [
            _remote(row, request.currency_code, recovered=True)
            for row in rows
            if row["total"] == request.total_minor
            and row["status"].lower() not in DEAD_ADHOC_STATUSES
        ]
        if len(found) > 1:
            raise OutcomeUnknown(
                f"{len(found)} invoices match this customer, period and total "
                f"(ids {', '.join(invoice.id for invoice in found)}).",
                backend=NAME,
            )
        return found[0] if found else None

    def check(self) -> CheckResult:
        shown = {"ADHOC_BACKEND": NAME}
        try:
            with engine_errors():
                count = len(api.currencies())
        except (BackendRejected, BackendUnavailable, DatabaseError) as exc:
            return CheckResult("ad-hoc invoices", False, f"Embedded engine: {exc}", shown)
        if not count:
            return CheckResult(
                "ad-hoc invoices",
                False,
                "Embedded engine: no company currencies yet. Run `manage.py seed_demo` or add "
                "them in the admin.",
                shown,
            )
        return CheckResult(
            "ad-hoc invoices", True, f"Embedded engine: {count} company currencies.", shown
        )


def _address_body(address: Address, country_id: int | None) -> dict:
    out: dict = {
        "contactName": (address.contact_name or "").strip(),
        "street1": (address.street1 or "").strip(),
        "city": (address.city or "").strip(),
        "zip": (address.zip or "").strip(),
        "countryId": country_id,
        "type": (address.type or "").strip().lower(),
    }
    for key, value in (
        ("street2", address.street2),
        ("state", address.state),
        ("contactEmail", address.contact_email),
        ("contactPhone", address.contact_phone),
        ("contactCompany", address.contact_company),
    ):
        if (value or "").strip():
            out[key] = value.strip()
    return out


def _remote(data: dict, currency: str, *, recovered: bool = False) -> RemoteInvoice:
    return RemoteInvoice(
        id=str(data["id"]),
        number=data["invoiceNo"],
        status=data["status"],
        currency=data.get("currency") or currency,
        total=money.to_major(data["total"], data.get("currency") or currency),
        recovered=recovered,
    )
