"""What is unusual about an invoice, for the manager who approves it: computed once at submission
and stored with the snapshot (Invoice.flags), so the invoice page and the inbox only read it.

A cycle invoice is compared with the last approved invoice of the same contract and customer:
the total's change in percent, lines added or gone, quantities that jumped, a zero total, and a
cycle out of order (an earlier due cycle the backend lists that has never been invoiced here).
An ad-hoc invoice has no predecessor: only a zero total is flagged.

Each flag is {"code": ..., "text": ...}; the codes are stable (tests, filters), the texts are what
a person reads.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db.models import Q

from . import money, workflow
from .models import Invoice


def _flag(code: str, text: str) -> dict:
    return {"code": code, "text": text}


def flags_for(invoice: Invoice, *, cycles=()) -> list[dict]:
    """The flags of `invoice` (not saved yet, or saved): `cycles` is the backend's cycle list
    for its contract as it was used to submit it (for the out-of-order check)."""
    found = []
    if invoice.kind not in (Invoice.Kind.CYCLE, Invoice.Kind.ADHOC):
        return found  # a correction is about the invoice it corrects (its own page says so)
    if invoice.total_minor == 0:
        found.append(_flag("zero_total", "The total is zero."))
    if invoice.kind != Invoice.Kind.CYCLE:
        return found
    previous = (
        Invoice.objects.filter(
            kind=Invoice.Kind.CYCLE,
            backend=invoice.backend,
            contract_id=invoice.contract_id,
            customer_id=invoice.customer_id,
            status=Invoice.Status.APPROVED,
        )
        .exclude(pk=invoice.pk)
        .exclude(bill_for__gte=invoice.bill_for)
        .only("pk", "total_minor", "currency", "lines", "cycle_name")
        .order_by("-bill_for", "-pk")
        .first()
    )
    if previous is not None:
        found.extend(_compared(invoice, previous))
    found.extend(_out_of_order(invoice, cycles))
    return found


def _compared(invoice: Invoice, previous: Invoice) -> list[dict]:
    found = []
    ref = f"#{previous.pk} ({previous.cycle_name})" if previous.cycle_name else f"#{previous.pk}"
    if previous.currency == invoice.currency and previous.total_minor:
        change = (invoice.total_minor - previous.total_minor) * 100 / previous.total_minor
        if abs(change) >= settings.FLAG_TOTAL_CHANGE_PERCENT:
            was = money.format_money(previous.total_minor, previous.currency)
            found.append(
                _flag(
                    "total_change",
                    f"Total {change:+.0f}% against the last approved invoice {ref} ({was}).",
                )
            )
    before = {line.get("name", ""): line for line in previous.lines}
    after = {line.get("name", ""): line for line in invoice.lines}
    for name in sorted(after.keys() - before.keys()):
        found.append(_flag("line_added", f"New line since {ref}: {name}."))
    for name in sorted(before.keys() - after.keys()):
        found.append(_flag("line_gone", f"Line gone since {ref}: {name}."))
    factor = Decimal(str(settings.FLAG_QUANTITY_JUMP_FACTOR))
    for name in sorted(after.keys() & before.keys()):
        old, new = _quantity(before[name]), _quantity(after[name])
        if old and new and (new >= old * factor or new * factor <= old):
            found.append(
                _flag("quantity_jump", f"Quantity of {name}: {_plain(old)} → {_plain(new)}.")
            )
    return found


def _out_of_order(invoice: Invoice, cycles) -> list[dict]:
    """Due cycles before this one that no local invoice holds (never invoiced, or only rejected
    or withdrawn ones): billing this one first skips them."""
    earlier = [c for c in cycles if c.bill_for < invoice.bill_for]
    if not earlier:
        return []
    held = set(
        Invoice.objects.filter(
            Q(status__in=workflow.LIVE_STATUSES),
            kind=Invoice.Kind.CYCLE,
            backend=invoice.backend,
            contract_id=invoice.contract_id,
            customer_id=invoice.customer_id,
            bill_for__in=[c.bill_for for c in earlier],
        )
        .exclude(pk=invoice.pk)
        .values_list("bill_for", flat=True)
    )
    missing = [c for c in earlier if c.bill_for not in held]
    if not missing:
        return []
    names = ", ".join(c.name for c in missing[:3]) + (" …" if len(missing) > 3 else "")
    return [
        _flag(
            "out_of_order",
            f"{len(missing)} earlier cycle{'s' if len(missing) != 1 else ''} never invoiced: "
            f"{names}.",
        )
    ]


def _quantity(line: dict) -> Decimal | None:
    try:
        return Decimal(str(line.get("quantity", "")))
    except InvalidOperation:
        return None


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")
