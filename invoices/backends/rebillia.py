"""Rebillia adapter for ad-hoc invoices (see /work/shared/upstream/rebillia.md).

All of Rebillia's HTTP lives here and in `rebillia_corrections` (the void); replies are parsed
into the port's dataclasses at this boundary (`rebillia_wire`), and the create body is checked
and written by `rebillia_body`.

Assumptions beyond the documented subset:
- `GET /customers/{id}` returns one customer (object, or wrapped in `{"data": ...}`).
- Finding an invoice after a lost create reply lists the customer's invoices with
  `GET /invoices?customerId=<id>&pageNo=&itemPerPage=` (paged envelope or bare array). This listing
  endpoint is NOT in the documented subset; if Rebillia does not filter by customerId, the match
  still checks `customerId` on each item when it is present. An invoice matches when its
  `dateFrom`/`dateTo` (first 10 characters) and total equal the request's, and it is not voided
  or canceled. The total's unit is unverified, so both readings are accepted: integer cents
  (what the wire carries on create) or major units.
- Address-book entries use the create-body field names (`contactName`, `street1`, ... and
  `countryId`, or a `country{alpha2Code}` / `alpha2Code` / `countryCode`); a `countryId` is turned
  back into its alpha-2 code through the (cached) country list.
- `totalPages`/`currentPageNumber` drive paging in an envelope; a bare array has a next page when
  it came back full.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from django.core.cache import cache

from .base import (
    Address,
    AdhocCustomer,
    AdhocInvoiceRequest,
    BackendError,
    BackendMisconfigured,
    CheckResult,
    Country,
    Currency,
    Gateway,
    NotFoundUpstream,
    OutcomeUnknown,
    Page,
    PaymentMethod,
    RemoteInvoice,
)
from .http import HttpClient
from .rebillia_body import invoice_body
from .rebillia_corrections import RebilliaCorrections
from .rebillia_wire import (
    NAME,
    _address,
    _address_country_code,
    _country,
    _currency,
    _customer,
    _gateway,
    _id_path,
    _int_or_none,
    _items,
    _matches,
    _object,
    _payment_method,
    _positive_int,
    _remote_invoice,
    _text,
    _unreadable,
)
from .replies import ReplyLost, UnreadableReply, mask_secret

MAX_PAGE_SIZE = 250
MAX_LIST_PAGES = 20  # at most 5,000 items read when scanning a list
COUNTRY_CACHE_SECONDS = 24 * 60 * 60


class RebilliaBackend(RebilliaCorrections):
    """AdhocBackend over Rebillia's REST API. Invoices are live as soon as they are created;
    they are corrected by a void (`RebilliaCorrections`)."""

    name = NAME

    def __init__(self, *, http: HttpClient, base_url: str, root_url: str, api_key: str):
        self.http = http
        self.base_url = base_url
        self.root_url = root_url
        self._api_key = api_key
        digest = hashlib.sha256(root_url.encode()).hexdigest()[:16]
        self._country_cache_key = f"rebillia:countries:{digest}"

    @classmethod
    def from_settings(cls, settings, **http_overrides) -> RebilliaBackend:
        """Build from Django settings. `http_overrides` (tests): sleep, jitter, transport."""
        key = (getattr(settings, "REBILLIA_API_KEY", "") or "").strip()
        base_url = (getattr(settings, "REBILLIA_BASE_URL", "") or "").strip().rstrip("/")
        if not key:
            raise BackendMisconfigured(
                "ADHOC_BACKEND=rebillia needs REBILLIA_API_KEY: set it in the environment.",
                backend=NAME,
            )
        if not base_url.startswith(("https://", "http://")) or not base_url.endswith("/v1"):
            raise BackendMisconfigured(
                "REBILLIA_BASE_URL must be the API's versioned URL ending in /v1, such as "
                f"https://api.rebillia.com/v1 (it is {base_url or 'empty'!s}).",
                backend=NAME,
            )
        http = HttpClient(
            backend="Rebillia",
            base_url=base_url,
            headers={
                "X-AUTH-TOKEN": key,
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            connect_timeout=settings.BACKEND_CONNECT_TIMEOUT,
            read_timeout=settings.BACKEND_READ_TIMEOUT,
            read_retries=settings.BACKEND_READ_RETRIES,
            secrets=(key,),
            credential_settings="REBILLIA_API_KEY",
            **http_overrides,
        )
        return cls(http=http, base_url=base_url, root_url=base_url[: -len("/v1")], api_key=key)

    def close(self) -> None:
        self.http.close()

    def __repr__(self) -> str:
        return f"<RebilliaBackend {self.base_url} key={mask_secret(self._api_key)}>"

    # --- customers ---------------------------------------------------------------------------
    def search_customers(
        self, *, query: str = "", cursor: str | None = None, limit: int = 20
    ) -> Page[AdhocCustomer]:
        page = _positive_int(cursor) or 1
        per_page = max(1, min(int(limit), MAX_PAGE_SIZE))
        params = {
            "query": query.strip() or None,
            "status": "active",
            "pageNo": page,
            "itemPerPage": per_page,
        }
        data = self.http.request("GET", "/customers", params=params).json()
        items, envelope = _items(data, "the customer list")
        if envelope is not None:
            total_pages = _int_or_none(envelope.get("totalPages")) or 0
            current = _int_or_none(envelope.get("currentPageNumber")) or page
            has_next = current < total_pages
            total = _int_or_none(envelope.get("totalItems"))
        else:
            current, has_next, total = page, len(items) >= per_page, None
        return Page(
            items=tuple(_customer(item) for item in items),
            next_cursor=str(current + 1) if has_next else None,
            previous_cursor=str(current - 1) if current > 1 else None,
            total_count=total,
        )

    def get_customer(self, customer_id: str) -> AdhocCustomer:
        data = self.http.request("GET", f"/customers/{_id_path(customer_id, 'customer')}")
        return _customer(_object(data.json(), "the customer"))

    def payment_methods(self, customer_id: str) -> tuple[PaymentMethod, ...]:
        path = f"/customers/{_id_path(customer_id, 'customer')}/paymentmethods"
        items, _ = _items(self.http.request("GET", path).json(), "the payment methods")
        return tuple(_payment_method(item) for item in items)

    def address_book(self, customer_id: str) -> tuple[Address, ...]:
        path = f"/customers/{_id_path(customer_id, 'customer')}/addressbooks"
        items, _ = _items(self.http.request("GET", path).json(), "the address book")
        by_id = None
        addresses = []
        for item in items:
            if not isinstance(item, Mapping):
                raise _unreadable("an address is not an object")
            code = _address_country_code(item)
            if not code and item.get("countryId") is not None:
                if by_id is None:
                    by_id = {country.id: country.code for country in self.countries()}
                code = by_id.get(_text(item.get("countryId")), "")
            addresses.append(_address(item, code))
        return tuple(addresses)

    # --- reference data ----------------------------------------------------------------------
    def currencies(self) -> tuple[Currency, ...]:
        items, _ = _items(self.http.request("GET", "/currencies").json(), "the currencies")
        return tuple(_currency(item) for item in items)

    def gateways(self, currency_id: str) -> tuple[Gateway, ...]:
        number = _positive_int(currency_id)
        if number is None:
            raise NotFoundUpstream(f"{currency_id!r} is not a valid currency id", backend=NAME)
        params = {"status": "active", "companyCurrencyId": number}
        items, _ = _items(
            self.http.request("GET", "/gateways", params=params).json(), "the gateways"
        )
        gateways = (_gateway(item) for item in items)
        return tuple(gateway for gateway in gateways if gateway is not None)

    def countries(self) -> tuple[Country, ...]:
        """The country list from `{root}/globals/countries`, cached in Django's cache."""
        cached = cache.get(self._country_cache_key)
        if cached is not None:
            return cached
        result: list[Country] = []
        page = 1
        while page <= MAX_LIST_PAGES:
            reply = self.http.request(
                "GET",
                f"{self.root_url}/globals/countries",
                params={"pageNo": page, "itemPerPage": MAX_PAGE_SIZE},
            )
            items, envelope = _items(reply.json(), "the country list")
            for item in items:
                country = _country(item)
                if country is not None:
                    result.append(country)
            if envelope is None:
                break
            total_pages = _int_or_none(envelope.get("totalPages")) or 0
            if page >= total_pages or not items:
                break
            page += 1
        countries = tuple(result)
        if countries:
            cache.set(self._country_cache_key, countries, COUNTRY_CACHE_SECONDS)
        return countries

    def country_id(self, alpha2: str) -> int | None:
        code = (alpha2 or "").strip().upper()
        for country in self.countries():
            if country.code == code:
                return _int_or_none(country.id)
        return None

    # --- invoices ----------------------------------------------------------------------------
    def build_invoice_body(self, request: AdhocInvoiceRequest) -> dict[str, Any]:
        """The create body exactly as it goes on the wire (`rebillia_body.invoice_body`), or
        BackendRejected with field errors when the request cannot be sent as it is."""
        return invoice_body(request, self.country_id)

    def create_invoice(
        self, request: AdhocInvoiceRequest, *, known: frozenset[str] = frozenset()
    ) -> RemoteInvoice:
        """POST the invoice once. Never re-sent: when the reply is lost (timeout, dropped
        connection, 5xx, unreadable or empty body) the adapter looks for it instead."""
        body = self.build_invoice_body(request)
        try:
            reply = self.http.request("POST", "/invoices", json_body=body)
        except ReplyLost as exc:
            return self._recover(request, known, f"its reply was lost ({exc.message})")
        if reply.is_empty:
            return self._recover(request, known, "Rebillia accepted it without saying its id")
        try:
            data = _object(reply.json(), "the created invoice")
        except UnreadableReply as exc:
            return self._recover(request, known, f"its reply could not be read ({exc.message})")
        if data.get("id") is None:
            return self._recover(request, known, "Rebillia's reply did not say its id")
        return _remote_invoice(data, request)

    def _recover(
        self, request: AdhocInvoiceRequest, known: frozenset[str], why: str
    ) -> RemoteInvoice:
        try:
            found = self._matching_invoices(request, known)
        except BackendError as exc:
            raise OutcomeUnknown(
                f"The invoice was sent to Rebillia but {why}; looking for it failed "
                f"({exc.message}). It was not sent again.",
                backend=NAME,
            ) from None
        if len(found) == 1:
            return found[0]
        if not found:
            raise OutcomeUnknown(
                f"The invoice was sent to Rebillia but {why}; no invoice of this customer for "
                f"{request.date_from} to {request.date_to} with this total was found. It was not "
                "sent again.",
                backend=NAME,
            )
        raise OutcomeUnknown(
            f"The invoice was sent to Rebillia but {why}; {len(found)} invoices of this customer "
            f"for {request.date_from} to {request.date_to} with this total were found "
            f"(ids {', '.join(invoice.id for invoice in found)}). It was not sent again.",
            backend=NAME,
        )

    def find_invoice(
        self, request: AdhocInvoiceRequest, *, known: frozenset[str] = frozenset()
    ) -> RemoteInvoice | None:
        """The one live invoice for the same customer, period and total (none of `known`); None
        when there is none; OutcomeUnknown when several match (a person must pick)."""
        found = self._matching_invoices(request, known)
        if len(found) > 1:
            raise OutcomeUnknown(
                f"{len(found)} Rebillia invoices match this customer, period and total "
                f"(ids {', '.join(invoice.id for invoice in found)}).",
                backend=NAME,
            )
        return found[0] if found else None

    def _matching_invoices(
        self, request: AdhocInvoiceRequest, known: frozenset[str]
    ) -> list[RemoteInvoice]:
        customer = _positive_int(request.customer_id)
        if customer is None:
            return []
        matches = []
        page = 1
        while page <= MAX_LIST_PAGES:
            params = {"customerId": customer, "pageNo": page, "itemPerPage": MAX_PAGE_SIZE}
            items, envelope = _items(
                self.http.request("GET", "/invoices", params=params).json(), "the invoice list"
            )
            for item in items:
                if isinstance(item, Mapping) and _matches(item, request, customer):
                    found = _remote_invoice(item, request, recovered=True)
                    if found.id not in known:  # another record of ours holds it
                        matches.append(found)
            if envelope is not None:
                total_pages = _int_or_none(envelope.get("totalPages")) or 0
                more = page < total_pages
            else:
                more = len(items) >= MAX_PAGE_SIZE
            if not more or not items:
                break
            page += 1
        return matches

    # --- health ------------------------------------------------------------------------------
    def check(self) -> CheckResult:
        shown = {
            "REBILLIA_BASE_URL": self.base_url,
            "REBILLIA_API_KEY": mask_secret(self._api_key),
        }
        try:
            currencies = self.currencies()
        except BackendError as exc:
            return CheckResult("ad-hoc invoices", False, f"Rebillia: {exc.message}", shown)
        codes = ", ".join(c.code for c in currencies) or "none"
        return CheckResult(
            "ad-hoc invoices",
            True,
            f"Rebillia answered GET /currencies ({len(currencies)} currency(ies): {codes}).",
            shown,
        )
