"""Zenskar adapter for contract-cycle invoicing (see /work/shared/upstream/zenskar.md).

All of Zenskar's HTTP lives here and in `zenskar_corrections` (credit notes and voids); the client
is built by `zenskar_client` (settings, auth, Zenskar's errors in the port's words); replies are
parsed into the port's dataclasses at this boundary (`zenskar_wire`, contracts in
`zenskar_contracts`, which lists its own assumptions about pricings, tiers and timing).

Choices and assumptions beyond the documented subset (each one tolerant of the variants seen):
- Contract search sends the text as `name__ilike` (Zenskar's filter wraps it in `%...%` itself);
  it searches contract names only. The documented list endpoint has no customer-name filter (only
  `customer_id=`), so searching by customer name is not supported against Zenskar.
- `next`/`previous` in a page are cursors; when they are URLs, the `cursor` query value is used.
- Money in replies is taken as major units of the invoice currency, parsed as Decimal.
- The billing-cycles reply is accepted as a bare array or as `{"results": [...]}`.
"""

from __future__ import annotations

from decimal import Decimal

from .base import (
    BackendError,
    BillingCycle,
    CheckResult,
    Contract,
    ContractSummary,
    CycleNotMatched,
    Draft,
    DraftState,
    NotFoundUpstream,
    OutcomeUnknown,
    Page,
    Preview,
    RemoteInvoice,
    sum_amounts,
)
from .http import HttpClient
from .replies import ReplyLost, UnreadableReply, mask_secret
from .zenskar_client import http_client, looks_like_jwt, read_settings
from .zenskar_contracts import _contract, _summary
from .zenskar_corrections import ZenskarCorrections
from .zenskar_wire import (
    NAME,
    _cursor,
    _cycle,
    _dec,
    _draft_state,
    _id_path,
    _in_currency,
    _line_item,
    _period,
    _remote_invoice,
    _text,
    _unreadable,
    estimate_preview,
)

CYCLES_LIMIT = 120  # ten years of monthly cycles
MAX_PAGE_SIZE = 100


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
        key, organisation, base_url = read_settings(settings)
        http = http_client(
            settings, base_url=base_url, organisation=organisation, key=key, **http_overrides
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
            items=tuple(_summary(item) for item in results),
            next_cursor=_cursor(envelope.get("next")),
            previous_cursor=_cursor(envelope.get("previous")),
            total_count=None if total is None else int(total),
        )

    def get_contract(self, contract_id: str) -> Contract:
        path = f"/contract_v2/{_id_path(contract_id, 'contract')}"
        data = self.http.request("GET", path).json()
        if not isinstance(data, dict):
            raise _unreadable("the contract is not an object")
        return _contract(data)

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
