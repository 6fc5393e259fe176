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
        hint = "The billing backend did not answer in time. Nothing was changed; try again."
    else:
        hint = "The billing backend refused the request."
    retryable = exc.retryable or isinstance(exc, OutcomeUnknown)
    return {"message": exc.message, "hint": hint, "retryable": retryable}


# One mapping from domain errors to HTTP statuses; the first class that matches wins.
ERROR_STATUSES: tuple[tuple[type[Exception], int], ...] = (
    (services.NotAllowed, 403),
    (services.NeedsConfirmation, 422),
    (services.UpstreamFailed, 502),
    (services.ServiceError, 409),
    (NotFoundUpstream, 404),
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
