"""Zenskar's connection, for the adapter (`zenskar`): its settings read and checked, the
credential sent as Zenskar expects it (a JWT as a Bearer token, anything else as `x-api-key`),
and Zenskar's error replies translated into the port's errors (the client's error hook). Builds
the `HttpClient`; sends nothing itself."""

from __future__ import annotations

import re

from .base import (
    AlreadyInvoicedUpstream,
    BackendError,
    BackendMisconfigured,
    CannotBeVoided,
)
from .http import HttpClient
from .replies import Reply
from .zenskar_corrections import CANNOT_BE_VOIDED
from .zenskar_wire import NAME, _text

API_VERSION = "20230501"
ALREADY_GENERATED = "InvoiceAlreadyGeneratedForThisBillingPeriod"

_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


def looks_like_jwt(credential: str) -> bool:
    """Three base64url segments separated by dots."""
    return bool(_JWT.match(credential))


def auth_headers(credential: str) -> dict[str, str]:
    if looks_like_jwt(credential):
        return {"Authorization": f"Bearer {credential}"}
    return {"x-api-key": credential}


def _error_hook(reply: Reply) -> BackendError | None:
    if reply.status >= 400 and CANNOT_BE_VOIDED in reply.text:
        return CannotBeVoided(
            "Zenskar refused to void the invoice: its balance is not zero "
            f"({CANNOT_BE_VOIDED}). Credit notes must bring it to zero first.",
            backend=NAME,
        )
    if reply.status >= 400 and ALREADY_GENERATED in reply.text:
        return AlreadyInvoicedUpstream(
            "Zenskar says an approved invoice already exists for this billing period "
            f"({ALREADY_GENERATED}).",
            backend=NAME,
        )
    if reply.status == 403:
        data = reply.json_or_none()
        said = ""
        if isinstance(data, dict):
            said = _text(data.get("Message") or data.get("message") or data.get("detail"))
        return BackendMisconfigured(
            "Zenskar refused access (403"
            + (f": {said}" if said else "")
            + "). Check ZENSKAR_ORGANISATION (the organisation UUID) and that ZENSKAR_API_KEY "
            "belongs to that organisation.",
            backend=NAME,
        )
    return None  # 401 and the rest: HttpClient.error_for


def read_settings(settings) -> tuple[str, str, str]:
    """(API key, organisation, base URL) from Django settings, stripped; BackendMisconfigured
    when one is missing or the base URL is not http(s)."""
    key = (getattr(settings, "ZENSKAR_API_KEY", "") or "").strip()
    organisation = (getattr(settings, "ZENSKAR_ORGANISATION", "") or "").strip()
    base_url = (getattr(settings, "ZENSKAR_BASE_URL", "") or "").strip().rstrip("/")
    missing = [
        name
        for name, value in (
            ("ZENSKAR_API_KEY", key),
            ("ZENSKAR_ORGANISATION", organisation),
            ("ZENSKAR_BASE_URL", base_url),
        )
        if not value
    ]
    if missing:
        raise BackendMisconfigured(
            f"BILLING_BACKEND=zenskar needs {' and '.join(missing)}: set "
            f"{'them' if len(missing) > 1 else 'it'} in the environment.",
            backend=NAME,
        )
    if not base_url.startswith(("https://", "http://")):
        raise BackendMisconfigured(
            f"ZENSKAR_BASE_URL must be an http(s) URL such as https://api.zenskar.com, "
            f"not {base_url!r}.",
            backend=NAME,
        )
    return key, organisation, base_url


def http_client(
    settings, *, base_url: str, organisation: str, key: str, **http_overrides
) -> HttpClient:
    """The pooled client for Zenskar: its headers, the timeouts and read retries from settings,
    and `_error_hook`. `http_overrides` (tests): sleep, jitter, transport."""
    headers = {
        **auth_headers(key),
        "organisation": organisation,
        "apiversion": API_VERSION,
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    return HttpClient(
        backend="Zenskar",
        base_url=base_url,
        headers=headers,
        connect_timeout=settings.BACKEND_CONNECT_TIMEOUT,
        read_timeout=settings.BACKEND_READ_TIMEOUT,
        read_retries=settings.BACKEND_READ_RETRIES,
        secrets=(key,),
        credential_settings="ZENSKAR_API_KEY and ZENSKAR_ORGANISATION",
        error_hook=_error_hook,
        **http_overrides,
    )
