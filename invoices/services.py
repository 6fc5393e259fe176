"""Every change of an invoice's status happens here.

Pattern: `transaction.atomic()` → `select_for_update()` → check the allowed transition → save →
AuditEvent in the same transaction. Remote calls happen outside any transaction, bracketed by an
intent record committed before the call and a result record committed after it, so a crash at any
point leaves something `manage.py reconcile` can settle by asking the backend.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from . import backend_cache, money, notifications, roles
from .adhoc import adhoc_request_from_json, adhoc_request_to_json, adhoc_snapshot_lines
from .audit import audit_record
from .backends import adhoc_backend, cycle_backend
from .backends.base import (
    AdhocInvoiceRequest,
    AlreadyInvoicedUpstream,
    BackendError,
    BillingCycle,
    CycleNotMatched,
    Draft,
    NotFoundUpstream,
    OutcomeUnknown,
    RemoteInvoice,
)
from .models import Invoice
from .snapshots import (
    LineChange,
    content_hash,
    diff_lines,
    invoice_content_hash,
    lines_total_minor,
    snapshot_lines,
)

log = logging.getLogger(__name__)
S = Invoice.Status


# --- errors the views show ------------------------------------------------------------------
class ServiceError(Exception):
    """A refusal with a sentence for the person who asked."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotAllowed(ServiceError):
    pass


class InvalidTransition(ServiceError):
    pass


class StaleCycle(ServiceError):
    """The chosen cycle is no longer in the backend's list exactly as shown."""

    def __init__(self, message: str, fresh_cycles: tuple[BillingCycle, ...]):
        super().__init__(message)
        self.fresh_cycles = fresh_cycles


class CycleAlreadyInvoiced(ServiceError):
    def __init__(self, message: str, invoice: Invoice | None):
        super().__init__(message)
        self.invoice = invoice


class NeedsConfirmation(ServiceError):
    """A zero total or an invoice without lines: submit again with the confirmation ticked."""


class StaleSnapshot(ServiceError):
    pass


class DraftDrifted(ServiceError):
    def __init__(self, message: str, changes: list[LineChange]):
        super().__init__(message)
        self.changes = changes


class UpstreamFailed(ServiceError):
    """The backend call failed; the invoice is now `failed` (or unchanged) and says why."""

    def __init__(self, message: str, invoice: Invoice | None = None):
        super().__init__(message)
        self.invoice = invoice


# --- helpers --------------------------------------------------------------------------------
def _require(actor, perm: str, what: str) -> None:
    if not actor.has_perm(perm):
        raise NotAllowed(f"Your role does not allow you to {what}.")


def _four_eyes(actor, invoice: Invoice, what: str) -> None:
    if invoice.submitted_by_id == actor.pk:
        raise NotAllowed(
            f"You submitted this invoice, so you cannot {what} it: another manager must."
        )


def _locked(invoice_id: int) -> Invoice:
    return Invoice.objects.select_for_update().get(pk=invoice_id)


def _transition(
    invoice: Invoice,
    *,
    to: str,
    actor,
    action: str,
    reason: str = "",
    data: dict | None = None,
    fields: tuple[str, ...] = (),
) -> Invoice:
    """Save a locked invoice in its new status and write the audit event (same transaction)."""
    before = invoice.status
    invoice.status = to
    invoice.save(update_fields=["status", "updated_at", *fields])
    audit_record(
        actor=actor,
        action=action,
        invoice=invoice,
        from_status=before,
        to_status=to,
        reason=reason,
        data=data,
    )
    return invoice


def live_invoice_for_cycle(*, backend: str, contract_id: str, customer_id: str, bill_for):
    return (
        Invoice.objects.filter(
            kind=Invoice.Kind.CYCLE,
            backend=backend,
            contract_id=contract_id,
            customer_id=customer_id,
            bill_for=bill_for,
            status__in=Invoice.LIVE_STATUSES,
        )
        .order_by("-id")
        .first()
    )


