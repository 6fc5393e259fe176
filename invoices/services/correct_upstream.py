"""A correction's upstream writes, once a manager has approved it, and how a lost one is settled.

`send` runs outside any transaction, between the `approving` intent and the recorded result
(`decide`). A credit note is one write. A void of a contract-cycle invoice with something left
is two: the credit note of the rest, then the void; the first is recorded as done
(`correction_step`, with an audit event) before the second is sent, so whatever interrupts it,
the credit note is never sent twice: Retry and `manage.py reconcile` go on from the void.

`ask` reads the backend back (never re-sends): an applied void reads `voided`; a credit note
shows in the invoice's balance (the sum of its credit notes where the backend says, otherwise its
amount due) against what the other applied corrections leave. When the balance matches neither
"applied" nor "not applied" (a payment moved it, another correction in flight), it is unclear
and a person decides.
"""

from __future__ import annotations

import logging

from django.db import transaction

from .. import money, workflow
from ..audit import audit_record
from ..backends import adhoc_backend, cycle_backend
from ..backends.base import InvoiceBalance, NotFoundUpstream, RemoteInvoice
from ..models import Invoice
from . import records
from .corrections import applied_elsewhere_minor, reason_for_backend
from .outcome import Outcome

log = logging.getLogger(__name__)
S = Invoice.Status
K = Invoice.Kind
CREDITED = Invoice.CorrectionStep.CREDITED


def _backend(original: Invoice):
    return cycle_backend() if original.kind == K.CYCLE else adhoc_backend()


def _needs_credit(correction: Invoice, original: Invoice) -> bool:
    """A credit note is sent for a credit note, and for a void of a cycle invoice with a rest."""
    if correction.kind == K.CREDIT_NOTE:
        return True
    return original.kind == K.CYCLE and correction.total_minor > 0


# --- the writes ----------------------------------------------------------------------------------
def send(correction: Invoice, actor) -> RemoteInvoice:
    """The approved correction's upstream writes (`correction` is `approving`). Returns the
    result as an approval's: `id` / `number` name the credit note made (if any)."""
    original = Invoice.objects.get(pk=correction.corrects_id)
    backend = _backend(original)
    amount = money.to_major(correction.total_minor, correction.currency)
    if correction.kind == K.CREDIT_NOTE:
        note = backend.credit_note(original.upstream_id, amount, reason_for_backend(correction))
        return RemoteInvoice(
            id=note.id,
            number=note.number,
            status="credited",
            currency=correction.currency,
            total=note.amount,
            recovered=note.recovered,
        )
    step = Invoice.objects.values_list("correction_step", flat=True).get(pk=correction.pk)
    if _needs_credit(correction, original) and step != CREDITED:
        note = backend.credit_note(original.upstream_id, amount, reason_for_backend(correction))
        record_credited(
            correction,
            actor,
            upstream_id=note.id,
            upstream_number=note.number,
            detail="recovered after a lost reply" if note.recovered else "",
        )
    voided = backend.void_invoice(original.upstream_id)
    fresh = Invoice.objects.only("upstream_id", "upstream_number").get(pk=correction.pk)
    return RemoteInvoice(
        id=fresh.upstream_id,
        number=fresh.upstream_number,
        status=voided.status,
        currency=correction.currency,
        total=amount,
        recovered=voided.recovered,
    )


def record_credited(
    correction: Invoice, actor, *, upstream_id: str = "", upstream_number: str = "", detail=""
) -> None:
    """The void's first write (its credit note) is done upstream: recorded before the second."""
    with transaction.atomic():
        locked = records.locked(correction.pk)
        if locked.correction_step == CREDITED:
            return
        locked.correction_step = CREDITED
        locked.upstream_id = upstream_id or locked.upstream_id
        locked.upstream_number = upstream_number or locked.upstream_number
        locked.save(
            update_fields=["correction_step", "upstream_id", "upstream_number", "updated_at"]
        )
        audit_record(
            actor=actor,
            action=workflow.CORRECTION_CREDITED,
            invoice=locked,
            reason=detail,
            data={
                "credit_note_id": locked.upstream_id,
                "credit_note_number": locked.upstream_number,
                "total_minor": locked.total_minor,
            },
        )


# --- looking -----------------------------------------------------------------------------------
def ask(correction: Invoice) -> Outcome:
    """What the backend shows of an approved correction's writes (see the module docstring)."""
    original = Invoice.objects.get(pk=correction.corrects_id)
    try:
        balance = _backend(original).invoice_balance(original.upstream_id)
    except NotFoundUpstream:
        return Outcome(
            gone=True,
            explanation="The backend no longer has the invoice this corrects. Reject this "
            "correction.",
        )
    found = RemoteInvoice(
        id=correction.upstream_id,
        number=correction.upstream_number,
        status=balance.status,
        currency=correction.currency,
        total=money.to_major(correction.total_minor, correction.currency),
        recovered=True,
    )
    if correction.kind == K.VOID:
        return _ask_void(correction, original, balance, found)
    seen = _credit_seen(correction, original, balance)
    if seen:
        return Outcome(found)
    if seen is False:
        return Outcome(
            explanation="The backend shows no such credit note (the balance is as before)."
        )
    return Outcome(unclear=True, explanation=_unclear(correction, balance))


def _ask_void(correction, original, balance: InvoiceBalance, found: RemoteInvoice) -> Outcome:
    if balance.voided:
        return Outcome(found)
    if balance.paid and original.kind == K.ADHOC:
        return Outcome(
            refused=True,
            explanation=f"The invoice is {balance.status} now: a paid invoice cannot be voided. "
            "Reject this void.",
        )
    if correction.correction_step == CREDITED:
        return Outcome(
            partial=True,
            explanation="The credit note of the rest was made upstream; the void is still to be "
            "sent.",
        )
    if not _needs_credit(correction, original):
        return Outcome(explanation="The backend has not voided the invoice.")
    seen = _credit_seen(correction, original, balance)
    if seen:
        return Outcome(
            partial=True,
            credit_found=True,
            explanation="The credit note of the rest was made upstream (its effect is in the "
            "invoice's balance); the void is still to be sent.",
        )
    if seen is False:
        return Outcome(explanation="The backend shows neither the credit note nor the void.")
    return Outcome(unclear=True, explanation=_unclear(correction, balance))


def _credit_seen(correction: Invoice, original: Invoice, balance: InvoiceBalance) -> bool | None:
    """True: the backend's balance shows this correction's credit; False: it shows the balance
    without it; None: neither."""
    others = applied_elsewhere_minor(correction)
    mine = correction.total_minor
    try:
        if balance.credited is not None:
            credited = money.to_minor(balance.credited, original.currency)
            return {others + mine: True, others: False}.get(credited)
        if balance.amount_due is not None:
            due = money.to_minor(balance.amount_due, original.currency, allow_negative=True)
            before = original.total_minor - others
            return {before - mine: True, before: False}.get(due)
    except money.MoneyError as exc:
        log.warning("correction %s: unreadable balance upstream: %s", correction.pk, exc)
    return None


def _unclear(correction: Invoice, balance: InvoiceBalance) -> str:
    return (
        f"The backend's balance of the invoice (amount due {balance.amount_due} "
        f"{balance.currency}) does not tell whether this correction's credit of "
        f"{money.format_money(correction.total_minor, correction.currency)} was applied (a "
        "payment, or another correction, may have moved it). Check the invoice in the billing "
        "backend: reject this correction if it was not applied."
    )
