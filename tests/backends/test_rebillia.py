"""The Rebillia adapter on the wire: what it sends, and how it reads every documented reply."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from werkzeug import Response

from invoices.backends.base import (
    Address,
    AdhocBackend,
    AdhocInvoiceRequest,
    AdhocLine,
    BackendMisconfigured,
    BackendRejected,
    NotFoundUpstream,
    OutcomeUnknown,
)
from invoices.backends.rebillia import RebilliaBackend

from .conftest import REBILLIA_KEY, recorded

REQUEST = AdhocInvoiceRequest(
    customer_id="101",
    currency_id="11",
    currency_code="USD",
    gateway_id="31",
    payment_method_id="5001",
    date_from=date(2026, 6, 1),
    date_to=date(2026, 6, 30),
    date_due=date(2026, 7, 15),
    lines=(
        AdhocLine(description="Consulting, June", quantity=3, unit_amount_minor=4100),
        AdhocLine(description="Setup fee", quantity=1, unit_amount_minor=0),
    ),
)
BILLING = Address(
    contact_name="Ada Lovelace",
    street1="12 St James's Square",
    city="London",
    zip="SW1Y 4JH",
    country_code="gb",
)


def only_request(httpserver):
    assert len(httpserver.log) == 1, [r.url for r, _ in httpserver.log]
    return httpserver.log[0][0]


def requests_to(httpserver, method, path):
    return [r for r, _ in httpserver.log if r.method == method and r.path == path]


def serve_countries(httpserver):
    httpserver.expect_request("/globals/countries").respond_with_json(
        recorded("rebillia_countries.json")
    )


# --- construction ---------------------------------------------------------------------------
def test_adapter_satisfies_the_adhoc_port(rebillia):
    assert isinstance(rebillia, AdhocBackend)


@pytest.mark.parametrize(
    "url", ["https://api.rebillia.com", "https://api.rebillia.com/v2", "api.rebillia.com/v1", ""]
)
def test_base_url_without_v1_is_refused_at_start_up(backend_settings, url):
    backend_settings.REBILLIA_BASE_URL = url
    with pytest.raises(BackendMisconfigured, match=r"REBILLIA_BASE_URL must be .* /v1"):
        RebilliaBackend.from_settings(backend_settings)


def test_base_url_with_trailing_slash_is_accepted(backend_settings):
    backend_settings.REBILLIA_BASE_URL = "https://api.rebillia.com/v1/"
    backend = RebilliaBackend.from_settings(backend_settings)
    assert backend.root_url == "https://api.rebillia.com"
    backend.close()


def test_missing_key_is_refused_naming_the_setting(backend_settings):
    backend_settings.REBILLIA_API_KEY = ""
    with pytest.raises(BackendMisconfigured, match="REBILLIA_API_KEY"):
        RebilliaBackend.from_settings(backend_settings)


def test_every_call_carries_the_auth_token_header(rebillia, httpserver):
    httpserver.expect_request("/v1/currencies").respond_with_json(
        recorded("rebillia_currencies.json")
    )
    rebillia.currencies()
    request = only_request(httpserver)
    assert request.headers["X-AUTH-TOKEN"] == REBILLIA_KEY
    assert request.headers["Content-Type"] == "application/json"


# --- lists ----------------------------------------------------------------------------------
def test_customer_search_sends_query_status_and_paging(rebillia, httpserver):
    httpserver.expect_request("/v1/customers").respond_with_json(
        recorded("rebillia_customers_page.json")
    )
    rebillia.search_customers(query="ada", cursor="2", limit=500)
    request = only_request(httpserver)
    assert request.path == "/v1/customers"
    assert dict(request.args) == {
        "query": "ada",
        "status": "active",
        "pageNo": "2",
        "itemPerPage": "250",
    }


def test_customer_search_reads_the_paged_envelope(rebillia, httpserver):
    httpserver.expect_request("/v1/customers").respond_with_json(
        recorded("rebillia_customers_page.json")
    )
    page = rebillia.search_customers(limit=2)
    assert page.total_count == 3
    assert page.next_cursor == "2" and page.previous_cursor is None
    ada, globex = page.items
    assert (ada.id, ada.name, ada.email, ada.business_name) == (
        "101",
        "Ada Lovelace",
        "ada@example.com",
        "Analytical Engines Ltd",
    )
    assert globex.name == "Globex"  # no personal name: the business name


def test_customer_search_reads_a_bare_array(rebillia, httpserver):
    items = recorded("rebillia_customers_page.json")["data"]
    httpserver.expect_request("/v1/customers").respond_with_json(items)
    full = rebillia.search_customers(limit=2)
    assert [c.id for c in full.items] == ["101", "102"]
    assert full.next_cursor == "2"  # a full page may have a next one
    assert full.total_count is None
    httpserver.clear()
    httpserver.expect_request("/v1/customers").respond_with_json(items)
    assert rebillia.search_customers(limit=20).next_cursor is None


def test_get_customer_accepts_a_wrapped_object(rebillia, httpserver):
    customer = recorded("rebillia_customers_page.json")["data"][0]
    httpserver.expect_request("/v1/customers/101").respond_with_json({"data": customer})
    assert rebillia.get_customer("101").name == "Ada Lovelace"


def test_payment_methods_stay_masked(rebillia, httpserver):
    methods = recorded("rebillia_payment_methods.json")
    methods.append(
        {"id": 5003, "type": "card", "accountName": "Leaky", "accountNumber": "4111111111111111"}
    )
    httpserver.expect_request("/v1/customers/101/paymentmethods").respond_with_json(methods)
    card, ach, leaky = rebillia.payment_methods("101")
    assert (card.id, card.type, card.masked_number) == ("5001", "card", "XXXXXXXXXXXX4242")
    assert ach.masked_number == "****6789"
    assert leaky.masked_number == "•••• 1111"  # a number sent unmasked is masked here


def test_address_book_resolves_country_ids_to_alpha2(rebillia, httpserver):
    httpserver.expect_request("/v1/customers/101/addressbooks").respond_with_json(
        recorded("rebillia_addressbooks.json")
    )
    serve_countries(httpserver)
    london, dock = rebillia.address_book("101")
    assert (london.contact_name, london.city, london.country_code) == (
        "Ada Lovelace",
        "London",
        "GB",
    )
    assert london.contact_company == "Analytical Engines Ltd"
    assert (dock.country_code, dock.type, dock.state) == ("US", "residential", "IL")


def test_currencies_are_read_from_the_nested_shape(rebillia, httpserver):
    httpserver.expect_request("/v1/currencies").respond_with_json(
        recorded("rebillia_currencies.json")
    )
    usd, jpy, kwd = rebillia.currencies()
    assert (usd.id, usd.code, usd.symbol, usd.name) == ("11", "USD", "$", "US Dollar")
    assert (jpy.code, kwd.code) == ("JPY", "KWD")


def test_gateways_are_asked_for_one_currency_and_active_only(rebillia, httpserver):
    httpserver.expect_request("/v1/gateways").respond_with_json(recorded("rebillia_gateways.json"))
    gateways = rebillia.gateways("11")
    assert dict(only_request(httpserver).args) == {"status": "active", "companyCurrencyId": "11"}
    assert [(g.id, g.name, g.type) for g in gateways] == [
        ("31", "Stripe (USD)", "stripe"),
        ("32", "Offline", "offline"),
    ]


def test_countries_come_from_the_root_without_v1_and_are_cached(rebillia, httpserver):
    serve_countries(httpserver)
    first = rebillia.countries()
    assert [r.path for r, _ in httpserver.log] == ["/globals/countries"]
    assert ("826", "GB", "United Kingdom") in [(c.id, c.code, c.name) for c in first]
    assert rebillia.country_id("us") == 840
    assert rebillia.countries() == first
    assert len(httpserver.log) == 1  # the second look-up came from the cache


def test_countries_in_a_paged_envelope_are_all_read(rebillia, httpserver):
    countries = recorded("rebillia_countries.json")

    def page(request):
        number = int(request.args["pageNo"])
        body = {
            "currentPageNumber": number,
            "itemsPerPage": 2,
            "totalItems": 4,
            "totalPages": 2,
            "data": countries[(number - 1) * 2 : number * 2],
        }
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/globals/countries").respond_with_handler(page)
    assert [c.code for c in rebillia.countries()] == ["GB", "US", "JP", "KW"]
    assert len(httpserver.log) == 2


@pytest.mark.parametrize("bad_id", ["0", "-3", "abc", "1/2", "1e3", ""])
def test_malformed_ids_are_refused_without_a_call(rebillia, httpserver, bad_id):
    with pytest.raises(NotFoundUpstream):
        rebillia.payment_methods(bad_id)
    assert httpserver.log == []


# --- create ---------------------------------------------------------------------------------
def test_create_sends_integer_cents_and_only_the_required_fields(rebillia, httpserver):
    httpserver.expect_request("/v1/invoices", method="POST").respond_with_json(
        recorded("rebillia_invoice_created.json")
    )
    remote = rebillia.create_invoice(REQUEST)
    request = only_request(httpserver)
    assert request.method == "POST"
    assert json.loads(request.get_data()) == {
        "companyCurrencyId": 11,
        "companyGatewayId": 31,
        "customerId": 101,
        "paymentMethodId": 5001,
        "detail": [
            {"amount": 4100, "description": "Consulting, June", "qty": 3},
            {"amount": 0, "description": "Setup fee", "qty": 1},
        ],
        "dateDue": "2026-07-15",
        "dateFrom": "2026-06-01",
        "dateTo": "2026-06-30",
    }
    assert b"." not in request.get_data().split(b'"detail"')[1].split(b"]")[0]  # no decimals
    assert (remote.id, remote.number, remote.status) == ("9001", "R-2026-0001", "posted")
    assert remote.total == Decimal("123.00")
    assert remote.recovered is False


def test_create_in_yen_and_dinar_sends_the_minor_units_as_given(rebillia, httpserver):
    httpserver.expect_request("/v1/invoices", method="POST").respond_with_json({"id": 1})
    yen = replace(
        REQUEST,
        currency_code="JPY",
        lines=(AdhocLine(description="Licence", quantity=1, unit_amount_minor=98000),),
    )
    rebillia.create_invoice(yen)
    dinar = replace(
        REQUEST,
        currency_code="KWD",
        lines=(AdhocLine(description="Licence", quantity=2, unit_amount_minor=41500),),
    )
    rebillia.create_invoice(dinar)
    bodies = [json.loads(r.get_data()) for r, _ in httpserver.log]
    assert bodies[0]["detail"] == [{"amount": 98000, "description": "Licence", "qty": 1}]
    assert bodies[1]["detail"] == [{"amount": 41500, "description": "Licence", "qty": 2}]


def test_create_with_every_optional_field_and_addresses(rebillia, httpserver):
    httpserver.expect_request("/v1/invoices", method="POST").respond_with_json({"id": 9002})
    serve_countries(httpserver)
    full = replace(
        REQUEST,
        shipping_minor=1500,
        payment_type="offlinePaymentProvider",
        billing_address=BILLING,
        shipping_address=replace(BILLING, country_code="US", type="residential", street2="Unit 4"),
        customer_email="ada@example.com",
        customer_name="Ada Lovelace",
        customer_phone="+44 20 7946 0000",
        terms="Net 15",
        comments="Thank you",
    )
    rebillia.create_invoice(full)
    (post,) = requests_to(httpserver, "POST", "/v1/invoices")
    body = json.loads(post.get_data())
    assert body["shippingAmount"] == 1500
    assert body["paymentType"] == "offlinePaymentProvider"
    assert body["billingAddress"] == {
        "contactName": "Ada Lovelace",
        "street1": "12 St James's Square",
        "city": "London",
        "zip": "SW1Y 4JH",
        "countryId": 826,
        "type": "commercial",
    }
    assert body["shippingAddress"]["countryId"] == 840
    assert body["shippingAddress"]["street2"] == "Unit 4"
    assert body["shippingAddress"]["type"] == "residential"
    assert (body["customerEmail"], body["terms"], body["comments"]) == (
        "ada@example.com",
        "Net 15",
        "Thank you",
    )


def test_empty_addresses_and_empty_optionals_are_left_out(rebillia, httpserver):
    httpserver.expect_request("/v1/invoices", method="POST").respond_with_json({"id": 9003})
    blank = Address(contact_name="", street1="", city="", zip="", country_code="")
    rebillia.create_invoice(
        replace(REQUEST, billing_address=blank, shipping_address=None, terms="  ", comments="")
    )
    body = json.loads(only_request(httpserver).get_data())
    for absent in ("billingAddress", "shippingAddress", "terms", "comments", "shippingAmount"):
        assert absent not in body
    assert not requests_to(httpserver, "GET", "/globals/countries")


def test_invalid_request_is_refused_with_field_errors_before_sending(rebillia, httpserver):
    serve_countries(httpserver)
    bad = replace(
        REQUEST,
        customer_id="abc",
        lines=(AdhocLine(description="x" * 256, quantity=0, unit_amount_minor=-1),),
        customer_name="n" * 46,
        payment_type="cash",
        billing_address=replace(BILLING, country_code="ZZ", city=""),
    )
    with pytest.raises(BackendRejected) as excinfo:
        rebillia.create_invoice(bad)
    errors = excinfo.value.field_errors
    for key in (
        "customerId",
        "detail.0.description",
        "detail.0.qty",
        "detail.0.amount",
        "customerName",
        "paymentType",
        "billingAddress.countryId",
        "billingAddress.city",
    ):
        assert key in errors, key
    assert not requests_to(httpserver, "POST", "/v1/invoices")


@pytest.mark.parametrize("status", [200, 204])
def test_an_empty_create_reply_is_success_and_the_invoice_is_found(rebillia, httpserver, status):
    httpserver.expect_request("/v1/invoices", method="POST").respond_with_data("", status=status)
    listing = {
        "currentPageNumber": 1,
        "itemsPerPage": 250,
        "totalItems": 2,
        "totalPages": 1,
        "data": [
            {
                "id": 8000,
                "invoiceNo": "R-old",
                "status": "paid",
                "total": 12300,
                "dateFrom": "2026-05-01",
                "dateTo": "2026-05-31",
            },
            {
                "id": 9004,
                "invoiceNo": "R-new",
                "status": "posted",
                "total": 12300,
                "dateFrom": "2026-06-01",
                "dateTo": "2026-06-30",
            },
        ],
    }
    httpserver.expect_request("/v1/invoices", method="GET").respond_with_json(listing)
    remote = rebillia.create_invoice(REQUEST)
    assert (remote.id, remote.number, remote.recovered) == ("9004", "R-new", True)
    (lookup,) = requests_to(httpserver, "GET", "/v1/invoices")
    assert dict(lookup.args) == {"customerId": "101", "pageNo": "1", "itemPerPage": "250"}
    assert len(requests_to(httpserver, "POST", "/v1/invoices")) == 1


def test_find_invoice_accepts_totals_in_cents_or_major_units(rebillia, httpserver):
    listing = [
        {
            "id": 1,
            "status": "posted",
            "total": "123.00",
            "dateFrom": "2026-06-01T00:00:00",
            "dateTo": "2026-06-30T00:00:00",
        }
    ]
    httpserver.expect_request("/v1/invoices").respond_with_json(listing)
    found = rebillia.find_invoice(REQUEST)
    assert found is not None and found.id == "1" and found.total == Decimal("123.00")


def test_find_invoice_ignores_voided_other_periods_and_other_totals(rebillia, httpserver):
    listing = [
        {
            "id": 1,
            "status": "voided",
            "total": 12300,
            "dateFrom": "2026-06-01",
            "dateTo": "2026-06-30",
        },
        {
            "id": 2,
            "status": "posted",
            "total": 12400,
            "dateFrom": "2026-06-01",
            "dateTo": "2026-06-30",
        },
        {
            "id": 3,
            "status": "posted",
            "total": 12300,
            "dateFrom": "2026-06-02",
            "dateTo": "2026-06-30",
        },
        {
            "id": 4,
            "status": "posted",
            "total": 12300,
            "dateFrom": "2026-06-01",
            "dateTo": "2026-06-30",
            "customerId": 999,
        },
    ]
    httpserver.expect_request("/v1/invoices").respond_with_json(listing)
    assert rebillia.find_invoice(REQUEST) is None


def test_find_invoice_with_two_matches_is_unknown_and_names_them(rebillia, httpserver):
    match = {"status": "posted", "total": 12300, "dateFrom": "2026-06-01", "dateTo": "2026-06-30"}
    httpserver.expect_request("/v1/invoices").respond_with_json(
        [{**match, "id": 7}, {**match, "id": 8}]
    )
    with pytest.raises(OutcomeUnknown, match="7, 8"):
        rebillia.find_invoice(REQUEST)


def test_find_invoice_reads_every_page(rebillia, httpserver):
    def page(request):
        number = int(request.args["pageNo"])
        item = {
            "id": 100 + number,
            "status": "posted",
            "total": 12300 if number == 3 else 1,
            "dateFrom": "2026-06-01",
            "dateTo": "2026-06-30",
        }
        body = {
            "currentPageNumber": number,
            "itemsPerPage": 1,
            "totalItems": 3,
            "totalPages": 3,
            "data": [item],
        }
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/v1/invoices").respond_with_handler(page)
    assert rebillia.find_invoice(REQUEST).id == "103"
    assert len(httpserver.log) == 3


# --- errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "content_type", "code", "message"),
    [
        (
            '{"code": "INVALID_GATEWAY", "message": "Gateway 31 is inactive"}',
            "application/json",
            "INVALID_GATEWAY",
            "Gateway 31 is inactive",
        ),
        ('{"error": "customerId is required"}', "application/json", "", "customerId is required"),
        (
            "Payment method does not belong to customer",
            "text/plain",
            "",
            "Payment method does not belong to customer",
        ),
    ],
    ids=["code+message", "error", "plain text"],
)
def test_the_three_error_shapes_become_one_rejection(
    rebillia, httpserver, body, content_type, code, message
):
    httpserver.expect_request("/v1/invoices", method="POST").respond_with_data(
        body, status=400, content_type=content_type
    )
    with pytest.raises(BackendRejected) as excinfo:
        rebillia.create_invoice(REQUEST)
    error = excinfo.value
    assert (error.status, error.code, error.message) == (400, code, message)
    assert len(httpserver.log) == 1  # a rejection is not followed by a look-up


def test_an_error_echoing_the_key_never_shows_it(rebillia, httpserver):
    httpserver.expect_request("/v1/currencies").respond_with_json(
        {"code": "BAD", "message": f"token {REBILLIA_KEY} is malformed"}, status=400
    )
    with pytest.raises(BackendRejected) as excinfo:
        rebillia.currencies()
    assert REBILLIA_KEY not in str(excinfo.value)
    assert "[redacted]" in excinfo.value.message


@pytest.mark.parametrize("status", [401, 403])
def test_refused_key_is_misconfiguration_naming_the_setting(rebillia, httpserver, status):
    httpserver.expect_request("/v1/currencies").respond_with_json(
        {"error": "Unauthorized"}, status=status
    )
    with pytest.raises(BackendMisconfigured, match="REBILLIA_API_KEY"):
        rebillia.currencies()
    assert len(httpserver.log) == 1


def test_unknown_customer_is_not_found(rebillia, httpserver):
    httpserver.expect_request("/v1/customers/404").respond_with_json(
        {"code": "NOT_FOUND", "message": "Customer not found"}, status=404
    )
    with pytest.raises(NotFoundUpstream, match="Customer not found"):
        rebillia.get_customer("404")


# --- the lost create reply ------------------------------------------------------------------
@pytest.fixture
def fast_rebillia(make_rebillia, backend_settings):
    backend_settings.BACKEND_READ_TIMEOUT = 0.3
    return make_rebillia()


def test_lost_create_reply_is_recovered_by_looking_not_by_resending(
    fast_rebillia, httpserver, hold
):
    created = []

    def store(request):
        body = json.loads(request.get_data())
        total = sum(line["amount"] * line["qty"] for line in body["detail"])
        created.append(
            {
                "id": 9100,
                "invoiceNo": "R-9100",
                "status": "posted",
                "total": total,
                "dateFrom": body["dateFrom"],
                "dateTo": body["dateTo"],
            }
        )

    httpserver.expect_request("/v1/invoices", method="POST").respond_with_handler(
        hold.handler(before=store)
    )
    httpserver.expect_request("/v1/invoices", method="GET").respond_with_handler(
        lambda request: Response(
            json.dumps({"data": created, "totalPages": 1}), content_type="application/json"
        )
    )
    remote = fast_rebillia.create_invoice(REQUEST)
    assert (remote.id, remote.number, remote.recovered) == ("9100", "R-9100", True)
    assert len(hold.arrived) == 1  # the POST was received exactly once


def test_lost_create_reply_is_never_recovered_as_an_invoice_another_record_holds(
    fast_rebillia, httpserver, hold
):
    twin = {"status": "posted", "total": 12300, "dateFrom": "2026-06-01", "dateTo": "2026-06-30"}
    httpserver.expect_request("/v1/invoices", method="POST").respond_with_handler(hold.handler())
    httpserver.expect_request("/v1/invoices", method="GET").respond_with_json(
        {"data": [{**twin, "id": 8000}, {**twin, "id": 9100}], "totalPages": 1}
    )
    remote = fast_rebillia.create_invoice(REQUEST, known=frozenset({"8000"}))
    assert (remote.id, remote.recovered) == ("9100", True)
    assert fast_rebillia.find_invoice(REQUEST, known=frozenset({"8000"})).id == "9100"
    assert fast_rebillia.find_invoice(REQUEST, known=frozenset({"8000", "9100"})) is None


def test_lost_create_reply_with_nothing_found_is_outcome_unknown(fast_rebillia, httpserver, hold):
    httpserver.expect_request("/v1/invoices", method="POST").respond_with_handler(hold.handler())
    httpserver.expect_request("/v1/invoices", method="GET").respond_with_json(
        {"data": [], "totalPages": 0}
    )
    with pytest.raises(OutcomeUnknown) as excinfo:
        fast_rebillia.create_invoice(REQUEST)
    assert "no invoice" in excinfo.value.message
    assert "not sent again" in excinfo.value.message
    assert len(hold.arrived) == 1
    assert len(requests_to(httpserver, "GET", "/v1/invoices")) == 1


def test_lost_create_reply_and_failed_lookup_is_outcome_unknown(fast_rebillia, httpserver, hold):
    httpserver.expect_request("/v1/invoices", method="POST").respond_with_handler(hold.handler())
    httpserver.expect_request("/v1/invoices", method="GET").respond_with_data(
        "<html>down</html>", status=500
    )
    with pytest.raises(OutcomeUnknown, match="looking for it failed"):
        fast_rebillia.create_invoice(REQUEST)
    assert len(hold.arrived) == 1


def test_check_lists_currencies_with_one_read(rebillia, httpserver):
    httpserver.expect_request("/v1/currencies").respond_with_json(
        recorded("rebillia_currencies.json")
    )
    result = rebillia.check()
    assert result.ok is True and "USD, JPY, KWD" in result.detail
    assert only_request(httpserver).method == "GET"
    assert REBILLIA_KEY not in repr(result)


class DroppingServer:
    """A raw loopback server: reads each request whole; a POST gets its connection closed with
    no reply (the reply is lost after the request was sent), a GET gets `get_body` as JSON."""

    def __init__(self, get_body: object):
        self.get_body = json.dumps(get_body).encode()
        self.methods: list[str] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                while len(body) < length:
                    body += conn.recv(65536)
                method = head.split(b" ", 1)[0].decode()
                self.methods.append(method)
                if method == "GET":
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        + f"Content-Length: {len(self.get_body)}\r\n".encode()
                        + b"Connection: close\r\n\r\n"
                        + self.get_body
                    )

    def close(self) -> None:
        self.sock.close()


def test_connection_dropped_after_the_post_is_recovered_without_resending(make_rebillia):
    listed = [
        {
            "id": 9200,
            "invoiceNo": "R-9200",
            "status": "posted",
            "total": 12300,
            "dateFrom": "2026-06-01",
            "dateTo": "2026-06-30",
        }
    ]
    server = DroppingServer({"data": listed, "totalPages": 1})
    try:
        remote = make_rebillia(server.url + "/v1").create_invoice(REQUEST)
    finally:
        server.close()
    assert (remote.id, remote.recovered) == ("9200", True)
    assert server.methods == ["POST", "GET"]  # sent once, then looked for
