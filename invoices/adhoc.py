"""Ad-hoc invoice requests as stored on the local Invoice (JSON) and as snapshot lines, and what
a manager reads of them: every value approval sends, with the names the ids stood for."""

from dataclasses import asdict, dataclass
from datetime import date

from . import money
from .backends.base import Address, AdhocInvoiceRequest, AdhocLine

#: The key of the stored request that holds what its ids stood for when it was submitted.
SHOWN_KEY = "shown"

PAYMENT_TYPE_LABELS = {
    "": "—",
    "offlinePaymentProvider": "Offline payment",
    "thirdPartyPaymentProvider": "Third-party payment provider",
    "walletPaymentProvider": "Wallet",
    "otherPayment": "Other",
}


@dataclass(frozen=True)
class AdhocShown:
    """The names the backend gave the request's ids when the clerk submitted it. Stored with the
    request (so the manager's pages need no backend call, and the names are part of the content
    hash): the manager approves what the clerk saw, not an id."""

    customer: str = ""  # the customer's display name
    currency: str = ""  # "USD — US Dollar"
    gateway: str = ""  # "Stripe USD"
    payment_method: str = ""  # "CARD Dana Whitfield •••• 4242", masked by the backend
    billing_country: str = ""  # the country's name
    shipping_country: str = ""


def adhoc_request_to_json(request: AdhocInvoiceRequest, shown: AdhocShown | None = None) -> dict:
    data = asdict(request)
    for key in ("date_from", "date_to", "date_due"):
        data[key] = data[key].isoformat()
    if shown is not None:
        data[SHOWN_KEY] = asdict(shown)
    return data


def _address(data: dict | None) -> Address | None:
    return Address(**data) if data else None


def adhoc_request_from_json(data: dict) -> AdhocInvoiceRequest:
    data = {k: v for k, v in data.items() if k != SHOWN_KEY}
    return AdhocInvoiceRequest(
        **{
            **data,
            "date_from": date.fromisoformat(data["date_from"]),
            "date_to": date.fromisoformat(data["date_to"]),
            "date_due": date.fromisoformat(data["date_due"]),
            "lines": tuple(AdhocLine(**line) for line in data["lines"]),
            "billing_address": _address(data.get("billing_address")),
            "shipping_address": _address(data.get("shipping_address")),
        }
    )


def adhoc_shown_from_json(data: dict) -> AdhocShown:
    return AdhocShown(**(data.get(SHOWN_KEY) or {}))


def adhoc_snapshot_lines(request: AdhocInvoiceRequest) -> list[dict]:
    """The request's lines in the snapshot shape every invoice page shows (shipping last)."""
    currency = request.currency_code
    lines = [
        {
            "name": line.description,
            "description": "",
            "quantity": str(line.quantity),
            "unit": "",
            "unit_price": money.format_amount(line.unit_amount_minor, currency),
            "amount": money.format_amount(line.amount_minor, currency),
            "amount_minor": line.amount_minor,
            "service_start": request.date_from.isoformat(),
            "service_end": request.date_to.isoformat(),
            "prorated": False,
            "note": "",
        }
        for line in request.lines
    ]
    if request.shipping_minor:
        lines.append(
            {
                "name": "Shipping",
                "description": "",
                "quantity": "1",
                "unit": "",
                "unit_price": money.format_amount(request.shipping_minor, currency),
                "amount": money.format_amount(request.shipping_minor, currency),
                "amount_minor": request.shipping_minor,
                "service_start": None,
                "service_end": None,
                "prorated": False,
                "note": "shipping",
            }
        )
    return lines


# --- what the manager reads ------------------------------------------------------------------
@dataclass(frozen=True)
class Fact:
    label: str
    value: str


NONE = "—"


def _with_id(name: str, id_: str) -> str:
    if name and id_:
        return f"{name} (id {id_})"
    return name or (f"id {id_}" if id_ else NONE)


def _address_text(address: Address | None, country_name: str) -> str:
    if address is None:
        return "none"
    country = address.country_code + (f" ({country_name})" if country_name else "")
    parts = (
        address.contact_name,
        address.contact_company,
        address.street1,
        address.street2,
        address.city,
        address.state,
        address.zip,
        country,
        address.contact_email,
        address.contact_phone,
    )
    return ", ".join(p for p in parts if p) + f"; {address.type}"


def adhoc_facts(data: dict | None) -> list[Fact]:
    """Every value of a stored ad-hoc request that approval sends besides its lines, in words,
    in a fixed order (the invoice page, the approvals inbox and "what changed" read these)."""
    if not data:
        return []
    request = adhoc_request_from_json(data)
    shown = adhoc_shown_from_json(data)
    currency = request.currency_code
    return [
        Fact("Customer", _with_id(shown.customer, request.customer_id)),
        Fact("Name on the invoice", request.customer_name or NONE),
        Fact("Customer e-mail", request.customer_email or NONE),
        Fact("Customer phone", request.customer_phone or NONE),
        Fact("Billing address", _address_text(request.billing_address, shown.billing_country)),
        Fact("Shipping address", _address_text(request.shipping_address, shown.shipping_country)),
        Fact("Currency", shown.currency or currency),
        Fact("Payment gateway", _with_id(shown.gateway, request.gateway_id)),
        Fact("Payment method", _with_id(shown.payment_method, request.payment_method_id)),
        Fact(
            "Payment type",
            PAYMENT_TYPE_LABELS.get(request.payment_type, request.payment_type or NONE),
        ),
        Fact("Period", f"{request.date_from:%Y-%m-%d} – {request.date_to:%Y-%m-%d}"),
        Fact("Due date", f"{request.date_due:%Y-%m-%d}"),
        Fact("Shipping amount", money.format_money(request.shipping_minor, currency)),
        Fact("Terms", request.terms or NONE),
        Fact("Comments", request.comments or NONE),
    ]


def adhoc_changes(before: dict | None, after: dict | None) -> list[str]:
    """ "<label>: <before> → <after>" for every value (besides the lines) that differs between
    two versions of an ad-hoc request."""
    old = {fact.label: fact.value for fact in adhoc_facts(before)}
    return [
        f"{fact.label}: {old.get(fact.label, NONE)} → {fact.value}"
        for fact in adhoc_facts(after)
        if old.get(fact.label) != fact.value
    ]
