"""The embedded engine's in-process API: the only way in or out of `billing_engine`.

It speaks the upstream vendors' semantics so that switching the adapter from `embedded` to a
remote vendor changes transport, not behaviour. One module per capability of the port:
- contract-cycle invoicing (upstream/zenskar.md): `contracts` (search, one contract with its
  terms) and `cycles` (billing cycles, preview, and the cycle's draft: generate, read, approve,
  delete), and `corrections` (credit notes and voids of final invoices, both capabilities);
- ad-hoc invoicing (upstream/rebillia.md): `adhoc` (customers, payment methods, address book,
  currencies, gateways, countries, ad-hoc invoices), whose create body `adhoc_validation` checks.
`values` holds the frozen dataclasses both hand out, `numbering` the gapless document numbers
(`take(series=..., year=...)`, one series per kind of document and year).

Callers use this package, never its modules: `from billing_engine import api`, then
`api.generate_invoice(...)`.
"""

from ..errors import (
    CycleNotFound,
    EngineError,
    InvalidState,
    InvoiceAlreadyGeneratedForThisBillingPeriod,
    InvoiceAlreadyPaid,
    InvoiceCannotBeVoided,
    NotFound,
    ValidationFailed,
)
from .adhoc import (
    address_book,
    countries,
    create_adhoc_invoice,
    currencies,
    find_adhoc_invoices,
    gateways,
    get_adhoc_invoice,
    get_customer,
    payment_methods,
    search_customers,
)
from .contracts import get_contract, search_contracts
from .corrections import (
    credit_invoice,
    credit_notes,
    record_adhoc_payment,
    void_adhoc_invoice,
    void_invoice,
)
from .cycles import (
    approve_invoice,
    billing_cycles,
    delete_invoice,
    generate_invoice,
    get_invoice,
    preview,
    write_lines,
)
from .numbering import draft_number, register_issued, take
from .numbering import verify as verify_numbering
from .values import (
    MAX_PAGE,
    AddressInfo,
    ContractInfo,
    CountryInfo,
    CreditNoteInfo,
    CurrencyInfo,
    CustomerInfo,
    CustomerRef,
    GatewayInfo,
    InvoiceInfo,
    LineInfo,
    PaymentMethodInfo,
    PhaseRef,
    PricingRef,
)

__all__ = [
    "MAX_PAGE",
    "AddressInfo",
    "ContractInfo",
    "CountryInfo",
    "CreditNoteInfo",
    "CurrencyInfo",
    "CustomerInfo",
    "CustomerRef",
    "CycleNotFound",
    "EngineError",
    "GatewayInfo",
    "InvalidState",
    "InvoiceAlreadyGeneratedForThisBillingPeriod",
    "InvoiceAlreadyPaid",
    "InvoiceCannotBeVoided",
    "InvoiceInfo",
    "LineInfo",
    "NotFound",
    "PaymentMethodInfo",
    "PhaseRef",
    "PricingRef",
    "ValidationFailed",
    "address_book",
    "approve_invoice",
    "billing_cycles",
    "countries",
    "create_adhoc_invoice",
    "credit_invoice",
    "credit_notes",
    "currencies",
    "delete_invoice",
    "draft_number",
    "find_adhoc_invoices",
    "gateways",
    "generate_invoice",
    "get_adhoc_invoice",
    "get_contract",
    "get_customer",
    "get_invoice",
    "payment_methods",
    "preview",
    "record_adhoc_payment",
    "register_issued",
    "search_contracts",
    "search_customers",
    "take",
    "verify_numbering",
    "void_adhoc_invoice",
    "void_invoice",
    "write_lines",
]
