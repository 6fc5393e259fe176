"""Fixtures for the adapter tests: a threaded loopback server, adapters pointed at it, recorded
reply shapes, a recording sleep, and a way to hold a reply back (for read timeouts)."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from invoices.backends.rebillia import RebilliaBackend
from invoices.backends.zenskar import ZenskarBackend

RECORDED = Path(__file__).parent / "recorded"
ZENSKAR_KEY = "zk_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0"
ZENSKAR_ORG = "5b0e8d2c-1f3a-4c6b-9e7d-2a4f6c8e0b1d"
REBILLIA_KEY = "rb_secret_41c0ffee5eed0ddba11f00d5ca1ab1e9"


def recorded(name: str):
    """A recorded-shape reply body as plain JSON values, ready to edit and to serve again.
    (The adapters never see these floats: they parse the served text with Decimal.)"""
    return json.loads((RECORDED / name).read_text())


def recorded_text(name: str) -> str:
    return (RECORDED / name).read_text()


@pytest.fixture(scope="session")
def make_httpserver():
    """Override pytest-httpserver's server with a THREADED one: a held-back reply must not stop
    the adapter's next call (a retry, or the look-up after a lost write) from being served."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


class Sleeps:
    """Stands in for time.sleep: records each wait, never waits."""

    def __init__(self):
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


class Hold:
    """Handlers that hold their reply back until released (or `limit` seconds pass).

    Counts the requests that arrived (at arrival, not at completion); on teardown releases every
    held handler and waits for them, so no late reply leaks into the next test's server log.
    """

    def __init__(self, limit: float = 5.0):
        self.limit = limit
        self.release_event = threading.Event()
        self.arrived: list[Request] = []
        self._active = 0
        self._lock = threading.Condition()

    def handler(self, response: Response | None = None, before=None):
        def handle(request: Request) -> Response:
            with self._lock:
                self.arrived.append(request)
                self._active += 1
            try:
                if before is not None:
                    before(request)
                self.release_event.wait(self.limit)
                return response or Response("{}", status=200, content_type="application/json")
            finally:
                with self._lock:
                    self._active -= 1
                    self._lock.notify_all()

        return handle

    def release_all(self) -> None:
        self.release_event.set()
        with self._lock:
            self._lock.wait_for(lambda: self._active == 0, timeout=self.limit + 1)


@pytest.fixture
def hold():
    holder = Hold()
    yield holder
    holder.release_all()


@pytest.fixture
def closed_port_url():
    """A loopback URL that refuses connections at once, for the whole test.

    The port stays bound to a socket that never listens: the kernel answers every connection
    attempt with a reset (ECONNREFUSED), and nothing else can take the port meanwhile (binding,
    closing and hoping the port stays free raced with other tests under load)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        sock.close()


@pytest.fixture
def backend_settings(settings):
    """Fast timeouts for loopback, both vendors' credentials set."""
    settings.ZENSKAR_API_KEY = ZENSKAR_KEY
    settings.ZENSKAR_ORGANISATION = ZENSKAR_ORG
    settings.REBILLIA_API_KEY = REBILLIA_KEY
    settings.BACKEND_CONNECT_TIMEOUT = 1.0
    settings.BACKEND_READ_TIMEOUT = 2.0
    settings.BACKEND_READ_RETRIES = 2
    return settings


@pytest.fixture
def make_zenskar(backend_settings, httpserver, sleeps):
    made = []

    def make(base_url: str | None = None, **overrides) -> ZenskarBackend:
        backend_settings.ZENSKAR_BASE_URL = base_url or httpserver.url_for("").rstrip("/")
        overrides.setdefault("sleep", sleeps)
        backend = ZenskarBackend.from_settings(django_settings, **overrides)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()


@pytest.fixture
def zenskar(make_zenskar):
    return make_zenskar()


@pytest.fixture
def make_rebillia(backend_settings, httpserver, sleeps):
    made = []

    def make(base_url: str | None = None, **overrides) -> RebilliaBackend:
        backend_settings.REBILLIA_BASE_URL = base_url or httpserver.url_for("/v1")
        overrides.setdefault("sleep", sleeps)
        backend = RebilliaBackend.from_settings(django_settings, **overrides)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()


@pytest.fixture
def rebillia(make_rebillia):
    return make_rebillia()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Country look-ups are cached in Django's cache: each test starts without them."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
