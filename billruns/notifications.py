"""One e-mail per run and per batch approval, instead of one per invoice.

An outbox, as invoices' notifications: finishing a run (or a batch) marks its summary owed in the
same transaction and enqueues the task after commit; the task sends it and marks it sent; the
sweep re-enqueues a summary a lost task or a failed send left unsent, as it does every e-mail
(`invoices.notifications.retry_due`: later and later, up to MAX_ATTEMPTS tries). A failed send
is logged, never raised: the run page is the record.

- A run's summary goes to the clerk who launched it and to the managers (it is what they review).
- A batch approval's summary goes to the run's clerk (their invoices were approved) and to the
  manager who approved them.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from invoices import roles
from invoices.money import format_money
from invoices.notifications import MAX_ATTEMPTS, retry_due

from . import selectors
from .models import BatchApproval, BillRun, BillRunItem
from .states import ApprovalState, ItemState

log = logging.getLogger(__name__)


def enqueue_run_summary(run_id: int) -> None:
    from .tasks import send_run_summary

    transaction.on_commit(lambda: send_run_summary.enqueue(run_id))


def enqueue_batch_summary(batch_id: int) -> None:
    from .tasks import send_batch_summary

    transaction.on_commit(lambda: send_batch_summary.enqueue(batch_id))


def _url(name: str, pk: int) -> str:
    return settings.SITE_URL.rstrip("/") + reverse(name, args=[pk])


def _managers() -> list[str]:
    return list(roles.holders(roles.APPROVE).exclude(email="").values_list("email", flat=True))


def _send(record, subject: str, body: str, recipients: list[str]) -> str:
    """Send the summary of `record` (a run or a batch, locked) once, and record the attempt."""
    recipients = sorted({r for r in recipients if r})
    record.summary_attempts += 1
    try:
        if recipients:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)
    except Exception as exc:  # the mail server's problem: retried by the sweep
        log.warning("bill run summary could not be sent: %s", exc)
        record.save(update_fields=["summary_attempts"])
        return "failed"
    record.summary_sent_at = timezone.now()
    record.save(update_fields=["summary_attempts", "summary_sent_at"])
    return "sent"


def _owed(record) -> bool:
    return (
        record is not None
        and record.summary_owed
        and record.summary_sent_at is None
        and record.summary_attempts < MAX_ATTEMPTS
    )


def deliver_run_summary(run_id: int) -> str:
    with transaction.atomic():
        run = (
            BillRun.objects.select_for_update(of=("self",))
            .select_related("launched_by")
            .filter(pk=run_id)
            .first()
        )
        if not _owed(run):
            return "nothing owed"
        counts = BillRunItem.objects.filter(run=run).aggregate(**selectors.by_state(ItemState))
        lines = [
            f"Bill run #{run.pk} (bill through {run.through.isoformat()}) is {run.status}.",
            "",
            f"Submitted for approval: {counts[ItemState.SUBMITTED]}",
            f"Skipped: {counts[ItemState.SKIPPED]}",
            f"Failed: {counts[ItemState.FAILED]}",
        ]
        if counts[ItemState.CANCELLED]:
            lines.append(f"Cancelled: {counts[ItemState.CANCELLED]}")
        for group in selectors.submitted_groups(run):
            total = format_money(group.total_minor, group.currency)
            lines.append(f"Submitted in {group.currency}: {total}")
        lines += [
            "",
            f"The run: {_url('billruns:run', run.pk)}",
            f"Review and approve: {_url('billruns:review', run.pk)}",
        ]
        recipients = _managers()
        if run.launched_by and run.launched_by.email:
            recipients.append(run.launched_by.email)
        subject = (
            f"Bill run #{run.pk} {run.status}: {counts[ItemState.SUBMITTED]} invoice(s) to review"
        )
        return _send(run, subject, "\n".join(lines) + "\n", recipients)


def deliver_batch_summary(batch_id: int) -> str:
    with transaction.atomic():
        batch = (
            BatchApproval.objects.select_for_update(of=("self",))
            .select_related("created_by", "run__launched_by")
            .filter(pk=batch_id)
            .first()
        )
        if not _owed(batch):
            return "nothing owed"
        counts = batch.items.aggregate(**selectors.by_state(ApprovalState))
        body = "\n".join(
            [
                f"{batch.created_by.get_username()} approved invoices of bill run #{batch.run_id}.",
                "",
                f"Approved: {counts[ApprovalState.APPROVED]}",
                f"Stage approved, another approval needed: {counts[ApprovalState.STAGED]}",
                f"Refused: {counts[ApprovalState.REFUSED]}",
                f"Failed: {counts[ApprovalState.FAILED]}",
                "",
                f"Details: {_url('billruns:batch', batch.pk)}",
            ]
        )
        recipients = [batch.created_by.email]
        if batch.run.launched_by:
            recipients.append(batch.run.launched_by.email)
        subject = f"Bill run #{batch.run_id}: {counts[ApprovalState.APPROVED]} invoice(s) approved"
        return _send(batch, subject, body + "\n", recipients)


def owed(*, now: datetime | None = None) -> tuple[list[int], list[int]]:
    """Summaries a lost task or a failed send left unsent, due again (run ids, batch ids)."""
    due = retry_due(now or timezone.now(), since="finished_at", attempts="summary_attempts")
    runs = BillRun.objects.filter(due, summary_owed=True, summary_sent_at__isnull=True)
    batches = BatchApproval.objects.filter(due, summary_owed=True, summary_sent_at__isnull=True)
    return (
        list(runs.values_list("pk", flat=True)[:100]),
        list(batches.values_list("pk", flat=True)[:100]),
    )
