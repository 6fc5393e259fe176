"""Settling interrupted or failed backend writes by asking the backend, never by re-sending.

`manage.py reconcile` (and the manager's Retry) look at what the backend holds and move the
record along one of the `settle.*` steps of the workflow table: approved upstream, not approved
(back to the inbox), gone upstream (a person decides), or an interrupted submission dropped --
or, for a bill run's submission whose draft exists upstream, completed (read back and queued for
approval), so that the run never generates the cycle a second time. Corrections too: a void
interrupted between its credit note and its void goes on with the void (the credit note is never
sent again); one whose effect cannot be told needs a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import backend_cache, money, workflow
from ..backends import cycle_backend
from ..backends.base import Draft, NotFoundUpstream
from ..models import Invoice
from ..snapshots import snapshot_lines
from . import correct_upstream, records
from .decide import correction_continue, invoice_cleanup_upstream, record_approved
from .errors import InvalidTransition, UpstreamFailed
from .settle import ask_backend, back_to_pending
from .submit import needs_empty_confirmation, record_submission

S = Invoice.Status


@dataclass(frozen=True)
class ReconcileResult:
    invoice_id: int
    before: str
    after: str
    detail: str


def invoice_reconcile(*, invoice_id: int, actor=None) -> ReconcileResult:
    """Settle one `submitting`, `approving` or `failed` record by asking the backend."""
    invoice = Invoice.objects.filter(pk=invoice_id).first()
    if invoice is None:  # an intent another worker settled (dropped) since it was listed
        return ReconcileResult(invoice_id, "dropped", "dropped", "settled meanwhile")
    before = invoice.status
    if invoice.status == S.SUBMITTING:
        return _drop_interrupted_submission(invoice, actor)
    if invoice.status not in workflow.UNSETTLED_STATUSES:
        if invoice.upstream_cleanup_pending:
            ok = invoice_cleanup_upstream(invoice_id=invoice_id, actor=actor)
            return ReconcileResult(
                invoice_id,
                before,
                before,
                "upstream draft deleted" if ok else "upstream draft still to delete",
            )
        return ReconcileResult(invoice_id, before, before, "nothing to settle")
    if invoice.failure_code in ("already_invoiced", "refused_upstream"):
        what = "already invoiced" if invoice.failure_code == "already_invoiced" else "refused"
        return ReconcileResult(invoice_id, before, before, f"needs a person: {what} upstream")
    outcome = ask_backend(invoice)
    if outcome.remote is not None:
        settled = record_approved(invoice, actor, outcome.remote, step="settle.approved")
        return ReconcileResult(invoice_id, before, settled.status, "approved upstream")
    if outcome.partial:
        return _continue_void(invoice, before, outcome, actor)
    with transaction.atomic():
        locked = records.locked(invoice_id)
        if locked.status != before:
            return ReconcileResult(invoice_id, before, locked.status, "changed meanwhile")
        if outcome.gone or outcome.refused:
            code = "gone_upstream" if outcome.gone else "refused_upstream"
            if not (before == S.FAILED and locked.failure_code == code):
                _to_failed(locked, "settle.gone", code, outcome.explanation, actor)
            what = "gone upstream" if outcome.gone else "refused upstream"
            return ReconcileResult(invoice_id, before, S.FAILED, f"needs a person: {what}")
        if outcome.unclear:
            if before == S.APPROVING:
                _to_failed(locked, "settle.unclear", "unclear_upstream", outcome.explanation, actor)
            return ReconcileResult(invoice_id, before, S.FAILED, "needs a person: unclear upstream")
        back_to_pending(locked, actor, outcome.explanation)
    return ReconcileResult(invoice_id, before, S.PENDING, "not approved upstream: pending again")


def _to_failed(locked: Invoice, step: str, code: str, explanation: str, actor) -> None:
    locked.failure_code = code
    locked.failure_message = explanation
    records.transition(
        locked, step, actor=actor, reason=explanation, fields=("failure_code", "failure_message")
    )


def _continue_void(invoice: Invoice, before: str, outcome, actor) -> ReconcileResult:
    """A void whose credit note is made upstream: recorded if it was only found by looking, then
    (an interrupted one) the void is sent; a failed one waits for a manager's Retry."""
    if outcome.credit_found:
        correct_upstream.record_credited(invoice, actor, detail=outcome.explanation)
    if before != S.APPROVING:
        return ReconcileResult(
            invoice.pk, before, before, "needs a person: credited upstream, Retry sends the void"
        )
    try:
        settled = correction_continue(invoice_id=invoice.pk, actor=actor)
    except UpstreamFailed as exc:
        return ReconcileResult(invoice.pk, before, S.FAILED, f"void failed: {exc.message}")
    return ReconcileResult(invoice.pk, before, settled.status, "credited earlier; void sent now")


