"""What every service shares: the one place a status is written, along the workflow table.

`transition` (an existing invoice), `create` (a new one) and `drop` (an intent that never became
a submission) are the only code that changes `Invoice.status`; each looks its step up in
`invoices.workflow.TRANSITIONS` (an unknown step raises), refuses a record that is not in one of
the step's source statuses, and writes the step's audit event in the same transaction (the audit
write itself refuses to run outside one).
"""

from __future__ import annotations

import logging

from django.db import transaction

from .. import workflow
from ..audit import audit_record
from ..backends.base import BackendError, NotFoundUpstream
from ..models import Invoice
from ..workflow import DROPPED, NEW
from .errors import InvalidTransition, NotAllowed, refused

log = logging.getLogger(__name__)
S = Invoice.Status


def require(actor, perm: str, what: str) -> None:
    if not actor.has_perm(perm):
        raise NotAllowed(f"Your role does not allow you to {what}.")


def check(action: str, invoice: Invoice, actor) -> None:
    """Raise unless `actor` may take `action` on `invoice` now (the rules of workflow.ACTIONS,
    the same ones the pages use to offer it)."""
    refusal = workflow.refusal(action, invoice, actor)
    if refusal is not None:
        raise refused(refusal)


def locked(invoice_id: int) -> Invoice:
    return Invoice.objects.select_for_update().get(pk=invoice_id)


def forget_final_stage(locked_invoice: Invoice) -> None:
    """The last approval stage did not go through (not approved upstream, or the invoice is
    rejected or withdrawn instead): it is no longer on record as approved (its attempt stays in
    the audit trail). Earlier stages stand."""
    if locked_invoice.stages_required > 1:
        locked_invoice.stage_approvals.filter(stage=locked_invoice.stages_required).delete()


def adhoc_ids_held(invoice: Invoice) -> frozenset[str]:
    """The upstream ids other ad-hoc invoices of this customer already hold: a lost reply's
    lookup never takes one of them for `invoice` (two identical invoices, one approved before)."""
    others = Invoice.objects.filter(
        backend=invoice.backend, kind=Invoice.Kind.ADHOC, customer_id=invoice.customer_id
    ).exclude(pk=invoice.pk)
    return frozenset(others.exclude(upstream_id="").values_list("upstream_id", flat=True))


def _step(name: str, status: str) -> workflow.Transition:
    step = workflow.transition(name)
    if status not in step.sources:
        shown = S(status).label.lower() if status else "new"
        raise InvalidTransition(f"This invoice is {shown}; it cannot go through {name} now.")
    return step


def transition(
    invoice: Invoice,
    step: str,
    *,
    actor,
    reason: str = "",
    data: dict | None = None,
    fields: tuple[str, ...] = (),
) -> Invoice:
    """Move a locked, saved invoice along `step` and write its audit event (same transaction)."""
    rule = _step(step, invoice.status)
    if rule.target == DROPPED:
        raise InvalidTransition(f"{step} drops the record: use drop()")
    before = invoice.status
    invoice.status = rule.target
    invoice.save(update_fields=["status", "updated_at", *fields])
    _audit(invoice, rule, before, actor=actor, reason=reason, data=data)
    return invoice


def _audit(invoice: Invoice, rule: workflow.Transition, before: str, **event) -> None:
    if rule.audit:
        audit_record(
            action=rule.audit, invoice=invoice, from_status=before, to_status=rule.target, **event
        )


def create(invoice: Invoice, step: str, *, actor, data: dict | None = None) -> Invoice:
    """Insert a new invoice in the status `step` creates it in (and audit it, if the step is
    audited). Raises IntegrityError as the insert does (the caller's constraint handling)."""
    rule = _step(step, NEW)
    invoice.status = rule.target
    invoice.save(force_insert=True)
    _audit(invoice, rule, NEW, actor=actor, data=data)
    return invoice


def drop(intent: Invoice, step: str, *, actor, reason: str) -> bool:
    """Delete an intent that never became a submission (if it is still in a source status of
    `step`), and audit that without the row. Returns whether it was dropped."""
    rule = workflow.transition(step)
    if rule.target != DROPPED:
        raise InvalidTransition(f"{step} does not drop a record")
    with transaction.atomic():
        deleted, _ = Invoice.objects.filter(pk=intent.pk, status__in=rule.sources).delete()
        if deleted:
            audit_record(
                actor=actor,
                action=rule.audit,
                reason=reason[:500],
                data={
                    "contract_id": intent.contract_id,
                    "customer_id": intent.customer_id,
                    "bill_for_date": intent.cycle_bill_for_date,
                    "kind": intent.kind,
                    **({"run": intent.run_id} if intent.run_id is not None else {}),
                },
            )
    return bool(deleted)


def live_invoice_for_cycle(*, backend: str, contract_id: str, customer_id: str, bill_for):
    return (
        Invoice.objects.filter(
            kind=Invoice.Kind.CYCLE,
            backend=backend,
            contract_id=contract_id,
            customer_id=customer_id,
            bill_for=bill_for,
            status__in=workflow.LIVE_STATUSES,
        )
        .order_by("-id")
        .first()
    )


def delete_draft_quietly(backend, draft_id: str) -> bool:
    """Take an upstream draft back; True if it is gone (or was already), False if the backend
    could not be asked (logged; reconcile tries again)."""
    try:
        backend.delete_draft(draft_id)
    except NotFoundUpstream:
        return True
    except BackendError as exc:
        log.warning("could not delete upstream draft %s: %s", draft_id, exc)
        return False
    return True


# --- revisions --------------------------------------------------------------------------------
def check_revision(*, actor, previous: Invoice | None, kind: str, action: str = "revise") -> None:
    """`previous` may be followed by a new version of `kind`: a revision of a rejected invoice
    (`revise`), or the re-issue of a voided one (`reissue`)."""
    if previous is None:
        return
    if previous.kind != kind:
        raise InvalidTransition("A revision must be of the same kind as the invoice it revises.")
    # Ask the database now (not a cached answer): another clerk may have revised it meanwhile.
    previous.has_next_version = Invoice.objects.filter(previous=previous).exists()
    check(action, previous, actor)


def link_revision(invoice: Invoice, previous: Invoice | None) -> None:
    if previous is not None:
        invoice.previous = previous
        invoice.lineage = previous.lineage
        invoice.version = previous.version + 1
