"""The embedded adapters: the port over `billing_engine.api`, in process.

Thin on purpose: the engine holds the semantics (it mimics the upstream vendors), these modules
only translate. Engine values become the port's frozen dataclasses, minor units become
major-unit `Decimal`s, and the engine's refusals become the port's errors (`common`):

    NotFound                                     -> NotFoundUpstream
    generate answering {"invoice_ids": []}       -> CycleNotMatched
    CycleNotFound (preview)                      -> CycleNotMatched
    InvoiceAlreadyGeneratedForThisBillingPeriod  -> AlreadyInvoicedUpstream
    InvoiceCannotBeVoided                        -> CannotBeVoided
    InvoiceAlreadyPaid                           -> AlreadyPaid
    InvalidState                                 -> BackendRejected(status=409)
    ValidationFailed                             -> BackendRejected(status=422, field_errors=...)
    a database that cannot answer now            -> BackendUnavailable

One module per capability: `cycle` (contract cycles, with credit notes and voids) and `adhoc`
(ad-hoc invoices, with voids). Cycle strings travel verbatim: the generate call converts them to
UNIX seconds exactly as the Zenskar adapter does, so both backends are driven by the same values.
"""

from .adhoc import EmbeddedAdhocBackend
from .common import NAME, engine_errors
from .cycle import EmbeddedCycleBackend

__all__ = ["NAME", "EmbeddedAdhocBackend", "EmbeddedCycleBackend", "engine_errors"]
