"""The billing-backend port: what crosses it (frozen dataclasses) and how it fails (domain errors).

Two capabilities, each chosen by a setting:
- contract-cycle invoicing (`BILLING_BACKEND`): `CycleBackend`
- ad-hoc invoicing (`ADHOC_BACKEND`): `AdhocBackend`
Each includes the corrections of its final invoices (`corrections`: credit notes and voids).

Adapters return these dataclasses, never raw dicts, and raise these errors, never httpx's.
Money crossing the port is `Decimal` in the currency's major unit (as the vendors send it);
the app converts to integer minor units with `invoices.money`. Datetimes are UTC-aware.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Generic, Protocol, TypeVar, runtime_checkable

from .corrections import (  # noqa: F401  (the port's corrections: import them from here)
    AdhocCorrections,
    AlreadyPaid,
    CannotBeVoided,
    CreditNoteResult,
    CycleCorrections,
    InvoiceBalance,
)
from .errors import (  # noqa: F401  (the port's errors: import them from here)
    AlreadyInvoicedUpstream,
    BackendError,
    BackendMisconfigured,
    BackendRejected,
    BackendUnavailable,
    CycleNotMatched,
    NotFoundUpstream,
    OutcomeUnknown,
)

T = TypeVar("T")


# --- values ---------------------------------------------------------------------------------
_ISO_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_wire_datetime(value: str) -> datetime:
    """An ISO-8601 string from a backend as a UTC-aware datetime.

    Accepts `2026-04-28T00:00:00Z`, `...+00:00`, fractional seconds, other offsets (converted to
    UTC) and a bare date (midnight UTC). A naive date-time is taken as UTC.
    """
    text = value.strip()
    if _ISO_DATE_ONLY.match(text):
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


@dataclass(frozen=True)
class CustomerRef:
    id: str
    name: str
    email: str = ""


@dataclass(frozen=True)
class Tier:
    """A price tier: quantities up to and including `up_to` (None: no upper bound)."""

    up_to: Decimal | None
    unit_amount: Decimal


@dataclass(frozen=True)
class Pricing:
    id: str
    product_id: str
    product_name: str
    sku: str
    description: str
    pricing_type: str  # flat_fee | per_unit | tiered | volume (vendor names are mapped to these)
    currency: str
    unit_amount: Decimal  # major units; for tiered/volume see tiers
    quantity: Decimal
    unit: str
    tiers: tuple[Tier, ...]
    cadence: str  # P1M | P3M | P6M | P1Y
    start_date: datetime
    end_date: datetime | None


@dataclass(frozen=True)
class Phase:
    id: str
    name: str
    phase_type: str  # active | trial | pause
    start_date: datetime
    end_date: datetime | None
    pricings: tuple[Pricing, ...]


@dataclass(frozen=True)
class ContractSummary:
    id: str
    name: str
    status: str
    currency: str
    customer: CustomerRef
    start_date: datetime
    end_date: datetime | None


@dataclass(frozen=True)
class Contract(ContractSummary):
    phases: tuple[Phase, ...] = ()
    billing_cycle_start_day: int | None = None
    cadence: str = ""
    in_advance: bool | None = None


@dataclass(frozen=True)
class BillingCycle:
    """One entry of a contract's billing-cycle list, with the backend's values kept verbatim.

    The strings travel unchanged from the list to the generate call (the adapter converts them to
    its wire form there); the parsed datetimes are for display, sorting and comparisons only.
    """

    name: str
    start_date: str
    end_date: str
    bill_for_date: str
    billing_cycle_start_day: int

    @property
    def start(self) -> datetime:
        return parse_wire_datetime(self.start_date)

    @property
    def end(self) -> datetime:
        """Exclusive end of the half-open window [start, end)."""
        return parse_wire_datetime(self.end_date)

    @property
    def bill_for(self) -> datetime:
        return parse_wire_datetime(self.bill_for_date)

    @property
    def key(self) -> str:
        """Identifies the cycle in URLs and forms: its verbatim bill_for_date."""
        return self.bill_for_date

    def generation_fields(self) -> dict[str, int]:
        """The generate call's cycle fields as the contract-billing wire wants them: the four
        values copied from this entry, dates as integer UNIX seconds (UTC)."""
        return {
            "from_date": int(self.start.timestamp()),
            "to_date": int(self.end.timestamp()),
            "bill_for_date": int(self.bill_for.timestamp()),
            "billing_cycle_start_day": int(self.billing_cycle_start_day),
        }


@dataclass(frozen=True)
class LineItem:
    name: str
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal  # major units, may carry more decimals than the currency
    amount: Decimal  # major units, the line's amount in the invoice currency
    service_start: datetime | None = None
    service_end: datetime | None = None
    prorated: bool = False
    note: str = ""


@dataclass(frozen=True)
class Preview:
    """What a cycle's invoice will contain. `exact` is False when it is estimated from the
    contract's terms (a backend without dry-run) rather than computed by the backend itself."""

    currency: str
    lines: tuple[LineItem, ...]
    total: Decimal
    exact: bool
    notes: tuple[str, ...] = ()


