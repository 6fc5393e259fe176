"""What the engine's API hands out, and the argument checks both capabilities share.

Everything returned is one of these frozen dataclasses or a plain dict, never a model instance,
so callers cannot write through it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import reduce
from operator import or_

from django.db.models import Model, Q, QuerySet
from django.db.models.functions import Lower

from billing_rules.rating import PhaseTerm

from ..errors import NotFound, ValidationFailed

MAX_PAGE = 250


# --- contract cycles ------------------------------------------------------------------------
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
    credited_minor: int = 0  # the sum of its credit notes
    voided_at: datetime | None = None

    @property
    def amount_due_minor(self) -> int:
        """What is left to pay once credit notes are taken off (the engine takes no payments
        on contract-cycle invoices)."""
        return self.total_minor - self.credited_minor


@dataclass(frozen=True)
class CreditNoteInfo:
    id: str
    number: str
    invoice_id: str
    currency: str
    amount_minor: int
    reason: str
    created_at: datetime


# --- ad-hoc ---------------------------------------------------------------------------------
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


# --- shared helpers -------------------------------------------------------------------------
def _uuid(value: object, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise NotFound(f"No {what} {value!r}.") from None


def _by_uuid(queryset: QuerySet, value: object, what: str) -> Model:
    """The row of `queryset` whose primary key is the UUID `value`; NotFound when the id is
    malformed or unknown."""
    row = queryset.filter(pk=_uuid(value, what)).first()
    if row is None:
        raise NotFound(f"No {what} {value}.")
    return row


def _page(offset: int, limit: int) -> tuple[int, int]:
    errors = {}
    if offset < 0:
        errors["offset"] = ["must be 0 or more"]
    if limit < 1:
        errors["limit"] = ["must be 1 or more"]
    if errors:
        raise ValidationFailed(errors)
    return offset, min(limit, MAX_PAGE)


def _search_page(
    queryset: QuerySet, *, query: str, fields: tuple[str, ...], offset: int, limit: int
) -> tuple[list, int]:
    """One page of the rows whose `fields` contain `query` (any case), and how many there are.

    By name (ignoring case, so SQLite and PostgreSQL agree) then id so pages never shuffle. Two
    queries whatever the page size.
    """
    offset, limit = _page(offset, limit)
    queryset = queryset.order_by(Lower("name"), "name", "id")
    query = query.strip()
    if query:
        queryset = queryset.filter(reduce(or_, (Q(**{f"{f}__icontains": query}) for f in fields)))
    total = queryset.count()
    return list(queryset[offset : offset + limit]), total
