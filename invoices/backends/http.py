"""HTTP plumbing shared by the vendor adapters (Zenskar, Rebillia).

One `HttpClient` per adapter instance (adapters are per-process singletons), holding one pooled
`httpx.Client` with explicit timeouts. It:

- retries idempotent reads only (GET), a bounded number of times, with exponential backoff
  and full jitter, on connection failures, timeouts, 429 (honouring Retry-After, capped) and
  502/503/504;
- never retries a write (POST/PATCH/PUT/DELETE): a write whose reply was lost raises `ReplyLost`,
  which the adapter turns into a recovery look-up or `OutcomeUnknown`; a write that provably never
  reached the server (connection refused, connect timeout, 429/503) raises plain
  `BackendUnavailable`;
- maps failures to the port's domain errors (never lets an httpx exception escape);
- logs one line per HTTP exchange on the `invoices.backends` logger (method, path without query
  string, status, duration, attempt) and never the credential;
- parses JSON with `parse_float=Decimal`, so money never passes through `float`.

Tests inject `sleep` (and `jitter`) to keep backoff tests fast and deterministic.
"""

from __future__ import annotations

import contextvars
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import httpx

from .base import (
    BackendError,
    BackendMisconfigured,
    BackendRejected,
    BackendUnavailable,
    NotFoundUpstream,
)
from .replies import (
    Reply,
    ReplyLost,
    generic_error_details,
    json_bytes,
    parse_retry_after,
)

logger = logging.getLogger("invoices.backends")
ErrorHook = Callable[[Reply], BackendError | None]

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
# Statuses after which a write was certainly not applied: safe to report as plain unavailability.
WRITE_NOT_APPLIED_STATUSES = frozenset({429, 503})

BACKOFF_BASE_S = 0.25
BACKOFF_CAP_S = 2.0
# The longest single wait a Retry-After may impose; longer asks are not waited for (the call
# fails now as BackendUnavailable, saying when to retry) so a page never hangs on it.
RETRY_AFTER_CAP_S = 5.0
# The most time one call may spend sleeping between attempts, all retries together.
TOTAL_SLEEP_CAP_S = 8.0


# Threads for concurrent reads, shared by every client of the process (a few are enough: each
# request asks for at most two things at once).
_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="backend-read")


def concurrently(*calls: Callable[[], Any]) -> list[Any]:
    """Run independent reads at the same time (one round trip of waiting instead of several);
    results in order; the first failure is raised. Each call keeps the caller's context (the
    request id in its log lines)."""
    futures = [_POOL.submit(contextvars.copy_context().run, call) for call in calls]
    return [future.result() for future in futures]