def _check_revision(*, previous: Invoice | None, kind: str) -> None:
    if previous is None:
        return
    if previous.kind != kind:
        raise InvalidTransition("A revision must be of the same kind as the invoice it revises.")
    if previous.status != S.REJECTED:
        raise InvalidTransition("Only a rejected invoice can be revised and resubmitted.")
    if Invoice.objects.filter(previous=previous).exists():
        raise InvalidTransition("This invoice has already been revised; open the newer version.")


def _link_revision(invoice: Invoice, previous: Invoice | None) -> None:
    if previous is not None:
        invoice.previous = previous
        invoice.lineage = previous.lineage
        invoice.version = previous.version + 1


# --- clerk: contract-cycle submission --------------------------------------------------------
def cycle_fingerprint(cycle: BillingCycle) -> str:
    """All five fields of a cycle as listed, so "still in the list exactly" can be checked."""
    return content_hash(
        {
            "name": cycle.name,
            "start_date": cycle.start_date,
            "end_date": cycle.end_date,
            "bill_for_date": cycle.bill_for_date,
            "billing_cycle_start_day": cycle.billing_cycle_start_day,
        }
    )[:16]


@dataclass(frozen=True)
class SubmitResult:
    invoice: Invoice
    preview_differs: bool


def invoice_submit_cycle(
    *,
    actor: AbstractBaseUser,
    contract_id: str,
    cycle_key: str,
    cycle_fp: str,
    preview_total_minor: int | None,
    confirm_empty: bool = False,
    previous: Invoice | None = None,
) -> SubmitResult:
    """Generate the cycle's draft upstream, snapshot its real lines, and queue it for approval.

    Raises StaleCycle (the cycle changed or vanished: the fresh list is attached),
    CycleAlreadyInvoiced, NeedsConfirmation, NotAllowed, InvalidTransition, or a BackendError.
    """
    _require(actor, roles.SUBMIT, "submit invoices")
    _check_revision(previous=previous, kind=Invoice.Kind.CYCLE)
    backend = cycle_backend()
    contract, _ = backend_cache.contract(contract_id)
    # Re-fetch the cycle list: the chosen cycle must still be in it, exactly as it was shown.
    cycles, _ = backend_cache.billing_cycles(contract_id, refresh=True)
    cycle = next((c for c in cycles if c.key == cycle_key), None)
    if cycle is None or cycle_fingerprint(cycle) != cycle_fp:
        raise StaleCycle(
            "The billing backend no longer lists this cycle exactly as it was shown to you. "
            "Here is the fresh list; choose the cycle again.",
            cycles,
        )
    if previous is not None and (
        previous.contract_id != contract.id or previous.cycle_bill_for_date != cycle.bill_for_date
    ):
        raise InvalidTransition("A revision must be for the same contract and billing cycle.")

    # 1. The intent: claims the cycle (one live invoice per cycle is a database constraint).
    intent = Invoice(
        kind=Invoice.Kind.CYCLE,
        backend=backend.name,
        status=S.SUBMITTING,
        contract_id=contract.id,
        contract_name=contract.name,
        customer_id=contract.customer.id,
        customer_name=contract.customer.name,
        cycle_name=cycle.name,
        cycle_start_date=cycle.start_date,
        cycle_end_date=cycle.end_date,
        cycle_bill_for_date=cycle.bill_for_date,
        cycle_start_day=cycle.billing_cycle_start_day,
        bill_for=cycle.bill_for,
        period_start=cycle.start,
        period_end=cycle.end,
        currency=contract.currency,
        total_minor=0,
        preview_total_minor=preview_total_minor,
        preview_exact=backend.preview_is_exact,
        content_hash="",
        submitted_by=actor,
        submitted_at=timezone.now(),
    )
    _link_revision(intent, previous)
    try:
        with transaction.atomic():
            intent.save(force_insert=True)
    except IntegrityError:
        existing = live_invoice_for_cycle(
            backend=backend.name,
            contract_id=contract.id,
            customer_id=contract.customer.id,
            bill_for=cycle.bill_for,
        )
        raise CycleAlreadyInvoiced(
            "This billing cycle already has an invoice in progress or approved.", existing
        ) from None

    # 2. The upstream write, outside any transaction.
    try:
        draft_id = backend.generate_draft(
            contract_id=contract.id, customer_id=contract.customer.id, cycle=cycle
        )
    except CycleNotMatched:
        _abandon_intent(intent, actor, "the backend matched no billing cycle")
        backend_cache.forget(contract_id)
        fresh, _ = backend_cache.billing_cycles(contract_id, refresh=True)
        raise StaleCycle(
            "The billing backend did not recognise this cycle any more (it matched no billing "
            "cycle). Here is the fresh list; choose the cycle again.",
            fresh,
        ) from None
    except AlreadyInvoicedUpstream:
        _abandon_intent(intent, actor, "an approved invoice already exists upstream")
        raise CycleAlreadyInvoiced(
            "The billing backend already has an approved invoice for this billing period, so "
            "it cannot be invoiced again (corrections go through a credit note).",
            None,
        ) from None
    except BackendError as exc:
        _abandon_intent(intent, actor, str(exc))
        raise
    # The draft exists upstream now: remember its id at once, so that whatever happens next
    # (a failure below, a crash) reconcile knows which draft to take back.
    Invoice.objects.filter(pk=intent.pk, status=S.SUBMITTING).update(upstream_id=draft_id)
    try:
        draft = backend.get_draft(draft_id)
        lines = snapshot_lines(draft.lines, contract.currency)
        total_minor = money.to_minor(draft.total, contract.currency)
    except (BackendError, money.MoneyError) as exc:
        if _delete_draft_quietly(backend, draft_id):
            _abandon_intent(intent, actor, f"the draft could not be read back: {exc}")
            raise UpstreamFailed(
                "The billing backend generated the draft but it could not be read back "
                f"({exc}). Nothing was submitted for approval and the draft was taken back. "
                "Try again."
            ) from None
        # The draft could not be taken back either: the intent stays, with the draft's id, so
        # `manage.py reconcile` takes the draft back once the backend answers again.
        Invoice.objects.filter(pk=intent.pk, status=S.SUBMITTING).update(
            failure_message=f"The draft could not be read back: {exc}"[:1000]
        )
        raise UpstreamFailed(
            "The billing backend generated the draft but neither reading it back nor taking "
            f"it back worked ({exc}). Nothing was submitted for approval. The draft is "
            "recorded and will be taken back automatically; the cycle can be submitted again "
            "after that (within a few minutes)."
        ) from None

    if not confirm_empty and needs_empty_confirmation(lines, total_minor):
        # Nothing approvable was asked for: take the draft back and ask for a confirmation.
        _delete_draft_quietly(backend, draft_id)
        _abandon_intent(intent, actor, "zero total not confirmed")
        raise NeedsConfirmation(
            "The backend's draft has no lines."
            if not lines
            else "The backend's draft totals zero. Tick the confirmation to submit it anyway."
        )

    # 3. The result.
    with transaction.atomic():
        invoice = _locked(intent.pk)
        invoice.lines = lines
        invoice.total_minor = total_minor
        invoice.upstream_id = draft.id
        invoice.upstream_number = draft.number
        invoice.content_hash = invoice_content_hash(invoice)
        differs = preview_total_minor is not None and preview_total_minor != total_minor
        _transition(
            invoice,
            to=S.PENDING,
            actor=actor,
            action="invoice.submitted",
            data={
                "upstream_id": draft.id,
                "total_minor": total_minor,
                "preview_total_minor": preview_total_minor,
                "lines": len(lines),
                "content_hash": invoice.content_hash,
                "previous_id": previous.pk if previous else None,
            },
            fields=(
                "lines",
                "total_minor",
                "upstream_id",
                "upstream_number",
                "content_hash",
            ),
        )
        if lines_total_minor(lines) != total_minor:
            log.warning("invoice %s: upstream total differs from the sum of its lines", invoice.pk)
        notifications.on_submitted(invoice)
    return SubmitResult(invoice, differs)


