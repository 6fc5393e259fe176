"""What a worker task does with a run or a batch: claim items and work on them, a few at once,
until nothing is due; then finish, wait for what is due later, or hand over to a later task.

A task works for at most SLICE_SECONDS, then asks to be continued (re-enqueued), so a worker
serving every queue gets to e-mails between slices and a SIGTERM is obeyed within one slice.
With a backend that runs tasks inline (tests' ImmediateBackend) it works to the end instead.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError, connections
from django.utils import timezone

from . import leases
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


class Held:
    """The items this worker holds under a lease right now, and a thread that renews their
    leases every third of a lease while they are held: an item whose work outlasts one lease
    (a slow backend) is never taken back from a live worker; a dead worker's leases lapse."""

    def __init__(self):
        self._lock = threading.Lock()
        self._items: dict[int, object] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._keep, name="billrun-leases", daemon=True)

    def __enter__(self) -> Held:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def add(self, item) -> None:
        with self._lock:
            self._items[id(item)] = item

    def discard(self, item) -> None:
        with self._lock:
            self._items.pop(id(item), None)

    def _keep(self) -> None:
        every = leases.lease_length().total_seconds() / 3
        try:
            while not self._stop.wait(every):
                with self._lock:
                    held = list(self._items.values())
                by_model: dict[type, list[str]] = {}
                for item in held:
                    by_model.setdefault(type(item), []).append(item.lease_token)
                for model, tokens in by_model.items():
                    try:
                        leases.extend(model, tokens)
                    except DatabaseError as exc:  # the lease lapses; the item is settled anyway
                        log.warning("bill run worker: could not renew leases: %s", exc)
        finally:
            connections.close_all()


def drive(job: Job, *, seconds: float | None = SLICE_SECONDS) -> str:
    """Work `job` until it is done ("finished"), or until `seconds` have passed ("continue":
    the caller enqueues the next slice). Waits for retries due within the slice."""
    with Held() as held:
        return _drive(job, seconds, held)


def _drive(job: Job, seconds: float | None, held: Held) -> str:
    deadline = None if seconds is None else time.monotonic() + seconds
    while True:
        job.heartbeat()
        run_in_threads(job.threads, lambda: _drain(job, deadline, held))
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


def _drain(job: Job, deadline: float | None, held: Held) -> None:
    beat = time.monotonic()
    while deadline is None or time.monotonic() < deadline:
        try:
            item = job.claim()
            if item is None:
                return
            held.add(item)
            try:
                job.work(item)
            finally:
                held.discard(item)
            if time.monotonic() - beat > HEARTBEAT_EVERY_S:
                job.heartbeat()
                beat = time.monotonic()
        except DatabaseError as exc:
            # Our own database is gone (a restart): stop here; an item in flight keeps its lease
            # until it expires, then it is taken back and settled (never generated twice).
            log.warning("bill run worker: database unavailable, stopping this slice: %s", exc)
            return
