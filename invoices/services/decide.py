"""Managers decide (approve, retry a failed approval, reject); the submitter may withdraw.

Who may do what, from which status, is `invoices.workflow.ACTIONS` (checked by
`records.check`, the same rules the invoice page uses to offer buttons). An approval names the
content hash the manager saw, re-reads a cycle draft and refuses it if it drifted (a
correction: checks again under a lock that it still fits the invoice it corrects), commits an
`approving` intent, and only then writes upstream; its result is recorded after the call.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from .. import extensions, money, notifications, roles, workflow
from ..adhoc import adhoc_request_from_json
from ..audit import audit_record
from ..backends import adhoc_backend, cycle_backend
from ..backends.base import (
    AlreadyInvoicedUpstream,
    AlreadyPaid,
    BackendError,
    CannotBeVoided,
    Draft,
    NotFoundUpstream,
    OutcomeUnknown,
    RemoteInvoice,
)
from ..models import Invoice, StageApproval
from ..snapshots import diff_lines, snapshot_lines
from . import correct_upstream, corrections, records
from .errors import DraftDrifted, InvalidTransition, ServiceError, StaleSnapshot, UpstreamFailed
from .settle import ask_backend, back_to_pending

S = Invoice.Status

ALREADY_INVOICED_MESSAGE = (
    "The billing backend already has an approved invoice for this billing period, so this one "
    "was not approved. Reject it; corrections go through a credit note."
)


# --- approve ------------------------------------------------------------------------------------
def invoice_approve(
    *, actor: AbstractBaseUser, invoice_id: int, seen_hash: str, notify: bool = True
) -> Invoice:
    """Approve what the manager saw: refuses a changed snapshot, one's own submission, anything
    not pending, and (cycle invoices) a draft whose lines or total drifted upstream. Without
    `notify` the submitter is not e-mailed (a caller that sends one summary of many)."""
    records.require(actor, roles.APPROVE, "approve invoices")
    invoice = Invoice.objects.get(pk=invoice_id)
    _check_approvable(actor, invoice, seen_hash)
    if invoice.stages_done + 1 < invoice.stages_required:
        return _approve_stage(actor, invoice_id, seen_hash)

    if invoice.kind == Invoice.Kind.CYCLE:
        try:
            draft = cycle_backend().get_draft(invoice.upstream_id)
        except NotFoundUpstream:
            # Another manager may have rejected it (deleting the draft) a moment ago.
            _check_approvable(actor, Invoice.objects.get(pk=invoice_id), seen_hash)
            raise UpstreamFailed(
                "The backend no longer has this invoice's draft. Reject it so the clerk can "
                "submit the cycle again."
            ) from None
        refuse_drifted(actor, invoice, draft)

    # The intent, committed before the upstream write.
    with transaction.atomic():
        invoice = records.locked(invoice_id)
        _check_approvable(actor, invoice, seen_hash)
        if invoice.stages_done + 1 < invoice.stages_required:
            raise InvalidTransition("This invoice changed meanwhile; reload the page.")
        if invoice.is_correction:
            corrections.check_applicable(invoice)
        _start_approval(invoice, actor, "approve.start", seen_hash)
    return _send_approval(actor=actor, invoice=invoice, notify=notify)


# --- approval stages (an approval policy asked for more than one) --------------------------------
def _approve_stage(actor, invoice_id: int, seen_hash: str) -> Invoice:
    """An approval that is not the last one: recorded (with the hash seen), nothing goes to the
    backend; the invoice stays pending for the next stage's approver."""
    with transaction.atomic():
        invoice = records.locked(invoice_id)
        _check_approvable(actor, invoice, seen_hash)
        stage = invoice.stages_done + 1
        if stage >= invoice.stages_required:
            raise InvalidTransition("This invoice changed meanwhile; reload the page.")
        principals = workflow.speaks_for(actor)[1:]
        StageApproval.objects.create(
            invoice=invoice,
            stage=stage,
            approver=actor,
            on_behalf_of=principals[0] if principals else None,
            content_hash=seen_hash,
            at=timezone.now(),
        )
        records.transition(
            invoice,
            "approve.stage",
            actor=actor,
            **_standing_in(actor),
            data={
                "content_hash": seen_hash,
                "stage": stage,
                "of": invoice.stages_required,
                **_on_behalf_of(actor),
            },
        )
    return invoice


