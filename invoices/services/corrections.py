"""Corrections of approved invoices: a clerk asks, a manager approves, then the backend is written.

A correction is a new `Invoice` row of kind `credit_note` or `void` that `corrects` an approved
invoice, waiting for approval like any submission (`correct.record`); nothing goes upstream
before a manager approves it (`decide`, which calls `correct_upstream`). Four eyes, the content
hash, Retry and reconcile apply to it unchanged.

- A credit note (contract-cycle invoices only: the ad-hoc backend has none) credits amounts of
  the invoice's lines, each no more than is left of that line, or the whole remaining balance.
- A void (either kind) first credits whatever is left of a contract-cycle invoice (its backend
  voids only at a zero balance), then voids it; once applied, the invoice is `voided` and its
  cycle free to be invoiced again (`correct.apply`). `reissue` records that the clerk asked for
  it in order to re-issue the invoice (a new, linked submission: the `reissue` action).

The money rule: what live corrections (waiting, being applied, applied, or failed) take off an
invoice never exceeds its total, nor any line's amount. It is checked under a row lock on the
corrected invoice when a correction is asked for and again when it is approved, so two requests
at the same moment cannot over-credit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import extensions, money, notifications, roles, workflow
from ..audit import audit_record
from ..backends import adhoc_backend
from ..models import Invoice
from ..snapshots import invoice_content_hash
from . import records
from .errors import CorrectionRefused, ServiceError, StaleSnapshot
from .submit import assess

S = Invoice.Status
K = Invoice.Kind
MAX_REASON_TEXT = 1000


@dataclass(frozen=True)
class CreditLine:
    """What a clerk asks to credit of one line of the invoice (its index in the snapshot)."""

    line: int
    amount_minor: int


@dataclass(frozen=True)
class LineLeft:
    index: int
    line: dict  # the invoice's snapshot line
    taken_minor: int  # by live corrections

    @property
    def left_minor(self) -> int:
        return max(0, self.line["amount_minor"] - self.taken_minor)


@dataclass(frozen=True)
class Standing:
    """What corrections have taken off an invoice, and what is left."""

    invoice: Invoice
    lines: tuple[LineLeft, ...]
    held_minor: int  # by live corrections: waiting, being applied, applied or failed
    applied_minor: int  # by approved ones
    open: tuple[Invoice, ...]  # live corrections not approved yet
    corrections: tuple[Invoice, ...]  # every correction of the invoice, oldest first

    @property
    def left_minor(self) -> int:
        """What a new credit may still take (never below zero)."""
        return max(0, self.invoice.total_minor - self.held_minor)

    @property
    def balance_minor(self) -> int:
        """The invoice's total less its applied corrections (what the customer owes)."""
        return self.invoice.total_minor - self.applied_minor


def standing(invoice: Invoice, *, excluding: int | None = None, corrections=None) -> Standing:
    """The invoice's corrections (one query, or `corrections`: them, already read, in any
    order) and what they leave of it."""
    # (No people joined: pages name them, selectors.name_people.)
    if corrections is None:
        rows = list(invoice.corrections.order_by("submitted_at", "id"))
    else:
        rows = sorted(corrections, key=lambda c: (c.submitted_at, c.pk))
    live = [c for c in rows if c.status in workflow.LIVE_STATUSES and c.pk != excluding]
    taken: dict[int, int] = {}
    for correction in live:
        for line in correction.lines:
            if line.get("line") is not None:
                taken[line["line"]] = taken.get(line["line"], 0) + line["amount_minor"]
    return Standing(
        invoice=invoice,
        lines=tuple(LineLeft(i, line, taken.get(i, 0)) for i, line in enumerate(invoice.lines)),
        held_minor=sum(c.total_minor for c in live),
        applied_minor=sum(c.total_minor for c in live if c.status == S.APPROVED),
        open=tuple(c for c in live if c.status != S.APPROVED),
        corrections=tuple(rows),
    )


