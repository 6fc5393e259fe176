"""Rating: which lines one billing window produces, and their amounts.

Pure and Django-free: the embedded engine rates with it, and an adapter for a backend without a
dry-run may reuse it to estimate a preview from the contract's terms.

Money is in the currency's minor units as `Decimal`, so unit prices below one minor unit (0.125 USD
is `Decimal("12.5")`) stay exact; never `float`. Each line is rounded half-up to a whole minor
unit; a document's total is the sum of its rounded lines (never the rounding of a sum).

Proration is by whole days and relative to the window being rated: a pricing active for only part
of the window is charged `covered_days / window_days` of its full price. One consequence (kept on
purpose, because the upstream defines proration against the window): a short stub cycle, e.g. the
first cycle of a contract starting mid-period, charges the *full* price of any pricing that covers
the whole stub, not a fraction of a regular period. Whether that matches the upstream in every case
is an open question recorded in the engine's notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, localcontext

PRICING_TYPES = ("flat_fee", "per_unit", "tiered", "volume")
PHASE_TYPES = ("active", "trial", "pause")

# Enough digits that no multiplication or division here ever rounds before the final rounding.
_PRECISION = 60


@dataclass(frozen=True)
class Tier:
    """Quantities up to and including `up_to` (None: no upper bound) cost `unit_amount_minor`."""

    up_to: int | None
    unit_amount_minor: Decimal


@dataclass(frozen=True)
class PricingTerm:
    id: str
    product_name: str
    sku: str
    description: str
    pricing_type: str  # "flat_fee" | "per_unit" | "tiered" (graduated) | "volume"
    unit_amount_minor: Decimal
    quantity: Decimal
    tiers: tuple[Tier, ...]
    start: date
    end: date | None  # exclusive

    def __post_init__(self) -> None:
        """Refuse terms that cannot be rated, at the boundary, rather than mid-invoice."""
        if self.pricing_type not in PRICING_TYPES:
            raise ValueError(f"unknown pricing type {self.pricing_type!r}")
        if not isinstance(self.quantity, Decimal) or not isinstance(
            self.unit_amount_minor, Decimal
        ):
            raise TypeError("quantity and unit_amount_minor must be Decimal (never float)")
        if self.quantity < 0:
            raise ValueError("quantity must not be negative")
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"pricing {self.id}: end must be after start")
        if self.pricing_type in ("tiered", "volume"):
            _check_tiers(self.tiers, self.quantity, self.id)


def _check_tiers(tiers: tuple[Tier, ...], quantity: Decimal, pricing_id: str) -> None:
    if not tiers:
        raise ValueError(f"pricing {pricing_id}: tiered and volume pricings need tiers")
    previous = 0
    for index, tier in enumerate(tiers):
        if not isinstance(tier.unit_amount_minor, Decimal):
            raise TypeError("tier unit_amount_minor must be Decimal (never float)")
        if tier.up_to is None:
            if index != len(tiers) - 1:
                raise ValueError(f"pricing {pricing_id}: only the last tier may be unbounded")
            return
        if tier.up_to <= previous:
            raise ValueError(f"pricing {pricing_id}: tier bounds must increase")
        previous = tier.up_to
    if quantity > previous:
        raise ValueError(
            f"pricing {pricing_id}: quantity {quantity} is above the last tier ({previous})"
        )


@dataclass(frozen=True)
class PhaseTerm:
    phase_type: str  # "active" | "trial" | "pause"
    start: date
    end: date | None  # exclusive
    pricings: tuple[PricingTerm, ...]

    def __post_init__(self) -> None:
        if self.phase_type not in PHASE_TYPES:
            raise ValueError(f"unknown phase type {self.phase_type!r}")
        if self.end is not None and self.end <= self.start:
            raise ValueError("a phase must end after it starts")


@dataclass(frozen=True)
class RatedLine:
    pricing_id: str
    product_name: str
    sku: str
    description: str
    phase_type: str
    quantity: Decimal
    unit_amount_minor: Decimal  # effective unit price (full_amount / quantity for tiered/volume)
    full_amount_minor: Decimal  # for the whole window, before proration (unrounded)
    amount_minor: int  # prorated, rounded half-up
    service_start: datetime
    service_end: datetime
    covered_days: int
    window_days: int

    @property
    def prorated(self) -> bool:
        return self.covered_days < self.window_days


def round_half_up(amount: Decimal) -> int:
    """A minor-unit amount rounded half-up (away from zero on .5) to a whole minor unit."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def full_amount_minor(pricing: PricingTerm) -> Decimal:
    """The price of one whole window, before proration and unrounded.

    A flat fee is its amount whatever the quantity; per unit is price x quantity; graduated
    tiers charge each slice of the quantity at its own tier's price; volume charges the whole
    quantity at the price of the tier the quantity falls into.
    """
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        kind = pricing.pricing_type
        if kind == "flat_fee":
            return pricing.unit_amount_minor
        if kind == "per_unit":
            return pricing.unit_amount_minor * pricing.quantity
        quantity = pricing.quantity
        if kind == "tiered":
            total = Decimal(0)
            lower = Decimal(0)
            for tier in pricing.tiers:
                upper = quantity if tier.up_to is None else min(quantity, Decimal(tier.up_to))
                if upper > lower:
                    total += (upper - lower) * tier.unit_amount_minor
                if tier.up_to is None or quantity <= tier.up_to:
                    break
                lower = Decimal(tier.up_to)
            return total
        if kind == "volume":
            for tier in pricing.tiers:
                if tier.up_to is None or quantity <= tier.up_to:
                    return quantity * tier.unit_amount_minor
            raise ValueError(f"pricing {pricing.id}: quantity above the last tier")
    raise ValueError(f"unknown pricing type {kind!r}")  # pragma: no cover - checked on creation


