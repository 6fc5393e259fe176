"""Zenskar's corrections of an approved invoice (upstream/zenskar.md, "Corrections"), mixed into
`ZenskarBackend`: credit notes (`POST /invoices/{id}/credit_note`) and the void
(`PATCH /invoices/{id}/void`), which Zenskar allows only at a zero balance.

Neither call is idempotent and neither takes an idempotency key, so neither is ever re-sent. A
lost reply (timeout, dropped connection, a 5xx that may have been applied, an unreadable 2xx) is
settled by reading the invoice back: a credit note took effect when the amount due dropped by
exactly its amount since just before it was sent; a void when the invoice reads `void`. Anything
else is `OutcomeUnknown`, for a person or `manage.py reconcile`.

Assumptions beyond the documented subset (each tolerant of the variants): the credit-note reply is
an object with an `id` (and perhaps `credit_note_number` / `number`) or an empty 2xx; the void
reply is the invoice or an empty 2xx; `amount_due` is in major units like `invoice_total`; an
invoice reading `paid` or `partially_paid` has received payments.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from invoices import money

from .base import (
    BackendError,
    BackendRejected,
    CreditNoteResult,
    InvoiceBalance,
    OutcomeUnknown,
    RemoteInvoice,
)
from .http import HttpClient
from .replies import ReplyLost, UnreadableReply
from .zenskar_wire import NAME, _dec, _id_path, _in_currency, _remote_invoice, _text, _unreadable

CANNOT_BE_VOIDED = "INVOICE_CANNOT_BE_VOIDED"
_PAID = frozenset({"paid", "partially_paid", "partiallypaid", "partial_paid"})


class ZenskarCorrections:
    """Credit notes and voids; needs the adapter's `http` client and its `_remote` read."""

    http: HttpClient

    def _remote(self, invoice_id: str, *, recovered: bool = False) -> RemoteInvoice:
        raise NotImplementedError  # ZenskarBackend's

    def invoice_balance(self, invoice_id: str) -> InvoiceBalance:
        path = f"/invoices/{_id_path(invoice_id, 'invoice')}"
        data = self.http.request("GET", path).json()
        if not isinstance(data, Mapping):
            raise _unreadable("the invoice is not an object")
        return _balance(data, invoice_id)

    # --- credit note -------------------------------------------------------------------------
    def credit_note(self, invoice_id: str, amount: Decimal, reason: str) -> CreditNoteResult:
        """Read the invoice (its currency, and what is due just before), send the credit note
        once, and settle a lost reply by reading the amount due again."""
        path = f"/invoices/{_id_path(invoice_id, 'invoice')}/credit_note"
        before = self.invoice_balance(invoice_id)
        written = _written(amount, before.currency)
        body = {"credit_note_amount": written, "reason": reason}
        try:
            reply = self.http.request("POST", path, json_body=body)
        except ReplyLost as exc:
            return self._credit_found(invoice_id, before, written, exc.message)
        try:
            data = reply.json() if not reply.is_empty else {}
        except UnreadableReply as exc:
            return self._credit_found(invoice_id, before, written, exc.message)
        note = data if isinstance(data, Mapping) else {}
        if note.get("id"):
            return CreditNoteResult(
                id=_text(note["id"]),
                number=_text(note.get("credit_note_number") or note.get("number")),
                invoice_id=invoice_id,
                currency=before.currency,
                amount=written,
                amount_due=_due_or_none(note, before.currency),
            )
        # An empty 2xx is success: read the invoice back for what is due now.
        try:
            after = self.invoice_balance(invoice_id)
        except BackendError:
            after = None
        return CreditNoteResult(
            id="",
            number="",
            invoice_id=invoice_id,
            currency=before.currency,
            amount=written,
            amount_due=after.amount_due if after else None,
        )

    def _credit_found(
        self, invoice_id: str, before: InvoiceBalance, amount: Decimal, why: str
    ) -> CreditNoteResult:
        what = f"The credit note reached Zenskar but {why}"
        try:
            after = self.invoice_balance(invoice_id)
        except BackendError as look:
            raise OutcomeUnknown(
                f"{what}, and reading the invoice failed ({look.message}). It was not sent again.",
                backend=NAME,
            ) from None
        known = after.amount_due is not None and before.amount_due is not None
        if known and after.amount_due == before.amount_due - amount:
            return CreditNoteResult(
                id="",
                number="",
                invoice_id=invoice_id,
                currency=before.currency,
                amount=amount,
                amount_due=after.amount_due,
                recovered=True,
            )
        raise OutcomeUnknown(
            f"{what}; the invoice's amount due is {after.amount_due} (it was {before.amount_due} "
            f"before a credit of {amount}). It was not sent again.",
            backend=NAME,
        )

    # --- void --------------------------------------------------------------------------------
    def void_invoice(self, invoice_id: str) -> RemoteInvoice:
        path = f"/invoices/{_id_path(invoice_id, 'invoice')}/void"
        try:
            reply = self.http.request("PATCH", path, json_body={})
        except ReplyLost as exc:
            return self._void_found(invoice_id, exc.message)
        data = reply.json_or_none()
        if isinstance(data, Mapping) and data.get("status"):
            return _remote_invoice(data, invoice_id)
        if not reply.is_empty and data is None:
            return self._void_found(invoice_id, "its reply could not be read")
        return self._remote(invoice_id)

    def _void_found(self, invoice_id: str, why: str) -> RemoteInvoice:
        what = f"The void reached Zenskar but {why}"
        try:
            found = self._remote(invoice_id, recovered=True)
        except BackendError as look:
            raise OutcomeUnknown(
                f"{what}, and reading the invoice failed ({look.message}). It was not sent again.",
                backend=NAME,
            ) from None
        if found.status == "void":
            return found
        raise OutcomeUnknown(
            f"{what}; the invoice still reads as {found.status or 'unknown'}. It was not sent "
            "again.",
            backend=NAME,
        )


def _written(amount: Decimal, currency: str) -> Decimal:
    """The amount with exactly the currency's decimals (25 USD -> 25.00), or refused when it
    has more decimals than the currency (never rounded)."""
    try:
        return money.to_major(money.to_minor(amount, currency), currency)
    except (money.MoneyError, TypeError) as exc:
        raise BackendRejected(
            f"The credit note amount cannot be sent: {exc}",
            status=422,
            code="invalid_amount",
            field_errors={"credit_note_amount": [str(exc)]},
            backend=NAME,
        ) from None


def _due_or_none(data: Mapping, currency: str) -> Decimal | None:
    value = data.get("amount_due")
    return None if value is None else _in_currency(_dec(value, "amount_due"), currency)


def _balance(data: Mapping, invoice_id: str) -> InvoiceBalance:
    currency = _text(data.get("currency")).upper()
    status = _text(data.get("status")).lower()
    total = _in_currency(_dec(data.get("invoice_total"), "invoice_total"), currency)
    due = data.get("amount_due")
    return InvoiceBalance(
        id=_text(data.get("id") or invoice_id),
        status=status,
        currency=currency,
        total=total,
        # Absent: unknown (never assumed to be the total: that would read a lost credit note
        # as "not applied").
        amount_due=None if due is None else _in_currency(_dec(due, "amount_due"), currency),
        voided=status == "void",
        paid=status in _PAID,
    )