def needs_empty_confirmation(lines, total_minor: int) -> bool:
    """An invoice with no lines or a zero total is submitted only with an explicit confirmation."""
    return not lines or total_minor == 0


def _abandon_intent(intent: Invoice, actor, why: str) -> None:
    """Drop a `submitting` intent whose generation failed: it never became a submission."""
    with transaction.atomic():
        deleted, _ = Invoice.objects.filter(pk=intent.pk, status=S.SUBMITTING).delete()
        if deleted:
            audit_record(
                actor=actor,
                action="invoice.submit_failed",
                reason=why[:500],
                data={
                    "contract_id": intent.contract_id,
                    "customer_id": intent.customer_id,
                    "bill_for_date": intent.cycle_bill_for_date,
                    "kind": intent.kind,
                },
            )


def _delete_draft_quietly(backend, draft_id: str) -> bool:
    try:
        backend.delete_draft(draft_id)
    except NotFoundUpstream:
        return True
    except BackendError as exc:
        log.warning("could not delete upstream draft %s: %s", draft_id, exc)
        return False
    return True


# --- clerk: ad-hoc submission ---------------------------------------------------------------
def invoice_submit_adhoc(
    *,
    actor: AbstractBaseUser,
    request: AdhocInvoiceRequest,
    customer_name: str,
    previous: Invoice | None = None,
    submission_key: str | None = None,
) -> Invoice:
    """Queue an ad-hoc invoice for approval. Nothing is sent upstream before approval.

    `submission_key` is the form's one-time token: sending the same form twice (a double click,
    a re-sent POST) returns the first submission instead of making a second one."""
    _require(actor, roles.SUBMIT, "submit invoices")
    if submission_key:
        existing = Invoice.objects.filter(submission_key=submission_key).first()
        if existing is not None:
            return existing
    _check_revision(previous=previous, kind=Invoice.Kind.ADHOC)
    backend = adhoc_backend()
    payload = adhoc_request_to_json(request)
    try:
        return _create_adhoc(
            actor, backend, request, payload, customer_name, previous, submission_key
        )
    except IntegrityError:
        existing = Invoice.objects.filter(submission_key=submission_key).first()
        if submission_key and existing is not None:
            return existing
        # Two clerks revising the same invoice at once: the other revision won.
        _check_revision(previous=previous, kind=Invoice.Kind.ADHOC)
        raise


