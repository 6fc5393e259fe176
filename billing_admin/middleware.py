"""Project-wide middleware: a request id for logs and audit, and the Content-Security-Policy."""

import logging
import re
import time
import uuid

from django.conf import settings

from billing_admin.logging import client_ip_var, request_id_var

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
request_log = logging.getLogger("billing_admin.request")


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or the address the trusted proxies saw.

    With DJANGO_TRUSTED_PROXY_COUNT=n, the n-th address from the right of X-Forwarded-For is the
    client (each trusted proxy appends the address it received the request from)."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [p.strip() for p in request.headers.get("X-Forwarded-For", "").split(",")]
        forwarded = [p for p in forwarded if p]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR") or None


class RequestIdMiddleware:
    """Gives every request an id (kept from a trusted proxy's X-Request-ID when it is well formed).

    The id is on `request.request_id`, in every log line of the request, in the audit events the
    request writes, and in the `X-Request-ID` response header so a person can quote it.
    One structured log line is written per request.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        ip_token = client_ip_var.set(client_ip(request))
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            user = getattr(request, "user", None)
            request_log.info(
                "%s %s %s %.1fms",
                request.method,
                request.path,
                response.status_code,
                (time.perf_counter() - started) * 1000,
                extra={
                    "http_method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "user": user.get_username() if user and user.is_authenticated else None,
                },
            )
            return response
        finally:
            request_id_var.reset(token)
            client_ip_var.reset(ip_token)


class ContentSecurityPolicyMiddleware:
    """A strict CSP: the app's own pages load scripts and styles only from this origin, and no
    page carries inline script. htmx's inline indicator style is turned off in base.html."""

    POLICY = "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "object-src 'none'",
        ]
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith(f"/{settings.ADMIN_URL_PREFIX}"):
            # Django's admin sets a few inline style attributes of its own.
            response.setdefault(
                "Content-Security-Policy",
                self.POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"),
            )
        else:
            response.setdefault("Content-Security-Policy", self.POLICY)
        response.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        return response
