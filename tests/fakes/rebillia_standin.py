"""A loopback stand-in for Rebillia, speaking the documented wire (upstream/rebillia.md) and
backed by the embedded engine (`billing_engine.api`): real validation of the create body, real
invoices in the engine's tables, and their void (refused once paid: the engine's
`record_adhoc_payment` stands in for a customer paying).

In tests: `register_rebillia(httpserver, share_connection=connection)`; the adapter's base URL is
`httpserver.url_for("/v1")` and countries are served at the root (`/globals/countries`).
Elsewhere: `server = start_rebillia_standin()`, REBILLIA_BASE_URL=server.url_for("/v1"),
REBILLIA_API_KEY=STANDIN_API_KEY.

The invoice listing (`GET /v1/invoices?customerId=`) is the same assumption the adapter makes
(it is not in the documented subset).
"""

from __future__ import annotations

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from .wire import EngineAccess, body_of, reply, route

STANDIN_API_KEY = "rb_standin_0123456789abcdef0123456789abcdef"
ID = r"(?P<id>[^/]+)"
MAX_PER_PAGE = 250


def _paging(request: Request) -> tuple[int, int] | None:
    page, per_page = request.args.get("pageNo", "1"), request.args.get("itemPerPage", "25")
    if not (page.isdigit() and per_page.isdigit()):
        return None
    page_no, per = int(page), int(per_page)
    if page_no < 1 or not 1 <= per <= MAX_PER_PAGE:
        return None
    return page_no, per


def _envelope(items: list, total: int, page: int, per_page: int) -> dict:
    return {
        "currentPageNumber": page,
        "itemsPerPage": per_page,
        "totalItems": total,
        "totalPages": (total + per_page - 1) // per_page,
        "data": items,
    }


def _customer(info) -> dict:
    first, _, last = (info.contact_name or "").partition(" ")
    return {
        "id": info.account_number,
        "firstName": first,
        "lastName": last,
        "email": info.email,
        "businessName": info.name,
        "status": "active",
    }


def register_rebillia(
    server: HTTPServer,
    *,
    api_key: str = STANDIN_API_KEY,
    latency_s: float = 0.0,
    share_connection=None,
) -> EngineAccess:
    """Register Rebillia's endpoints on `server` (under /v1, countries at the root)."""
    from billing_engine import api
    from billing_engine.models import AdhocInvoice

    access = EngineAccess(share_connection=share_connection, latency_s=latency_s)

    def guard(request: Request) -> Response | None:
        if request.headers.get("X-AUTH-TOKEN") != api_key:
            return reply({"error": "Invalid or missing X-AUTH-TOKEN"}, 401)
        return None

    def errors(exc: Exception) -> Response | None:
        if isinstance(exc, api.NotFound):
            return reply({"code": "NOT_FOUND", "message": exc.message}, 404)
        if isinstance(exc, api.InvoiceAlreadyPaid | api.InvalidState):
            return reply({"code": "INVALID_STATE", "message": exc.message}, 409)
        if isinstance(exc, api.EngineError):
            return reply({"code": "VALIDATION_FAILED", "message": exc.message}, 400)
        return None

    def add(method: str, pattern: str, handler) -> None:
        route(server, method, pattern, handler, guard=guard, access=access, errors=errors)

    def bad_paging() -> Response:
        return reply({"error": "pageNo must be >= 1 and itemPerPage between 1 and 250"}, 400)

    def customers(request: Request) -> Response:
        paging = _paging(request)
        if paging is None:
            return bad_paging()
        page, per = paging
        rows, total = api.search_customers(
            query=request.args.get("query", ""), offset=(page - 1) * per, limit=per
        )
        return reply(_envelope([_customer(row) for row in rows], total, page, per))

    def customer(request: Request, id: str) -> Response:
        return reply(_customer(api.get_customer(id)))

    def payment_methods(request: Request, id: str) -> Response:
        return reply(
            [
                {
                    "id": row.id,
                    "type": row.type,
                    "accountName": row.account_name,
                    "accountNumber": row.masked_number,
                }
                for row in api.payment_methods(id)
            ]
        )

    def address_books(request: Request, id: str) -> Response:
        rows = [
            {
                "id": row.id,
                "contactName": row.contact_name,
                "street1": row.street1,
                "street2": row.street2,
                "city": row.city,
                "state": row.state,
                "zip": row.zip,
                "countryId": row.country_id,
                "type": row.type,
                "contactEmail": row.contact_email,
                "contactPhone": row.contact_phone,
                "contactCompany": row.contact_company,
            }
            for row in api.address_book(id)
        ]
        return reply(_envelope(rows, len(rows), 1, max(len(rows), 1)))

    def currencies(request: Request) -> Response:
        return reply(
            [
                {
                    "id": row.id,
                    "currency": {"iso3": row.iso3, "symbol": row.symbol, "name": row.name},
                }
                for row in api.currencies()
            ]
        )

    def gateways(request: Request) -> Response:
        if request.args.get("status") != "active":
            return reply({"error": "status=active is required"}, 400)
        rows = [
            {"id": row.id, "displayName": row.display_name, "type": row.type, "status": row.status}
            for row in api.gateways(request.args.get("companyCurrencyId", ""))
        ]
        return reply(_envelope(rows, len(rows), 1, max(len(rows), 1)))

    def countries(request: Request) -> Response:
        return reply(
            [{"id": row.id, "alpha2Code": row.alpha2, "name": row.name} for row in api.countries()]
        )

    def create(request: Request) -> Response:
        try:
            body = body_of(request)
        except ValueError:
            return Response("Malformed JSON body", status=400, content_type="text/plain")
        return reply(api.create_adhoc_invoice(body))

    def list_invoices(request: Request) -> Response:
        paging = _paging(request)
        if paging is None:
            return bad_paging()
        page, per = paging
        rows = AdhocInvoice.objects.order_by("-id")
        customer_id = request.args.get("customerId")
        if customer_id:
            if not customer_id.isdigit():
                return reply({"error": "customerId must be a number"}, 400)
            rows = rows.filter(customer__account_number=int(customer_id))
        total = rows.count()
        chunk = [
            api.get_adhoc_invoice(pk)
            for pk in rows.values_list("pk", flat=True)[(page - 1) * per : page * per]
        ]
        return reply(_envelope(chunk, total, page, per))

    def invoice(request: Request, id: str) -> Response:
        return reply(api.get_adhoc_invoice(id))

    def void(request: Request, id: str) -> Response:
        return reply(api.void_adhoc_invoice(id))

    add("GET", "/v1/customers", customers)
    add("GET", f"/v1/customers/{ID}", customer)
    add("GET", f"/v1/customers/{ID}/paymentmethods", payment_methods)
    add("GET", f"/v1/customers/{ID}/addressbooks", address_books)
    add("GET", "/v1/currencies", currencies)
    add("GET", "/v1/gateways", gateways)
    add("GET", "/globals/countries", countries)
    add("POST", "/v1/invoices", create)
    add("GET", "/v1/invoices", list_invoices)
    add("GET", f"/v1/invoices/{ID}", invoice)
    add("PUT", f"/v1/invoices/{ID}/void", void)
    return access


def start_rebillia_standin(
    latency_s: float = 0.0, *, host: str = "127.0.0.1", port: int = 0
) -> HTTPServer:
    """Start a threaded Rebillia stand-in on loopback. Credential: STANDIN_API_KEY."""
    server = HTTPServer(host=host, port=port, threaded=True)
    register_rebillia(server, latency_s=latency_s)
    server.start()
    return server


__all__ = ["STANDIN_API_KEY", "register_rebillia", "start_rebillia_standin"]
