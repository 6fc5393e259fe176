"""What every page shares: the one "does htmx want a fragment" test, the one mapping from domain
errors to a response status and an inline problem, and the success redirect."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django_htmx.http import HttpResponseClientRedirect

from .. import services
from ..backends.base import (
    BackendError,
    BackendMisconfigured,
    BackendRejected,
    BackendUnavailable,
    NotFoundUpstream,
    OutcomeUnknown,
)


def wants_fragment(request) -> bool:
    """htmx asked for one part of the page: not a boosted link, and not a history restore (the
    browser going back), which needs the whole page."""
    htmx = request.htmx
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def template_for(request, template: str, fragment: str) -> str:
    """The whole page, or only `fragment` of it when htmx asks for that part."""
    return f"{template}#{fragment}" if wants_fragment(request) else template


def backend_problem(exc: BackendError) -> dict:
    """How a backend failure is shown inline: a sentence, and whether trying again may help."""
    if isinstance(exc, BackendMisconfigured):
        hint = "An administrator must fix the backend settings; trying again will not help."
    elif isinstance(exc, OutcomeUnknown):
        hint = (
            "The billing backend may or may not have received it, and nothing was recorded here. "
            "Trying again is safe: the backend keeps one draft per billing cycle."
        )
    elif isinstance(exc, BackendUnavailable):
        hint = _unavailable_hint(exc)
    elif isinstance(exc, NotFoundUpstream):
        hint = "The billing backend has no such record."
    elif isinstance(exc, BackendRejected):
        hint = f"The billing backend refused the request as invalid (HTTP {exc.status})."
    else:
        hint = "The billing backend refused the request."
    retryable = exc.retryable or isinstance(exc, OutcomeUnknown)
    return {"message": exc.message, "hint": hint, "retryable": retryable}


def _unavailable_hint(exc: BackendUnavailable) -> str:
    """What happened, in the words that fit it: "did not answer in time" only when it did not
    (a timeout or a dropped connection); an error reply says so, with its status."""
    if exc.cause == "error_reply" and exc.status == 429:
        return (
            "The billing backend answered that it is rate-limiting requests (HTTP 429). "
            "Nothing was changed; wait a moment and try again."
        )
    if exc.cause == "error_reply":
        status = f" (HTTP {exc.status})" if exc.status else ""
        return (
            f"The billing backend answered with an error{status}. Nothing was changed; try again."
        )
    if exc.cause in ("timeout", "dropped"):
        return "The billing backend did not answer in time. Nothing was changed; try again."
    if exc.cause == "unreadable":
        return "The billing backend's answer could not be read. Nothing was changed; try again."
    if exc.cause == "unreachable":
        return "The billing backend could not be reached. Nothing was changed; try again."
    return "The billing backend could not answer just now. Nothing was changed; try again."


# One mapping from domain errors to HTTP statuses; the first class that matches wins.
ERROR_STATUSES: tuple[tuple[type[Exception], int], ...] = (
    (services.NotAllowed, 403),
    (services.NeedsConfirmation, 422),
    (services.UpstreamFailed, 502),
    (services.ServiceError, 409),
    (NotFoundUpstream, 404),
    # A read the person's own input made invalid (a malformed id or page cursor): a real
    # outage (BackendUnavailable, BackendMisconfigured) stays 503.
    (BackendRejected, 400),
    (BackendError, 503),
)


def problem_for(exc: services.ServiceError | BackendError) -> tuple[dict, int]:
    """The inline problem and the response status for a refusal or a backend failure."""
    status = next(code for cls, code in ERROR_STATUSES if isinstance(exc, cls))
    if isinstance(exc, BackendError):
        return backend_problem(exc), status
    return {"message": exc.message}, status


def done(request, url: str, text: str):
    """Success: a message, and the page it belongs on (htmx follows with a full navigation)."""
    messages.success(request, text)
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
