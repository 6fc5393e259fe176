"""The fault matrix, for each HTTP adapter: every failure becomes the right domain error, in
bounded time, with retries only for reads (counted at the server)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from werkzeug import Response

from invoices.backends.base import BackendUnavailable, OutcomeUnknown
from invoices.backends.http import RETRY_AFTER_CAP_S

from .conftest import recorded
from .test_rebillia import REQUEST as ADHOC_REQUEST
from .test_zenskar import CONTRACT, CUSTOMER, CYCLE, INVOICE

READ_TIMEOUT = 0.25
ATTEMPTS = 3  # BACKEND_READ_RETRIES = 2
# Bounded-time checks tell "gave up promptly" from "hung until a default timeout" (10 s and more);
# the slack absorbs a busy CI machine without blurring that difference.
SLACK = 2.0


@dataclass(frozen=True)
class Vendor:
    name: str
    maker: str  # fixture that builds the adapter
    read_path: str
    read_body: object
    read: object  # backend -> result
    write_method: str
    write_path: str
    write: object  # backend -> result

    def __str__(self) -> str:
        return self.name


ZENSKAR = Vendor(
    name="zenskar",
    maker="make_zenskar",
    read_path=f"/contract_v2/{CONTRACT}",
    read_body=recorded("zenskar_contract.json"),
    read=lambda backend: backend.get_contract(CONTRACT),
    write_method="POST",
    write_path="/invoices/generate_invoice",
    write=lambda backend: backend.generate_draft(
        contract_id=CONTRACT, customer_id=CUSTOMER, cycle=CYCLE
    ),
)
REBILLIA = Vendor(
    name="rebillia",
    maker="make_rebillia",
    read_path="/v1/currencies",
    read_body=recorded("rebillia_currencies.json"),
    read=lambda backend: backend.currencies(),
    write_method="POST",
    write_path="/v1/invoices",
    write=lambda backend: backend.create_invoice(ADHOC_REQUEST),
)
VENDORS = [ZENSKAR, REBILLIA]


@pytest.fixture(params=VENDORS, ids=str)
def vendor(request):
    return request.param


@pytest.fixture
def adapter(request, vendor, backend_settings, httpserver):
    """The vendor's adapter on the loopback server, with a short read timeout. Rebillia's
    look-up after a lost write finds nothing (so the outcome stays unknown)."""
    backend_settings.BACKEND_READ_TIMEOUT = READ_TIMEOUT
    if vendor is REBILLIA:
        httpserver.expect_request("/v1/invoices", method="GET").respond_with_json(
            {"data": [], "totalPages": 0}
        )
    return request.getfixturevalue(vendor.maker)()


def received(httpserver, vendor, method="GET"):
    path = vendor.read_path if method == "GET" else vendor.write_path
    return [r for r, _ in httpserver.log if r.method == method and r.path == path]


@pytest.fixture
def clock():
    started = time.monotonic()
    return lambda: time.monotonic() - started


HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
)


# --- connection refused ---------------------------------------------------------------------
def test_read_with_connection_refused_is_unavailable_after_bounded_retries(
    request, vendor, backend_settings, closed_port_url, sleeps, clock
):
    base = closed_port_url + ("/v1" if vendor is REBILLIA else "")
    backend = request.getfixturevalue(vendor.maker)(base)
    with pytest.raises(BackendUnavailable, match="could not be reached"):
        vendor.read(backend)
    assert len(sleeps.waits) == ATTEMPTS - 1  # retried, with a backoff before each retry
    assert clock() < SLACK


def test_write_with_connection_refused_is_unavailable_not_unknown(
    request, vendor, backend_settings, closed_port_url, sleeps, clock
):
    base = closed_port_url + ("/v1" if vendor is REBILLIA else "")
    backend = request.getfixturevalue(vendor.maker)(base)
    with pytest.raises(BackendUnavailable) as excinfo:
        vendor.write(backend)
    assert not isinstance(excinfo.value, OutcomeUnknown)
    assert sleeps.waits == []  # never retried
    assert clock() < SLACK


# --- read timeout ---------------------------------------------------------------------------
def test_read_timeout_is_retried_then_unavailable_in_bounded_time(
    vendor, adapter, httpserver, hold, clock
):
    httpserver.expect_request(vendor.read_path).respond_with_handler(hold.handler())
    with pytest.raises(BackendUnavailable, match="read timeout"):
        vendor.read(adapter)
    assert len(hold.arrived) == ATTEMPTS
    assert clock() < ATTEMPTS * READ_TIMEOUT + SLACK


def test_write_timeout_is_never_resent_and_its_outcome_is_unknown(
    vendor, adapter, httpserver, hold, clock
):
    httpserver.expect_request(vendor.write_path, method="POST").respond_with_handler(hold.handler())
    with pytest.raises(OutcomeUnknown):
        vendor.write(adapter)
    assert len(hold.arrived) == 1
    assert clock() < READ_TIMEOUT + SLACK


# --- 5xx ------------------------------------------------------------------------------------
def test_read_500_is_unavailable_without_retry(vendor, adapter, httpserver, clock):
    httpserver.expect_request(vendor.read_path).respond_with_json({"detail": "boom"}, status=500)
    with pytest.raises(BackendUnavailable, match="500"):
        vendor.read(adapter)
    assert len(received(httpserver, vendor)) == 1
    assert clock() < SLACK


def test_write_500_is_not_resent_and_its_outcome_is_unknown(vendor, adapter, httpserver):
    httpserver.expect_request(vendor.write_path, method="POST").respond_with_json(
        {"detail": "boom"}, status=500
    )
    with pytest.raises(OutcomeUnknown):
        vendor.write(adapter)
    assert len(received(httpserver, vendor, "POST")) == 1


@pytest.mark.parametrize("status", [502, 503, 504])
def test_read_gateway_error_then_success_is_retried(vendor, adapter, httpserver, sleeps, status):
    httpserver.expect_oneshot_request(vendor.read_path).respond_with_data(
        HTML_PAGE, status=status, content_type="text/html"
    )
    httpserver.expect_request(vendor.read_path).respond_with_json(vendor.read_body)
    assert vendor.read(adapter)
    assert len(received(httpserver, vendor)) == 2
    assert len(sleeps.waits) == 1


@pytest.mark.parametrize("status", [502, 503, 504])
def test_read_gateway_error_every_time_gives_up_after_the_retries(
    vendor, adapter, httpserver, status, clock
):
    httpserver.expect_request(vendor.read_path).respond_with_data(
        HTML_PAGE, status=status, content_type="text/html"
    )
    with pytest.raises(BackendUnavailable) as excinfo:
        vendor.read(adapter)
    assert "<" not in excinfo.value.message  # the HTML page is not quoted
    assert len(received(httpserver, vendor)) == ATTEMPTS
    assert clock() < SLACK


@pytest.mark.parametrize(
    ("status", "expected"),
    [(502, OutcomeUnknown), (503, BackendUnavailable), (504, OutcomeUnknown)],
)
def test_write_gateway_error_is_never_retried(vendor, adapter, httpserver, status, expected):
    httpserver.expect_oneshot_request(vendor.write_path, method="POST").respond_with_data(
        HTML_PAGE, status=status, content_type="text/html"
    )
    httpserver.expect_request(vendor.write_path, method="POST").respond_with_json({})
    with pytest.raises(expected) as excinfo:
        vendor.write(adapter)
    if expected is BackendUnavailable:  # 503: refused before doing anything
        assert not isinstance(excinfo.value, OutcomeUnknown)
    assert len(received(httpserver, vendor, "POST")) == 1


# --- 429 ------------------------------------------------------------------------------------
def test_read_429_waits_for_retry_after_seconds_then_succeeds(vendor, adapter, httpserver, sleeps):
    httpserver.expect_oneshot_request(vendor.read_path).respond_with_json(
        {"message": "slow down"}, status=429, headers={"Retry-After": "2"}
    )
    httpserver.expect_request(vendor.read_path).respond_with_json(vendor.read_body)
    assert vendor.read(adapter)
    assert sleeps.waits == [2.0]
    assert len(received(httpserver, vendor)) == 2


def test_read_429_honours_an_http_date_retry_after(vendor, adapter, httpserver, sleeps):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)
    httpserver.expect_oneshot_request(vendor.read_path).respond_with_json(
        {}, status=429, headers={"Retry-After": when}
    )
    httpserver.expect_request(vendor.read_path).respond_with_json(vendor.read_body)
    assert vendor.read(adapter)
    (wait,) = sleeps.waits
    assert 1.0 <= wait <= 3.0


def test_read_429_asking_for_too_long_a_wait_fails_now(vendor, adapter, httpserver, sleeps, clock):
    httpserver.expect_request(vendor.read_path).respond_with_json(
        {}, status=429, headers={"Retry-After": str(int(RETRY_AFTER_CAP_S) * 100)}
    )
    with pytest.raises(BackendUnavailable, match=r"rate-limiting.*retry after 500 s") as excinfo:
        vendor.read(adapter)
    assert excinfo.value.retry_after == 500.0  # a bill run waits that long before asking again
    assert sleeps.waits == []
    assert len(received(httpserver, vendor)) == 1
    assert clock() < SLACK


def test_read_429_without_retry_after_backs_off_with_jitter(vendor, adapter, httpserver, sleeps):
    httpserver.expect_request(vendor.read_path).respond_with_json({}, status=429)
    with pytest.raises(BackendUnavailable, match="429"):
        vendor.read(adapter)
    assert len(received(httpserver, vendor)) == ATTEMPTS
    assert len(sleeps.waits) == ATTEMPTS - 1
    assert all(0 <= wait <= 2.0 for wait in sleeps.waits)


def test_write_429_is_unavailable_and_not_retried(vendor, adapter, httpserver, sleeps):
    httpserver.expect_request(vendor.write_path, method="POST").respond_with_json(
        {}, status=429, headers={"Retry-After": "1"}
    )
    with pytest.raises(BackendUnavailable) as excinfo:
        vendor.write(adapter)
    assert not isinstance(excinfo.value, OutcomeUnknown)
    assert excinfo.value.retry_after == 1.0
    assert sleeps.waits == []
    assert len(received(httpserver, vendor, "POST")) == 1


# --- bodies that cannot be read -------------------------------------------------------------
BAD_BODIES = {
    "malformed JSON": ('{"results": [', "application/json"),
    "empty body": ("", "application/json"),
    "HTML page": (HTML_PAGE, "text/html"),
}


@pytest.mark.parametrize("kind", BAD_BODIES)
def test_read_with_an_unreadable_2xx_body_is_unavailable_and_not_retried(
    vendor, adapter, httpserver, kind
):
    body, content_type = BAD_BODIES[kind]
    httpserver.expect_request(vendor.read_path).respond_with_data(body, content_type=content_type)
    with pytest.raises(BackendUnavailable, match="could not be read") as excinfo:
        vendor.read(adapter)
    assert "<" not in excinfo.value.message
    assert len(received(httpserver, vendor)) == 1


@pytest.mark.parametrize("kind", BAD_BODIES)
def test_write_with_an_unreadable_2xx_body_is_an_unknown_outcome(vendor, adapter, httpserver, kind):
    body, content_type = BAD_BODIES[kind]
    httpserver.expect_request(vendor.write_path, method="POST").respond_with_data(
        body, content_type=content_type
    )
    with pytest.raises(OutcomeUnknown):
        vendor.write(adapter)
    assert len(received(httpserver, vendor, "POST")) == 1


def test_html_error_page_on_a_4xx_is_summarised_not_quoted(vendor, adapter, httpserver):
    httpserver.expect_request(vendor.read_path).respond_with_data(
        "<html><body><h1>400 Bad Request</h1></body></html>", status=400, content_type="text/html"
    )
    with pytest.raises(Exception) as excinfo:  # BackendRejected
        vendor.read(adapter)
    assert excinfo.value.status == 400
    assert "<" not in excinfo.value.message and "HTML" in excinfo.value.message


def test_zenskar_approve_and_delete_are_never_retried(make_zenskar, httpserver):
    backend = make_zenskar()
    httpserver.expect_request(f"/invoices/{INVOICE}/approve", method="PATCH").respond_with_data(
        "", status=503
    )
    httpserver.expect_request(f"/invoices/{INVOICE}", method="DELETE").respond_with_data(
        "", status=503
    )
    with pytest.raises(BackendUnavailable):
        backend.approve_draft(INVOICE)
    with pytest.raises(BackendUnavailable):
        backend.delete_draft(INVOICE)
    assert [r.method for r, _ in httpserver.log] == ["PATCH", "DELETE"]


def test_retry_after_total_is_capped_so_a_read_stays_bounded(vendor, adapter, httpserver, sleeps):
    httpserver.expect_request(vendor.read_path).respond_with_json(
        {}, status=503, headers={"Retry-After": str(int(RETRY_AFTER_CAP_S))}
    )
    with pytest.raises(BackendUnavailable):
        vendor.read(adapter)
    assert sum(sleeps.waits) <= 8.0
    assert len(received(httpserver, vendor)) <= ATTEMPTS


def test_a_slow_but_timely_reply_is_not_a_timeout(vendor, adapter, httpserver):
    def slow(request):
        time.sleep(READ_TIMEOUT / 3)
        return Response(json.dumps(vendor.read_body), content_type="application/json")

    httpserver.expect_request(vendor.read_path).respond_with_handler(slow)
    assert vendor.read(adapter)
    assert len(received(httpserver, vendor)) == 1


# --- what a person is told: the cause, not a guess -------------------------------------------
@pytest.fixture
def dropping_url():
    """A loopback URL whose server accepts every connection and closes it without a reply."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)  # read the request, answer nothing

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(2)
    server.close()


