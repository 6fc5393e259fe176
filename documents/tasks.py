"""Background entry points (Django's Tasks API, queue "documents"): plain functions taking
primary keys, safe to run twice, reading the truth from our tables."""

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Q
from django_tasks import task
from django_tasks_db.backend import DatabaseBackend

from . import services

READY, RUNNING = "READY", "RUNNING"  # django_tasks' TaskResultStatus values


@task(queue_name="documents")
def render_invoice_document(invoice_id: int) -> str:
    """Render and store the original PDF of an approved invoice (nothing if it exists)."""
    return services.document_render_original(invoice_id)


def renderings_in_queue(invoice_ids: Iterable[int], *, running_since: datetime) -> set[int]:
    """Those of `invoice_ids` whose rendering is already in the task queue: waiting for a worker,
    or running since `running_since` (a rendering running for longer is taken for lost with its
    worker). So the sweep does not queue a rendering again while one is on its way. Only the
    database backend (django-tasks-db, the default) can be asked what it holds; with another
    backend, none is found and the sweep queues every missing one again, as before."""
    wanted = set(invoice_ids)
    if not wanted or not isinstance(render_invoice_document.get_backend(), DatabaseBackend):
        return set()
    from django_tasks_db.models import DBTaskResult

    queued = DBTaskResult.objects.filter(
        Q(status=READY) | Q(status=RUNNING, started_at__gte=running_since),
        task_path=render_invoice_document.module_path,
    ).values_list("args_kwargs", flat=True)
    found = set()
    for call in queued.iterator(chunk_size=2000):
        args, kwargs = (call or {}).get("args") or [], (call or {}).get("kwargs") or {}
        invoice_id = args[0] if args else kwargs.get("invoice_id")
        if invoice_id in wanted:
            found.add(invoice_id)
    return found