# --- a clerk asks --------------------------------------------------------------------------------
def invoice_request_correction(
    *,
    actor: AbstractBaseUser,
    invoice_id: int,
    kind: str,
    reason_code: str,
    reason_text: str,
    lines: Sequence[CreditLine] | None = None,
    reissue: bool = False,
) -> Invoice:
    """Ask for a credit note (`lines`, or None for the whole remaining balance) or a void of an
    approved invoice. Raises NotAllowed, InvalidTransition, CorrectionRefused (nothing is
    changed), or a BackendError (a void first asks the backend whether the invoice is paid)."""
    records.require(actor, roles.SUBMIT, "request corrections")
    reason_code, reason_text = _reason(reason_code, reason_text)
    if kind not in (K.CREDIT_NOTE, K.VOID):
        raise ServiceError("Choose a credit note or a void.")
    original = Invoice.objects.get(pk=invoice_id)
    records.check("correct", original, actor)
    if kind == K.CREDIT_NOTE and original.kind != K.CYCLE:
        raise CorrectionRefused(
            "The ad-hoc billing backend has no credit notes: void this invoice and re-issue a "
            "corrected one instead."
        )
    if kind == K.VOID and original.kind == K.ADHOC:
        _refuse_paid(original)
    with transaction.atomic():
        original = records.locked(invoice_id)
        records.check("correct", original, actor)
        now = standing(original)
        credited = _credit_lines(now, lines) if kind == K.CREDIT_NOTE else _void_lines(now)
        correction = _document(original, actor, kind, credited, reason_code, reason_text)
        correction.reissue = kind == K.VOID and reissue
        correction.content_hash = invoice_content_hash(correction)
        assess(correction)  # how many approvals the approval policy asks of it
        try:
            with transaction.atomic():
                records.create(
                    correction,
                    "correct.record",
                    actor=actor,
                    data={
                        "corrects": original.pk,
                        "total_minor": correction.total_minor,
                        "lines": len(credited),
                        "reason_code": reason_code,
                        "reissue": correction.reissue,
                        "content_hash": correction.content_hash,
                        "stages_required": correction.stages_required,
                        "policy": correction.policy.get("rule", ""),
                    },
                )
        except IntegrityError:  # a void raced this one in (one live void per invoice)
            raise CorrectionRefused(workflow.VOID_PENDING) from None
        audit_record(
            actor=actor,
            action=workflow.CORRECTION_REQUESTED,
            invoice=original,
            reason=f"{correction.get_reason_code_display()}: {reason_text}"[:1000],
            data={
                "correction_id": correction.pk,
                "kind": kind,
                "total_minor": correction.total_minor,
            },
        )
        notifications.on_submitted(correction)
        extensions.send_after_commit(extensions.invoice_submitted, invoice_id=correction.pk)
    return correction


def _reason(code: str, text: str) -> tuple[str, str]:
    text = (text or "").strip()
    if code not in Invoice.CorrectionReason.values:
        raise ServiceError("Choose why the invoice is corrected.")
    if not text:
        raise ServiceError("Say what is wrong with the invoice; the manager reads it.")
    if len(text) > MAX_REASON_TEXT:
        raise ServiceError(f"Keep the explanation to {MAX_REASON_TEXT} characters.")
    return code, text


def _refuse_paid(original: Invoice) -> None:
    """Ask the backend first: an ad-hoc invoice paid in full or in part cannot be voided."""
    balance = adhoc_backend().invoice_balance(original.upstream_id)
    if balance.paid:
        raise CorrectionRefused(
            f"The billing backend says invoice {original.upstream_number or original.upstream_id} "
            f"is {balance.status}: a paid invoice (even in part) cannot be voided. Nothing was "
            "requested."
        )
    if balance.voided:
        raise CorrectionRefused("The billing backend says this invoice is void already.")


def _credit_lines(now: Standing, asked: Sequence[CreditLine] | None) -> list[dict]:
    if now.left_minor <= 0:
        raise CorrectionRefused("Nothing is left to credit on this invoice.")
    if asked is None:  # the whole remaining balance
        return _spread(now, now.left_minor)
    if not asked:
        raise CorrectionRefused("Enter an amount to credit for at least one line.")
    by_index = {left.index: left for left in now.lines}
    seen: set[int] = set()
    credited = []
    for item in asked:
        left = by_index.get(item.line)
        if left is None or item.line in seen:
            raise CorrectionRefused("A credited line is not a line of this invoice.")
        seen.add(item.line)
        label = f"Line {item.line + 1} ({left.line.get('name', '')})"
        amount = item.amount_minor
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise CorrectionRefused(f"{label}: enter an amount greater than zero.")
        if amount > left.left_minor:
            shown = money.format_money(left.left_minor, now.invoice.currency)
            raise CorrectionRefused(f"{label}: at most {shown} is left to credit.")
        credited.append(_credit_line(now.invoice, left, amount))
    total = sum(line["amount_minor"] for line in credited)
    if total > now.left_minor:
        currency = now.invoice.currency
        raise CorrectionRefused(
            f"Together these credits ({money.format_money(total, currency)}) are more than is "
            f"left of the invoice ({money.format_money(now.left_minor, currency)})."
        )
    return credited


def _void_lines(now: Standing) -> list[dict]:
    if now.open:
        numbers = ", ".join(f"#{c.pk}" for c in now.open)
        raise CorrectionRefused(
            f"Another correction of this invoice ({numbers}) is still waiting for approval or "
            "being applied; decide it before voiding the invoice."
        )
    # What is left of the invoice: a contract-cycle invoice's void credits it first (its backend
    # voids only at a zero balance); an ad-hoc void cancels it outright (no credit note).
    return _spread(now, now.balance_minor) if now.balance_minor > 0 else []


