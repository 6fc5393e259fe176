"""The shared HTTP plumbing: log lines, secrets, Retry-After, backoff, Decimal parsing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from invoices.backends.base import BackendRejected
from invoices.backends.http import BACKOFF_CAP_S, HttpClient
from invoices.backends.replies import mask_secret, parse_retry_after

from .conftest import REBILLIA_KEY, ZENSKAR_KEY, recorded
from .test_rebillia import REQUEST
from .test_zenskar import CONTRACT, CUSTOMER, CYCLE


@pytest.fixture
def backend_logs(caplog):
    caplog.set_level(logging.INFO, logger="invoices.backends")
    return caplog


def every_logged_text(caplog) -> str:
    parts = []
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.extend(str(value) for value in vars(record).values())
    return "\n".join(parts)


def test_one_log_line_per_call_with_method_path_status_duration_and_attempt(
    zenskar, httpserver, backend_logs
):
    httpserver.expect_request("/contract_v2").respond_with_json({"results": []})
    zenskar.search_contracts(query="secret-customer-name")
    (record,) = [r for r in backend_logs.records if r.name == "invoices.backends"]
    message = record.getMessage()
    assert message.startswith("Zenskar GET /contract_v2 -> 200 in ")
    assert message.endswith("ms (attempt 1/3)")
    assert "secret-customer-name" not in message  # no query string
    assert record.http_status == 200 and record.attempt == 1
    assert isinstance(record.duration_ms, int)


def test_each_retry_is_its_own_log_line(zenskar, httpserver, backend_logs):
    httpserver.expect_oneshot_request("/contract_v2").respond_with_data("", status=503)
    httpserver.expect_request("/contract_v2").respond_with_json({"results": []})
    zenskar.search_contracts()
    lines = [r.getMessage() for r in backend_logs.records if r.name == "invoices.backends"]
    assert len(lines) == 2
    assert "-> 503" in lines[0] and "(attempt 1/3)" in lines[0]
    assert "-> 200" in lines[1] and "(attempt 2/3)" in lines[1]


def test_logs_and_errors_never_contain_either_api_key(
    make_zenskar, rebillia, httpserver, backend_logs, closed_port_url, backend_settings
):
    zenskar = make_zenskar()
    echo_zenskar = {"detail": f"key {ZENSKAR_KEY} rejected"}
    echo_rebillia = {"code": "AUTH", "message": f"token {REBILLIA_KEY} rejected"}
    httpserver.expect_request("/contract_v2").respond_with_json(echo_zenskar, status=400)
    httpserver.expect_request("/invoices/generate_invoice").respond_with_json(
        echo_zenskar, status=401
    )
    httpserver.expect_request(f"/contract_v2/{CONTRACT}").respond_with_json(
        recorded("zenskar_contract.json")
    )
    httpserver.expect_request("/v1/currencies").respond_with_json(echo_rebillia, status=400)
    httpserver.expect_request("/v1/invoices", method="POST").respond_with_json(
        echo_rebillia, status=403
    )
    errors = []
    for call in (
        lambda: zenskar.search_contracts(),
        lambda: zenskar.generate_draft(contract_id=CONTRACT, customer_id=CUSTOMER, cycle=CYCLE),
        lambda: rebillia.currencies(),
        lambda: rebillia.create_invoice(REQUEST),
    ):
        with pytest.raises(Exception) as excinfo:
            call()
        errors.append(str(excinfo.value))
    zenskar.get_contract(CONTRACT)
    unreachable = make_zenskar(closed_port_url)
    with pytest.raises(Exception) as excinfo:
        unreachable.get_contract(CONTRACT)
    errors.append(str(excinfo.value))
    logged = every_logged_text(backend_logs)
    assert len([r for r in backend_logs.records if r.name == "invoices.backends"]) >= 8
    for key in (ZENSKAR_KEY, REBILLIA_KEY):
        assert key not in logged
        assert all(key not in error for error in errors)
    assert any("[redacted]" in error for error in errors)


@pytest.mark.parametrize(
    "status, body",
    [
        # Zenskar's own 403 message (the organisation hint) quotes what the backend said.
        (403, {"Message": f"key {ZENSKAR_KEY} is not in this organisation"}),
        # A long message is clipped to 300 characters: the key straddles the cut.
        (400, {"detail": "x" * 275 + f" key {ZENSKAR_KEY} rejected"}),
    ],
)
def test_an_echoed_key_never_reaches_an_error_even_in_part(zenskar, httpserver, status, body):
    httpserver.expect_request("/contract_v2").respond_with_json(body, status=status)
    with pytest.raises(Exception) as excinfo:
        zenskar.search_contracts()
    error = str(excinfo.value)
    assert ZENSKAR_KEY[:8] not in error
    assert "[redacted]" in error


def test_money_in_replies_is_parsed_as_decimal_never_float(zenskar, httpserver):
    httpserver.expect_request("/contract_v2").respond_with_data(
        '{"results": [], "total_count": 0, "x": 0.1}', content_type="application/json"
    )
    reply = zenskar.http.request("GET", "/contract_v2")
    assert reply.json()["x"] == Decimal("0.1")
    assert type(reply.json()["x"]) is Decimal


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # in the past: no wait
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_read_as_seconds_or_http_date(header, seconds):
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(header, now=now) == seconds


@pytest.mark.parametrize(
    ("secret", "shown"),
    [
        ("", "(not set)"),
        ("short", "*** (5 chars)"),
        ("ab0123456789012345678901234567yz", "ab…yz (32 chars)"),
    ],
)
def test_secrets_are_masked_for_display(secret, shown):
    assert mask_secret(secret) == shown


def test_backoff_is_exponential_with_full_jitter_and_capped():
    waits = []

    def always_503(request):
        return httpx.Response(503)

    client = HttpClient(
        backend="Test",
        base_url="http://backend.invalid",
        headers={},
        connect_timeout=1,
        read_timeout=1,
        read_retries=6,
        sleep=waits.append,
        jitter=lambda: 1.0,  # the top of each jitter range
        transport=httpx.MockTransport(always_503),
    )
    with pytest.raises(Exception, match="503"):
        client.request("GET", "/x")
    assert waits == [0.25, 0.5, 1.0, 2.0, BACKOFF_CAP_S, BACKOFF_CAP_S]
    client.close()


def test_full_jitter_can_wait_anywhere_down_to_zero():
    waits = []
    client = HttpClient(
        backend="Test",
        base_url="http://backend.invalid",
        headers={},
        connect_timeout=1,
        read_timeout=1,
        read_retries=2,
        sleep=waits.append,
        jitter=lambda: 0.0,
        transport=httpx.MockTransport(lambda request: httpx.Response(502)),
    )
    with pytest.raises(Exception, match="502"):
        client.request("GET", "/x")
    assert waits == []  # a zero wait is not slept at all
    client.close()


def test_timeouts_come_from_the_settings(make_zenskar, backend_settings):
    backend_settings.BACKEND_CONNECT_TIMEOUT = 1.5
    backend_settings.BACKEND_READ_TIMEOUT = 4.0
    timeout = make_zenskar().http.timeout
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (1.5, 4.0, 4.0, 1.5)


def test_a_4xx_with_code_and_field_errors_is_one_rejection():
    body = '{"code": "E1", "message": "bad", "detail": [{"loc": ["body", "a"], "msg": "m"}]}'
    client = HttpClient(
        backend="Test",
        base_url="http://backend.invalid",
        headers={},
        connect_timeout=1,
        read_timeout=1,
        read_retries=2,
        transport=httpx.MockTransport(lambda request: httpx.Response(400, text=body)),
    )
    with pytest.raises(BackendRejected) as excinfo:
        client.request("GET", "/x")
    error = excinfo.value
    assert (error.status, error.code, error.message, error.field_errors) == (
        400,
        "E1",
        "bad",
        {"a": ["m"]},
    )
    client.close()


def test_the_registry_builds_one_adapter_per_process(backend_settings, httpserver):
    from invoices.backends import adhoc_backend, cycle_backend

    backend_settings.BILLING_BACKEND = "zenskar"
    backend_settings.ADHOC_BACKEND = "rebillia"
    backend_settings.ZENSKAR_BASE_URL = httpserver.url_for("").rstrip("/")
    backend_settings.REBILLIA_BASE_URL = httpserver.url_for("/v1")
    assert cycle_backend() is cycle_backend()
    assert cycle_backend().name == "zenskar"
    assert adhoc_backend().name == "rebillia"
    assert cycle_backend().http._client is cycle_backend().http._client
