"""What the loopback stand-ins share: Decimal-exact JSON, the engine's database from a server
thread, and route registration on a pytest-httpserver `HTTPServer`."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.db import connections
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


def dumps(value: Any) -> str:
    """JSON with Decimals written as JSON numbers (exactly, never through float)."""
    if isinstance(value, Decimal):
        text = format(value, "f")
        return text
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | str):
        return json.dumps(value)
    if isinstance(value, datetime):
        return json.dumps(iso(value))
    if isinstance(value, date):
        return json.dumps(value.isoformat())
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    raise TypeError(f"cannot put {type(value).__name__} on the wire")


def iso(value: datetime | date) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{value.isoformat()}T00:00:00Z"


def reply(data: Any = None, status: int = 200) -> Response:
    if data is None:
        return Response("", status=status)
    return Response(dumps(data), status=status, content_type="application/json")


def body_of(request: Request) -> Any:
    """The request's JSON body (numbers with a fraction as Decimal), or raises ValueError."""
    return json.loads(request.get_data(as_text=True), parse_float=Decimal)


class EngineAccess:
    """Runs a handler against the embedded engine's database from the server's thread.

    With `share_connection` (tests): the test's own connection is used, so the handler sees the
    test's uncommitted data; calls are serialised. Without it (a stand-alone server): each
    request thread opens its own connection and closes it afterwards.
    """

    def __init__(self, *, share_connection=None, latency_s: float = 0.0):
        # `django.db.connection` is a per-thread proxy: resolve it here, in the caller's thread,
        # to the connection object itself.
        self.shared = None if share_connection is None else connections[share_connection.alias]
        self.latency_s = latency_s
        self._lock = threading.Lock()
        if self.shared is not None:
            self.shared.inc_thread_sharing()

    @contextmanager
    def __call__(self):
        """One request's access to the engine. With `latency_s`, the request is answered no
        sooner than that after it arrived: the stand-in's own work (the engine's queries) is
        part of the backend's latency, as a real backend's would be, not added on top of it."""
        began = time.monotonic()
        try:
            if self.shared is None:
                try:
                    yield
                finally:
                    connections.close_all()
                return
            with self._lock:
                connections[self.shared.alias] = self.shared
                yield
        finally:
            if self.latency_s:
                time.sleep(max(0.0, self.latency_s - (time.monotonic() - began)))

    def close(self) -> None:
        if self.shared is not None:
            self.shared.dec_thread_sharing()
            self.shared = None


Handler = Callable[..., Response]


def route(
    server: HTTPServer,
    method: str,
    pattern: str,
    handler: Handler,
    *,
    guard: Callable[[Request], Response | None],
    access: EngineAccess,
    errors: Callable[[Exception], Response | None],
) -> None:
    """Register `handler(request, **path_params)` for METHOD and a path regex."""
    regex = re.compile(f"^{pattern}$")

    def handle(request: Request) -> Response:
        refused = guard(request)
        if refused is not None:
            return refused
        match = regex.match(request.path)
        with access():
            try:
                return handler(request, **match.groupdict())
            except Exception as exc:
                mapped = errors(exc)
                if mapped is None:
                    raise
                return mapped

    server.expect_request(regex, method=method).respond_with_handler(handle)
