"""What the correction calls put on the wire: Zenskar's credit note amount as a JSON number with
exactly the currency's decimals (never a float, never rounded), its void with an `{}` body, and
Rebillia's void as a bodiless PUT after a read."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from invoices.backends.base import BackendRejected, OutcomeUnknown
from tests.fakes.wire import dumps

from .conftest import recorded_text
from .test_zenskar import INVOICE

APPROVED = {
    **json.loads(recorded_text("zenskar_invoice.json"), parse_float=Decimal),
    "status": "approved",
}


def serve_invoice(httpserver, **changes):
    httpserver.expect_request(f"/invoices/{INVOICE}", method="GET").respond_with_data(
        dumps({**APPROVED, **changes}), content_type="application/json"
    )


@pytest.mark.parametrize(
    ("currency", "amount", "written"),
    [
        ("USD", Decimal("25"), "25.00"),
        ("USD", Decimal("0.5"), "0.50"),
        ("JPY", Decimal("98000"), "98000"),
        ("KWD", Decimal("1.25"), "1.250"),
    ],
)
def test_zenskar_credit_note_sends_the_amount_with_the_currency_decimals(
    zenskar, httpserver, currency, amount, written
):
    serve_invoice(httpserver, currency=currency)
    httpserver.expect_request(f"/invoices/{INVOICE}/credit_note", method="POST").respond_with_json(
        {"id": "cn_1", "credit_note_number": "CN-7"}
    )
    note = zenskar.credit_note(INVOICE, amount, "Quantity error: 23 seats")
    (request,) = [r for r, _ in httpserver.log if r.method == "POST"]
    assert request.get_data(as_text=True) == (
        f'{{"credit_note_amount":{written},"reason":"Quantity error: 23 seats"}}'
    )
    assert (note.id, note.number, str(note.amount), note.currency) == (
        "cn_1",
        "CN-7",
        written,
        currency,
    )


def test_zenskar_credit_note_with_more_decimals_than_the_currency_is_never_sent(
    zenskar, httpserver
):
    serve_invoice(httpserver, currency="JPY")
    with pytest.raises(BackendRejected, match="no decimals"):
        zenskar.credit_note(INVOICE, Decimal("10.5"), "Pricing error")
    assert [r.method for r, _ in httpserver.log] == ["GET"]


def test_zenskar_void_patches_with_an_empty_object(zenskar, httpserver):
    httpserver.expect_request(f"/invoices/{INVOICE}/void", method="PATCH").respond_with_data(
        dumps({**APPROVED, "status": "void", "amount_due": 0}), content_type="application/json"
    )
    voided = zenskar.void_invoice(INVOICE)
    (request,) = httpserver.log[0:1]
    assert request[0].get_data(as_text=True) == "{}"
    assert (voided.id, voided.status) == (INVOICE, "void")


def test_zenskar_balance_reads_amount_due_and_the_void(zenskar, httpserver):
    serve_invoice(httpserver, status="void", amount_due=Decimal("0.0"))
    balance = zenskar.invoice_balance(INVOICE)
    assert (balance.total, balance.amount_due, balance.voided, balance.paid) == (
        Decimal("1229.60"),
        Decimal("0.00"),
        True,
        False,
    )


def test_rebillia_void_reads_then_puts_without_a_body(rebillia, httpserver):
    posted = json.loads(recorded_text("rebillia_invoice_created.json"))
    httpserver.expect_request("/v1/invoices/9001", method="GET").respond_with_json(posted)
    httpserver.expect_request("/v1/invoices/9001/void", method="PUT").respond_with_json(
        {**posted, "status": "voided", "dateVoid": "2026-07-02T10:00:00Z"}
    )
    voided = rebillia.void_invoice("9001")
    assert [r.method for r, _ in httpserver.log] == ["GET", "PUT"]
    assert httpserver.log[0][0].args.get("include") == "detail"
    assert httpserver.log[1][0].get_data() == b""
    assert (voided.id, voided.number, voided.status) == ("9001", "R-2026-0001", "voided")


def test_rebillia_balance_without_a_currency_leaves_amounts_unknown(rebillia, httpserver):
    posted = json.loads(recorded_text("rebillia_invoice_created.json"))
    httpserver.expect_request("/v1/invoices/9001").respond_with_json(posted)
    balance = rebillia.invoice_balance("9001")
    assert (balance.status, balance.voided, balance.paid) == ("posted", False, False)
    assert (balance.total, balance.amount_due) == (None, None)


def test_zenskar_without_amount_due_never_guesses_a_lost_credit_note(
    make_zenskar, backend_settings, httpserver, hold
):
    backend_settings.BACKEND_READ_TIMEOUT = 0.25
    zenskar = make_zenskar()
    invoice = {k: v for k, v in APPROVED.items() if k != "amount_due"}
    httpserver.expect_request(f"/invoices/{INVOICE}", method="GET").respond_with_data(
        dumps(invoice), content_type="application/json"
    )
    httpserver.expect_request(
        f"/invoices/{INVOICE}/credit_note", method="POST"
    ).respond_with_handler(hold.handler())
    assert zenskar.invoice_balance(INVOICE).amount_due is None
    with pytest.raises(OutcomeUnknown, match="not sent again"):
        zenskar.credit_note(INVOICE, Decimal("25"), "Pricing error")
    assert len(hold.arrived) == 1