def _on_behalf_of(actor) -> dict:
    principals = workflow.speaks_for(actor)[1:]
    return {"on_behalf_of": [p.get_username() for p in principals]} if principals else {}


def _standing_in(actor) -> dict:
    """The audit reason of a decision taken standing in for someone: "B for A"."""
    principals = workflow.speaks_for(actor)[1:]
    if not principals:
        return {}
    names = ", ".join(p.get_username() for p in principals)
    return {"reason": f"{actor.get_username()} for {names}"}


def _record_final_stage(invoice: Invoice, actor, seen_hash: str) -> None:
    """The last stage of a multi-stage approval, kept beside the earlier ones (taken over by
    whoever retries it)."""
    if invoice.stages_required < 2:
        return
    principals = workflow.speaks_for(actor)[1:]
    StageApproval.objects.update_or_create(
        invoice=invoice,
        stage=invoice.stages_required,
        defaults={
            "approver": actor,
            "on_behalf_of": principals[0] if principals else None,
            "content_hash": seen_hash,
            "at": timezone.now(),
        },
    )


def _check_approvable(actor, invoice: Invoice, seen_hash: str) -> None:
    records.check("approve", invoice, actor)
    if invoice.content_hash != seen_hash:
        raise StaleSnapshot(
            "This invoice changed after you opened it. Review the current version and approve "
            "again."
        )


def _start_approval(invoice: Invoice, actor, step: str, seen_hash: str) -> None:
    _record_final_stage(invoice, actor, seen_hash)
    invoice.decided_by = actor
    invoice.decided_at = timezone.now()
    invoice.failure_message = ""
    invoice.failure_code = ""
    records.transition(
        invoice,
        step,
        actor=actor,
        **_standing_in(actor),
        data={"content_hash": seen_hash, **_on_behalf_of(actor)},
        fields=("decided_by", "decided_at", "failure_message", "failure_code"),
    )


def refuse_drifted(actor, invoice: Invoice, draft: Draft) -> None:
    """Refuse (and audit) approving an upstream draft whose lines or total are not the snapshot."""
    fresh = snapshot_lines(draft.lines, invoice.currency)
    changes = diff_lines(invoice.lines, fresh)
    if changes or money.to_minor(draft.total, invoice.currency) != invoice.total_minor:
        with transaction.atomic():
            audit_record(
                actor=actor,
                action=workflow.APPROVAL_REFUSED,
                invoice=invoice,
                reason="the upstream draft changed since it was submitted",
                data={"changes": [c.describe() for c in changes]},
            )
        raise DraftDrifted(
            "The backend's draft changed since it was submitted, so it was not approved. "
            "Reject it and ask the clerk to submit the cycle again.",
            changes,
        )


def _send_approval(
    *, actor, invoice: Invoice, step: str = "approve.succeed", notify: bool = True
) -> Invoice:
    """The upstream write of an approval, then its result. `invoice` is in `approving`."""
    try:
        remote = _approve_upstream(invoice, actor)
    except AlreadyInvoicedUpstream:
        failed = _record_failure(invoice, actor, "already_invoiced", ALREADY_INVOICED_MESSAGE)
        raise UpstreamFailed(ALREADY_INVOICED_MESSAGE, failed) from None
    except (CannotBeVoided, AlreadyPaid) as exc:
        message = f"The billing backend refused this correction: {exc.message}"
        # A void whose credit note is made upstream is half done: it stays to be retried.
        half_done = Invoice.objects.filter(
            pk=invoice.pk, correction_step=Invoice.CorrectionStep.CREDITED
        ).exists()
        code = "backend_error" if half_done else "refused_upstream"
        failed = _record_failure(invoice, actor, code, message)
        raise UpstreamFailed(message, failed) from None
    except BackendError as exc:
        code = "outcome_unknown" if isinstance(exc, OutcomeUnknown) else "backend_error"
        message = f"The billing backend did not complete the approval: {exc.message}"
        failed = _record_failure(invoice, actor, code, message)
        raise UpstreamFailed(message, failed) from None
    return record_approved(invoice, actor, remote, step=step, notify=notify)


