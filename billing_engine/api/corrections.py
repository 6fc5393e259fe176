"""Corrections of final invoices, with each upstream's semantics.

- Contract-cycle invoices (Zenskar): a credit note takes an amount off an approved invoice's
  balance (never more than is left); a void is allowed only once credit notes bring the balance
  to zero, and fails with `INVOICE_CANNOT_BE_VOIDED` otherwise. Drafts are deleted, not voided.
  A void frees the cycle: it can be generated again.
- Ad-hoc invoices (Rebillia): a void is irreversible and refused once the invoice is paid, in
  full or in part. There are no ad-hoc credit notes. Payments are recorded here too (the engine
  stands in for the vendor's payment side: demo data and tests).

Every write locks its invoice first, so two corrections of one invoice queue instead of racing.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from ..errors import (
    InvalidState,
    InvoiceAlreadyPaid,
    InvoiceCannotBeVoided,
    ValidationFailed,
)
from ..models import AdhocInvoice, EngineCreditNote, EngineInvoice
from .adhoc import _adhoc_dict, _adhoc_queryset, _by_number
from .cycles import get_invoice, lock_invoice
from .numbering import register_issued, take
from .values import CreditNoteInfo, InvoiceInfo, _by_uuid

# Credit notes are numbered from the yearly CN series: verify_numbering checks them too.
register_issued(
    "engine credit notes",
    lambda: EngineCreditNote.objects.values_list("number", flat=True).iterator(chunk_size=5000),
)

CANNOT_BE_VOIDED = "INVOICE_CANNOT_BE_VOIDED"
MAX_REASON = 500


# --- contract-cycle invoices --------------------------------------------------------------------
def credit_invoice(invoice_id: str, *, amount_minor: int, reason: str = "") -> CreditNoteInfo:
    """A credit note of `amount_minor` on an approved invoice, numbered in its own series."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise ValidationFailed({"credit_note_amount": ["must be a positive amount"]})
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise ValidationFailed({"reason": [f"at most {MAX_REASON} characters"]})
    with transaction.atomic():
        invoice = lock_invoice(invoice_id)
        if invoice.status != EngineInvoice.Status.APPROVED:
            raise InvalidState(
                f"Invoice {invoice.number} is {invoice.status}; only an approved invoice can be "
                "credited."
            )
        left = invoice.total_minor - _credited(invoice)
        if amount_minor > left:
            raise InvalidState(
                f"The credit note ({amount_minor}) is more than invoice {invoice.number} has "
                f"left to credit ({left}, in minor units of {invoice.currency})."
            )
        note = EngineCreditNote.objects.create(
            id=uuid.uuid4(),
            invoice=invoice,
            number=take(series="CN", year=timezone.now().year),
            amount_minor=amount_minor,
            reason=reason,
        )
    return _credit_note_info(note, invoice.currency)


def credit_notes(invoice_id: str) -> list[CreditNoteInfo]:
    """The invoice's credit notes, oldest first: what a caller whose credit reply was lost
    looks through before deciding anything."""
    invoice = _by_uuid(EngineInvoice.objects, invoice_id, "invoice")
    return [
        _credit_note_info(note, invoice.currency)
        for note in invoice.credit_notes.order_by("created_at", "number")
    ]


def void_invoice(invoice_id: str) -> InvoiceInfo:
    """Approved → void, once credit notes have brought its balance to zero."""
    with transaction.atomic():
        invoice = lock_invoice(invoice_id)
        if invoice.status != EngineInvoice.Status.APPROVED:
            raise InvalidState(
                f"Invoice {invoice.number} is {invoice.status}; only an approved invoice can be "
                "voided (a draft is deleted instead)."
            )
        left = invoice.total_minor - _credited(invoice)
        if left != 0:
            raise InvoiceCannotBeVoided(
                f"{CANNOT_BE_VOIDED}: invoice {invoice.number} still has {left} (minor units of "
                f"{invoice.currency}) to pay; credit it to zero before voiding it."
            )
        EngineInvoice.objects.filter(pk=invoice.pk, status=EngineInvoice.Status.APPROVED).update(
            status=EngineInvoice.Status.VOID, voided_at=timezone.now()
        )
    return get_invoice(str(invoice.pk))


def _credited(invoice: EngineInvoice) -> int:
    return invoice.credit_notes.aggregate(total=Sum("amount_minor"))["total"] or 0


def _credit_note_info(note: EngineCreditNote, currency: str) -> CreditNoteInfo:
    return CreditNoteInfo(
        id=str(note.id),
        number=note.number,
        invoice_id=str(note.invoice_id),
        currency=currency,
        amount_minor=note.amount_minor,
        reason=note.reason,
        created_at=note.created_at,
    )


# --- ad-hoc invoices ----------------------------------------------------------------------------
def _lock_adhoc(invoice_id: int | str) -> AdhocInvoice:
    return _by_number(AdhocInvoice.objects.select_for_update(), invoice_id, "ad-hoc invoice")


def void_adhoc_invoice(invoice_id: int | str) -> dict:
    """Void an ad-hoc invoice (irreversible), as Rebillia's `PUT /invoices/{id}/void`."""
    with transaction.atomic():
        invoice = _lock_adhoc(invoice_id)
        status = AdhocInvoice.Status
        if invoice.status in (status.PAID, status.PARTIAL_PAID):
            raise InvoiceAlreadyPaid(
                f"Invoice {invoice.invoice_no} is {invoice.status}: a paid invoice cannot be "
                "voided."
            )
        if invoice.status != status.POSTED:
            raise InvalidState(f"Invoice {invoice.invoice_no} is {invoice.status} already.")
        AdhocInvoice.objects.filter(pk=invoice.pk, status=status.POSTED).update(
            status=status.VOIDED, date_void=timezone.now()
        )
    return _adhoc_dict(_adhoc_queryset().get(pk=invoice.pk))


def record_adhoc_payment(invoice_id: int | str, *, amount_minor: int) -> dict:
    """A payment received against an ad-hoc invoice: `partialPaid`, then `paid` at the total."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise ValidationFailed({"amount": ["must be a positive amount"]})
    with transaction.atomic():
        invoice = _lock_adhoc(invoice_id)
        status = AdhocInvoice.Status
        if invoice.status not in (status.POSTED, status.PARTIAL_PAID):
            raise InvalidState(f"Invoice {invoice.invoice_no} is {invoice.status}.")
        paid = invoice.amount_paid_minor + amount_minor
        if paid > invoice.total_minor:
            raise ValidationFailed({"amount": ["is more than the balance due"]})
        invoice.amount_paid_minor = paid
        invoice.status = status.PAID if paid == invoice.total_minor else status.PARTIAL_PAID
        invoice.save(update_fields=["amount_paid_minor", "status"])
    return _adhoc_dict(_adhoc_queryset().get(pk=invoice.pk))
