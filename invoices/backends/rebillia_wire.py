"""Rebillia's wire, read: ids checked for paths, both list shapes, replies parsed into the port's
values (money as Decimal, never float). Shared by the adapter (`rebillia`), its create body
(`rebillia_body`) and its corrections (`rebillia_corrections`); no HTTP here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from invoices import money

from .base import (
    DEAD_ADHOC_STATUSES,
    Address,
    AdhocCustomer,
    AdhocInvoiceRequest,
    Country,
    Currency,
    Gateway,
    NotFoundUpstream,
    PaymentMethod,
    RemoteInvoice,
)
from .replies import UNREADABLE, UnreadableReply

NAME = "rebillia"


def _unreadable(what: str) -> UnreadableReply:
    return UnreadableReply(f"{UNREADABLE} ({what})", backend=NAME)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    text = _text(value).strip()
    if text.isascii() and text.isdigit() and len(text) <= 18:
        number = int(text)
        return number if number > 0 else None
    return None


def _id_path(value: Any, what: str) -> str:
    number = _positive_int(value)
    if number is None:
        raise NotFoundUpstream(f"{value!r} is not a valid Rebillia {what} id", backend=NAME)
    return quote(str(number), safe="")


def _object(data: Any, what: str) -> Mapping:
    if isinstance(data, Mapping) and isinstance(data.get("data"), Mapping):
        data = data["data"]
    if not isinstance(data, Mapping):
        raise _unreadable(f"{what} is not an object")
    return data


def _items(data: Any, what: str) -> tuple[list, Mapping | None]:
    """Both list shapes: the paged envelope `{..., data: [...]}` and a bare array."""
    if isinstance(data, list):
        return data, None
    if isinstance(data, Mapping) and isinstance(data.get("data"), list):
        return data["data"], data
    raise _unreadable(f"{what} is not a list")


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _customer(data: Any) -> AdhocCustomer:
    if not isinstance(data, Mapping) or data.get("id") is None:
        raise _unreadable("a customer without an id")
    full = " ".join(
        part for part in (_text(data.get("firstName")), _text(data.get("lastName"))) if part
    ).strip()
    business = _text(data.get("businessName"))
    email = _text(data.get("email"))
    return AdhocCustomer(
        id=_text(data["id"]),
        name=full or business or email,
        email=email,
        business_name=business,
    )


def _currency(data: Any) -> Currency:
    if not isinstance(data, Mapping) or data.get("id") is None:
        raise _unreadable("a currency without an id")
    inner = data.get("currency") if isinstance(data.get("currency"), Mapping) else {}
    return Currency(
        id=_text(data["id"]),
        code=_text(inner.get("iso3") or data.get("iso3")).upper(),
        symbol=_text(inner.get("symbol")),
        name=_text(inner.get("name")),
    )


def _gateway(data: Any) -> Gateway | None:
    """One gateway, or None when it is not active (a missing status counts as active)."""
    if not isinstance(data, Mapping) or data.get("id") is None:
        raise _unreadable("a gateway without an id")
    status = _text(data.get("status")).lower()
    if status and status != "active":
        return None
    return Gateway(
        id=_text(data["id"]),
        name=_text(data.get("displayName") or data.get("name")),
        type=_text(data.get("type")),
    )


def _country(data: Any) -> Country | None:
    """One country, or None when it has no two-letter code."""
    if not isinstance(data, Mapping) or data.get("id") is None:
        raise _unreadable("a country without an id")
    code = _text(data.get("alpha2Code")).strip().upper()
    if len(code) != 2:
        return None
    return Country(id=_text(data["id"]), code=code, name=_text(data.get("name")))


def _mask(number: str) -> str:
    """Keep at most the last four digits visible, whatever the backend sent."""
    digits = [ch for ch in number if ch.isdigit()]
    if len(digits) <= 4:
        return number
    return "•••• " + "".join(digits[-4:])


def _payment_method(data: Any) -> PaymentMethod:
    if not isinstance(data, Mapping) or data.get("id") is None:
        raise _unreadable("a payment method without an id")
    return PaymentMethod(
        id=_text(data["id"]),
        type=_text(data.get("type")).lower(),
        account_name=_text(data.get("accountName")),
        masked_number=_mask(_text(data.get("accountNumber"))),
    )


def _address_country_code(data: Mapping) -> str:
    country = data.get("country")
    if isinstance(country, Mapping):
        code = country.get("alpha2Code") or country.get("code")
        if code:
            return _text(code).upper()
    for key in ("alpha2Code", "countryCode", "country_code"):
        if data.get(key):
            return _text(data[key]).upper()
    if isinstance(country, str) and len(country) == 2:
        return country.upper()
    return ""


def _address(data: Mapping, code: str) -> Address:
    return Address(
        contact_name=_text(data.get("contactName")),
        street1=_text(data.get("street1")),
        city=_text(data.get("city")),
        zip=_text(data.get("zip")),
        country_code=code,
        type=_text(data.get("type") or "commercial").lower(),
        street2=_text(data.get("street2")),
        state=_text(data.get("state")),
        contact_email=_text(data.get("contactEmail")),
        contact_phone=_text(data.get("contactPhone")),
        contact_company=_text(data.get("contactCompany")),
    )


def _address_is_empty(address: Address) -> bool:
    """Nothing typed in it (the type has a default and does not count)."""
    return not any(
        (getattr(address, f.name) or "").strip() for f in fields(address) if f.name != "type"
    )


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool | float):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _total_major(value: Any, request: AdhocInvoiceRequest) -> Decimal | None:
    """The invoice total in major units. Its unit on the wire is unverified: a value equal to
    the request's total in cents is cents; equal to it in major units is major; otherwise it is
    read as cents (what the wire carries on create)."""
    number = _decimal(value)
    if number is None:
        return None
    try:
        exp = money.exponent(request.currency_code)
    except money.MoneyError:
        return None
    scale = Decimal(10) ** exp
    if number == request.total_minor:
        return number / scale
    if number * scale == request.total_minor:
        return number
    return number / scale


def _total_matches(value: Any, request: AdhocInvoiceRequest) -> bool:
    number = _decimal(value)
    if number is None:
        return False
    try:
        scale = Decimal(10) ** money.exponent(request.currency_code)
    except money.MoneyError:
        return number == request.total_minor
    return number == request.total_minor or number * scale == request.total_minor


def _matches(item: Mapping, request: AdhocInvoiceRequest, customer: int) -> bool:
    if _text(item.get("status")).lower() in DEAD_ADHOC_STATUSES:
        return False
    if item.get("customerId") is not None and _positive_int(item.get("customerId")) != customer:
        return False
    if _text(item.get("dateFrom"))[:10] != request.date_from.isoformat():
        return False
    if _text(item.get("dateTo"))[:10] != request.date_to.isoformat():
        return False
    return _total_matches(item.get("total"), request)


def _remote_invoice(
    data: Mapping, request: AdhocInvoiceRequest, *, recovered: bool = False
) -> RemoteInvoice:
    return RemoteInvoice(
        id=_text(data.get("id")),
        number=_text(data.get("invoiceNo")),
        status=_text(data.get("status")),
        currency=request.currency_code,
        total=_total_major(data.get("total"), request),
        recovered=recovered,
    )
