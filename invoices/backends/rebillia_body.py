"""The create body of an ad-hoc invoice (upstream/rebillia.md, "Create invoice body"): the
port's request checked against Rebillia's field rules and written as the wire carries it (ids as
integers, amounts as integer cents, ISO dates, addresses with their country by id). Every field
error is collected and raised at once as `BackendRejected`, before anything is sent. Used by the
adapter (`rebillia`); no HTTP here (country ids come from the adapter's cached list)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from invoices import money

from .base import PAYMENT_TYPES, Address, AdhocInvoiceRequest, BackendRejected
from .rebillia_wire import NAME, _address_is_empty, _is_int, _positive_int

ADDRESS_TYPES = ("residential", "commercial")


def invoice_body(
    request: AdhocInvoiceRequest, country_id: Callable[[str], int | None]
) -> dict[str, Any]:
    """The create body exactly as it goes on the wire (integer cents, ISO dates), or
    BackendRejected with field errors when the request cannot be sent as it is. `country_id`
    turns an address's alpha-2 code into Rebillia's country id (None when unknown)."""
    errors: dict[str, list[str]] = {}

    def bad(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    ids = {}
    for wire, value in (
        ("companyCurrencyId", request.currency_id),
        ("companyGatewayId", request.gateway_id),
        ("customerId", request.customer_id),
        ("paymentMethodId", request.payment_method_id),
    ):
        number = _positive_int(value)
        if number is None:
            bad(wire, "must be a positive whole number")
        ids[wire] = number
    try:
        money.exponent(request.currency_code)
    except money.MoneyError as exc:
        bad("currency", str(exc))
    detail = []
    if not request.lines:
        bad("detail", "an invoice needs at least one line")
    for index, line in enumerate(request.lines):
        where = f"detail.{index}"
        description = (line.description or "").strip()
        if not description:
            bad(f"{where}.description", "enter a description")
        elif len(description) > 255:
            bad(f"{where}.description", "at most 255 characters")
        if not _is_int(line.quantity) or line.quantity < 1:
            bad(f"{where}.qty", "must be a whole number of at least 1")
        if not _is_int(line.unit_amount_minor) or line.unit_amount_minor < 0:
            bad(f"{where}.amount", "must be a whole number of minor units, not negative")
        detail.append(
            {"amount": line.unit_amount_minor, "description": description, "qty": line.quantity}
        )
    body: dict[str, Any] = {
        **ids,
        "detail": detail,
        "dateDue": request.date_due.isoformat(),
        "dateFrom": request.date_from.isoformat(),
        "dateTo": request.date_to.isoformat(),
    }
    if request.date_to < request.date_from:
        bad("dateTo", "must not be before dateFrom")
    for wire, value, limit in (
        ("customerEmail", request.customer_email, 45),
        ("customerName", request.customer_name, 45),
        ("customerPhone", request.customer_phone, 45),
        ("terms", request.terms, 200),
        ("comments", request.comments, 200),
    ):
        text = (value or "").strip()
        if not text:
            continue
        if len(text) > limit:
            bad(wire, f"at most {limit} characters")
        body[wire] = text
    if request.payment_type:
        if request.payment_type not in PAYMENT_TYPES:
            bad("paymentType", f"must be one of {', '.join(PAYMENT_TYPES)}")
        body["paymentType"] = request.payment_type
    if not _is_int(request.shipping_minor) or request.shipping_minor < 0:
        bad("shippingAmount", "must be a whole number of minor units, not negative")
    elif request.shipping_minor:
        body["shippingAmount"] = request.shipping_minor
    for wire, address in (
        ("billingAddress", request.billing_address),
        ("shippingAddress", request.shipping_address),
    ):
        if address is None or _address_is_empty(address):
            continue
        body[wire] = _address_body(address, wire, bad, country_id)
    if errors:
        summary = "; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items())
        raise BackendRejected(
            f"The invoice cannot be sent to Rebillia: {summary}",
            status=400,
            code="invalid_request",
            field_errors=errors,
            backend=NAME,
        )
    return body


def _address_body(
    address: Address, wire: str, bad, country_id: Callable[[str], int | None]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field_name, key, required in (
        ("contact_name", "contactName", True),
        ("street1", "street1", True),
        ("street2", "street2", False),
        ("city", "city", True),
        ("state", "state", False),
        ("zip", "zip", True),
    ):
        value = (getattr(address, field_name) or "").strip()
        if value:
            out[key] = value
        elif required:
            bad(f"{wire}.{key}", "required")
    code = (address.country_code or "").strip().upper()
    country = country_id(code) if len(code) == 2 else None
    if country is None:
        bad(f"{wire}.countryId", f"unknown country code {code!r}")
    out["countryId"] = country
    kind = (address.type or "").strip().lower()
    if kind not in ADDRESS_TYPES:
        bad(f"{wire}.type", "must be residential or commercial")
    out["type"] = kind
    for field_name, key in (
        ("contact_email", "contactEmail"),
        ("contact_phone", "contactPhone"),
        ("contact_company", "contactCompany"),
    ):
        value = (getattr(address, field_name) or "").strip()
        if value:
            out[key] = value
    return out
