"""A loopback stand-in for Zenskar, speaking the documented wire (upstream/zenskar.md) and backed
by the embedded engine (`billing_engine.api`), so the Zenskar adapter can be run against real
billing behaviour: real cycles, real rating, one draft per cycle, approval locks the cycle,
credit notes never more than is left, a void only at a zero balance (INVOICE_CANNOT_BE_VOIDED).

In tests: `register_zenskar(httpserver, share_connection=connection)`.
Elsewhere (a load benchmark, a demo): `server = start_zenskar_standin(latency_s=0.05)`, then set
ZENSKAR_BASE_URL=server.url_for("").rstrip("/"), ZENSKAR_API_KEY=STANDIN_API_KEY,
ZENSKAR_ORGANISATION=STANDIN_ORGANISATION; `server.stop()` when done. Django must be set up and
its database migrated (the engine's tables hold the data).
"""

from __future__ import annotations

import base64
import calendar
import json
import uuid
from datetime import date, timedelta
from decimal import Decimal

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from .wire import EngineAccess, body_of, iso, reply, route

STANDIN_API_KEY = "zk_standin_0123456789abcdef0123456789abcdef"
STANDIN_ORGANISATION = "00000000-0000-4000-8000-00000000abcd"
UUID_PATH = r"(?P<id>[0-9A-Za-z_-]+)"


def _scale(currency: str) -> Decimal:
    from invoices.money import exponent

    return Decimal(10) ** exponent(currency)


def _major_minor(minor: int, currency: str) -> Decimal:
    from invoices.money import to_major

    return to_major(minor, currency)


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(cursor.encode()))["offset"])
    except (ValueError, KeyError, TypeError):
        return -1


def _anchor_date(start: date, day: int) -> date:
    """A date on or after `start` whose day of month is the anchor day (in a month long enough
    to show it): what Zenskar's `anchor_date` carries."""
    year, month = start.year, start.month
    for _ in range(12):
        if calendar.monthrange(year, month)[1] >= day:
            return date(year, month, day)
        month += 1
        if month == 13:
            year, month = year + 1, 1
    return start  # pragma: no cover - every anchor day fits some month of a year


def _summary(info) -> dict:
    return {
        "id": info.id,
        "name": info.name,
        "status": info.status,
        "currency": info.currency,
        "customer_id": info.customer.id,
        "customer": {
            "id": info.customer.id,
            "customer_name": info.customer.name,
            "email": info.customer.email,
        },
        "start_date": iso(info.start_date),
        "end_date": iso(info.end_date) if info.end_date else None,
    }


def _contract(info) -> dict:
    scale = _scale(info.currency)
    refs = {ref.id: ref for ref in info.pricing_refs}
    period = {"cadence": info.cadence, "offset": "start" if info.in_advance else "end"}
    phases = []
    for ref, term in zip(info.phase_refs, info.phases, strict=True):
        pricings = []
        for pricing in term.pricings:
            pricings.append(
                {
                    "id": pricing.id,
                    "product_id": refs[pricing.id].product_id,
                    "start_date": iso(pricing.start),
                    "end_date": iso(pricing.end) if pricing.end else None,
                    "product": {
                        "name": pricing.product_name,
                        "sku": pricing.sku,
                        "description": pricing.description,
                    },
                    "pricing": {
                        "pricing_data": {
                            "pricing_type": pricing.pricing_type,
                            "currency": info.currency,
                            "unit_amount": pricing.unit_amount_minor / scale,
                            "tiers": [
                                {"up_to": tier.up_to, "unit_amount": tier.unit_amount_minor / scale}
                                for tier in pricing.tiers
                            ],
                        },
                        "quantity": {
                            "type": "fixed",
                            "quantity": pricing.quantity,
                            "unit": refs[pricing.id].unit,
                        },
                        "billing_period": period,
                    },
                }
            )
        phases.append(
            {
                "id": ref.id,
                "name": ref.name,
                "start_date": iso(term.start),
                "end_date": iso(term.end) if term.end else None,
                "phase_type": term.phase_type,
                "pricings": pricings,
            }
        )
    day = info.billing_cycle_start_day
    return {
        **_summary(info),
        "anchor_date": iso(_anchor_date(info.start_date, min(day, 31))),
        "is_last_day_of_month": day >= 31,
        "phases": phases,
    }


def _invoice(info) -> dict:
    total = _major_minor(info.total_minor, info.currency)
    due = _major_minor(info.amount_due_minor, info.currency)
    return {
        "id": info.id,
        "invoice_number": info.number,
        "status": info.status,
        "contract_id": info.contract_id,
        "customer_id": info.customer_id,
        "currency": info.currency,
        "invoice_period": {
            "begin_date": iso(info.period_start),
            "end_date_exclusive": iso(info.period_end),
        },
        "invoice_total": total,
        "amount_due": due,
        "due_date": iso(info.period_end + timedelta(days=30)),
        "created_at": iso(info.created_at) if info.created_at else None,
    }