def _approve_upstream(invoice: Invoice, actor) -> RemoteInvoice:
    if invoice.is_correction:
        return correct_upstream.send(invoice, actor)
    if invoice.kind == Invoice.Kind.CYCLE:
        return cycle_backend().approve_draft(invoice.upstream_id)
    return adhoc_backend().create_invoice(
        adhoc_request_from_json(invoice.adhoc_request), known=records.adhoc_ids_held(invoice)
    )


def record_approved(
    invoice: Invoice, actor, remote: RemoteInvoice, *, step: str, notify: bool = True
) -> Invoice:
    """Record that the backend approved (or created) the invoice. Safe to repeat."""
    with transaction.atomic():
        locked = records.locked(invoice.pk)
        if locked.status == S.APPROVED:
            return locked
        locked.upstream_id = remote.id or locked.upstream_id
        locked.upstream_number = remote.number or locked.upstream_number
        locked.failure_message = ""
        locked.failure_code = ""
        # Approved upstream: there is no draft of ours left to take back, whatever raced us.
        locked.upstream_cleanup_pending = False
        records.transition(
            locked,
            step,
            actor=actor,
            data={
                "upstream_id": locked.upstream_id,
                "upstream_number": locked.upstream_number,
                "upstream_status": remote.status,
                "recovered": remote.recovered,
            },
            fields=(
                "upstream_id",
                "upstream_number",
                "failure_message",
                "failure_code",
                "upstream_cleanup_pending",
            ),
        )
        corrections.apply_approved(locked, actor)
        if notify:
            notifications.on_decided(locked)
        extensions.send_after_commit(extensions.invoice_approved, invoice_id=locked.pk)
    return locked


def _record_failure(invoice: Invoice, actor, code: str, message: str) -> Invoice:
    with transaction.atomic():
        locked = records.locked(invoice.pk)
        locked.failure_code = code
        locked.failure_message = message
        records.transition(
            locked,
            "approve.fail",
            actor=actor,
            reason=message[:1000],
            data={"code": code},
            fields=("failure_code", "failure_message"),
        )
    return locked


# --- retry a failed approval --------------------------------------------------------------------
def invoice_retry(*, actor: AbstractBaseUser, invoice_id: int) -> Invoice:
    """Try a failed approval again — after first asking the backend whether it went through."""
    records.require(actor, roles.APPROVE, "approve invoices")
    invoice = Invoice.objects.get(pk=invoice_id)
    records.check("retry", invoice, actor)
    outcome = ask_backend(invoice)
    if outcome.remote is not None:
        return record_approved(invoice, actor, outcome.remote, step="settle.approved")
    if outcome.gone or outcome.refused or outcome.unclear:
        raise UpstreamFailed(outcome.explanation, invoice)
    if outcome.credit_found:  # a void's credit note went through: never send it again
        correct_upstream.record_credited(invoice, actor, detail=outcome.explanation)
    if outcome.draft is not None:
        # Still a draft: what is sent now must still be what the manager approved. A drifted one
        # is known not to be approved, so it goes back to the inbox, where it can be rejected.
        try:
            refuse_drifted(actor, invoice, outcome.draft)
        except DraftDrifted:
            with transaction.atomic():
                locked = records.locked(invoice_id)
                if locked.status == S.FAILED:
                    back_to_pending(locked, actor, outcome.explanation)
            raise
    with transaction.atomic():
        invoice = records.locked(invoice_id)
        if invoice.status != S.FAILED:
            raise InvalidTransition("This invoice changed meanwhile; reload the page.")
        if invoice.is_correction and not outcome.partial:
            corrections.check_applicable(invoice)
        _start_approval(invoice, actor, "retry.start", invoice.content_hash)
    return _send_approval(actor=actor, invoice=invoice)


