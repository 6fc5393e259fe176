"""Managers approve a run's invoices in one go: "Approve selected" records the invoices and the
content hash the manager saw of each, and a worker approves them one by one through the same
service as the invoice page (`invoices.services.invoice_approve`): four eyes, the hash, the
draft's drift check and one upstream call per invoice, each outcome recorded on its item.
Rejection stays per invoice, on its own page, with a reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from invoices import roles, services
from invoices.audit import audit_record
from invoices.backends.base import BackendError, BackendUnavailable
from invoices.models import Invoice

from . import leases
from .config import concurrency
from .driver import Job, Outlook
from .models import BatchApproval, BatchApprovalItem, BillRun
from .states import APPROVAL_STEPS, OPEN, BatchState
from .states import ApprovalState as A

log = logging.getLogger(__name__)
BATCH_STARTED, BATCH_FINISHED = "billrun.batch_approval_started", "billrun.batch_approval_finished"


@dataclass(frozen=True)
class Selection:
    invoice_id: int
    seen_hash: str


def batch_approve_start(*, actor, run_id: int, selections: list[Selection]) -> BatchApproval:
    """Record a manager's selection (each invoice with the hash they saw) and queue it."""
    if not actor.has_perm(roles.APPROVE):
        raise services.NotAllowed("Your role does not allow you to approve invoices.")
    if not selections:
        raise services.InvalidTransition("Select at least one invoice to approve.")
    with transaction.atomic():
        run = BillRun.objects.select_for_update().get(pk=run_id)
        wanted = {s.invoice_id: s.seen_hash for s in selections}
        found = set(
            Invoice.objects.filter(pk__in=wanted, run_id=run.pk).values_list("pk", flat=True)
        )
        if found != set(wanted):
            raise services.InvalidTransition(
                "Some selected invoices are not invoices of this bill run; reload the page."
            )
        batch = BatchApproval.objects.create(run=run, created_by=actor, heartbeat_at=timezone.now())
        BatchApprovalItem.objects.bulk_create(
            [
                BatchApprovalItem(batch=batch, invoice_id=pk, seen_hash=wanted[pk])
                for pk in sorted(wanted)
            ],
            batch_size=500,
        )
        audit_record(
            actor=actor,
            action=BATCH_STARTED,
            data={"run": run.pk, "batch": batch.pk, "invoices": len(wanted)},
        )
        enqueue_batch(batch.pk)
    return batch


def enqueue_batch(batch_id: int) -> None:
    from .tasks import work_batch

    transaction.on_commit(lambda: work_batch.enqueue(batch_id))


# --- the worker's side --------------------------------------------------------------------------
def batch_job(batch_id: int) -> Job:
    batch = BatchApproval.objects.select_related("created_by", "run").get(pk=batch_id)
    return Job(
        claim=lambda: _claim(batch_id),
        work=lambda item: process_approval(item, batch),
        outlook=lambda: outlook(batch_id),
        finish=lambda: finish_if_done(batch_id),
        heartbeat=lambda: BatchApproval.objects.filter(pk=batch_id).update(
            heartbeat_at=timezone.now()
        ),
        threads=concurrency(batch.run.backend),
    )


def _claim(batch_id: int):
    now = timezone.now()
    claimable = BatchApprovalItem.objects.filter(
        batch_id=batch_id, batch__status=BatchState.RUNNING
    ).filter(Q(batch__backoff_until__isnull=True) | Q(batch__backoff_until__lte=now))
    claimed = leases.claim(claimable, limit=1)
    return claimed[0] if claimed else None


def outlook(batch_id: int) -> Outlook:
    found = BatchApprovalItem.objects.filter(batch_id=batch_id, status__in=OPEN).aggregate(
        open=Count("pk"),
        pending=Count("pk", filter=Q(status=A.PENDING)),
        next_due=Min("next_attempt_at", filter=Q(status=A.PENDING)),
        lease_ends=Min("lease_expires_at", filter=Q(status=A.CLAIMED)),
    )
    backoff = BatchApproval.objects.filter(pk=batch_id).values_list("backoff_until", flat=True)
    next_due = None
    if found["pending"]:
        now = timezone.now()
        next_due = max(d for d in (found["next_due"] or now, backoff.first() or now, now))
    return Outlook(found["open"], next_due, found["lease_ends"])