def _line_items(info) -> dict:
    scale = _scale(info.currency)
    return {
        "total": len(info.lines),
        "lines": [
            {
                "name": line.product_name,
                "description": line.description,
                "quantity": {"value": line.quantity, "unit": line.unit},
                "price": {"value": line.unit_amount_minor / scale},
                "subtotal": {"value": _major_minor(line.amount_minor, info.currency)},
                "service_start_date": iso(line.service_start),
                "service_end_date": iso(line.service_end),
            }
            for line in info.lines
        ],
    }


def register_zenskar(
    server: HTTPServer,
    *,
    api_key: str = STANDIN_API_KEY,
    organisation: str = STANDIN_ORGANISATION,
    latency_s: float = 0.0,
    share_connection=None,
    cycles_envelope: bool = False,
) -> EngineAccess:
    """Register Zenskar's endpoints on `server`. Returns the engine access (close it when done
    if a connection was shared). `cycles_envelope` answers billing cycles as {"results": [...]}
    instead of a bare array."""
    from billing_engine import api
    from billing_engine.models import Customer

    access = EngineAccess(share_connection=share_connection, latency_s=latency_s)

    def guard(request: Request) -> Response | None:
        bearer = request.headers.get("Authorization", "")
        if request.headers.get("x-api-key") != api_key and bearer != f"Bearer {api_key}":
            return reply({"detail": "Invalid API key"}, 401)
        if request.headers.get("organisation") != organisation:
            return reply({"Message": "User is not authorized to access this resource"}, 403)
        if request.headers.get("apiversion") != "20230501":
            return reply({"detail": "Unsupported apiversion"}, 400)
        return None

    def errors(exc: Exception) -> Response | None:
        if isinstance(exc, api.NotFound):
            return reply({"detail": exc.message}, 404)
        if isinstance(exc, api.InvoiceAlreadyGeneratedForThisBillingPeriod):
            return reply({"detail": exc.message}, 400)
        if isinstance(exc, api.ValidationFailed):
            detail = [
                {"loc": ["body", name], "msg": msg, "type": "value_error"}
                for name, messages in exc.field_errors.items()
                for msg in messages
            ]
            return reply({"detail": detail}, 422)
        if isinstance(exc, api.EngineError):
            return reply({"detail": exc.message}, 400)
        return None

    def add(method: str, pattern: str, handler) -> None:
        route(server, method, pattern, handler, guard=guard, access=access, errors=errors)

    def list_contracts(request: Request) -> Response:
        offset = _offset(request.args.get("cursor"))
        try:
            limit = int(request.args.get("limit", "20"))
        except ValueError:
            limit = -1
        if offset < 0 or not 1 <= limit <= 100:
            return reply({"detail": [{"loc": ["query", "cursor"], "msg": "invalid paging"}]}, 422)
        name = (request.args.get("name__ilike") or "").strip().strip("%").lower()
        status = request.args.get("status")
        customer = request.args.get("customer_id")
        rows, start = [], 0
        while True:  # the engine also matches customer names; Zenskar's filter is the name only
            page, total = api.search_contracts(query=name, offset=start, limit=api.MAX_PAGE)
            rows.extend(page)
            start += len(page)
            if not page or start >= total:
                break
        rows = [
            row
            for row in rows
            if name in row.name.lower()
            and (not status or row.status == status)
            and (not customer or row.customer.id == customer)
        ]
        chunk = rows[offset : offset + limit]
        more = offset + limit < len(rows)
        return reply(
            {
                "results": [_summary(row) for row in chunk],
                "next": _cursor(offset + limit) if more else None,
                "previous": _cursor(max(0, offset - limit)) if offset else None,
                "total_count": len(rows),
            }
        )

    def get_contract(request: Request, id: str) -> Response:
        return reply(_contract(api.get_contract(id)))

    def get_customer(request: Request, id: str) -> Response:
        try:
            customer = Customer.objects.filter(pk=uuid.UUID(id)).first()
        except ValueError:
            customer = None
        if customer is None:
            return reply({"detail": "Customer not found"}, 404)
        return reply(
            {"id": str(customer.pk), "customer_name": customer.name, "email": customer.email}
        )

    def billing_cycles(request: Request, id: str) -> Response:
        entries = api.billing_cycles(id)
        limit = request.args.get("limit")
        if limit and limit.isdigit():
            entries = entries[: int(limit)]
        return reply({"results": entries} if cycles_envelope else entries)

    def generate(request: Request) -> Response:
        try:
            body = body_of(request)
        except ValueError:
            return reply({"detail": [{"loc": ["body"], "msg": "invalid JSON"}]}, 422)
        fields = (
            "customer_id",
            "contract_id",
            "from_date",
            "to_date",
            "bill_for_date",
            "billing_cycle_start_day",
        )
        if not isinstance(body, dict):
            return reply({"detail": [{"loc": ["body"], "msg": "must be an object"}]}, 422)
        missing = [name for name in fields if name not in body]
        if missing:
            detail = [{"loc": ["body", n], "msg": "field required"} for n in missing]
            return reply({"detail": detail}, 422)
        return reply(api.generate_invoice(**{name: body[name] for name in fields}))

    def get_invoice(request: Request, id: str) -> Response:
        return reply(_invoice(api.get_invoice(id)))

    def line_items(request: Request, id: str) -> Response:
        return reply(_line_items(api.get_invoice(id)))

    def approve(request: Request, id: str) -> Response:
        try:
            body = body_of(request)
        except ValueError:
            return reply({"detail": [{"loc": ["body"], "msg": "a JSON body is required"}]}, 422)
        if body != {}:
            return reply({"detail": [{"loc": ["body"], "msg": "expected {}"}]}, 422)
        return reply(_invoice(api.approve_invoice(id)))

    def delete(request: Request, id: str) -> Response:
        api.delete_invoice(id)
        return reply(None, 204)

    def credit_note(request: Request, id: str) -> Response:
        from invoices.money import MoneyError, to_major, to_minor

        try:
            body = body_of(request)
        except ValueError:
            return reply({"detail": [{"loc": ["body"], "msg": "invalid JSON"}]}, 422)
        if not isinstance(body, dict) or "credit_note_amount" not in body:
            return reply(
                {"detail": [{"loc": ["body", "credit_note_amount"], "msg": "required"}]}, 422
            )
        amount = body["credit_note_amount"]
        if isinstance(amount, bool) or not isinstance(amount, int | Decimal):
            return reply(
                {"detail": [{"loc": ["body", "credit_note_amount"], "msg": "a number"}]}, 422
            )
        currency = api.get_invoice(id).currency
        try:
            minor = to_minor(Decimal(amount), currency)
        except MoneyError as exc:
            return reply(
                {"detail": [{"loc": ["body", "credit_note_amount"], "msg": str(exc)}]}, 422
            )
        note = api.credit_invoice(id, amount_minor=minor, reason=str(body.get("reason") or ""))
        return reply(
            {
                "id": note.id,
                "credit_note_number": note.number,
                "invoice_id": note.invoice_id,
                "amount": to_major(note.amount_minor, currency),
                "reason": note.reason,
            }
        )

    def void(request: Request, id: str) -> Response:
        try:
            body = body_of(request)
        except ValueError:
            return reply({"detail": [{"loc": ["body"], "msg": "a JSON body is required"}]}, 422)
        if body != {}:
            return reply({"detail": [{"loc": ["body"], "msg": "expected {}"}]}, 422)
        return reply(_invoice(api.void_invoice(id)))

    add("GET", "/contract_v2", list_contracts)
    add("GET", f"/contract_v2/{UUID_PATH}", get_contract)
    add("GET", f"/customers/{UUID_PATH}", get_customer)
    add("GET", f"/contracts/{UUID_PATH}/billingCycles", billing_cycles)
    add("POST", "/invoices/generate_invoice", generate)
    add("GET", f"/invoices/{UUID_PATH}", get_invoice)
    add("GET", f"/invoices/{UUID_PATH}/line_items", line_items)
    add("PATCH", f"/invoices/{UUID_PATH}/approve", approve)
    add("DELETE", f"/invoices/{UUID_PATH}", delete)
    add("POST", f"/invoices/{UUID_PATH}/credit_note", credit_note)
    add("PATCH", f"/invoices/{UUID_PATH}/void", void)
    return access


def start_zenskar_standin(
    latency_s: float = 0.0, *, host: str = "127.0.0.1", port: int = 0
) -> HTTPServer:
    """Start a threaded Zenskar stand-in on loopback (each request on its own DB connection).
    Credentials: STANDIN_API_KEY and STANDIN_ORGANISATION. Stop it with `server.stop()`."""
    server = HTTPServer(host=host, port=port, threaded=True)
    register_zenskar(server, latency_s=latency_s)
    server.start()
    return server


__all__ = [
    "STANDIN_API_KEY",
    "STANDIN_ORGANISATION",
    "register_zenskar",
    "start_zenskar_standin",
]