def _create_adhoc(actor, backend, request, payload, customer_name, previous, submission_key):
    with transaction.atomic():
        invoice = Invoice(
            kind=Invoice.Kind.ADHOC,
            backend=backend.name,
            status=S.PENDING,
            customer_id=request.customer_id,
            customer_name=customer_name,
            period_start=_midnight(request.date_from),
            period_end=_midnight(request.date_to),
            currency=request.currency_code,
            total_minor=request.total_minor,
            preview_total_minor=request.total_minor,
            lines=adhoc_snapshot_lines(request),
            adhoc_request=payload,
            submission_key=submission_key or None,
            submitted_by=actor,
            submitted_at=timezone.now(),
        )
        _link_revision(invoice, previous)
        invoice.content_hash = invoice_content_hash(invoice)
        invoice.save(force_insert=True)
        audit_record(
            actor=actor,
            action="invoice.submitted",
            invoice=invoice,
            from_status="",
            to_status=S.PENDING,
            data={
                "total_minor": invoice.total_minor,
                "lines": len(request.lines),
                "content_hash": invoice.content_hash,
                "previous_id": previous.pk if previous else None,
            },
        )
        notifications.on_submitted(invoice)
    return invoice


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


# --- manager: approve -----------------------------------------------------------------------
def invoice_approve(*, actor: AbstractBaseUser, invoice_id: int, seen_hash: str) -> Invoice:
    """Approve what the manager saw: refuses a changed snapshot, one's own submission, anything
    not pending, and (cycle invoices) a draft whose lines drifted upstream."""
    _require(actor, roles.APPROVE, "approve invoices")
    invoice = Invoice.objects.get(pk=invoice_id)
    _check_approvable(actor, invoice, seen_hash)

    if invoice.kind == Invoice.Kind.CYCLE:
        backend = cycle_backend()
        try:
            draft = backend.get_draft(invoice.upstream_id)
        except NotFoundUpstream:
            # Another manager may have rejected it (deleting the draft) a moment ago.
            _check_approvable(actor, Invoice.objects.get(pk=invoice_id), seen_hash)
            raise UpstreamFailed(
                "The backend no longer has this invoice's draft. Reject it so the clerk can "
                "submit the cycle again."
            ) from None
        _refuse_drifted(actor, invoice, draft)

    # The intent, committed before the upstream write.
    with transaction.atomic():
        invoice = _locked(invoice_id)
        _check_approvable(actor, invoice, seen_hash)
        invoice.decided_by = actor
        invoice.decided_at = timezone.now()
        invoice.failure_message = ""
        invoice.failure_code = ""
        _transition(
            invoice,
            to=S.APPROVING,
            actor=actor,
            action="invoice.approval_started",
            fields=("decided_by", "decided_at", "failure_message", "failure_code"),
        )
    return _send_approval(actor=actor, invoice=invoice)


