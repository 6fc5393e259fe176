"""Rebillia's void of an ad-hoc invoice (upstream/rebillia.md, "Void"), mixed into
`RebilliaBackend`. Rebillia has no credit notes in this subset: a partial correction is a void
and a new invoice.

`PUT /invoices/{id}/void` is irreversible and refused once the invoice is `paid` or
`partialPaid`, so the invoice is read first (`GET /invoices/{id}`): a paid one raises
`AlreadyPaid` without sending anything, one already `voided` is returned as found. The void is
never re-sent: a lost reply is settled by reading the invoice back (`voided`), otherwise
`OutcomeUnknown`. An empty 2xx is success.

Assumptions beyond the documented subset: an invoice's `total` and `balanceDue` are integer
cents (what the wire carries on create) in the currency its reply names (`currency` as an ISO
code, or `currency.iso3`); when it names none, the amounts are left unknown (None) rather than
guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from invoices import money

from .base import (
    AlreadyPaid,
    BackendError,
    BackendRejected,
    InvoiceBalance,
    OutcomeUnknown,
    RemoteInvoice,
)
from .http import HttpClient
from .rebillia_wire import NAME, _decimal, _id_path, _object, _text
from .replies import ReplyLost

_PAID = frozenset({"paid", "partialpaid"})


class RebilliaCorrections:
    """The void of an ad-hoc invoice; needs the adapter's `http` client."""

    http: HttpClient

    def _invoice(self, invoice_id: str) -> Mapping:
        path = f"/invoices/{_id_path(invoice_id, 'invoice')}"
        reply = self.http.request("GET", path, params={"include": "detail"})
        return _object(reply.json(), "the invoice")

    def invoice_balance(self, invoice_id: str) -> InvoiceBalance:
        return _balance(self._invoice(invoice_id), invoice_id)

    def void_invoice(self, invoice_id: str) -> RemoteInvoice:
        path = f"/invoices/{_id_path(invoice_id, 'invoice')}/void"
        before = self._invoice(invoice_id)
        _refuse_paid(before, invoice_id)
        if _status(before) == "voided":
            return _remote(before, invoice_id, recovered=True)
        try:
            reply = self.http.request("PUT", path)
        except ReplyLost as exc:
            return self._void_found(invoice_id, exc.message)
        except BackendRejected:
            # Paid between the read and the void? Say so plainly; otherwise the refusal stands.
            try:
                _refuse_paid(self._invoice(invoice_id), invoice_id)
            except AlreadyPaid:
                raise
            except BackendError:
                pass
            raise
        data = reply.json_or_none()
        if isinstance(data, Mapping) and isinstance(data.get("data"), Mapping):
            data = data["data"]
        if isinstance(data, Mapping) and data.get("status"):
            return _remote(data, invoice_id)
        if not reply.is_empty and data is None:
            return self._void_found(invoice_id, "its reply could not be read")
        try:
            return _remote(self._invoice(invoice_id), invoice_id)
        except BackendError:  # the void was accepted (2xx); only the read-back failed
            return _remote({**before, "status": "voided"}, invoice_id)

    def _void_found(self, invoice_id: str, why: str) -> RemoteInvoice:
        what = f"The void reached Rebillia but {why}"
        try:
            found = self._invoice(invoice_id)
        except BackendError as look:
            raise OutcomeUnknown(
                f"{what}, and reading the invoice failed ({look.message}). It was not sent again.",
                backend=NAME,
            ) from None
        if _status(found) == "voided":
            return _remote(found, invoice_id, recovered=True)
        raise OutcomeUnknown(
            f"{what}; the invoice still reads as {_text(found.get('status')) or 'unknown'}. It "
            "was not sent again.",
            backend=NAME,
        )


def _status(data: Mapping) -> str:
    return _text(data.get("status")).strip().lower()


def _refuse_paid(data: Mapping, invoice_id: str) -> None:
    if _status(data) in _PAID:
        raise AlreadyPaid(
            f"Rebillia invoice {_text(data.get('invoiceNo')) or invoice_id} is "
            f"{_text(data.get('status'))}: a paid invoice cannot be voided.",
            backend=NAME,
        )


def _currency(data: Mapping) -> str:
    value: Any = data.get("currency")
    if isinstance(value, Mapping):
        value = value.get("iso3") or value.get("code")
    code = _text(value or data.get("currencyCode")).strip().upper()
    try:
        money.exponent(code)
    except money.MoneyError:
        return ""
    return code


def _major(value: Any, currency: str) -> Decimal | None:
    cents = _decimal(value)
    if cents is None or not currency or cents != cents.to_integral_value():
        return None
    return money.to_major(int(cents), currency)


def _balance(data: Mapping, invoice_id: str) -> InvoiceBalance:
    currency = _currency(data)
    status = _status(data)
    return InvoiceBalance(
        id=_text(data.get("id") or invoice_id),
        status=_text(data.get("status")),
        currency=currency,
        total=_major(data.get("total"), currency),
        amount_due=_major(data.get("balanceDue"), currency),
        voided=status == "voided",
        paid=status in _PAID,
    )


def _remote(data: Mapping, invoice_id: str, *, recovered: bool = False) -> RemoteInvoice:
    currency = _currency(data)
    return RemoteInvoice(
        id=_text(data.get("id") or invoice_id),
        number=_text(data.get("invoiceNo")),
        status=_text(data.get("status")),
        currency=currency,
        total=_major(data.get("total"), currency),
        recovered=recovered,
    )