def _told(exc) -> str:
    from invoices.views.common import backend_problem

    problem = backend_problem(exc)
    return f"{problem['message']} {problem['hint']}"


def test_a_timeout_is_told_as_no_answer_in_time(vendor, adapter, httpserver, hold):
    httpserver.expect_request(vendor.read_path).respond_with_handler(hold.handler())
    with pytest.raises(BackendUnavailable) as excinfo:
        vendor.read(adapter)
    assert (excinfo.value.cause, excinfo.value.status) == ("timeout", None)
    assert "did not answer in time" in _told(excinfo.value)


def test_a_dropped_connection_is_told_as_no_answer(request, vendor, backend_settings, dropping_url):
    base = dropping_url + ("/v1" if vendor is REBILLIA else "")
    backend = request.getfixturevalue(vendor.maker)(base)
    with pytest.raises(BackendUnavailable) as excinfo:
        vendor.read(backend)
    assert excinfo.value.cause == "dropped"
    assert "did not answer in time" in _told(excinfo.value)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_an_error_reply_says_the_backend_answered_with_its_status(
    vendor, adapter, httpserver, status
):
    httpserver.expect_request(vendor.read_path).respond_with_json({"detail": "x"}, status=status)
    with pytest.raises(BackendUnavailable) as excinfo:
        vendor.read(adapter)
    assert (excinfo.value.cause, excinfo.value.status) == ("error_reply", status)
    told = _told(excinfo.value)
    assert f"answered with an error (HTTP {status})" in told
    assert "in time" not in told