def _refuse_drifted(actor, invoice: Invoice, draft: Draft) -> None:
    """Refuse (and audit) approving an upstream draft whose lines or total are not the snapshot."""
    fresh = snapshot_lines(draft.lines, invoice.currency)
    changes = diff_lines(invoice.lines, fresh)
    if changes or money.to_minor(draft.total, invoice.currency) != invoice.total_minor:
        with transaction.atomic():
            audit_record(
                actor=actor,
                action="invoice.approval_refused",
                invoice=invoice,
                reason="the upstream draft changed since it was submitted",
                data={"changes": [c.describe() for c in changes]},
            )
        raise DraftDrifted(
            "The backend's draft changed since it was submitted, so it was not approved. "
            "Reject it and ask the clerk to submit the cycle again.",
            changes,
        )


def _check_approvable(actor, invoice: Invoice, seen_hash: str) -> None:
    _four_eyes(actor, invoice, "approve")
    if invoice.status != S.PENDING:
        raise InvalidTransition(
            f"This invoice is {invoice.get_status_display().lower()}, not pending approval."
        )
    if invoice.content_hash != seen_hash:
        raise StaleSnapshot(
            "This invoice changed after you opened it. Review the current version and approve "
            "again."
        )


def _send_approval(*, actor, invoice: Invoice) -> Invoice:
    """The upstream write of an approval, then its result. `invoice` is in `approving`."""
    try:
        remote = _approve_upstream(invoice)
    except AlreadyInvoicedUpstream:
        failed = _record_failure(invoice, actor, "already_invoiced", ALREADY_INVOICED_MESSAGE)
        raise UpstreamFailed(ALREADY_INVOICED_MESSAGE, failed) from None
    except BackendError as exc:
        code = "outcome_unknown" if isinstance(exc, OutcomeUnknown) else "backend_error"
        message = f"The billing backend did not complete the approval: {exc.message}"
        failed = _record_failure(invoice, actor, code, message)
        raise UpstreamFailed(message, failed) from None
    return _record_approved(invoice, actor, remote, action="invoice.approved")


ALREADY_INVOICED_MESSAGE = (
    "The billing backend already has an approved invoice for this billing period, so this one "
    "was not approved. Reject it; corrections go through a credit note."
)


def _approve_upstream(invoice: Invoice) -> RemoteInvoice:
    if invoice.kind == Invoice.Kind.CYCLE:
        return cycle_backend().approve_draft(invoice.upstream_id)
    return adhoc_backend().create_invoice(adhoc_request_from_json(invoice.adhoc_request))


