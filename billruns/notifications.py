"""One e-mail per run and per batch approval, instead of one per invoice.

An outbox, as invoices' notifications: finishing a run (or a batch) marks its summary owed in the
same transaction and enqueues the task after commit; the task sends it and marks it sent; the
sweep re-enqueues a summary a lost task left unsent. A failed send is logged and retried later,
never raised: the run page is the record.

- A run's summary goes to the clerk who launched it and to the managers (it is what they review).
- A batch approval's summary goes to the run's clerk (their invoices were approved) and to the
  manager who approved them.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q, Sum
from django.urls import reverse
from django.utils import timezone

from invoices import roles
from invoices.money import format_money

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
    perm = roles.APPROVE.split(".", 1)[1]
    found = (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(
            Q(groups__permissions__codename=perm)
            | Q(user_permissions__codename=perm)
            | Q(is_superuser=True)
        )
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )
    return list(found)


def _send(subject: str, body: str, recipients: list[str]) -> bool:
    recipients = sorted({r for r in recipients if r})
    if not recipients:
        return True
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)
    except Exception as exc:  # the mail server's problem: retried by the sweep
        log.warning("bill run summary could not be sent: %s", exc)
        return False
    return True


def deliver_run_summary(run_id: int) -> str:
    with transaction.atomic():
        run = (
            BillRun.objects.select_for_update(of=("self",))
            .select_related("launched_by")
            .filter(pk=run_id)
            .first()
        )
        if run is None or not run.summary_owed or run.summary_sent_at is not None:
            return "nothing owed"
        items = BillRunItem.objects.filter(run=run)
        counts = {s: items.filter(status=s).count() for s in ItemState.values}
        totals = (
            items.filter(status=ItemState.SUBMITTED)
            .values_list("currency")
            .annotate(total=Sum("invoice__total_minor"))
            .order_by("currency")
        )
        lines = [
            f"Bill run #{run.pk} (bill through {run.through.isoformat()}) is {run.status}.",
            "",
            f"Submitted for approval: {counts[ItemState.SUBMITTED]}",
            f"Skipped: {counts[ItemState.SKIPPED]}",
            f"Failed: {counts[ItemState.FAILED]}",
        ]
        if counts[ItemState.CANCELLED]:
            lines.append(f"Cancelled: {counts[ItemState.CANCELLED]}")
        for currency, total in totals:
            lines.append(f"Submitted in {currency}: {format_money(total or 0, currency)}")
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
        if not _send(subject, "\n".join(lines) + "\n", recipients):
            return "failed"
        run.summary_sent_at = timezone.now()
        run.save(update_fields=["summary_sent_at"])
    return "sent"


def deliver_batch_summary(batch_id: int) -> str:
    with transaction.atomic():
        batch = (
            BatchApproval.objects.select_for_update(of=("self",))
            .select_related("created_by", "run__launched_by")
            .filter(pk=batch_id)
            .first()
        )
        if batch is None or not batch.summary_owed or batch.summary_sent_at is not None:
            return "nothing owed"
        counts = {s: batch.items.filter(status=s).count() for s in ApprovalState.values}
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
        if not _send(subject, body + "\n", recipients):
            return "failed"
        batch.summary_sent_at = timezone.now()
        batch.save(update_fields=["summary_sent_at"])
    return "sent"


def owed(*, older_than_minutes: int) -> tuple[list[int], list[int]]:
    """Summaries a lost task left unsent (run ids, batch ids), for the sweep."""
    cutoff = timezone.now() - timedelta(minutes=older_than_minutes)
    runs = BillRun.objects.filter(
        summary_owed=True, summary_sent_at__isnull=True, finished_at__lte=cutoff
    ).values_list("pk", flat=True)
    batches = BatchApproval.objects.filter(
        summary_owed=True, summary_sent_at__isnull=True, finished_at__lte=cutoff
    ).values_list("pk", flat=True)
    return list(runs[:100]), list(batches[:100])
