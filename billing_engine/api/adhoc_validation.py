"""Checking an ad-hoc invoice's create body: rebillia.md's field rules plus the cross-record ones
(the gateway takes the currency, the payment method belongs to the customer, ...).

Every problem is collected and reported at once, keyed by wire field name, so a person fixes
them all in one go.
"""

from __future__ import annotations

import re
from datetime import date

from django.db.models import Model

from ..errors import ValidationFailed
from ..models import CompanyCurrency, Country, Customer, Gateway, PaymentMethod

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
_LINE_KNOWN = {"amount", "description", "qty"}
_ADDRESS_REQUIRED = ("contactName", "street1", "city", "zip")
_ADDRESS_OPTIONAL = ("street2", "state", "contactEmail", "contactPhone", "contactCompany")
_ADDRESS_KNOWN = {*_ADDRESS_REQUIRED, *_ADDRESS_OPTIONAL, "countryId", "type"}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class _Checker:
    """Collects every field error of a create body."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def unknown(self, value: dict, known: set[str], prefix: str = "") -> None:
        for key in sorted(set(value) - known):
            self.add(f"{prefix}{key}", "is not a known field")

    def required_text(self, field: str, value: object, limit: int = 255) -> bool:
        if not isinstance(value, str) or not value.strip():
            self.add(field, "is required")
            return False
        if len(value) > limit:
            self.add(field, f"must be at most {limit} characters")
            return False
        return True

    def optional_text(
        self, value: dict, keys: tuple[str, ...], limit: int, prefix: str = ""
    ) -> None:
        for key in keys:
            text = value.get(key)
            if text is not None and not (isinstance(text, str) and len(text) <= limit):
                self.add(f"{prefix}{key}", f"must be text of at most {limit} characters")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validated_adhoc(body: object) -> dict:
    """The create body checked; returns the parsed values (the referenced rows, dates, lines,
    shipping and addresses) or raises ValidationFailed with every problem at once."""
    if not isinstance(body, dict):
        raise ValidationFailed({"body": ["must be a JSON object"]})
    check = _Checker()
    check.unknown(body, _KNOWN)
    ids: dict[str, int] = {}
    for key in _REQUIRED_IDS:
        value = body.get(key)
        if _is_int(value) and value > 0:
            ids[key] = value
        else:
            check.add(key, "is required and must be a positive integer")
    days = _check_dates(check, body)
    lines = _check_lines(check, body.get("detail"))
    check.optional_text(body, _SHORT_TEXT, 45)
    check.optional_text(body, _LONG_TEXT, 200)
    payment_type = body.get("paymentType")
    if payment_type is not None and payment_type not in _PAYMENT_TYPES:
        check.add("paymentType", f"must be one of {', '.join(_PAYMENT_TYPES)}")
    shipping = body.get("shippingAmount", 0)
    if shipping is None:
        shipping = 0
    if not _is_int(shipping) or shipping < 0:
        check.add("shippingAmount", "must be whole cents, 0 or more")
    addresses = {key: _check_address(check, key, body.get(key)) for key in _ADDRESSES}
    records = _check_records(check, ids)
    if check.errors:
        raise ValidationFailed(check.errors)
    return {**records, "days": days, "lines": lines, "shipping": shipping, "addresses": addresses}


def _check_dates(check: _Checker, body: dict) -> dict[str, date]:
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
    return days


def _check_lines(check: _Checker, detail: object) -> list[tuple[str, int, int]]:
    """The well-formed lines as (description, qty, amount in cents)."""
    lines: list[tuple[str, int, int]] = []
    if not isinstance(detail, list) or not detail:
        check.add("detail", "needs at least one line")
        return lines
    for index, line in enumerate(detail):
        prefix = f"detail.{index}"
        if not isinstance(line, dict):
            check.add(prefix, "must be an object")
            continue
        check.unknown(line, _LINE_KNOWN, f"{prefix}.")
        amount, description, qty = line.get("amount"), line.get("description"), line.get("qty")
        ok = True
        if not _is_int(amount) or amount < 0:
            check.add(f"{prefix}.amount", "must be whole cents, 0 or more")
            ok = False
        if not check.required_text(f"{prefix}.description", description):
            ok = False
        if not _is_int(qty) or qty < 1:
            check.add(f"{prefix}.qty", "must be a whole number, 1 or more")
            ok = False
        if ok:
            lines.append((description, qty, amount))
    return lines


def _check_address(check: _Checker, name: str, value: object) -> dict | None:
    if value is None or value == {}:
        return None  # an empty address is absent, not an error
    if not isinstance(value, dict):
        check.add(name, "must be an object")
        return None
    check.unknown(value, _ADDRESS_KNOWN, f"{name}.")
    for key in _ADDRESS_REQUIRED:
        check.required_text(f"{name}.{key}", value.get(key))
    check.optional_text(value, _ADDRESS_OPTIONAL, 255, f"{name}.")
    if value.get("type") not in ("residential", "commercial"):
        check.add(f"{name}.type", "must be residential or commercial")
    country_id = value.get("countryId")
    if not _is_int(country_id) or country_id <= 0:
        check.add(f"{name}.countryId", "must be a positive integer")
    elif not Country.objects.filter(pk=country_id).exists():
        check.add(f"{name}.countryId", "is not a known country")
    return value


def _check_records(check: _Checker, ids: dict[str, int]) -> dict:
    """The rows the well-formed ids name, checked against each other."""
    currency = _row(check, ids, "companyCurrencyId", CompanyCurrency, "is not a company currency")
    gateway = _row(check, ids, "companyGatewayId", Gateway, "is not a gateway")
    if gateway is not None and gateway.status != Gateway.Status.ACTIVE:
        check.add("companyGatewayId", "is not active")
    elif gateway is not None and currency is not None and gateway.currency_id != currency.id:
        check.add("companyGatewayId", "does not take this currency")
    customer = _row(check, ids, "customerId", Customer, "is not a customer", field="account_number")
    method = _row(check, ids, "paymentMethodId", PaymentMethod, "is not a payment method")
    if method is not None and customer is not None and method.customer_id != customer.id:
        check.add("paymentMethodId", "does not belong to the customer")
    return {"currency": currency, "gateway": gateway, "customer": customer, "method": method}


def _row(
    check: _Checker,
    ids: dict[str, int],
    key: str,
    model: type[Model],
    missing: str,
    field: str = "pk",
) -> Model | None:
    """The row whose `field` is the id given as `key`, if it was well-formed and exists."""
    if key not in ids:
        return None
    row = model.objects.filter(**{field: ids[key]}).first()
    if row is None:
        check.add(key, missing)
    return row
