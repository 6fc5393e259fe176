"""What a vendor's HTTP reply is, as the adapters read it: the reply itself (JSON parsed with
Decimal money), the errors for a reply that was lost or cannot be read, and the helpers that
turn an error body into a message safe to show (clipped, never an HTML page, never a secret)."""

from __future__ import annotations

import email.utils
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .base import BackendUnavailable

UNREADABLE = "the backend sent a reply that could not be read"
MAX_MESSAGE_CHARS = 300


class ReplyLost(BackendUnavailable):
    """A write was sent but no usable reply came back (read timeout, dropped connection, 5xx that
    may have been applied, or an unreadable 2xx). Whether it took effect is unknown. Adapters
    catch this on every write and look for the result; it should not cross the port."""

    def __init__(
        self, message: str, *, backend: str = "", status: int | None = None, cause: str = ""
    ):
        cause = cause or ("error_reply" if status is not None else "")
        super().__init__(message, backend=backend, cause=cause, status=status)


class UnreadableReply(BackendUnavailable):
    """A 2xx reply whose body is not the JSON that was expected (malformed, HTML, empty)."""

    def __init__(self, message: str, *, backend: str = ""):
        super().__init__(message, backend=backend, cause="unreadable")


@dataclass(frozen=True)
class Reply:
    method: str
    path: str
    status: int
    headers: Mapping[str, str]
    text: str
    backend: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def is_empty(self) -> bool:
        return not self.text.strip()

    def json(self) -> Any:
        """The body as JSON, numbers with a fraction as Decimal. Raises UnreadableReply."""
        if self.is_empty:
            raise UnreadableReply(f"{UNREADABLE} (empty body)", backend=self.backend)
        try:
            return json.loads(self.text, parse_float=Decimal)
        except ValueError:
            kind = "an HTML page" if looks_like_html(self.text) else "malformed JSON"
            raise UnreadableReply(f"{UNREADABLE} ({kind})", backend=self.backend) from None

    def json_or_none(self) -> Any:
        """The body as JSON, or None when it is empty or not JSON (error bodies)."""
        if self.is_empty:
            return None
        try:
            return json.loads(self.text, parse_float=Decimal)
        except ValueError:
            return None


def json_bytes(value: Any) -> bytes:
    """A request body as JSON; a `Decimal` is written as a JSON number exactly as it is (an
    amount of 25.00 goes out as `25.00`), never through float."""
    return _json_text(value).encode()


def _json_text(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("a request body cannot carry NaN or Infinity")
        return format(value, "f")
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(k))}:{_json_text(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_json_text(v) for v in value) + "]"
    return json.dumps(value, separators=(",", ":"), default=str)


def looks_like_html(text: str) -> bool:
    head = text.lstrip()[:200].lower()
    return head.startswith(("<!doctype", "<html", "<head", "<body", "<?xml")) or "<html" in head


def mask_secret(value: str) -> str:
    """`ab…yz (32 chars)`; short values are not partially shown at all."""
    if not value:
        return "(not set)"
    if len(value) < 12:
        return f"*** ({len(value)} chars)"
    return f"{value[:2]}…{value[-2:]} ({len(value)} chars)"


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds to wait: delta-seconds or an HTTP-date. None when absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        seconds = None
    if seconds is not None:
        return max(0.0, seconds) if seconds == seconds else None  # NaN is not a wait
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def clip(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def generic_error_details(reply: Reply) -> tuple[str, str, dict[str, list[str]]]:
    """(code, message, field errors) from the usual error-body shapes:
    `{"code","message"}`, `{"error"}`, `{"detail": "..."}`, `{"detail": [{loc,msg}]}`,
    `{"Message"}` and plain text. HTML pages are summarised, never quoted."""
    data = reply.json_or_none()
    code = ""
    message = ""
    field_errors: dict[str, list[str]] = {}
    if isinstance(data, dict):
        raw_code = data.get("code") or data.get("error_code") or ""
        code = str(raw_code)
        detail = data.get("detail")
        if isinstance(detail, list):
            for item in detail:
                if not isinstance(item, dict):
                    continue
                loc = [str(part) for part in item.get("loc") or [] if part != "body"]
                name = ".".join(loc) or "__all__"
                field_errors.setdefault(name, []).append(str(item.get("msg") or "invalid"))
            message = "; ".join(f"{k}: {', '.join(v)}" for k, v in field_errors.items())
        for key in ("message", "Message", "error", "detail", "error_description", "title"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                message = value
                break
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                message = value["message"]
                code = code or str(value.get("code") or "")
                break
    elif isinstance(data, str):
        message = data
    elif not reply.is_empty and not looks_like_html(reply.text):
        message = reply.text
    if not message:
        message = f"HTTP {reply.status}" + (" (HTML page)" if looks_like_html(reply.text) else "")
    return code, clip(message), field_errors