def _record_approved(invoice: Invoice, actor, remote: RemoteInvoice, *, action: str) -> Invoice:
    with transaction.atomic():
        locked = _locked(invoice.pk)
        if locked.status == S.APPROVED:
            return locked
        locked.upstream_id = remote.id or locked.upstream_id
        locked.upstream_number = remote.number or locked.upstream_number
        locked.failure_message = ""
        locked.failure_code = ""
        # Approved upstream: there is no draft of ours left to take back, whatever raced us.
        locked.upstream_cleanup_pending = False
        _transition(
            locked,
            to=S.APPROVED,
            actor=actor,
            action=action,
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
        notifications.on_decided(locked)
    return locked


def _record_failure(invoice: Invoice, actor, code: str, message: str) -> Invoice:
    with transaction.atomic():
        locked = _locked(invoice.pk)
        locked.failure_code = code
        locked.failure_message = message
        _transition(
            locked,
            to=S.FAILED,
            actor=actor,
            action="invoice.approval_failed",
            reason=message[:1000],
            data={"code": code},
            fields=("failure_code", "failure_message"),
        )
    return locked


# --- manager: retry a failed approval -------------------------------------------------------
def invoice_retry(*, actor: AbstractBaseUser, invoice_id: int) -> Invoice:
    """Try a failed approval again — after first asking the backend whether it went through."""
    _require(actor, roles.APPROVE, "approve invoices")
    invoice = Invoice.objects.get(pk=invoice_id)
    _four_eyes(actor, invoice, "approve")
    if invoice.status != S.FAILED:
        raise InvalidTransition("Only a failed approval can be retried.")
    if invoice.failure_code == "already_invoiced":
        raise InvalidTransition(
            "The backend already has an approved invoice for this period; retrying cannot "
            "help. Reject this invoice."
        )
    outcome = _ask_backend(invoice)
    if outcome.remote is not None:
        return _record_approved(invoice, actor, outcome.remote, action="invoice.reconciled")
    if outcome.gone:
        raise UpstreamFailed(outcome.explanation, invoice)
    if outcome.draft is not None:
        # Still a draft: what is sent now must still be what the manager approved. A drifted one
        # is known not to be approved, so it goes back to the inbox, where it can be rejected.
        try:
            _refuse_drifted(actor, invoice, outcome.draft)
        except DraftDrifted:
            with transaction.atomic():
                locked = _locked(invoice_id)
                if locked.status == S.FAILED:
                    _back_to_pending(locked, actor, outcome.explanation)
            raise
    with transaction.atomic():
        invoice = _locked(invoice_id)
        if invoice.status != S.FAILED:
            raise InvalidTransition("This invoice changed meanwhile; reload the page.")
        invoice.decided_by = actor
        invoice.decided_at = timezone.now()
        _transition(
            invoice,
            to=S.APPROVING,
            actor=actor,
            action="invoice.approval_retried",
            fields=("decided_by", "decided_at"),
        )
    return _send_approval(actor=actor, invoice=invoice)


# --- manager: reject; submitter: withdraw -----------------------------------------------------
MAY_HAVE_BEEN_APPROVED = (
    "The backend may have received this approval. A manager must settle it first with Retry, "
    "which asks the backend what happened before sending anything."
)


def invoice_reject(*, actor: AbstractBaseUser, invoice_id: int, reason: str) -> Invoice:
    _require(actor, roles.APPROVE, "reject invoices")
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("Give the clerk a reason for the rejection.")
    with transaction.atomic():
        invoice = _locked(invoice_id)
        _four_eyes(actor, invoice, "reject")
        if invoice.status not in (S.PENDING, S.FAILED):
            raise InvalidTransition(
                f"This invoice is {invoice.get_status_display().lower()}; only pending or failed "
                "invoices can be rejected."
            )
        if invoice.approval_outcome_unknown:
            raise InvalidTransition(MAY_HAVE_BEEN_APPROVED)
        invoice.decided_by = actor
        invoice.decided_at = timezone.now()
        invoice.decision_reason = reason
        invoice.upstream_cleanup_pending = invoice.kind == Invoice.Kind.CYCLE
        _transition(
            invoice,
            to=S.REJECTED,
            actor=actor,
            action="invoice.rejected",
            reason=reason,
            fields=("decided_by", "decided_at", "decision_reason", "upstream_cleanup_pending"),
        )
        notifications.on_decided(invoice)
    invoice_cleanup_upstream(invoice_id=invoice.pk)
    return Invoice.objects.get(pk=invoice.pk)


def invoice_withdraw(*, actor: AbstractBaseUser, invoice_id: int) -> Invoice:
    with transaction.atomic():
        invoice = _locked(invoice_id)
        if invoice.submitted_by_id != actor.pk:
            raise NotAllowed("Only the clerk who submitted an invoice can withdraw it.")
        if invoice.status not in (S.PENDING, S.FAILED):
            raise InvalidTransition(
                f"This invoice is {invoice.get_status_display().lower()}; only pending or failed "
                "invoices can be withdrawn."
            )
        if invoice.approval_outcome_unknown:
            raise InvalidTransition(MAY_HAVE_BEEN_APPROVED)
        invoice.decided_at = timezone.now()
        invoice.upstream_cleanup_pending = invoice.kind == Invoice.Kind.CYCLE
        _transition(
            invoice,
            to=S.WITHDRAWN,
            actor=actor,
            action="invoice.withdrawn",
            fields=("decided_at", "upstream_cleanup_pending"),
        )
    invoice_cleanup_upstream(invoice_id=invoice.pk)
    return Invoice.objects.get(pk=invoice.pk)


def invoice_cleanup_upstream(*, invoice_id: int, actor=None) -> bool:
    """Delete the upstream draft of a rejected or withdrawn cycle invoice. Safe to repeat.

    A newer live invoice for the same cycle owns the draft now (generation replaces drafts), so
    then there is nothing of ours to delete."""
    invoice = Invoice.objects.get(pk=invoice_id)
    if not invoice.upstream_cleanup_pending:
        return True
    # (This invoice is rejected or withdrawn, so the live one is always another.)
    superseded = (
        live_invoice_for_cycle(
            backend=invoice.backend,
            contract_id=invoice.contract_id,
            customer_id=invoice.customer_id,
            bill_for=invoice.bill_for,
        )
        is not None
    )
    deleted = superseded or not invoice.upstream_id
    if not deleted:
        deleted = _delete_draft_quietly(cycle_backend(), invoice.upstream_id)
    if deleted:
        with transaction.atomic():
            locked = _locked(invoice_id)
            if locked.upstream_cleanup_pending:
                locked.upstream_cleanup_pending = False
                locked.save(update_fields=["upstream_cleanup_pending", "updated_at"])
                audit_record(
                    actor=actor,
                    action="invoice.draft_deleted",
                    invoice=locked,
                    data={"upstream_id": locked.upstream_id, "superseded": superseded},
                )
    return deleted


# --- reconcile ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """What the backend says about an approval: done (remote), impossible (gone), or neither."""

    remote: RemoteInvoice | None = None
    gone: bool = False
    explanation: str = ""
    draft: Draft | None = None  # a cycle invoice's draft, still unapproved upstream


def _ask_backend(invoice: Invoice) -> Outcome:
    if invoice.kind == Invoice.Kind.CYCLE:
        try:
            draft = cycle_backend().get_draft(invoice.upstream_id)
        except NotFoundUpstream:
            return Outcome(
                gone=True,
                explanation="The backend no longer has this invoice's draft. Reject it so the "
                "clerk can submit the cycle again.",
            )
        if draft.status.lower() != "draft":
            return Outcome(
                RemoteInvoice(
                    id=draft.id,
                    number=draft.number,
                    status=draft.status,
                    currency=draft.currency,
                    total=draft.total,
                    recovered=True,
                )
            )
        return Outcome(
            explanation="The backend still holds it as a draft (not approved).", draft=draft
        )
    found = adhoc_backend().find_invoice(adhoc_request_from_json(invoice.adhoc_request))
    if found is not None:
        return Outcome(found)
    return Outcome(explanation="The backend has no such invoice (it was not created).")


@dataclass(frozen=True)
class ReconcileResult:
    invoice_id: int
    before: str
    after: str
    detail: str


def invoice_reconcile(*, invoice_id: int, actor=None) -> ReconcileResult:
    """Settle one `submitting`, `approving` or `failed` record by asking the backend."""
    invoice = Invoice.objects.get(pk=invoice_id)
    before = invoice.status
    if invoice.status == S.SUBMITTING:
        # The request died between claiming the cycle and recording the draft's lines: the
        # intent never became a submission. Its draft, if the backend had made one and we had
        # learned its id, is taken back; a draft whose id we never learned is replaced by the
        # next submission of the cycle (the backend keeps one draft per cycle).
        detail = "interrupted submission dropped"
        if invoice.upstream_id:
            backend = cycle_backend()
            try:
                status = backend.get_draft(invoice.upstream_id).status.lower()
            except NotFoundUpstream:
                status = "gone"
            if status not in ("draft", "gone"):
                return ReconcileResult(
                    invoice_id,
                    before,
                    before,
                    f"needs a person: its draft {invoice.upstream_id} is {status} upstream",
                )
            if status == "draft":
                backend.delete_draft(invoice.upstream_id)
                detail += f"; its draft {invoice.upstream_id} was taken back"
        _abandon_intent(invoice, actor, "interrupted submission settled by reconcile")
        return ReconcileResult(invoice_id, before, "dropped", detail)
    if invoice.status not in (S.APPROVING, S.FAILED):
        if invoice.upstream_cleanup_pending:
            ok = invoice_cleanup_upstream(invoice_id=invoice_id, actor=actor)
            return ReconcileResult(
                invoice_id,
                before,
                before,
                "upstream draft deleted" if ok else "upstream draft still to delete",
            )
        return ReconcileResult(invoice_id, before, before, "nothing to settle")
    if invoice.failure_code == "already_invoiced":
        return ReconcileResult(
            invoice_id, before, before, "needs a person: already invoiced upstream"
        )
    outcome = _ask_backend(invoice)
    if outcome.remote is not None:
        settled = _record_approved(invoice, actor, outcome.remote, action="invoice.reconciled")
        return ReconcileResult(invoice_id, before, settled.status, "approved upstream")
    with transaction.atomic():
        locked = _locked(invoice_id)
        if locked.status != before:
            return ReconcileResult(invoice_id, before, locked.status, "changed meanwhile")
        if outcome.gone:
            if not (before == S.FAILED and locked.failure_code == "gone_upstream"):
                locked.failure_code = "gone_upstream"
                locked.failure_message = outcome.explanation
                _transition(
                    locked,
                    to=S.FAILED,
                    actor=actor,
                    action="invoice.reconciled",
                    reason=outcome.explanation,
                    fields=("failure_code", "failure_message"),
                )
            return ReconcileResult(invoice_id, before, S.FAILED, "needs a person: draft gone")
        _back_to_pending(locked, actor, outcome.explanation)
    return ReconcileResult(invoice_id, before, S.PENDING, "not approved upstream: pending again")


def _back_to_pending(locked: Invoice, actor, explanation: str) -> None:
    """Not approved upstream: back to the approvals inbox, for a manager to decide again."""
    locked.decided_by = None
    locked.decided_at = None
    locked.failure_code = ""
    locked.failure_message = ""
    _transition(
        locked,
        to=S.PENDING,
        actor=actor,
        action="invoice.reconciled",
        reason=f"{explanation} Returned to the approvals inbox.",
        fields=("decided_by", "decided_at", "failure_code", "failure_message"),
    )


def invoices_to_reconcile(*, older_than: timedelta):
    """Records a reconcile run should look at (in-flight ones younger than `older_than` are left
    to the request that is handling them)."""
    cutoff = timezone.now() - older_than
    return (
        Invoice.objects.filter(updated_at__lte=cutoff)
        .filter(
            Q(status__in=(S.SUBMITTING, S.APPROVING, S.FAILED)) | Q(upstream_cleanup_pending=True)
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
