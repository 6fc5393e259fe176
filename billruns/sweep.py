"""The bill runs' part of the periodic sweep (`manage.py sweep`, see invoices.sweep).

Everything here reads our tables and is safe to repeat: a lease that expired is taken back (its
worker died); a run or a batch with open items that no worker has touched for `older_than` gets
its tasks again (a lost task, a worker killed with SIGKILL, a database restart); a run whose items
are all settled is finished; a summary e-mail a lost task left unsent is sent again.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from . import leases, notifications, services
from .batch import enqueue_batch
from .batch import finish_if_done as finish_batch_if_done
from .models import BatchApproval, BatchApprovalItem, BillRun, BillRunItem
from .states import ACTIVE_RUN_STATES, APPROVAL_STEPS, ITEM_STEPS, OPEN, BatchState, RunState


def sweep(*, older_than: timedelta) -> list[str]:
    lines = []
    now = timezone.now()
    stale = Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lte=now - older_than)
    taken = leases.requeue_expired(BillRunItem.objects.all(), ITEM_STEPS)
    taken += leases.requeue_expired(BatchApprovalItem.objects.all(), APPROVAL_STEPS)
    if taken:
        lines.append(f"{taken} expired lease(s) taken back")

    for run_id in BillRun.objects.filter(stale, status=RunState.PLANNING).values_list(
        "pk", flat=True
    ):
        BillRun.objects.filter(pk=run_id).update(heartbeat_at=now)
        services.enqueue_planning(run_id)
        lines.append(f"run {run_id}: planning restarted")

    active = BillRun.objects.filter(stale, status__in=ACTIVE_RUN_STATES, finished_at__isnull=True)
    for run_id in active.values_list("pk", flat=True):
        if services.finish_if_done(run_id):
            lines.append(f"run {run_id}: finished")
            continue
        BillRun.objects.filter(pk=run_id).update(heartbeat_at=now)
        services.enqueue_work(run_id)
        lines.append(f"run {run_id}: workers restarted")

    for batch_id in BatchApproval.objects.filter(stale, status=BatchState.RUNNING).values_list(
        "pk", flat=True
    ):
        if finish_batch_if_done(batch_id):
            lines.append(f"batch approval {batch_id}: finished")
            continue
        if BatchApprovalItem.objects.filter(batch_id=batch_id, status__in=OPEN).exists():
            BatchApproval.objects.filter(pk=batch_id).update(heartbeat_at=now)
            enqueue_batch(batch_id)
            lines.append(f"batch approval {batch_id}: worker restarted")

    runs, batches = notifications.owed()
    for run_id in runs:
        notifications.enqueue_run_summary(run_id)
    for batch_id in batches:
        notifications.enqueue_batch_summary(batch_id)
    if runs or batches:
        lines.append(f"{len(runs) + len(batches)} unsent summary e-mail(s) re-enqueued")
    return lines