class DraftState(StrEnum):
    """Where a generated invoice stands upstream, in the port's words (adapters map their
    vendor's status to one of these; nothing outside an adapter reads a vendor's status)."""

    DRAFT = "draft"  # generated, not approved: it can still be approved or deleted
    APPROVED = "approved"  # approved upstream, or past that (sent, paid, void): final


@dataclass(frozen=True)
class Draft:
    id: str
    number: str
    status: str  # the vendor's own word (draft | approved | paid | void ...), for people only
    state: DraftState
    currency: str
    total: Decimal
    lines: tuple[LineItem, ...]
    contract_id: str = ""
    customer_id: str = ""
    # The billing period the backend generated it for, [start, end) in UTC, when it says.
    period: tuple[datetime, datetime] | None = None

    @property
    def is_draft(self) -> bool:
        return self.state is DraftState.DRAFT

    def as_remote(self, *, recovered: bool = False) -> RemoteInvoice:
        """This invoice as an approval's result (`recovered`: found by looking, not from the
        approval's own reply)."""
        return RemoteInvoice(
            id=self.id,
            number=self.number,
            status=self.status,
            currency=self.currency,
            total=self.total,
            recovered=recovered,
        )


@dataclass(frozen=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    next_cursor: str | None = None
    previous_cursor: str | None = None
    total_count: int | None = None


# --- ad-hoc values --------------------------------------------------------------------------
@dataclass(frozen=True)
class AdhocCustomer:
    id: str
    name: str
    email: str = ""
    business_name: str = ""


@dataclass(frozen=True)
class Currency:
    id: str  # the company-currency id the backend wants on create
    code: str  # ISO 4217
    symbol: str = ""
    name: str = ""


@dataclass(frozen=True)
class Gateway:
    id: str
    name: str
    type: str = ""


@dataclass(frozen=True)
class PaymentMethod:
    id: str
    type: str  # card | ach
    account_name: str
    masked_number: str  # already masked by the backend; never shown unmasked


@dataclass(frozen=True)
class Country:
    id: str  # the backend's own id (Rebillia: a number)
    code: str  # ISO 3166-1 alpha-2
    name: str


@dataclass(frozen=True)
class Address:
    contact_name: str
    street1: str
    city: str
    zip: str
    country_code: str  # ISO alpha-2; adapters resolve it to the backend's country id
    type: str = "commercial"  # residential | commercial
    street2: str = ""
    state: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    contact_company: str = ""


@dataclass(frozen=True)
class AdhocLine:
    description: str
    quantity: int
    unit_amount_minor: int  # the price of one unit, in integer minor units

    @property
    def amount_minor(self) -> int:
        return self.unit_amount_minor * self.quantity


PAYMENT_TYPES = (
    "offlinePaymentProvider",
    "thirdPartyPaymentProvider",
    "walletPaymentProvider",
    "otherPayment",
)


@dataclass(frozen=True)
class AdhocInvoiceRequest:
    customer_id: str
    currency_id: str
    currency_code: str
    gateway_id: str
    payment_method_id: str
    date_from: date
    date_to: date
    date_due: date
    lines: tuple[AdhocLine, ...]
    shipping_minor: int = 0
    payment_type: str = ""
    billing_address: Address | None = None
    shipping_address: Address | None = None
    customer_email: str = ""
    customer_name: str = ""
    customer_phone: str = ""
    terms: str = ""
    comments: str = ""

    @property
    def total_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines) + self.shipping_minor


