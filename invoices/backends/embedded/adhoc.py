"""The embedded ad-hoc adapter: customers and their catalogue, ad-hoc invoices through exactly
Rebillia's create body, and their void (refused once paid)."""

from __future__ import annotations

from dataclasses import fields

from django.db import DatabaseError

from billing_engine import api
from invoices import money

from ..base import (
    DEAD_ADHOC_STATUSES,
    Address,
    AdhocCustomer,
    AdhocInvoiceRequest,
    BackendRejected,
    BackendUnavailable,
    CheckResult,
    Country,
    Currency,
    Gateway,
    InvoiceBalance,
    OutcomeUnknown,
    Page,
    PaymentMethod,
    RemoteInvoice,
)
from .common import NAME, engine_errors, engine_page


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
        return engine_page(
            api.search_customers, _adhoc_customer, query=query, cursor=cursor, limit=limit
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

    def create_invoice(
        self, request: AdhocInvoiceRequest, *, known: frozenset[str] = frozenset()
    ) -> RemoteInvoice:
        # In process: a reply is never lost, so `known` (for a lost reply's lookup) is unused.
        body = self.build_invoice_body(request)
        with engine_errors():
            created = api.create_adhoc_invoice(body)
        return _remote(created, request.currency_code)

    def find_invoice(
        self, request: AdhocInvoiceRequest, *, known: frozenset[str] = frozenset()
    ) -> RemoteInvoice | None:
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
        found = [invoice for invoice in found if invoice.id not in known]
        if len(found) > 1:
            raise OutcomeUnknown(
                f"{len(found)} invoices match this customer, period and total "
                f"(ids {', '.join(invoice.id for invoice in found)}).",
                backend=NAME,
            )
        return found[0] if found else None

    # --- corrections --------------------------------------------------------------------------
    def invoice_balance(self, invoice_id: str) -> InvoiceBalance:
        with engine_errors():
            return _balance(api.get_adhoc_invoice(invoice_id))

    def void_invoice(self, invoice_id: str) -> RemoteInvoice:
        """Rebillia's void: refused once paid (AlreadyPaid); one already void is returned as
        found."""
        with engine_errors():
            found = api.get_adhoc_invoice(invoice_id)
            if found["status"] == "voided":
                return _remote(found, found["currency"], recovered=True)
            voided = api.void_adhoc_invoice(invoice_id)
        return _remote(voided, voided["currency"])

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


def _balance(data: dict) -> InvoiceBalance:
    currency = data["currency"]
    return InvoiceBalance(
        id=str(data["id"]),
        status=data["status"],
        currency=currency,
        total=money.to_major(data["total"], currency),
        amount_due=money.to_major(data["balanceDue"], currency),
        voided=data["status"] == "voided",
        paid=data["status"] in ("paid", "partialPaid"),
    )