def _drop_interrupted_submission(invoice: Invoice, actor) -> ReconcileResult:
    """The request died between claiming the cycle and recording the draft's lines: the intent
    never became a submission. Its draft, if the backend had made one and we had learned its id,
    is taken back; a draft whose id we never learned is replaced by the next submission of the
    cycle (the backend keeps one draft per cycle)."""
    before = invoice.status
    detail = "interrupted submission dropped"
    if invoice.upstream_id:
        backend = cycle_backend()
        try:
            draft = backend.get_draft(invoice.upstream_id)
        except NotFoundUpstream:
            draft = None
        if draft is not None and not draft.is_draft:
            return ReconcileResult(
                invoice.pk,
                before,
                before,
                f"needs a person: its draft {invoice.upstream_id} is {draft.status} upstream",
            )
        if draft is not None and invoice.run_id is not None:
            completed = _complete_run_submission(invoice, draft, actor)
            if completed is not None:
                return completed
        if draft is not None:
            backend.delete_draft(invoice.upstream_id)
            detail += f"; its draft {invoice.upstream_id} was taken back"
    records.drop(
        invoice,
        "settle.drop_intent",
        actor=actor,
        reason="interrupted submission settled by reconcile",
    )
    return ReconcileResult(invoice.pk, before, "dropped", detail)


def _complete_run_submission(invoice: Invoice, draft: Draft, actor) -> ReconcileResult | None:
    """Read an interrupted bill-run submission's draft back and queue it for approval, as the
    submission would have. None when it cannot be completed (a draft with no lines or a zero
    total, which a run never submits, or lines that cannot be read): then it is dropped."""
    try:
        lines = snapshot_lines(draft.lines, invoice.currency)
        total_minor = money.to_minor(draft.total, invoice.currency)
    except money.MoneyError:
        return None
    if needs_empty_confirmation(lines, total_minor):
        return None
    # The contract's cycles, as the submission would have had them (its "out of order" flag).
    cycles, _ = backend_cache.billing_cycles(invoice.contract_id)
    try:
        record_submission(
            actor,
            invoice,
            draft,
            lines,
            total_minor,
            None,
            cycles=cycles,
            step="settle.complete",
            reason="interrupted bill-run submission completed by reconcile: its draft was read "
            "back",
        )
    except InvalidTransition:
        after = Invoice.objects.filter(pk=invoice.pk).values_list("status", flat=True).first()
        return ReconcileResult(invoice.pk, S.SUBMITTING, after or "dropped", "changed meanwhile")
    return ReconcileResult(
        invoice.pk, S.SUBMITTING, S.PENDING, f"interrupted submission completed ({draft.id})"
    )


def invoices_to_reconcile(*, older_than: timedelta):
    """Records a reconcile run should look at (in-flight ones younger than `older_than` are left
    to the request that is handling them)."""
    cutoff = timezone.now() - older_than
    return (
        Invoice.objects.filter(updated_at__lte=cutoff)
        .filter(Q(status__in=workflow.UNSETTLED_STATUSES) | Q(upstream_cleanup_pending=True))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