def test_a_429_says_the_backend_is_rate_limiting(vendor, adapter, httpserver):
    httpserver.expect_request(vendor.read_path).respond_with_json(
        {}, status=429, headers={"Retry-After": "500"}
    )
    with pytest.raises(BackendUnavailable) as excinfo:
        vendor.read(adapter)
    assert (excinfo.value.cause, excinfo.value.status) == ("error_reply", 429)
    told = _told(excinfo.value)
    assert "rate-limiting requests (HTTP 429)" in told
    assert "in time" not in told


def test_a_refused_connection_says_it_could_not_be_reached(
    request, vendor, backend_settings, closed_port_url
):
    base = closed_port_url + ("/v1" if vendor is REBILLIA else "")
    backend = request.getfixturevalue(vendor.maker)(base)
    with pytest.raises(BackendUnavailable) as excinfo:
        vendor.read(backend)
    assert excinfo.value.cause == "unreachable"
    told = _told(excinfo.value)
    assert "could not be reached" in told
    assert "in time" not in told


def test_the_closed_port_refuses_every_connection_and_cannot_be_taken(closed_port_url):
    import errno
    import socket

    port = int(closed_port_url.rsplit(":", 1)[1])
    for _ in range(3):
        with (
            pytest.raises(ConnectionRefusedError),
            socket.create_connection(("127.0.0.1", port), timeout=1),
        ):
            pass
    other = socket.socket()
    try:
        with pytest.raises(OSError) as excinfo:
            other.bind(("127.0.0.1", port))
        assert excinfo.value.errno == errno.EADDRINUSE
    finally:
        other.close()
