"""The fault matrix for the correction writes (Zenskar's credit note and void, Rebillia's void):
never re-sent, a lost reply settled by reading the invoice back (recovered when it shows the
write took effect, OutcomeUnknown otherwise), writes that provably never arrived are plain
unavailability, and the vendors' refusals are named errors."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from werkzeug import Request, Response

from invoices.backends.base import (
    AlreadyPaid,
    BackendRejected,
    BackendUnavailable,
    CannotBeVoided,
    OutcomeUnknown,
)
from tests.fakes.wire import dumps

from .conftest import recorded_text
from .test_faults import HTML_PAGE, SLACK
from .test_zenskar import INVOICE

READ_TIMEOUT = 0.25
ZENSKAR_INVOICE = {
    **json.loads(recorded_text("zenskar_invoice.json"), parse_float=Decimal),
    "status": "approved",
}
REBILLIA_INVOICE = {**json.loads(recorded_text("rebillia_invoice_created.json")), "currency": "USD"}


@dataclass(frozen=True)
class Write:
    name: str
    maker: str
    method: str
    path: str
    invoice_path: str
    before: dict
    after: dict  # the invoice as read once the write took effect
    call: Callable
    took_effect: Callable  # result -> bool

    def __str__(self) -> str:
        return self.name


ZENSKAR_CREDIT = Write(
    "zenskar-credit-note",
    "make_zenskar",
    "POST",
    f"/invoices/{INVOICE}/credit_note",
    f"/invoices/{INVOICE}",
    ZENSKAR_INVOICE,
    {**ZENSKAR_INVOICE, "amount_due": Decimal("1204.60")},
    lambda backend: backend.credit_note(INVOICE, Decimal("25"), "Pricing error"),
    lambda result: result.amount == Decimal("25.00") and result.amount_due == Decimal("1204.60"),
)
ZENSKAR_VOID = Write(
    "zenskar-void",
    "make_zenskar",
    "PATCH",
    f"/invoices/{INVOICE}/void",
    f"/invoices/{INVOICE}",
    {**ZENSKAR_INVOICE, "amount_due": 0},
    {**ZENSKAR_INVOICE, "amount_due": 0, "status": "void"},
    lambda backend: backend.void_invoice(INVOICE),
    lambda result: result.status == "void",
)
REBILLIA_VOID = Write(
    "rebillia-void",
    "make_rebillia",
    "PUT",
    "/v1/invoices/9001/void",
    "/v1/invoices/9001",
    REBILLIA_INVOICE,
    {**REBILLIA_INVOICE, "status": "voided", "balanceDue": 0},
    lambda backend: backend.void_invoice("9001"),
    lambda result: result.status == "voided",
)
WRITES = [ZENSKAR_CREDIT, ZENSKAR_VOID, REBILLIA_VOID]


@pytest.fixture(params=WRITES, ids=str)
def write(request):
    return request.param


class Upstream:
    """The invoice as the loopback vendor holds it, and the writes that arrived (counted at
    arrival: the server's own log only has completed exchanges)."""

    def __init__(self, write: Write):
        self.write = write
        self.invoice = copy.deepcopy(write.before)
        self.writes = 0

    def read(self, request: Request) -> Response:
        return json_reply(self.invoice)

    def apply(self, request: Request | None = None) -> None:
        self.invoice = copy.deepcopy(self.write.after)

    def answering(self, response: Response, *, applied: bool):
        def handle(request: Request) -> Response:
            self.writes += 1
            if applied:
                self.apply()
            return response

        return handle


@pytest.fixture
def upstream(write, httpserver):
    state = Upstream(write)
    httpserver.expect_request(write.invoice_path, method="GET").respond_with_handler(state.read)
    return state


@pytest.fixture
def adapter(request, write, backend_settings):
    backend_settings.BACKEND_READ_TIMEOUT = READ_TIMEOUT
    return request.getfixturevalue(write.maker)()


def json_reply(data=None, status=200, headers=None) -> Response:
    body = "" if data is None else dumps(data)
    return Response(body, status=status, headers=headers, content_type="application/json")


# --- never arrived ----------------------------------------------------------------------------
def test_connection_refused_is_unavailable_never_unknown(
    request, write, backend_settings, closed_port_url
):
    base = closed_port_url + ("/v1" if write.maker == "make_rebillia" else "")
    backend = request.getfixturevalue(write.maker)(base)
    with pytest.raises(BackendUnavailable) as excinfo:
        write.call(backend)
    assert not isinstance(excinfo.value, OutcomeUnknown)


@pytest.mark.parametrize("status", [429, 503])
def test_a_write_refused_before_it_ran_is_unavailable_and_not_retried(
    write, adapter, upstream, httpserver, sleeps, status
):
    busy = json_reply({"message": "busy"}, status=status, headers={"Retry-After": "1"})
    httpserver.expect_request(write.path, method=write.method).respond_with_handler(
        upstream.answering(busy, applied=False)
    )
    with pytest.raises(BackendUnavailable) as excinfo:
        write.call(adapter)
    assert not isinstance(excinfo.value, OutcomeUnknown)
    assert upstream.writes == 1
    assert sleeps.waits == []


# --- lost replies: looked for, never re-sent ------------------------------------------------------
def test_a_timeout_that_did_not_take_effect_is_unknown_and_not_resent(
    write, adapter, upstream, httpserver, hold
):
    httpserver.expect_request(write.path, method=write.method).respond_with_handler(hold.handler())
    started = time.monotonic()
    with pytest.raises(OutcomeUnknown, match="not sent again"):
        write.call(adapter)
    assert len(hold.arrived) == 1
    assert time.monotonic() - started < READ_TIMEOUT + SLACK


def test_a_timeout_that_took_effect_is_recovered_by_reading_the_invoice(
    write, adapter, upstream, httpserver, hold
):
    handler = hold.handler(json_reply({}), before=upstream.apply)
    httpserver.expect_request(write.path, method=write.method).respond_with_handler(handler)
    result = write.call(adapter)
    assert result.recovered is True and write.took_effect(result)
    assert len(hold.arrived) == 1


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_gateway_or_server_error_is_looked_into_not_resent(
    write, adapter, upstream, httpserver, status
):
    page = Response(HTML_PAGE, status=status, content_type="text/html")
    httpserver.expect_request(write.path, method=write.method).respond_with_handler(
        upstream.answering(page, applied=False)
    )
    with pytest.raises(OutcomeUnknown):
        write.call(adapter)
    assert upstream.writes == 1


def test_a_server_error_after_the_write_took_effect_is_recovered(
    write, adapter, upstream, httpserver
):
    handler = upstream.answering(json_reply({"detail": "boom"}, status=500), applied=True)
    httpserver.expect_request(write.path, method=write.method).respond_with_handler(handler)
    result = write.call(adapter)
    assert result.recovered is True and write.took_effect(result)
    assert upstream.writes == 1


@pytest.mark.parametrize("applied", [True, False], ids=["applied", "not-applied"])
@pytest.mark.parametrize("body", ['{"id": ', HTML_PAGE], ids=["malformed-json", "html"])
def test_an_unreadable_2xx_is_settled_by_looking(
    write, adapter, upstream, httpserver, applied, body
):
    response = Response(body, status=200, content_type="application/json")
    handler = upstream.answering(response, applied=applied)
    httpserver.expect_request(write.path, method=write.method).respond_with_handler(handler)
    if applied:
        result = write.call(adapter)
        assert result.recovered is True and write.took_effect(result)
    else:
        with pytest.raises(OutcomeUnknown):
            write.call(adapter)
    assert upstream.writes == 1


def test_an_empty_2xx_is_success_read_back(write, adapter, upstream, httpserver):
    handler = upstream.answering(Response("", status=204), applied=True)
    httpserver.expect_request(write.path, method=write.method).respond_with_handler(handler)
    result = write.call(adapter)
    assert result.recovered is False and write.took_effect(result)
    assert upstream.writes == 1


# --- the vendors' refusals ----------------------------------------------------------------------
@pytest.mark.parametrize("shape", ["detail", "message", "text"])
def test_zenskar_invoice_cannot_be_voided_is_a_named_error(make_zenskar, httpserver, shape):
    backend = make_zenskar()
    text = "Invoice has a balance: INVOICE_CANNOT_BE_VOIDED"
    path = f"/invoices/{INVOICE}/void"
    if shape == "text":
        httpserver.expect_request(path, method="PATCH").respond_with_data(text, status=400)
    else:
        httpserver.expect_request(path, method="PATCH").respond_with_json({shape: text}, 400)
    with pytest.raises(CannotBeVoided, match="balance is not zero"):
        backend.void_invoice(INVOICE)


def test_zenskar_refusing_a_credit_note_is_rejected_not_unknown(make_zenskar, httpserver):
    backend = make_zenskar()
    httpserver.expect_request(f"/invoices/{INVOICE}").respond_with_response(
        json_reply(ZENSKAR_INVOICE)
    )
    httpserver.expect_request(f"/invoices/{INVOICE}/credit_note", method="POST").respond_with_json(
        {"detail": "credit note amount exceeds the amount due"}, status=400
    )
    with pytest.raises(BackendRejected, match="exceeds"):
        backend.credit_note(INVOICE, Decimal("2000"), "Pricing error")


@pytest.mark.parametrize("status", ["paid", "partialPaid"])
def test_rebillia_reads_first_and_never_voids_a_paid_invoice(make_rebillia, httpserver, status):
    backend = make_rebillia()
    httpserver.expect_request("/v1/invoices/9001").respond_with_json(
        {**REBILLIA_INVOICE, "status": status}
    )
    with pytest.raises(AlreadyPaid, match="paid invoice cannot be voided"):
        backend.void_invoice("9001")
    assert [r.method for r, _ in httpserver.log] == ["GET"]


def test_rebillia_refusing_a_void_for_an_invoice_paid_meanwhile_says_so(make_rebillia, httpserver):
    backend = make_rebillia()
    reads = iter([REBILLIA_INVOICE, {**REBILLIA_INVOICE, "status": "partialPaid"}])
    httpserver.expect_request("/v1/invoices/9001", method="GET").respond_with_handler(
        lambda request: json_reply(next(reads))
    )
    httpserver.expect_request("/v1/invoices/9001/void", method="PUT").respond_with_json(
        {"code": "INVALID_STATE", "message": "Invoice cannot be voided"}, status=409
    )
    with pytest.raises(AlreadyPaid):
        backend.void_invoice("9001")
    assert [r.method for r, _ in httpserver.log] == ["GET", "PUT", "GET"]