class HttpClient:
    """One pooled connection to one vendor. Thread-safe (httpx.Client is)."""

    def __init__(
        self,
        *,
        backend: str,
        base_url: str,
        headers: Mapping[str, str],
        connect_timeout: float,
        read_timeout: float,
        read_retries: int,
        secrets: Iterable[str] = (),
        credential_settings: str = "",
        error_hook: ErrorHook | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        transport: httpx.BaseTransport | None = None,
    ):
        self.backend = backend
        self.base_url = base_url.rstrip("/")
        self.read_retries = max(0, int(read_retries))
        self.secrets = tuple(s for s in secrets if s)
        self.credential_settings = credential_settings
        self.error_hook = error_hook
        self.sleep = sleep
        self.jitter = jitter
        self.timeout = httpx.Timeout(
            connect=connect_timeout,
            read=read_timeout,
            write=read_timeout,
            pool=connect_timeout,
        )
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=dict(headers),
            timeout=self.timeout,
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
            follow_redirects=False,
            trust_env=False,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    concurrently = staticmethod(lambda *calls: concurrently(*calls))

    # --- safety ------------------------------------------------------------------------------
    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text

    # --- the call ----------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> Reply:
        """Send one call (with retries when it is a read); return its 2xx Reply or raise a
        domain error. `path` may be absolute (another root on the same vendor)."""
        method = method.upper()
        is_read = method in READ_METHODS
        attempts = 1 + (self.read_retries if is_read else 0)
        slept = 0.0
        content = None
        if json_body is not None:
            content = json_bytes(json_body)
        for attempt in range(1, attempts + 1):
            request = self._client.build_request(
                method, path, params=_clean_params(params), content=content
            )
            log_path = self.redact(request.url.path)
            started = time.monotonic()
            try:
                response = self._client.send(request)
                text = response.text
            except httpx.TransportError as exc:
                elapsed_ms = (time.monotonic() - started) * 1000
                what, cause = _describe_transport_error(exc)
                self._log(logging.WARNING, method, log_path, what, elapsed_ms, attempt, attempts)
                if attempt < attempts:
                    slept += self._backoff(attempt, None, slept)
                    continue
                never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                never_sent = never_sent or isinstance(exc, httpx.PoolTimeout)
                if not is_read and not never_sent:
                    raise ReplyLost(
                        f"{self.backend} did not answer the {method} ({what}); "
                        "whether it took effect is unknown",
                        backend=self.backend,
                        cause=cause,
                    ) from None
                said = _NO_REPLY.get(cause, "could not be reached")
                raise BackendUnavailable(
                    f"{self.backend} {said} ({what})", backend=self.backend, cause=cause
                ) from None

            elapsed_ms = (time.monotonic() - started) * 1000
            reply = Reply(
                method=method,
                path=log_path,
                status=response.status_code,
                headers=response.headers,
                text=text,
                backend=self.backend,
            )
            level = logging.INFO if reply.ok else logging.WARNING
            self._log(level, method, log_path, reply.status, elapsed_ms, attempt, attempts)
            if reply.ok:
                return reply
            if is_read and reply.status in RETRYABLE_STATUSES and attempt < attempts:
                retry_after = None
                if reply.status in (429, 503):
                    retry_after = parse_retry_after(reply.headers.get("retry-after"))
                    if retry_after is not None and (
                        retry_after > RETRY_AFTER_CAP_S or slept + retry_after > TOTAL_SLEEP_CAP_S
                    ):
                        raise self._unavailable(reply, retry_after)
                slept += self._backoff(attempt, retry_after, slept)
                continue
            raise self.error_for(reply)
        raise AssertionError("unreachable")  # pragma: no cover

    # --- helpers -----------------------------------------------------------------------------
    def _backoff(self, attempt: int, retry_after: float | None, slept: float) -> float:
        if retry_after is not None:
            wait = retry_after
        else:
            ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * (2 ** (attempt - 1)))
            wait = self.jitter() * ceiling  # full jitter
        wait = max(0.0, min(wait, TOTAL_SLEEP_CAP_S - slept))
        if wait:
            self.sleep(wait)
        return wait

    def _log(self, level, method, path, outcome, elapsed_ms, attempt, attempts) -> None:
        logger.log(
            level,
            "%s %s %s -> %s in %d ms (attempt %d/%d)",
            self.backend,
            method,
            path,
            outcome,
            round(elapsed_ms),
            attempt,
            attempts,
            extra={
                "backend": self.backend,
                "http_method": method,
                "http_path": path,
                "http_status": outcome if isinstance(outcome, int) else None,
                "duration_ms": round(elapsed_ms),
                "attempt": attempt,
            },
        )

    def _unavailable(self, reply: Reply, retry_after: float | None = None) -> BackendUnavailable:
        if reply.status == 429:
            message = f"{self.backend} answered that it is rate-limiting requests (HTTP 429)"
        else:
            message = f"{self.backend} answered with an error (HTTP {reply.status})"
        if retry_after is not None:
            message += f"; it asks to retry after {round(retry_after)} s"
        return BackendUnavailable(
            message,
            backend=self.backend,
            cause="error_reply",
            status=reply.status,
            retry_after=retry_after,
        )

    def error_for(self, reply: Reply) -> BackendError:
        """The domain error for a non-2xx reply (vendor hook first, then the generic mapping).

        The body is redacted before anything reads it, so that no message built from it (by the
        hook or here, clipped or not) can carry a credential the backend echoed back."""
        reply = replace(reply, text=self.redact(reply.text))
        if self.error_hook is not None:
            error = self.error_hook(reply)
            if error is not None:
                return error
        if (
            reply.method not in READ_METHODS
            and reply.status >= 500
            and reply.status not in WRITE_NOT_APPLIED_STATUSES
        ):
            return ReplyLost(
                f"{self.backend} failed while handling the {reply.method} "
                f"(HTTP {reply.status}); whether it took effect is unknown",
                backend=self.backend,
                status=reply.status,
            )
        if reply.status >= 500 or reply.status == 429:
            return self._unavailable(reply, parse_retry_after(reply.headers.get("retry-after")))
        code, message, field_errors = generic_error_details(reply)
        if reply.status in (401, 403):
            return BackendMisconfigured(
                f"{self.backend} refused the credentials (HTTP {reply.status}: {message}); "
                f"check {self.credential_settings}.",
                backend=self.backend,
            )
        if reply.status == 404:
            return NotFoundUpstream(
                f"Not found at {self.backend}: {message}", backend=self.backend, code=code
            )
        return BackendRejected(
            message,
            status=reply.status,
            code=code,
            field_errors=field_errors,
            backend=self.backend,
        )


def _clean_params(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not params:
        return None
    return {k: str(v) for k, v in params.items() if v is not None and v != ""}


_NO_REPLY = {"timeout": "did not answer in time", "dropped": "dropped the connection unanswered"}
# A call that got no reply: what it ran into, and its cause (most specific class first).
_TRANSPORT_ERRORS = (
    (httpx.ConnectTimeout, "connect timeout", "timeout"),
    (httpx.ReadTimeout, "read timeout", "timeout"),
    (httpx.WriteTimeout, "write timeout", "timeout"),
    (httpx.PoolTimeout, "no free connection in the pool", "timeout"),
    (httpx.ConnectError, "connection failed", "unreachable"),
    (httpx.RemoteProtocolError, "connection closed without a reply", "dropped"),
    (httpx.ReadError, "connection dropped while reading the reply", "dropped"),
)


def _describe_transport_error(exc: httpx.TransportError) -> tuple[str, str]:
    """(what happened, its cause) for a call that got no reply."""
    found = ((what, cause) for kind, what, cause in _TRANSPORT_ERRORS if isinstance(exc, kind))
    return next(found, (exc.__class__.__name__, ""))
