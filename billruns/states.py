"""The states of a bill run, of its items and of a batch approval's items, each named once, and
the steps between them. Every state change goes through `items.move` / `runs.move` (billruns.
leases and billruns.services), which refuse a step that is not in these tables.

A run: planning → planned (or plan_failed) → running → finished; a planned or running run may be
cancelled (no new claims; items in flight finish). Retrying a finished run's failed items makes it
run again.

An item of a run: planned → (launch) pending → claimed (a worker holds its lease) → submitted
(its invoice), skipped (why, and the invoice that holds its cycle, if any), failed (the backend's
message) or back to pending (a retry after a backend outage, or waiting for reconcile to settle
an interrupted submission of its own); pending items are cancelled with their run; failed items
are retried on request.

An item of a batch approval: pending → claimed → approved, refused (four eyes, a stale hash, a
drifted draft ...) or failed (the backend's message), staged (an approval policy wants another
manager's approval too), or back to pending (a retry).

This module imports no models: billruns.models imports it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class RunState(models.TextChoices):
    PLANNING = "planning", "Planning (dry run)"
    PLANNED = "planned", "Planned, not launched"
    PLAN_FAILED = "plan_failed", "Planning failed"
    RUNNING = "running", "Running"
    CANCELLED = "cancelled", "Cancelled"
    FINISHED = "finished", "Finished"


class ItemState(models.TextChoices):
    PLANNED = "planned", "Planned"
    PENDING = "pending", "Waiting"
    CLAIMED = "claimed", "In progress"
    SUBMITTED = "submitted", "Submitted"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class ApprovalState(models.TextChoices):
    PENDING = "pending", "Waiting"
    CLAIMED = "claimed", "In progress"
    APPROVED = "approved", "Approved"
    # An approval policy asks this invoice for another approval: this one is recorded as a
    # stage, and the invoice waits for another manager (nothing was sent upstream yet).
    STAGED = "staged", "Stage approved; another approval needed"
    REFUSED = "refused", "Refused"
    FAILED = "failed", "Failed"


class BatchState(models.TextChoices):
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"


#: The states a worker can still act on (a run or a batch is done when none of its items is in
#: one). Shared by both item tables: pending and claimed have the same values in each.
OPEN = (ItemState.PENDING, ItemState.CLAIMED)
PENDING, CLAIMED = ItemState.PENDING.value, ItemState.CLAIMED.value


@dataclass(frozen=True)
class Step:
    sources: frozenset[str]
    target: str


def _s(sources, target) -> Step:
    return Step(frozenset(str(s) for s in sources), str(target))


I = ItemState  # noqa: E741
A = ApprovalState
R = RunState

#: Items of a run. (Claiming, and taking back an expired lease, are `leases.claim`'s own step:
#: pending, or claimed with an expired lease, → claimed.)
ITEM_STEPS: dict[str, Step] = {
    "launch": _s({I.PLANNED}, I.PENDING),
    "submit": _s({I.CLAIMED}, I.SUBMITTED),
    "skip": _s({I.CLAIMED}, I.SKIPPED),
    "fail": _s({I.CLAIMED}, I.FAILED),
    "wait": _s({I.CLAIMED}, I.PENDING),  # retry later, or wait for reconcile
    "requeue": _s({I.CLAIMED}, I.PENDING),  # an expired lease taken back by the sweep
    "cancel": _s({I.PLANNED, I.PENDING}, I.CANCELLED),
    "retry": _s({I.FAILED}, I.PENDING),
}
#: Items of a batch approval.
APPROVAL_STEPS: dict[str, Step] = {
    "approve": _s({A.CLAIMED}, A.APPROVED),
    "stage": _s({A.CLAIMED}, A.STAGED),
    "refuse": _s({A.CLAIMED}, A.REFUSED),
    "fail": _s({A.CLAIMED}, A.FAILED),
    "wait": _s({A.CLAIMED}, A.PENDING),
    "requeue": _s({A.CLAIMED}, A.PENDING),
}
#: Runs.
RUN_STEPS: dict[str, Step] = {
    "plan": _s({R.PLANNING}, R.PLANNED),
    "plan_fail": _s({R.PLANNING}, R.PLAN_FAILED),
    "launch": _s({R.PLANNED}, R.RUNNING),
    "cancel": _s({R.PLANNED, R.RUNNING}, R.CANCELLED),
    "finish": _s({R.RUNNING}, R.FINISHED),
    "retry": _s({R.RUNNING, R.FINISHED}, R.RUNNING),
}

#: Run states a worker has something to do in (claims happen only in RUNNING; a cancelled run
#: still settles the items in flight).
ACTIVE_RUN_STATES = (R.RUNNING, R.CANCELLED)
#: Item outcomes shown as "done" in progress and throughput.
ITEM_DONE = (I.SUBMITTED, I.SKIPPED, I.FAILED, I.CANCELLED)
APPROVAL_DONE = (A.APPROVED, A.STAGED, A.REFUSED, A.FAILED)
