"""Background entry points (Django's Tasks API, queue "documents"): plain functions taking
primary keys, safe to run twice, reading the truth from our tables."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django_tasks import TaskResultStatus, task
from django_tasks_db.backend import DatabaseBackend

from invoices.notifications import MAX_ATTEMPTS, retry_after

from . import services

#: Failed renderings of an invoice counted by the sweep (invoices.notifications' retry rule: at
#: most MAX_ATTEMPTS tries in this time, 5, 10, 20 ... minutes apart with the default setting).
FAILURES_COUNTED = timedelta(days=1)


@task(queue_name="documents")
def render_invoice_document(invoice_id: int) -> str:
    """Render and store the original PDF of an issued invoice (nothing if it exists)."""
    return services.document_render_original(invoice_id)


@dataclass(frozen=True)
class Held:
    """What the sweep leaves alone of the invoices it would queue a rendering for."""

    queued: frozenset[int]  # waiting for a worker, or being rendered
    backing_off: frozenset[int]  # failed lately: tried again later (retry_after)


def renderings_held(invoice_ids: Iterable[int], *, running_since: datetime, now: datetime) -> Held:
    """Those of `invoice_ids` whose rendering is already in the task queue (waiting for a
    worker, or running since `running_since`: a rendering running for longer is taken for lost
    with its worker), and those whose rendering failed lately: after n failures in the last
    FAILURES_COUNTED, the next try waits retry_after(n - 1) from the last one, and after
    MAX_ATTEMPTS there is none until the oldest counts no more. So the sweep neither queues a
    rendering again while one is on its way nor renders every minute a PDF that fails. Only the
    database backend (django-tasks-db, the default) can be asked what it holds; with another
    backend nothing is held and the sweep queues every missing one again, as before."""
    wanted = set(invoice_ids)
    if not wanted or not isinstance(render_invoice_document.get_backend(), DatabaseBackend):
        return Held(frozenset(), frozenset())
    from django_tasks_db.models import DBTaskResult

    rows = DBTaskResult.objects.filter(
        Q(status=TaskResultStatus.READY)
        | Q(status=TaskResultStatus.RUNNING, started_at__gte=running_since)
        | Q(status=TaskResultStatus.FAILED, finished_at__gte=now - FAILURES_COUNTED),
        task_path=render_invoice_document.module_path,
    ).values_list("status", "finished_at", "args_kwargs")
    queued: set[int] = set()
    failures: dict[int, list[datetime]] = {}
    for status, finished_at, call in rows.iterator(chunk_size=2000):
        args, kwargs = (call or {}).get("args") or [], (call or {}).get("kwargs") or {}
        invoice_id = args[0] if args else kwargs.get("invoice_id")
        if invoice_id not in wanted:
            continue
        if status == TaskResultStatus.FAILED:
            failures.setdefault(invoice_id, []).append(finished_at)
        else:
            queued.add(invoice_id)
    backing_off = {
        invoice_id
        for invoice_id, ended in failures.items()
        if invoice_id not in queued
        and (len(ended) >= MAX_ATTEMPTS or max(ended) > now - retry_after(len(ended) - 1))
    }
    return Held(frozenset(queued), frozenset(backing_off))
