"""What a worker task does with a run or a batch: claim items and work on them, a few at once,
until nothing is due; then finish, wait for what is due later, or hand over to a later task.

A task works for at most SLICE_SECONDS, then asks to be continued (re-enqueued), so a worker
serving every queue gets to e-mails between slices and a SIGTERM is obeyed within one slice.
With a backend that runs tasks inline (tests' ImmediateBackend) it works to the end instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError
from django.utils import timezone

from .threads import run_in_threads

log = logging.getLogger(__name__)
SLICE_SECONDS = 30.0
HEARTBEAT_EVERY_S = 5.0


@dataclass(frozen=True)
class Outlook:
    """What is left of a job: open items, and when the next one can be claimed (None: every
    open item is in flight under a live lease, the first of which expires at `lease_ends`)."""

    open: int
    next_due: datetime | None
    lease_ends: datetime | None


@dataclass
class Job:
    claim: Callable[[], object | None]  # one item, leased to this worker, or None
    work: Callable[[object], None]
    outlook: Callable[[], Outlook]
    finish: Callable[[], object]
    heartbeat: Callable[[], None]
    threads: int


def drive(job: Job, *, seconds: float | None = SLICE_SECONDS) -> str:
    """Work `job` until it is done ("finished"), or until `seconds` have passed ("continue":
    the caller enqueues the next slice). Waits for retries due within the slice."""
    deadline = None if seconds is None else time.monotonic() + seconds
    while True:
        job.heartbeat()
        run_in_threads(job.threads, lambda: _drain(job, deadline))
        outlook = job.outlook()
        if outlook.open == 0:
            job.finish()
            return "finished"
        if outlook.next_due is None:
            # What is left is in flight in other workers, under live leases: they finish it
            # (and the run). If one of them dies, the sweep takes its items back.
            return "in flight elsewhere"
        if deadline is not None and time.monotonic() >= deadline:
            return "continue"
        wait = (outlook.next_due - timezone.now()).total_seconds()
        if deadline is not None:
            wait = min(wait, deadline - time.monotonic())
        if wait > 0:
            time.sleep(min(wait, 60.0))


def _drain(job: Job, deadline: float | None) -> None:
    beat = time.monotonic()
    while deadline is None or time.monotonic() < deadline:
        try:
            item = job.claim()
            if item is None:
                return
            job.work(item)
            if time.monotonic() - beat > HEARTBEAT_EVERY_S:
                job.heartbeat()
                beat = time.monotonic()
        except DatabaseError as exc:
            # Our own database is gone (a restart): stop here; an item in flight keeps its lease
            # until it expires, then it is taken back and settled (never generated twice).
            log.warning("bill run worker: database unavailable, stopping this slice: %s", exc)
            return