def _as_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _days(start: datetime, end: datetime) -> int:
    return (end.date() - start.date()).days


def rate_window(*, phases: Sequence[PhaseTerm], start: datetime, end: datetime) -> list[RatedLine]:
    """One line per (phase, pricing) active at any time in `[start, end)`.

    One invoice per window, never one per product: the caller puts all these lines on one
    document. Trial phases still produce their lines (at zero) so the customer sees what the trial
    covered; pause phases produce nothing. Lines come out in the order of `phases` and, within a
    phase, of its pricings.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("the window must be timezone-aware (UTC)")
    if end <= start:
        raise ValueError("the window must end after it starts")
    window_days = _days(start, end)
    lines: list[RatedLine] = []
    for phase in phases:
        if phase.phase_type == "pause":
            continue
        for pricing in phase.pricings:
            active_start = max(pricing.start, phase.start)
            ends = [day for day in (pricing.end, phase.end) if day is not None]
            active_end = min(ends) if ends else None
            service_start = max(_as_midnight(active_start), start)
            service_end = end if active_end is None else min(_as_midnight(active_end), end)
            if service_end <= service_start:
                continue
            service = (service_start, service_end)
            lines.append(_line(pricing, phase.phase_type, service, window_days))
    return lines


def _line(
    pricing: PricingTerm, phase_type: str, service: tuple[datetime, datetime], window_days: int
) -> RatedLine:
    service_start, service_end = service
    covered_days = _days(service_start, service_end)
    trial = phase_type == "trial"
    flat = pricing.pricing_type == "flat_fee"
    quantity = Decimal(1) if flat else pricing.quantity
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        full = Decimal(0) if trial else full_amount_minor(pricing)
        if trial:
            unit = Decimal(0)
        elif pricing.pricing_type in ("tiered", "volume"):
            unit = full / quantity if quantity else Decimal(0)
        else:
            unit = full if flat else pricing.unit_amount_minor
        amount = round_half_up(full * covered_days / window_days)
    return RatedLine(
        pricing_id=pricing.id,
        product_name=pricing.product_name,
        sku=pricing.sku,
        description=pricing.description,
        phase_type=phase_type,
        quantity=quantity,
        unit_amount_minor=unit,
        full_amount_minor=full,
        amount_minor=amount,
        service_start=service_start,
        service_end=service_end,
        covered_days=covered_days,
        window_days=window_days,
    )
