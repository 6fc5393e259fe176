"""The port's error taxonomy: adapters raise these, never httpx's (re-exported by `base`).

`BackendUnavailable` (timeout, connection, 5xx, 429) is retryable; `BackendRejected` is a 4xx
with status, code, message and field errors; the named business errors say what happened.
"""

from __future__ import annotations


class BackendError(Exception):
    """Base of every error an adapter raises. `message` is safe to show to a person."""

    retryable = False

    def __init__(self, message: str, *, backend: str = ""):
        super().__init__(message)
        self.message = message
        self.backend = backend

    def __str__(self) -> str:
        return self.message


class BackendUnavailable(BackendError):
    """Timeout, connection failure, 5xx or 429: the backend could not answer now. Retryable.

    `cause` says which, so a person is told what happened: "timeout" (no answer in time),
    "dropped" (the connection closed before an answer), "unreachable" (no connection could be
    made), "error_reply" (it answered with an error: `status` is the HTTP status, 5xx or 429),
    "unreadable" (it answered 2xx with something that is not the expected reply), or "" when
    the adapter cannot tell (the embedded engine's database, a test's stand-in).
    `retry_after`: the seconds the backend asked us to wait (429/503 Retry-After), if it did."""

    retryable = True
    CAUSES = ("timeout", "dropped", "unreachable", "error_reply", "unreadable", "")

    def __init__(
        self,
        message: str,
        *,
        backend: str = "",
        cause: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message, backend=backend)
        if cause not in self.CAUSES:
            raise ValueError(f"unknown cause {cause!r}")
        self.cause = cause
        self.status = status
        self.retry_after = retry_after


class BackendRejected(BackendError):
    """The backend answered 4xx: it understood and refused."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        code: str = "",
        field_errors: dict[str, list[str]] | None = None,
        backend: str = "",
    ):
        super().__init__(message, backend=backend)
        self.status = status
        self.code = code
        self.field_errors = field_errors or {}


class NotFoundUpstream(BackendRejected):
    """The thing asked for does not exist upstream (404)."""

    def __init__(self, message: str, *, backend: str = "", code: str = "not_found"):
        super().__init__(message, status=404, code=code, backend=backend)


class CycleNotMatched(BackendError):
    """Generation matched no billing cycle (`invoice_ids: []`): re-fetch the cycles."""


class AlreadyInvoicedUpstream(BackendError):
    """An approved invoice already exists upstream for this billing period."""


class BackendMisconfigured(BackendError):
    """Credentials, organisation or base URL are wrong or missing: an operator must fix settings."""


class OutcomeUnknown(BackendError):
    """A write was sent but its reply was lost, and looking for its result found nothing certain.
    Never re-send blindly: a person (or `manage.py reconcile`) settles it."""

    retryable = False
