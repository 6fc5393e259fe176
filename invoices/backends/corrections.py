"""The port's corrections of final invoices: values, errors and the calls each capability adds
(re-exported by `base`, which composes them into `CycleBackend` and `AdhocBackend`).

- Contract-cycle invoicing (`CycleCorrections`): a credit note (an amount in the currency's major
  unit, and a reason) and a void, which the backend allows only once credit notes have brought
  the balance to zero (`CannotBeVoided` otherwise).
- Ad-hoc invoicing (`AdhocCorrections`): a void, irreversible and refused once the invoice is
  paid in full or in part (`AlreadyPaid`). There are no ad-hoc credit notes: a partial
  correction is a void and a new invoice.
- Both: `invoice_balance`, what the backend holds for a final invoice (its status, total,
  amount due, whether it is void or paid). Writes are never re-sent: a lost reply is settled by
  reading this back (the adapter does it at once; `manage.py reconcile` later), and when nothing
  certain is found the adapter raises `OutcomeUnknown`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .errors import BackendError

if TYPE_CHECKING:
    from .base import RemoteInvoice


class CannotBeVoided(BackendError):
    """The backend refuses the void (Zenskar: `INVOICE_CANNOT_BE_VOIDED`, the balance is not
    zero; or the invoice is a draft, or void already)."""


class AlreadyPaid(BackendError):
    """The invoice has been paid, in full or in part, so it can no longer be voided."""


@dataclass(frozen=True)
class CreditNoteResult:
    """A credit note the backend made. `id` and `number` are empty when the backend did not say
    (an empty reply, or one found by reading the invoice back)."""

    id: str
    number: str
    invoice_id: str
    currency: str
    amount: Decimal  # major units
    amount_due: Decimal | None = None  # the invoice's balance after it, when known
    recovered: bool = False  # found by looking after a lost reply, not from the reply


@dataclass(frozen=True)
class InvoiceBalance:
    """Where a final invoice stands upstream, for corrections (the port's words: adapters read
    their vendor's status into `voided` and `paid`; `status` is for people only)."""

    id: str
    status: str
    currency: str
    # Major units; None where the backend's unit cannot be known (see the adapter).
    total: Decimal | None
    amount_due: Decimal | None  # what is left to pay: the total less credit notes and payments
    voided: bool
    paid: bool = False  # payments received, in full or in part
    credited: Decimal | None = None  # the sum of its credit notes, when the backend says


@runtime_checkable
class CycleCorrections(Protocol):
    def invoice_balance(self, invoice_id: str) -> InvoiceBalance: ...

    def credit_note(self, invoice_id: str, amount: Decimal, reason: str) -> CreditNoteResult:
        """Credit `amount` (major units, the currency's decimals at most) off an approved
        invoice. Never re-sent: a lost reply is settled by reading the balance back (recovered
        result) or raises OutcomeUnknown. BackendRejected when it is refused (more than is left,
        not approved)."""
        ...

    def void_invoice(self, invoice_id: str) -> RemoteInvoice:
        """Void an approved invoice whose balance is zero; CannotBeVoided otherwise. A lost
        reply is settled by reading the invoice back."""
        ...


@runtime_checkable
class AdhocCorrections(Protocol):
    def invoice_balance(self, invoice_id: str) -> InvoiceBalance: ...

    def void_invoice(self, invoice_id: str) -> RemoteInvoice:
        """Void (irreversibly) an invoice nobody has paid: the adapter reads it first and raises
        AlreadyPaid once it is paid in full or in part. An invoice already void is returned as
        found (recovered=True). A lost reply is settled by reading it back."""
        ...
