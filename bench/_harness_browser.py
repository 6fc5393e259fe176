"""A simulated person's browser (see bench/_harness.py): every request recorded as a `Sample` in
the shared `Recorder`, what the person saw, and the reading of the app's pages (forms, links,
the approvals inbox)."""

from __future__ import annotations

import html
import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx


# --- recording ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    step: str
    role: str
    t: float  # seconds since the recorder's start, when the request started
    ms: float
    status: int | None  # None: transport error
    outcome: str  # ok | refused | error
    kind: str = ""  # for errors: 5xx | transport | unexpected
    friendly: bool = True  # a 5xx that shows a clear message (not the generic 500 page)
    snippet: str = ""
    rids: tuple[str, ...] = ()


class Recorder:
    def __init__(self):
        self.t0 = time.monotonic()
        self._lock = threading.Lock()
        self.samples: list[Sample] = []
        self.submitted: list[int] = []  # invoice ids whose submission the clerk saw succeed
        self.approved: list[int] = []  # invoice ids whose approval the manager saw succeed
        self.rejected: list[int] = []

    def restart(self) -> None:
        with self._lock:
            self.t0 = time.monotonic()
            self.samples = []

    def now(self) -> float:
        return time.monotonic() - self.t0

    def add(self, sample: Sample) -> None:
        with self._lock:
            self.samples.append(sample)

    def note(self, kind: str, invoice_id: int) -> None:
        with self._lock:
            getattr(self, kind).append(invoice_id)

    def snapshot(self) -> list[Sample]:
        with self._lock:
            return list(self.samples)


_TAG = re.compile(r"<[^>]+>")
_ALERT = re.compile(r'role="alert"[^>]*>(.*?)</div>', re.S)


def _text(fragment: str) -> str:
    return " ".join(html.unescape(_TAG.sub(" ", fragment)).split())


def snippet_of(response: httpx.Response) -> tuple[str, bool]:
    """(a short text of what the person saw, whether it was a clear message)."""
    body = response.text
    if "Something went wrong on our side" in body:
        return "generic 500 page: Something went wrong on our side", False
    alert = _ALERT.search(body)
    if alert:
        return _text(alert.group(1))[:220], True
    preview = re.search(r'<section id="preview".*?</h2>(.*?)</p>', body, re.S)
    if preview:
        return _text(preview.group(1))[:220], True
    title = re.search(r"<title>(.*?)</title>", body, re.S)
    if title:
        return _text(title.group(1))[:220], response.status_code < 500
    return _text(body)[:220] or f"(empty {response.status_code} body)", False


class Browser:
    """One person's browser: a cookie jar, redirects followed, every request recorded."""

    def __init__(self, base_url: str, recorder: Recorder, role: str, timeout: float = 30):
        self.recorder = recorder
        self.role = role
        self.client = httpx.Client(
            base_url=base_url,
            follow_redirects=True,
            timeout=httpx.Timeout(timeout, connect=5),
            headers={"User-Agent": "billing-admin-bench/1"},
        )

    def close(self) -> None:
        self.client.close()

    def request(
        self,
        step: str,
        method: str,
        url: str,
        *,
        params: dict | None = None,
        data: dict | None = None,
        ok: tuple[int, ...] = (200,),
        refused: tuple[int, ...] = (),
    ) -> httpx.Response | None:
        started = self.recorder.now()
        t = time.perf_counter()
        try:
            response = self.client.request(method, url, params=params, data=data)
        except httpx.HTTPError as exc:
            self.recorder.add(
                Sample(
                    step,
                    self.role,
                    started,
                    (time.perf_counter() - t) * 1000,
                    None,
                    "error",
                    "transport",
                    False,
                    f"{type(exc).__name__}: {exc}"[:220],
                )
            )
            return None
        ms = (time.perf_counter() - t) * 1000
        status = response.status_code
        rids = tuple(r.headers.get("x-request-id", "") for r in (*response.history, response))
        signed_out = step not in ("sign in", "login page") and response.url.path.startswith(
            "/accounts/login"
        )
        if status in ok and not signed_out:
            outcome, kind, friendly, text = "ok", "", True, ""
        elif status in refused:
            text, friendly = snippet_of(response)
            outcome, kind = "refused", ""
        else:
            text, friendly = snippet_of(response)
            if signed_out:
                text = "sent to the sign-in page (session lost): " + text
            outcome, kind = "error", ("5xx" if status >= 500 else "unexpected")
        self.recorder.add(
            Sample(step, self.role, started, ms, status, outcome, kind, friendly, text, rids)
        )
        return response

    def get(self, step: str, url: str, **kw) -> httpx.Response | None:
        return self.request(step, "GET", url, **kw)

    def post(self, step: str, url: str, data: dict, **kw) -> httpx.Response | None:
        return self.request(step, "POST", url, data=data, **kw)


# --- reading pages --------------------------------------------------------------------------
_INPUT = re.compile(r"<input\b[^>]*>", re.S)
_ATTR = re.compile(r'(\w[\w-]*)="([^"]*)"')


def form_fields(page: str, action: str) -> dict[str, str] | None:
    """The hidden fields (and CSRF token) of the form posting to `action`, or None."""
    match = re.search(
        r'<form\b[^>]*\baction="' + re.escape(action) + r'"[^>]*>(.*?)</form>', page, re.S
    )
    if not match:
        return None
    fields: dict[str, str] = {}
    for tag in _INPUT.findall(match.group(1)):
        attrs = dict(_ATTR.findall(tag))
        if attrs.get("type") == "hidden" and "name" in attrs:
            fields[attrs["name"]] = html.unescape(attrs.get("value", ""))
        elif attrs.get("type") == "checkbox" and "name" in attrs:
            fields[f"checkbox:{attrs['name']}"] = "on"
    return fields


def link_params(page: str, *required: str) -> list[dict[str, str]]:
    """Query parameters of every `href="?..."` link that has all of `required`."""
    found = []
    for href in re.findall(r'href="(\?[^"]*)"', page):
        query = parse_qs(urlsplit(html.unescape(href)).query)
        params = {k: v[0] for k, v in query.items()}
        if all(name in params for name in required):
            found.append(params)
    return found


def inbox_rows(page: str) -> list[tuple[int, str]]:
    """(invoice id, status) of each row of the approvals inbox."""
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", page, re.S):
        link = re.search(r'href="/invoices/(\d+)/"', row)
        status = re.search(r'class="badge status-([a-z_]+)"', row)
        if link and status:
            rows.append((int(link.group(1)), status.group(1)))
    return rows
