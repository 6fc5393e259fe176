"""The embedded billing engine's catalogue and its engine-side invoices.

Two vendors' worlds live side by side, as they do upstream:
- contract-cycle billing (Zenskar-like): customers, contracts, phases, products, pricings and the
  engine invoices generated per billing cycle. UUID keys, like the upstream's.
- ad-hoc invoicing (Rebillia-like): countries, company currencies, gateways, payment methods,
  address books and posted ad-hoc invoices. Integer keys, like the upstream's; a customer is known
  there by its integer `account_number`.

Money is always integer minor units next to an ISO 4217 code. Invariants the database can hold are
constraints here (they hold on SQLite and PostgreSQL alike); everything else is enforced by
`billing_engine.api`, the only code that writes invoices.

The models live in one module per capability; this package re-exports them all, so
`billing_engine.models.X` stays the import path (migrations reference `validate_tiers` by it):
- `catalogue`: customers (shared) and the ad-hoc reference data, plus the code validators;
- `contracts`: contract-cycle billing and its engine invoices, and `NumberSequence`;
- `adhoc`: posted ad-hoc invoices and their lines;
- `corrections`: credit notes on approved engine invoices.
"""

from .adhoc import AdhocInvoice, AdhocInvoiceLine
from .catalogue import (
    AddressBookEntry,
    CompanyCurrency,
    Country,
    Customer,
    Gateway,
    PaymentMethod,
    alpha2,
    iso4217,
    masked,
)
from .contracts import (
    Contract,
    EngineInvoice,
    EngineInvoiceLine,
    NumberSequence,
    Phase,
    Pricing,
    Product,
    validate_tiers,
)
from .corrections import EngineCreditNote

__all__ = [
    "AddressBookEntry",
    "AdhocInvoice",
    "AdhocInvoiceLine",
    "CompanyCurrency",
    "Contract",
    "Country",
    "Customer",
    "EngineCreditNote",
    "EngineInvoice",
    "EngineInvoiceLine",
    "Gateway",
    "NumberSequence",
    "PaymentMethod",
    "Phase",
    "Pricing",
    "Product",
    "alpha2",
    "iso4217",
    "masked",
    "validate_tiers",
]