def correction_continue(*, invoice_id: int, actor=None) -> Invoice:
    """Go on with a void interrupted between its two writes (`approving`, its credit note made
    upstream): send the void, never the credit note again. For `manage.py reconcile`."""
    invoice = Invoice.objects.get(pk=invoice_id)
    if invoice.status != S.APPROVING or not invoice.is_correction:
        raise InvalidTransition("Only a correction being applied can be continued.")
    return _send_approval(actor=actor, invoice=invoice, step="settle.approved")


# --- reject, withdraw ---------------------------------------------------------------------------
def invoice_reject(
    *, actor: AbstractBaseUser, invoice_id: int, reason: str, seen_hash: str | None = None
) -> Invoice:
    """Send an invoice back to its clerk with a reason; its upstream draft is taken back.
    `seen_hash` (the content hash on the manager's page) is recorded with the decision."""
    records.require(actor, roles.APPROVE, "reject invoices")
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("Give the clerk a reason for the rejection.")
    with transaction.atomic():
        invoice = records.locked(invoice_id)
        records.check("reject", invoice, actor)
        records.forget_final_stage(invoice)  # a last stage that failed upstream
        invoice.decided_by = actor
        invoice.decided_at = timezone.now()
        invoice.decision_reason = reason
        invoice.upstream_cleanup_pending = invoice.kind == Invoice.Kind.CYCLE
        records.transition(
            invoice,
            "reject.record",
            actor=actor,
            reason=reason,
            data={"content_hash": seen_hash or invoice.content_hash, **_on_behalf_of(actor)},
            fields=("decided_by", "decided_at", "decision_reason", "upstream_cleanup_pending"),
        )
        notifications.on_decided(invoice)
    invoice_cleanup_upstream(invoice_id=invoice.pk, actor=actor)
    return Invoice.objects.get(pk=invoice.pk)


def invoice_withdraw(*, actor: AbstractBaseUser, invoice_id: int) -> Invoice:
    with transaction.atomic():
        invoice = records.locked(invoice_id)
        records.check("withdraw", invoice, actor)
        records.forget_final_stage(invoice)
        invoice.decided_at = timezone.now()
        invoice.upstream_cleanup_pending = invoice.kind == Invoice.Kind.CYCLE
        records.transition(
            invoice,
            "withdraw.record",
            actor=actor,
            fields=("decided_at", "upstream_cleanup_pending"),
        )
    invoice_cleanup_upstream(invoice_id=invoice.pk, actor=actor)
    return Invoice.objects.get(pk=invoice.pk)


def invoice_cleanup_upstream(*, invoice_id: int, actor=None) -> bool:
    """Delete the upstream draft of a rejected or withdrawn cycle invoice. Safe to repeat.

    A newer live invoice for the same cycle owns the draft now (generation replaces drafts), so
    then there is nothing of ours to delete. The clean-up is part of the decision, so it is
    audited for the person who made it (the manager who rejected, the clerk who withdrew) even
    when `manage.py reconcile` finishes it later (`actor` None)."""
    invoice = Invoice.objects.select_related("decided_by", "submitted_by").get(pk=invoice_id)
    if not invoice.upstream_cleanup_pending:
        return True
    settled_later = actor is None
    if settled_later:
        actor = invoice.decided_by if invoice.status == S.REJECTED else invoice.submitted_by
    # (This invoice is rejected or withdrawn, so the live one is always another.)
    superseded = (
        records.live_invoice_for_cycle(
            backend=invoice.backend,
            contract_id=invoice.contract_id,
            customer_id=invoice.customer_id,
            bill_for=invoice.bill_for,
        )
        is not None
    )
    deleted = superseded or not invoice.upstream_id
    if not deleted:
        deleted = records.delete_draft_quietly(cycle_backend(), invoice.upstream_id)
    if deleted:
        with transaction.atomic():
            locked = records.locked(invoice_id)
            if locked.upstream_cleanup_pending:
                locked.upstream_cleanup_pending = False
                locked.save(update_fields=["upstream_cleanup_pending", "updated_at"])
                audit_record(
                    actor=actor,
                    action=workflow.DRAFT_DELETED,
                    invoice=locked,
                    data={
                        "upstream_id": locked.upstream_id,
                        "superseded": superseded,
                        **({"finished_by": "reconcile"} if settled_later else {}),
                    },
                )
    return deleted
