"""Background entry points (Django's Tasks API, queue "billruns"): plain functions taking primary
keys, reading the truth from our tables, safe to run twice or at the same time (items are
claimed with leases; a second task finds nothing to claim, or works beside the first)."""

from __future__ import annotations

import contextlib

from django_tasks import default_task_backend, task
from django_tasks.exceptions import InvalidTaskError

from . import batch, driver, notifications, services, work

QUEUE = "billruns"


def _slice_seconds() -> float | None:
    """A slice per task where a later task can take over; to the end where tasks run inline
    (re-enqueueing would recurse)."""
    return driver.SLICE_SECONDS if default_task_backend.supports_defer else None


@task(queue_name=QUEUE)
def plan_run(run_id: int) -> str:
    return services.run_planning(run_id)


@task(queue_name=QUEUE)
def work_run(run_id: int) -> str:
    outcome = driver.drive(work.run_job(run_id), seconds=_slice_seconds())
    if outcome == "continue":
        _again(work_run, run_id)
    return outcome


@task(queue_name=QUEUE)
def work_batch(batch_id: int) -> str:
    outcome = driver.drive(batch.batch_job(batch_id), seconds=_slice_seconds())
    if outcome == "continue":
        _again(work_batch, batch_id)
    return outcome


def _again(which, pk: int) -> None:
    # A backend that cannot take it: the sweep restarts the run's workers.
    with contextlib.suppress(InvalidTaskError):
        which.enqueue(pk)


@task(queue_name="email")
def send_run_summary(run_id: int) -> str:
    return notifications.deliver_run_summary(run_id)


@task(queue_name="email")
def send_batch_summary(batch_id: int) -> str:
    return notifications.deliver_batch_summary(batch_id)
