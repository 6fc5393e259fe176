"""Ad-hoc invoicing (Rebillia semantics): customers, their payment methods and address book,
company currencies and their gateways, countries, and ad-hoc invoices.

Customers are identified here by their integer `account_number` (Rebillia's ids are integers),
not by the UUID the contract side uses. An ad-hoc invoice is live as soon as it exists: there
are no drafts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.db import transaction
from django.db.models import Model, QuerySet
from django.utils import timezone

from ..errors import NotFound, ValidationFailed
from ..models import AdhocInvoice, AdhocInvoiceLine, CompanyCurrency, Country, Customer, Gateway
from . import numbering
from .adhoc_validation import validated_adhoc
from .values import (
    AddressInfo,
    CountryInfo,
    CurrencyInfo,
    CustomerInfo,
    GatewayInfo,
    PaymentMethodInfo,
    _search_page,
)


def search_customers(
    *, query: str = "", offset: int = 0, limit: int = 20
) -> tuple[list[CustomerInfo], int]:
    rows, total = _search_page(
        Customer.objects,
        query=query,
        fields=("name", "contact_name", "email"),
        offset=offset,
        limit=limit,
    )
    return [_customer_info(row) for row in rows], total


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
    currency = _by_number(CompanyCurrency.objects, currency_id, "company currency")
    return [
        GatewayInfo(
            id=row.id,
            currency_id=row.currency_id,
            display_name=row.display_name,
            type=row.type,
            status=row.status,
        )
        for row in Gateway.objects.filter(
            currency_id=currency.pk, status=Gateway.Status.ACTIVE
        ).order_by("display_name", "id")
    ]


def countries() -> list[CountryInfo]:
    return [
        CountryInfo(id=row.id, alpha2=row.alpha2, name=row.name)
        for row in Country.objects.order_by("name")
    ]


def create_adhoc_invoice(body: dict) -> dict:
    """Create (post) an ad-hoc invoice from exactly Rebillia's create body; cents at the wire.

    Live as soon as it exists (there are no ad-hoc drafts), so callers create it only after
    approval. Answers the created invoice as Rebillia does: `{id, invoiceNo, status, total,
    balanceDue, dateDue, ...}`.
    """
    values = validated_adhoc(body)
    total = sum(qty * amount for _, qty, amount in values["lines"]) + values["shipping"]
    created_at = timezone.now()
    with transaction.atomic():
        # Live from creation (its approval): numbered now, in the year's invoice series.
        invoice = AdhocInvoice.objects.create(
            invoice_no=numbering.take(series="INV", year=created_at.year),
            created_at=created_at,
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
    return _adhoc_dict(_by_number(_adhoc_queryset(), invoice_id, "ad-hoc invoice"))


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


def _positive_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.isdigit() and value.isascii():
        number = int(value)
        return number if number > 0 else None
    return None


def _by_number(queryset: QuerySet, value: object, what: str, field: str = "pk") -> Model:
    """The row of `queryset` whose `field` is the positive integer `value` (an int or its
    digits); NotFound when the id is malformed or unknown."""
    number = _positive_int(value)
    row = queryset.filter(**{field: number}).first() if number else None
    if row is None:
        raise NotFound(f"No {what} {value}.")
    return row


def _customer(customer_id: int | str) -> Customer:
    return _by_number(Customer.objects, customer_id, "customer", field="account_number")


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


def _as_date(value: date | str, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed({name: ["is required as YYYY-MM-DD"]}) from None


def _adhoc_queryset() -> QuerySet:
    return AdhocInvoice.objects.select_related("customer", "currency").prefetch_related("lines")


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
        "balanceDue": 0 if invoice.date_void else invoice.total_minor - invoice.amount_paid_minor,
        "dateVoid": (
            invoice.date_void.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            if invoice.date_void
            else None
        ),
        "createdAt": invoice.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
