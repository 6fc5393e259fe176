"""Zenskar adapter for contract-cycle invoicing (see /work/shared/upstream/zenskar.md).

All of Zenskar's HTTP lives here and in `zenskar_corrections` (credit notes and voids); replies
are parsed into the port's dataclasses at this boundary (`zenskar_wire`).

Choices and assumptions beyond the documented subset (each one tolerant of the variants seen):
- Contract search sends the text as `name__ilike` (Zenskar's filter wraps it in `%...%` itself);
  it searches contract names only. The documented list endpoint has no customer-name filter (only
  `customer_id=`), so searching by customer name is not supported against Zenskar.
- `next`/`previous` in a page are cursors; when they are URLs, the `cursor` query value is used.
- Pricing types are mapped to flat_fee | per_unit | tiered | volume from the usual vendor spellings
  (`flat_fee`, `flat`, `fixed`; `per_unit`, `unit`, `standard`; `tiered`, `graduated`;
  `volume`); anything else is kept as sent and is left out of an estimated preview, with a note.
- Tier fields: the upper bound from `up_to` / `upTo` / `to` / `last_unit` / `max` (null, absent,
  "inf" or "infinity" for unbounded), the price from `unit_amount` / `unit_price` / `price` /
  `amount` / `per_unit`.
- `billing_period.offset` is read as timing when it is a recognisable word (start/advance →
  in advance; end/arrears → in arrears); otherwise the timing is left unknown (None).
- Money in replies is taken as major units of the invoice currency, parsed as Decimal.
- The billing-cycles reply is accepted as a bare array or as `{"results": [...]}`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .base import (
    AlreadyInvoicedUpstream,
    BackendError,
    BackendMisconfigured,
    BillingCycle,
    CannotBeVoided,
    CheckResult,
    Contract,
    ContractSummary,
    CustomerRef,
    CycleNotMatched,
    Draft,
    DraftState,
    NotFoundUpstream,
    OutcomeUnknown,
    Page,
    Phase,
    Preview,
    Pricing,
    RemoteInvoice,
    sum_amounts,
)
from .http import HttpClient
from .replies import Reply, ReplyLost, UnreadableReply, mask_secret
from .zenskar_corrections import CANNOT_BE_VOIDED, ZenskarCorrections
from .zenskar_wire import (
    _PRICING_TYPES,
    NAME,
    _cycle,
    _dec,
    _draft_state,
    _dt,
    _id_path,
    _in_currency,
    _line_item,
    _opt_dt,
    _period,
    _remote_invoice,
    _text,
    _tier,
    _timing,
    _unreadable,
    estimate_preview,
)

API_VERSION = "20230501"
ALREADY_GENERATED = "InvoiceAlreadyGeneratedForThisBillingPeriod"
CYCLES_LIMIT = 120  # ten years of monthly cycles
MAX_PAGE_SIZE = 100

_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


def looks_like_jwt(credential: str) -> bool:
    """Three base64url segments separated by dots."""
    return bool(_JWT.match(credential))


def auth_headers(credential: str) -> dict[str, str]:
    if looks_like_jwt(credential):
        return {"Authorization": f"Bearer {credential}"}
    return {"x-api-key": credential}


def _cursor(value: Any) -> str | None:
    """A page link as a cursor: the value itself, or the `cursor` query value of a URL."""
    if value is None or value == "":
        return None
    text = str(value)
    if "://" in text or text.startswith("/") or "?" in text:
        found = parse_qs(urlsplit(text).query).get("cursor")
        return found[0] if found else None
    return text


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


class ZenskarBackend(ZenskarCorrections):
    """CycleBackend over Zenskar's REST API (credit notes and voids: `ZenskarCorrections`)."""

    name = NAME
    preview_is_exact = False
    # Independent reads may run at the same time (see backend_cache.contract_and_cycles).
    concurrent_reads = True

    def __init__(self, *, http: HttpClient, base_url: str, organisation: str, api_key: str):
        self.http = http
        self.base_url = base_url
        self.organisation = organisation
        self._api_key = api_key

    @classmethod
    def from_settings(cls, settings, **http_overrides) -> ZenskarBackend:
        """Build from Django settings. `http_overrides` (tests): sleep, jitter, transport."""
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
        headers = {
            **auth_headers(key),
            "organisation": organisation,
            "apiversion": API_VERSION,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        http = HttpClient(
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
        return cls(http=http, base_url=base_url, organisation=organisation, api_key=key)

    def close(self) -> None:
        self.http.close()

    def __repr__(self) -> str:
        return f"<ZenskarBackend {self.base_url} key={mask_secret(self._api_key)}>"

    # --- contracts ---------------------------------------------------------------------------
    def search_contracts(
        self, *, query: str = "", cursor: str | None = None, limit: int = 20
    ) -> Page[ContractSummary]:
        """Contracts whose NAME matches `query` (case-insensitive substring). Customer names are
        not searched: Zenskar's contract list has no such filter."""
        limit = max(1, min(int(limit), MAX_PAGE_SIZE))
        params = {"limit": limit, "cursor": cursor or None, "name__ilike": query.strip() or None}
        data = self.http.request("GET", "/contract_v2", params=params).json()
        if isinstance(data, list):
            results, envelope = data, {}
        elif isinstance(data, dict) and isinstance(data.get("results"), list):
            results, envelope = data["results"], data
        else:
            raise _unreadable("the contract list has no results")
        total = envelope.get("total_count")
        if isinstance(total, bool) or not isinstance(total, int | Decimal):
            total = None
        return Page(
            items=tuple(self._summary(item) for item in results),
            next_cursor=_cursor(envelope.get("next")),
            previous_cursor=_cursor(envelope.get("previous")),
            total_count=None if total is None else int(total),
        )

    def get_contract(self, contract_id: str) -> Contract:
        path = f"/contract_v2/{_id_path(contract_id, 'contract')}"
        data = self.http.request("GET", path).json()
        if not isinstance(data, dict):
            raise _unreadable("the contract is not an object")
        return self._contract(data)

    def _customer(self, data: dict) -> CustomerRef:
        customer = data.get("customer") if isinstance(data.get("customer"), dict) else {}
        return CustomerRef(
            id=_text(customer.get("id") or data.get("customer_id")),
            name=_text(customer.get("customer_name") or customer.get("name")),
            email=_text(customer.get("email")),
        )

    def _summary(self, data: Any) -> ContractSummary:
        if not isinstance(data, dict) or not data.get("id"):
            raise _unreadable("a contract without an id")
        return ContractSummary(
            id=_text(data["id"]),
            name=_text(data.get("name")),
            status=_text(data.get("status")),
            currency=_text(data.get("currency")).upper(),
            customer=self._customer(data),
            start_date=_dt(data.get("start_date"), "contract start_date"),
            end_date=_opt_dt(data.get("end_date"), "contract end_date"),
        )

    def _contract(self, data: dict) -> Contract:
        summary = self._summary(data)
        phases = tuple(
            self._phase(item, summary.currency) for item in data.get("phases") or () if item
        )
        cadence = ""
        in_advance = None
        for phase in data.get("phases") or ():
            for item in (phase or {}).get("pricings") or ():
                period = ((item or {}).get("pricing") or {}).get("billing_period") or {}
                if not cadence and period.get("cadence"):
                    cadence = _text(period["cadence"])
                    in_advance = _timing(period.get("offset"))
        anchor_day = None
        if data.get("is_last_day_of_month"):
            anchor_day = 31
        elif data.get("anchor_date"):
            anchor_day = _dt(data["anchor_date"], "anchor_date").day
        return Contract(
            id=summary.id,
            name=summary.name,
            status=summary.status,
            currency=summary.currency,
            customer=summary.customer,
            start_date=summary.start_date,
            end_date=summary.end_date,
            phases=phases,
            billing_cycle_start_day=anchor_day,
            cadence=cadence,
            in_advance=in_advance,
        )

    def _phase(self, data: dict, currency: str) -> Phase:
        return Phase(
            id=_text(data.get("id")),
            name=_text(data.get("name")),
            phase_type=_text(data.get("phase_type") or "active").lower(),
            start_date=_dt(data.get("start_date"), "phase start_date"),
            end_date=_opt_dt(data.get("end_date"), "phase end_date"),
            pricings=tuple(
                self._pricing(item, currency) for item in data.get("pricings") or () if item
            ),
        )

    def _pricing(self, data: dict, currency: str) -> Pricing:
        product = data.get("product") or {}
        pricing = data.get("pricing") or {}
        pricing_data = pricing.get("pricing_data") or {}
        quantity = pricing.get("quantity") or {}
        if not isinstance(quantity, Mapping):
            quantity = {"quantity": quantity}
        period = pricing.get("billing_period") or {}
        raw_type = _text(pricing_data.get("pricing_type")).strip().lower()
        pricing_type = _PRICING_TYPES.get(raw_type, raw_type)
        tiers = tuple(_tier(item) for item in pricing_data.get("tiers") or () if item)
        return Pricing(
            id=_text(data.get("id")),
            product_id=_text(data.get("product_id") or product.get("id")),
            product_name=_text(product.get("name")),
            sku=_text(product.get("sku")),
            description=_text(product.get("description")),
            pricing_type=pricing_type,
            currency=_text(pricing_data.get("currency") or currency).upper(),
            unit_amount=_dec(pricing_data.get("unit_amount"), "unit_amount", Decimal(0)),
            quantity=_dec(quantity.get("quantity"), "quantity", Decimal(1)),
            unit=_text(quantity.get("unit")),
            tiers=tiers,
            cadence=_text(period.get("cadence")),
            start_date=_dt(data.get("start_date"), "pricing start_date"),
            end_date=_opt_dt(data.get("end_date"), "pricing end_date"),
        )

    # --- billing cycles ----------------------------------------------------------------------
    def list_billing_cycles(self, contract_id: str) -> tuple[BillingCycle, ...]:
        path = f"/contracts/{_id_path(contract_id, 'contract')}/billingCycles"
        data = self.http.request("GET", path, params={"limit": CYCLES_LIMIT}).json()
        if isinstance(data, dict) and isinstance(data.get("results"), list):
            data = data["results"]
        if not isinstance(data, list):
            raise _unreadable("the billing cycles are not a list")
        return tuple(_cycle(item) for item in data)

    # --- preview (estimated) -----------------------------------------------------------------
    def preview_cycle(self, contract: Contract, cycle: BillingCycle) -> Preview:
        """An estimate from the contract's terms (`zenskar_wire.estimate_preview`)."""
        return estimate_preview(contract, cycle)

    # --- drafts ------------------------------------------------------------------------------
    def generate_draft(self, *, contract_id: str, customer_id: str, cycle: BillingCycle) -> str:
        _id_path(contract_id, "contract")
        _id_path(customer_id, "customer")
        body = {
            "customer_id": customer_id,
            "contract_id": contract_id,
            **cycle.generation_fields(),
        }
        try:
            data = self.http.request("POST", "/invoices/generate_invoice", json_body=body).json()
        except (ReplyLost, UnreadableReply) as exc:
            raise OutcomeUnknown(
                f"The generate call reached Zenskar but its reply was lost ({exc.message}). A "
                "draft may or may not exist for this cycle; check Zenskar before generating "
                "again.",
                backend=NAME,
            ) from None
        ids = data.get("invoice_ids") if isinstance(data, dict) else None
        if not isinstance(ids, list):
            raise OutcomeUnknown(
                "Zenskar answered the generate call without invoice_ids; a draft may or may "
                "not exist for this cycle. Check Zenskar before generating again.",
                backend=NAME,
            )
        if not ids:
            raise CycleNotMatched(
                "Zenskar generated nothing: the billing cycle matched none of the contract's "
                "cycles (invoice_ids is empty). Refresh the billing cycles and pick one again.",
                backend=NAME,
            )
        return _text(ids[0])

    def get_draft(self, invoice_id: str) -> Draft:
        path = f"/invoices/{_id_path(invoice_id, 'invoice')}"
        invoice_reply, items_reply = self.http.concurrently(
            lambda: self.http.request("GET", path),
            lambda: self.http.request("GET", f"{path}/line_items"),
        )
        invoice = invoice_reply.json()
        if not isinstance(invoice, dict):
            raise _unreadable("the invoice is not an object")
        items = items_reply.json()
        if isinstance(items, dict):
            items = items.get("lines", items.get("results"))
        if not isinstance(items, list):
            raise _unreadable("the line items are not a list")
        period = _period(invoice)
        currency = _text(invoice.get("currency")).upper()
        lines = tuple(_line_item(item, period, currency) for item in items)
        total = invoice.get("invoice_total")
        status = _text(invoice.get("status")).lower()
        return Draft(
            id=_text(invoice.get("id") or invoice_id),
            number=_text(invoice.get("invoice_number")),
            status=status,
            state=_draft_state(status),
            currency=currency,
            total=(
                _in_currency(_dec(total, "invoice_total"), currency)
                if total is not None
                else sum_amounts(lines)
            ),
            lines=lines,
            contract_id=_text(invoice.get("contract_id")),
            customer_id=_text(invoice.get("customer_id")),
            period=period,
        )

    def _remote(self, invoice_id: str, *, recovered: bool = False) -> RemoteInvoice:
        path = f"/invoices/{_id_path(invoice_id, 'invoice')}"
        data = self.http.request("GET", path).json()
        if not isinstance(data, dict):
            raise _unreadable("the invoice is not an object")
        return _remote_invoice(data, invoice_id, recovered=recovered)

    def approve_draft(self, invoice_id: str) -> RemoteInvoice:
        path = f"/invoices/{_id_path(invoice_id, 'invoice')}/approve"
        try:
            reply = self.http.request("PATCH", path, json_body={})
        except ReplyLost as exc:
            # Approving is a state change we can observe: look before saying anything.
            try:
                found = self._remote(invoice_id, recovered=True)
            except BackendError as look:
                raise OutcomeUnknown(
                    f"The approval reached Zenskar but its reply was lost ({exc.message}), and "
                    f"reading the invoice failed ({look.message}).",
                    backend=NAME,
                ) from None
            # Past its draft, in _draft_state's words; a reply without a status tells nothing.
            if found.status and _draft_state(found.status) is DraftState.APPROVED:
                return found
            raise OutcomeUnknown(
                f"The approval reached Zenskar but its reply was lost ({exc.message}); the "
                f"invoice still reads as {found.status or 'unknown'}.",
                backend=NAME,
            ) from None
        data = reply.json_or_none()
        if isinstance(data, dict) and data.get("status") and (data.get("id") or invoice_id):
            return _remote_invoice(data, invoice_id)
        return self._remote(invoice_id)

    def delete_draft(self, invoice_id: str) -> None:
        path = f"/invoices/{_id_path(invoice_id, 'invoice')}"
        try:
            self.http.request("DELETE", path)
        except ReplyLost as exc:
            try:
                found = self._remote(invoice_id, recovered=True)
            except NotFoundUpstream:
                return None  # it is gone: the delete took effect
            except BackendError as look:
                raise OutcomeUnknown(
                    f"The delete reached Zenskar but its reply was lost ({exc.message}), and "
                    f"reading the invoice failed ({look.message}).",
                    backend=NAME,
                ) from None
            raise OutcomeUnknown(
                f"The delete reached Zenskar but its reply was lost ({exc.message}); the "
                f"invoice still exists ({found.status or 'status unknown'}).",
                backend=NAME,
            ) from None
        return None

    # --- health ------------------------------------------------------------------------------
    def check(self) -> CheckResult:
        shown = {
            "ZENSKAR_BASE_URL": self.base_url,
            "ZENSKAR_ORGANISATION": self.organisation,
            "ZENSKAR_API_KEY": mask_secret(self._api_key),
            "auth": "Bearer JWT" if looks_like_jwt(self._api_key) else "x-api-key",
        }
        try:
            page = self.search_contracts(limit=1)
        except BackendError as exc:
            return CheckResult("contract cycles", False, f"Zenskar: {exc.message}", shown)
        count = page.total_count if page.total_count is not None else len(page.items)
        return CheckResult(
            "contract cycles",
            True,
            f"Zenskar answered GET /contract_v2 ({count} contract(s) visible).",
            shown,
        )
