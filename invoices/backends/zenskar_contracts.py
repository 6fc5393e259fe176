"""A Zenskar contract read into the port's values: its summary (with the customer), and its
terms: phases, pricings, price tiers, cadence and timing. Used by the adapter (`zenskar`) for
`/contract_v2`; no HTTP here.

Choices and assumptions beyond the documented subset (each one tolerant of the variants seen):
- Pricing types are mapped to flat_fee | per_unit | tiered | volume from the usual vendor spellings
  (`flat_fee`, `flat`, `fixed`; `per_unit`, `unit`, `standard`; `tiered`, `graduated`;
  `volume`); anything else is kept as sent and is left out of an estimated preview, with a note.
- Tier fields: the upper bound from `up_to` / `upTo` / `to` / `last_unit` / `max` (null, absent,
  "inf" or "infinity" for unbounded), the price from `unit_amount` / `unit_price` / `price` /
  `amount` / `per_unit`.
- `billing_period.offset` is read as timing when it is a recognisable word (start/advance →
  in advance; end/arrears → in arrears); otherwise the timing is left unknown (None).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .base import Contract, ContractSummary, CustomerRef, Phase, Pricing, Tier
from .zenskar_wire import _dec, _dt, _opt_dt, _text, _unreadable

_PRICING_TYPES = {
    "flat_fee": "flat_fee",
    "flat": "flat_fee",
    "fixed": "flat_fee",
    "flat_price": "flat_fee",
    "fixed_fee": "flat_fee",
    "per_unit": "per_unit",
    "unit": "per_unit",
    "standard": "per_unit",
    "per_unit_price": "per_unit",
    "tiered": "tiered",
    "graduated": "tiered",
    "tiered_graduated": "tiered",
    "graduated_tiered": "tiered",
    "volume": "volume",
    "volume_tiered": "volume",
    "tiered_volume": "volume",
}
_TIER_UPPER = ("up_to", "upTo", "to", "last_unit", "max")
_TIER_PRICE = ("unit_amount", "unit_price", "price", "amount", "per_unit")
_IN_ADVANCE = {"start", "advance", "in_advance", "beginning", "prepaid"}
_IN_ARREARS = {"end", "arrears", "in_arrears", "postpaid"}


def _timing(offset: Any) -> bool | None:
    word = _text(offset).strip().lower()
    if word in _IN_ADVANCE:
        return True
    if word in _IN_ARREARS:
        return False
    return None


def _tier(data: Any) -> Tier:
    if not isinstance(data, Mapping):
        raise _unreadable("a price tier is not an object")
    upper: Any = None
    for key in _TIER_UPPER:
        if key in data:
            upper = data[key]
            break
    if isinstance(upper, str) and upper.strip().lower() in ("", "inf", "infinity", "none"):
        upper = None
    price: Any = None
    for key in _TIER_PRICE:
        if key in data and data[key] is not None:
            price = data[key]
            break
    return Tier(
        up_to=None if upper is None else _dec(upper, "tier bound"),
        unit_amount=_dec(price, "tier price"),
    )


def _customer(data: dict) -> CustomerRef:
    customer = data.get("customer") if isinstance(data.get("customer"), dict) else {}
    return CustomerRef(
        id=_text(customer.get("id") or data.get("customer_id")),
        name=_text(customer.get("customer_name") or customer.get("name")),
        email=_text(customer.get("email")),
    )


def _summary(data: Any) -> ContractSummary:
    """One contract of the list (or the head of one contract)."""
    if not isinstance(data, dict) or not data.get("id"):
        raise _unreadable("a contract without an id")
    return ContractSummary(
        id=_text(data["id"]),
        name=_text(data.get("name")),
        status=_text(data.get("status")),
        currency=_text(data.get("currency")).upper(),
        customer=_customer(data),
        start_date=_dt(data.get("start_date"), "contract start_date"),
        end_date=_opt_dt(data.get("end_date"), "contract end_date"),
    )


def _contract(data: dict) -> Contract:
    """One contract with its terms; its cadence and timing are its first priced period's."""
    summary = _summary(data)
    phases = tuple(_phase(item, summary.currency) for item in data.get("phases") or () if item)
    cadence = ""
    in_advance = None
    for phase in data.get("phases") or ():
        for item in (phase or {}).get("pricings") or ():
            period = ((item or {}).get("pricing") or {}).get("billing_period") or {}
            if not cadence and period.get("cadence"):
                cadence = _text(period["cadence"])
                in_advance = _timing(period.get("offset"))
    anchor_day = None
    if data.get("is_last_day_of_month"):
        anchor_day = 31
    elif data.get("anchor_date"):
        anchor_day = _dt(data["anchor_date"], "anchor_date").day
    return Contract(
        id=summary.id,
        name=summary.name,
        status=summary.status,
        currency=summary.currency,
        customer=summary.customer,
        start_date=summary.start_date,
        end_date=summary.end_date,
        phases=phases,
        billing_cycle_start_day=anchor_day,
        cadence=cadence,
        in_advance=in_advance,
    )


def _phase(data: dict, currency: str) -> Phase:
    return Phase(
        id=_text(data.get("id")),
        name=_text(data.get("name")),
        phase_type=_text(data.get("phase_type") or "active").lower(),
        start_date=_dt(data.get("start_date"), "phase start_date"),
        end_date=_opt_dt(data.get("end_date"), "phase end_date"),
        pricings=tuple(_pricing(item, currency) for item in data.get("pricings") or () if item),
    )


def _pricing(data: dict, currency: str) -> Pricing:
    product = data.get("product") or {}
    pricing = data.get("pricing") or {}
    pricing_data = pricing.get("pricing_data") or {}
    quantity = pricing.get("quantity") or {}
    if not isinstance(quantity, Mapping):
        quantity = {"quantity": quantity}
    period = pricing.get("billing_period") or {}
    raw_type = _text(pricing_data.get("pricing_type")).strip().lower()
    pricing_type = _PRICING_TYPES.get(raw_type, raw_type)
    tiers = tuple(_tier(item) for item in pricing_data.get("tiers") or () if item)
    return Pricing(
        id=_text(data.get("id")),
        product_id=_text(data.get("product_id") or product.get("id")),
        product_name=_text(product.get("name")),
        sku=_text(product.get("sku")),
        description=_text(product.get("description")),
        pricing_type=pricing_type,
        currency=_text(pricing_data.get("currency") or currency).upper(),
        unit_amount=_dec(pricing_data.get("unit_amount"), "unit_amount", Decimal(0)),
        quantity=_dec(quantity.get("quantity"), "quantity", Decimal(1)),
        unit=_text(quantity.get("unit")),
        tiers=tiers,
        cadence=_text(period.get("cadence")),
        start_date=_dt(data.get("start_date"), "pricing start_date"),
        end_date=_opt_dt(data.get("end_date"), "pricing end_date"),
    )