def _spread(now: Standing, amount: int) -> list[dict]:
    """`amount` taken off the lines in order, each no more than is left of it; what the lines
    cannot hold (an invoice whose total is not the sum of its lines) on a line of its own."""
    lines = []
    rest = amount
    for left in now.lines:
        if rest <= 0:
            break
        take = min(rest, left.left_minor)
        if take > 0:
            lines.append(_credit_line(now.invoice, left, take))
            rest -= take
    if rest > 0:
        lines.append(_rest_line(now.invoice, rest))
    return lines


def _credit_line(invoice: Invoice, left: LineLeft, amount_minor: int) -> dict:
    line = left.line
    return {
        "line": left.index,
        "name": line.get("name", ""),
        "description": line.get("description", ""),
        "quantity": "",
        "unit": "",
        "unit_price": "",
        "amount": money.format_amount(amount_minor, invoice.currency),
        "amount_minor": amount_minor,
        "service_start": line.get("service_start"),
        "service_end": line.get("service_end"),
        "prorated": False,
        "note": f"Credit on line {left.index + 1} (of {line.get('amount', '')})",
    }


def _rest_line(invoice: Invoice, amount_minor: int) -> dict:
    return {
        "line": None,
        "name": "Rest of the invoice total",
        "description": "",
        "quantity": "",
        "unit": "",
        "unit_price": "",
        "amount": money.format_amount(amount_minor, invoice.currency),
        "amount_minor": amount_minor,
        "service_start": None,
        "service_end": None,
        "prorated": False,
        "note": "The invoice's total is more than the sum of its lines",
    }


def _document(original: Invoice, actor, kind: str, lines, reason_code, reason_text) -> Invoice:
    return Invoice(
        kind=kind,
        backend=original.backend,
        corrects=original,
        contract_id=original.contract_id,
        contract_name=original.contract_name,
        customer_id=original.customer_id,
        customer_name=original.customer_name,
        cycle_name=original.cycle_name,
        cycle_start_date=original.cycle_start_date,
        cycle_end_date=original.cycle_end_date,
        cycle_bill_for_date=original.cycle_bill_for_date,
        cycle_start_day=original.cycle_start_day,
        bill_for=original.bill_for,
        period_start=original.period_start,
        period_end=original.period_end,
        currency=original.currency,
        total_minor=sum(line["amount_minor"] for line in lines),
        lines=lines,
        reason_code=reason_code,
        reason_text=reason_text,
        submitted_by=actor,
        submitted_at=timezone.now(),
    )


# --- a manager approves -----------------------------------------------------------------------
def check_applicable(correction: Invoice) -> None:
    """Inside the approval's transaction (the correction locked): lock the corrected invoice and
    check again that the correction still fits it. Raises CorrectionRefused or StaleSnapshot."""
    original = records.locked(correction.corrects_id)
    if original.status != S.APPROVED:
        shown = S(original.status).label.lower()
        raise CorrectionRefused(
            f"The invoice this corrects is {shown} now, so this correction cannot be applied. "
            "Reject it."
        )
    now = standing(original, excluding=correction.pk)
    if correction.kind == K.VOID:
        if now.open:
            raise CorrectionRefused(
                "Another correction of this invoice is still open; decide it before this void."
            )
        expected = _void_lines(now)
        if sum(line["amount_minor"] for line in expected) != correction.total_minor:
            raise StaleSnapshot(
                "The invoice's balance changed since this void was asked for, so what it would "
                "credit is no longer right. Reject it; the clerk can ask again."
            )
        return
    if correction.total_minor > now.left_minor:
        raise CorrectionRefused(
            "This credit note is more than is left of the invoice now (other corrections took "
            "the rest). Reject it."
        )
    by_index = {left.index: left for left in now.lines}
    for line in correction.lines:
        index = line.get("line")
        if index is not None and line["amount_minor"] > by_index[index].left_minor:
            raise CorrectionRefused(
                f"Line {index + 1} has less left to credit than this credit note takes now. "
                "Reject it."
            )


def apply_approved(correction: Invoice, actor) -> None:
    """In the transaction that records a correction approved: a void leaves its invoice voided
    (no longer live: its cycle is free again)."""
    if correction.kind != K.VOID:
        return
    original = records.locked(correction.corrects_id)
    if original.status == S.APPROVED:
        records.transition(
            original,
            "correct.apply",
            actor=actor,
            reason=f"Voided by correction #{correction.pk}",
            data={"correction_id": correction.pk, "reissue": correction.reissue},
        )


def applied_elsewhere_minor(correction: Invoice) -> int:
    """What the corrected invoice's other applied corrections took off it (for reading the
    backend's balance back: the balance before this correction)."""
    return standing(correction.corrects, excluding=correction.pk).applied_minor


def reason_for_backend(correction: Invoice) -> str:
    return f"{correction.get_reason_code_display()}: {correction.reason_text}"[:500]