def process_approval(item: BatchApprovalItem, batch: BatchApproval) -> None:
    actor = batch.created_by
    try:
        invoice = services.invoice_approve(  # the batch's summary tells the clerk, not one each
            actor=actor, invoice_id=item.invoice_id, seen_hash=item.seen_hash, notify=False
        )
    except services.DraftDrifted as exc:
        changes = "; ".join(change.describe() for change in exc.changes)
        _settle(item, "refuse", f"{exc.message} ({changes})" if changes else exc.message)
    except services.InvalidTransition as exc:
        _not_pending(item, batch, exc.message)
    except (services.NotAllowed, services.StaleSnapshot) as exc:
        _settle(item, "refuse", exc.message)
    except BackendUnavailable as exc:  # before anything was recorded: try again later
        _retry(item, batch, exc.message, exc.retry_after)
    except (services.ServiceError, BackendError) as exc:
        _settle(item, "fail", exc.message)  # the invoice says what happened (and offers Retry)
    except DatabaseError:
        raise
    except Exception as exc:
        log.exception("batch approval %s item %s failed unexpectedly", batch.pk, item.pk)
        _settle(item, "fail", f"Unexpected error ({type(exc).__name__}); see the logs.")
    else:
        if invoice.status == Invoice.Status.PENDING:  # a stage of a two-stage approval
            _settle(
                item,
                "stage",
                f"Stage {invoice.stages_done} of {invoice.stages_required} approved; another "
                "manager approves the last stage, which sends it to the billing backend.",
            )
        else:
            _settle(item, "approve", "")


def _not_pending(item: BatchApprovalItem, batch: BatchApproval, message: str) -> None:
    """Not pending any more: approved by this very batch already (a repeated delivery, or a
    worker that died after the approval), in flight, or decided by someone else."""
    invoice = Invoice.objects.filter(pk=item.invoice_id).values("status", "decided_by_id").first()
    mine = invoice is not None and invoice["decided_by_id"] == batch.created_by_id
    if mine and invoice["status"] == Invoice.Status.APPROVED:
        _settle(item, "approve", "")
    elif mine and invoice["status"] == Invoice.Status.APPROVING:
        _retry(item, batch, "The approval is in flight; reconcile settles it.", None, count=False)
    else:
        _settle(item, "refuse", message)


def _retry(item, batch, message: str, retry_after, *, count: bool = True) -> None:
    attempts = item.attempts + (1 if count else 0)
    if attempts >= settings.BILLRUN_MAX_ATTEMPTS:
        _settle(item, "fail", f"{message} (gave up after {attempts} attempts)")
        return
    until = timezone.now() + leases.backoff(max(attempts, 1), retry_after)
    moved = leases.move(
        item,
        APPROVAL_STEPS,
        "wait",
        attempts=attempts,
        next_attempt_at=until,
        message=f"Will retry: {message}",
    )
    if moved and count and leases.hold_all(batch.items.all(), item, retry_after):
        BatchApproval.objects.filter(pk=batch.pk).filter(
            Q(backoff_until__isnull=True) | Q(backoff_until__lt=until)
        ).update(backoff_until=until)


def _settle(item, step: str, message: str) -> None:
    if not leases.move(
        item,
        APPROVAL_STEPS,
        step,
        message=message[:2000],
        finished_at=timezone.now(),
        next_attempt_at=None,
    ):
        log.warning("batch approval item %s: lease lost before recording %s", item.pk, step)


def finish_if_done(batch_id: int) -> bool:
    from .notifications import enqueue_batch_summary

    with transaction.atomic():
        batch = BatchApproval.objects.select_for_update().get(pk=batch_id)
        if batch.status != BatchState.RUNNING:
            return False
        if batch.items.filter(status__in=OPEN).exists():
            return False
        rows = batch.items.values_list("status").annotate(n=Count("pk")).order_by()
        counts = {status: n for status, n in rows}
        batch.status = BatchState.FINISHED
        batch.finished_at = timezone.now()
        batch.summary_owed = True
        batch.save(update_fields=["status", "finished_at", "summary_owed"])
        audit_record(
            actor=None,
            action=BATCH_FINISHED,
            data={"run": batch.run_id, "batch": batch.pk, "items": counts},
        )
        enqueue_batch_summary(batch.pk)
    return True
