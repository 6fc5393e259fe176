"""Zenskar's wire, read: ids checked for paths, page links, replies parsed into the port's values
(money as Decimal, never float), and a cycle's preview estimated from the contract's terms.
Shared by the adapter (`zenskar`), its connection (`zenskar_client`), its contract reading
(`zenskar_contracts`) and its corrections (`zenskar_corrections`); no HTTP here."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from billing_rules import rating
from invoices import money

from .base import (
    BillingCycle,
    Contract,
    DraftState,
    LineItem,
    NotFoundUpstream,
    Preview,
    Pricing,
    RemoteInvoice,
    parse_wire_datetime,
    sum_amounts,
)
from .replies import UNREADABLE, UnreadableReply

NAME = "zenskar"
ESTIMATE_NOTE = "Estimated from the contract's terms; the backend's draft is authoritative"
# UUIDs and the usual prefixed or numeric ids; never slashes, dots, spaces or percent signs.
_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,99}$")


def _unreadable(what: str) -> UnreadableReply:
    return UnreadableReply(f"{UNREADABLE} ({what})", backend=NAME)


def _id_path(value: str, what: str) -> str:
    text = str(value).strip()
    if not _ID.match(text):
        raise NotFoundUpstream(f"{text!r} is not a valid Zenskar {what} id", backend=NAME)
    return quote(text, safe="")


def _dec(value: Any, what: str, default: Decimal | None = None) -> Decimal:
    if isinstance(value, Mapping):
        value = value.get("value", value.get("amount"))
    if value is None or value == "":
        if default is not None:
            return default
        raise _unreadable(f"{what} is missing")
    if isinstance(value, bool | float):
        raise _unreadable(f"{what} is not a number")
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise _unreadable(f"{what} is not a number") from None
    if not number.is_finite():
        raise _unreadable(f"{what} is not a number")
    return number


def _dt(value: Any, what: str) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise _unreadable(f"{what} is missing")
    try:
        return parse_wire_datetime(value)
    except ValueError:
        raise _unreadable(f"{what} is not a date") from None


def _opt_dt(value: Any, what: str) -> datetime | None:
    if value is None or value == "":
        return None
    return _dt(value, what)


def _in_currency(value: Decimal, currency: str) -> Decimal:
    """An amount written with its currency's decimals when that loses nothing (1229.6 USD ->
    1229.60; 98000.0 JPY -> 98000). An amount with more decimals than the currency has is left
    as sent: it is not rounded here, so the application sees it and refuses it."""
    try:
        places = Decimal(1).scaleb(-money.exponent(currency))
        rounded = value.quantize(places)
    except (money.MoneyError, InvalidOperation):
        return value
    return rounded if rounded == value else value


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _cursor(value: Any) -> str | None:
    """A page link as a cursor: the value itself, or the `cursor` query value of a URL."""
    if value is None or value == "":
        return None
    text = str(value)
    if "://" in text or text.startswith("/") or "?" in text:
        found = parse_qs(urlsplit(text).query).get("cursor")
        return found[0] if found else None
    return text


def _cycle(data: Any) -> BillingCycle:
    if not isinstance(data, Mapping):
        raise _unreadable("a billing cycle is not an object")
    values = {}
    for key in ("start_date", "end_date", "bill_for_date"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise _unreadable(f"a billing cycle without {key}")
        _dt(value, key)  # must be readable, but is kept exactly as sent
        values[key] = value
    day = data.get("billing_cycle_start_day")
    try:
        day_number = int(str(day).strip()) if not isinstance(day, bool) else None
    except ValueError:
        day_number = None
    if day_number is None or not 1 <= day_number <= 31:
        raise _unreadable("a billing cycle without a valid billing_cycle_start_day")
    return BillingCycle(
        name=_text(data.get("name")),
        start_date=values["start_date"],
        end_date=values["end_date"],
        bill_for_date=values["bill_for_date"],
        billing_cycle_start_day=day_number,
    )


def _line_item(
    data: Any, period: tuple[datetime, datetime] | None = None, currency: str = ""
) -> LineItem:
    """One line of `/line_items`. Zenskar does not say whether a line is prorated; when the
    invoice's period is known, a line whose service dates cover fewer days than the period is
    marked prorated (the same rule as the rating: covered days / window days)."""
    if not isinstance(data, Mapping):
        raise _unreadable("a line item is not an object")
    quantity = data.get("quantity")
    unit = ""
    if isinstance(quantity, Mapping):
        unit = _text(quantity.get("unit"))
        quantity = quantity.get("value", quantity.get("quantity"))
    start = _opt_dt(data.get("service_start_date"), "service_start_date")
    end = _opt_dt(data.get("service_end_date"), "service_end_date")
    prorated, note = False, ""
    if period is not None and start is not None and end is not None:
        covered = (end.date() - start.date()).days
        window = (period[1].date() - period[0].date()).days
        if 0 <= covered < window:
            prorated, note = True, f"Prorated: {covered} of {window} days"
    return LineItem(
        name=_text(data.get("name")),
        description=_text(data.get("description")),
        quantity=_dec(quantity, "line quantity", Decimal(1)),
        unit=unit,
        unit_price=_dec(data.get("price"), "line price", Decimal(0)),
        amount=_in_currency(_dec(data.get("subtotal"), "line subtotal"), currency),
        service_start=start,
        service_end=end,
        prorated=prorated,
        note=note,
    )


def _period(invoice: Mapping) -> tuple[datetime, datetime] | None:
    period = invoice.get("invoice_period")
    if not isinstance(period, Mapping):
        return None
    begin = _opt_dt(period.get("begin_date"), "invoice_period.begin_date")
    end = _opt_dt(period.get("end_date_exclusive"), "invoice_period.end_date_exclusive")
    return (begin, end) if begin and end and end > begin else None


def _draft_state(status: str) -> DraftState:
    """Zenskar's invoice status in the port's words: `draft` until approved; every other
    status (approved, sent, paid, void ...) comes after an approval."""
    return DraftState.DRAFT if status == "draft" else DraftState.APPROVED


def _remote_invoice(data: Mapping, invoice_id: str, *, recovered: bool = False) -> RemoteInvoice:
    total = data.get("invoice_total")
    currency = _text(data.get("currency")).upper()
    return RemoteInvoice(
        id=_text(data.get("id") or invoice_id),
        number=_text(data.get("invoice_number")),
        status=_text(data.get("status")).lower(),
        currency=currency,
        total=_in_currency(_dec(total, "invoice_total"), currency) if total is not None else None,
        recovered=recovered,
    )


def _pricing_term(pricing: Pricing, scale: Decimal) -> rating.PricingTerm:
    tiers = []
    for tier in pricing.tiers:
        up_to = None
        if tier.up_to is not None:
            if tier.up_to != tier.up_to.to_integral_value():
                raise ValueError(f"tier bound {tier.up_to} is not a whole quantity")
            up_to = int(tier.up_to)
        tiers.append(rating.Tier(up_to=up_to, unit_amount_minor=tier.unit_amount * scale))
    return rating.PricingTerm(
        id=pricing.id,
        product_name=pricing.product_name,
        sku=pricing.sku,
        description=pricing.description,
        pricing_type=pricing.pricing_type,
        unit_amount_minor=pricing.unit_amount * scale,
        quantity=pricing.quantity,
        tiers=tuple(tiers),
        start=pricing.start_date.date(),
        end=pricing.end_date.date() if pricing.end_date else None,
    )


def _line_note(line: rating.RatedLine) -> str:
    if line.phase_type == "trial":
        return "Trial: no charge"
    if line.prorated:
        return f"Prorated: {line.covered_days} of {line.window_days} days"
    return ""


def estimate_preview(contract: Contract, cycle: BillingCycle) -> Preview:
    """An estimate of a cycle's invoice from the contract's terms (Zenskar has no dry-run): the
    same rating rules the embedded engine uses. The generated draft is authoritative."""
    currency = contract.currency
    try:
        exp = money.exponent(currency)
    except money.MoneyError:
        raise _unreadable(f"the contract's currency {currency!r} is not known") from None
    scale = Decimal(10) ** exp
    notes = [ESTIMATE_NOTE]
    phases = []
    for phase in contract.phases:
        if phase.phase_type not in rating.PHASE_TYPES:
            notes.append(f"Phase {phase.name or phase.id} ({phase.phase_type}) not estimated.")
            continue
        terms = []
        for pricing in phase.pricings:
            try:
                terms.append(_pricing_term(pricing, scale))
            except (ValueError, TypeError) as exc:
                label = pricing.product_name or pricing.id
                notes.append(f"{label} could not be estimated ({exc}).")
        try:
            phases.append(
                rating.PhaseTerm(
                    phase_type=phase.phase_type,
                    start=phase.start_date.date(),
                    end=phase.end_date.date() if phase.end_date else None,
                    pricings=tuple(terms),
                )
            )
        except ValueError as exc:
            notes.append(f"Phase {phase.name or phase.id} could not be estimated ({exc}).")
    rated = rating.rate_window(phases=phases, start=cycle.start, end=cycle.end)
    lines = tuple(
        LineItem(
            name=line.product_name,
            description=line.description,
            quantity=line.quantity,
            unit="",
            unit_price=line.unit_amount_minor / scale,
            amount=money.to_major(line.amount_minor, currency),
            service_start=line.service_start,
            service_end=line.service_end,
            prorated=line.prorated,
            note=_line_note(line),
        )
        for line in rated
    )
    return Preview(
        currency=currency,
        lines=lines,
        total=sum_amounts(lines),
        exact=False,
        notes=tuple(notes),
    )