@dataclass(frozen=True)
class RemoteInvoice:
    id: str
    number: str
    status: str
    currency: str = ""
    total: Decimal | None = None
    recovered: bool = False  # found by looking after a lost reply, not from the create reply


@dataclass(frozen=True)
class CheckResult:
    """One line of `manage.py backend_check`."""

    capability: str
    ok: bool
    detail: str
    settings: dict[str, str] = field(default_factory=dict)


# --- the port -------------------------------------------------------------------------------
@runtime_checkable
class CycleBackend(CycleCorrections, Protocol):
    """Contract-cycle invoicing (embedded engine, Zenskar), with credit notes and voids."""

    name: str
    preview_is_exact: bool

    def search_contracts(
        self, *, query: str = "", cursor: str | None = None, limit: int = 20
    ) -> Page[ContractSummary]: ...

    def get_contract(self, contract_id: str) -> Contract: ...

    def list_billing_cycles(self, contract_id: str) -> tuple[BillingCycle, ...]: ...

    def preview_cycle(self, contract: Contract, cycle: BillingCycle) -> Preview: ...

    def generate_draft(self, *, contract_id: str, customer_id: str, cycle: BillingCycle) -> str:
        """Generate the one draft for (contract, customer, cycle); returns its id.
        Raises CycleNotMatched, AlreadyInvoicedUpstream, BackendRejected, BackendUnavailable."""
        ...

    def get_draft(self, invoice_id: str) -> Draft: ...

    def approve_draft(self, invoice_id: str) -> RemoteInvoice: ...

    def delete_draft(self, invoice_id: str) -> None: ...

    def check(self) -> CheckResult: ...


# Ad-hoc invoice statuses (Rebillia's, which the embedded engine keeps) that can never be the
# invoice a lost create just made: `find_invoice` skips them.
DEAD_ADHOC_STATUSES = frozenset({"voided", "canceled", "cancelled", "refund", "partialrefund"})


@runtime_checkable
class AdhocBackend(AdhocCorrections, Protocol):
    """Ad-hoc invoices (embedded engine, Rebillia). Invoices are live as soon as created; they
    are corrected by a void (and a new invoice)."""

    name: str

    def search_customers(
        self, *, query: str = "", cursor: str | None = None, limit: int = 20
    ) -> Page[AdhocCustomer]: ...

    def get_customer(self, customer_id: str) -> AdhocCustomer: ...

    def payment_methods(self, customer_id: str) -> tuple[PaymentMethod, ...]: ...

    def address_book(self, customer_id: str) -> tuple[Address, ...]: ...

    def currencies(self) -> tuple[Currency, ...]: ...

    def gateways(self, currency_id: str) -> tuple[Gateway, ...]: ...

    def countries(self) -> tuple[Country, ...]: ...

    def create_invoice(
        self, request: AdhocInvoiceRequest, *, known: frozenset[str] = frozenset()
    ) -> RemoteInvoice:
        """Create (post) the invoice. Never re-sent by the adapter. If the reply is lost, the
        adapter looks for the invoice (`find_invoice`, with `known`) and returns it with
        recovered=True, or raises OutcomeUnknown."""
        ...

    def find_invoice(
        self, request: AdhocInvoiceRequest, *, known: frozenset[str] = frozenset()
    ) -> RemoteInvoice | None:
        """An existing invoice for the same customer, period and total, if there is one; None
        when there is none; OutcomeUnknown when several match. `known`: ids that other records
        of ours already hold (an identical invoice approved before), never this one's."""
        ...

    def check(self) -> CheckResult: ...


def sum_amounts(lines: Sequence[LineItem]) -> Decimal:
    return sum((line.amount for line in lines), Decimal(0))
