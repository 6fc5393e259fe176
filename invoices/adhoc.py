"""Ad-hoc invoice requests as stored on the local Invoice (JSON) and as snapshot lines."""

from dataclasses import asdict
from datetime import date

from . import money
from .backends.base import Address, AdhocInvoiceRequest, AdhocLine


def adhoc_request_to_json(request: AdhocInvoiceRequest) -> dict:
    data = asdict(request)
    for key in ("date_from", "date_to", "date_due"):
        data[key] = data[key].isoformat()
    return data


def _address(data: dict | None) -> Address | None:
    return Address(**data) if data else None


def adhoc_request_from_json(data: dict) -> AdhocInvoiceRequest:
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
