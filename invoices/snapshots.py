"""Line snapshots: what a submission froze, its content hash, and line-level diffs.

A snapshot line is a plain dict with decimals as strings, so it is stored in JSON exactly and hashes
the same on every database.
"""

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from . import money
from .backends.base import LineItem

COMPARED_FIELDS = ("name", "description", "quantity", "unit_price", "amount", "service_start",
                   "service_end")  # fmt: skip


def _dec(value: Decimal) -> str:
    """Canonical text of a decimal: no exponent and no trailing zeros ("12.50" -> "12.5")."""
    return format(value.normalize(), "f")


def snapshot_line(line: LineItem, currency: str) -> dict:
    amount_minor = money.to_minor(line.amount, currency, allow_negative=True)
    return {
        "name": line.name,
        "description": line.description,
        "quantity": _dec(line.quantity),
        "unit": line.unit,
        "unit_price": _dec(line.unit_price),
        "amount": money.format_amount(amount_minor, currency),
        "amount_minor": amount_minor,
        "service_start": line.service_start.isoformat() if line.service_start else None,
        "service_end": line.service_end.isoformat() if line.service_end else None,
        "prorated": bool(line.prorated),
        "note": line.note,
    }


def snapshot_lines(lines: Iterable[LineItem], currency: str) -> list[dict]:
    return [snapshot_line(line, currency) for line in lines]


def lines_total_minor(lines: Sequence[dict]) -> int:
    return sum(line["amount_minor"] for line in lines)


def content_hash(content: dict) -> str:
    """SHA-256 of the canonical JSON of what a manager approves."""
    body = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def invoice_content_hash(invoice) -> str:
    """The hash of everything a manager approves on an invoice: who and what it is for, the
    cycle as listed, the currency, total and lines, (ad-hoc) the request to be sent, and (a
    correction) the invoice it corrects, why, and whether it is to be re-issued."""
    content = {
        "kind": invoice.kind,
        "backend": invoice.backend,
        "contract_id": invoice.contract_id,
        "customer_id": invoice.customer_id,
        "cycle": [
            invoice.cycle_name,
            invoice.cycle_start_date,
            invoice.cycle_end_date,
            invoice.cycle_bill_for_date,
            invoice.cycle_start_day,
        ],
        "currency": invoice.currency,
        "total_minor": invoice.total_minor,
        "lines": invoice.lines,
        "adhoc_request": invoice.adhoc_request,
    }
    if invoice.corrects_id is not None:  # (absent for invoices: their hashes stay as they were)
        content["correction"] = {
            "corrects": invoice.corrects_id,
            "corrects_upstream_id": invoice.corrects.upstream_id,
            "reason_code": invoice.reason_code,
            "reason_text": invoice.reason_text,
            "reissue": invoice.reissue,
        }
    return content_hash(content)


@dataclass(frozen=True)
class LineChange:
    kind: str  # added | removed | changed
    name: str
    before: dict | None
    after: dict | None
    fields: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "added":
            return f"Added: {self.name} ({self.after['amount']})"
        if self.kind == "removed":
            return f"Removed: {self.name} ({self.before['amount']})"
        parts = [f"{f} {self.before.get(f)!s} → {self.after.get(f)!s}" for f in self.fields]
        return f"Changed: {self.name}: " + "; ".join(parts)


def _key(line: dict) -> tuple:
    return (line.get("name"), line.get("service_start"), line.get("service_end"))


def diff_lines(before: Sequence[dict], after: Sequence[dict]) -> list[LineChange]:
    """Line-level differences, matching lines by product name and service period."""
    remaining = list(after)
    changes: list[LineChange] = []
    for old in before:
        match = next((new for new in remaining if _key(new) == _key(old)), None)
        if match is None:
            match = next((new for new in remaining if new.get("name") == old.get("name")), None)
        if match is None:
            changes.append(LineChange("removed", old.get("name", ""), old, None))
            continue
        remaining.remove(match)
        fields = tuple(f for f in COMPARED_FIELDS if old.get(f) != match.get(f))
        if fields:
            changes.append(LineChange("changed", old.get("name", ""), old, match, fields))
    changes.extend(LineChange("added", new.get("name", ""), None, new) for new in remaining)
    return changes
