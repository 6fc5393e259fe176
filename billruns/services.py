"""Every change of a bill run: plan (a dry run, in the background), launch, cancel, retry its
failed items, finish. Each one checks the person's role and the run's state (billruns.states),
changes the run and its items in one transaction and writes the audit event in it.

Refusals are `invoices.services` errors (NotAllowed, InvalidTransition), so pages map them to a
response exactly as the invoice pages do.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from invoices import roles
from invoices.audit import audit_record
from invoices.backends import cycle_backend
from invoices.backends.base import BackendError
from invoices.services import InvalidTransition, NotAllowed

from . import leases
from .models import BillRun, BillRunItem
from .planning import Plan, PlanFilters, build_plan
from .states import ACTIVE_RUN_STATES, ITEM_STEPS, OPEN, RUN_STEPS, ItemState, RunState

R = RunState
#: A plan older than this is planned again before launching (what is due changes).
PLAN_FRESH_FOR = timedelta(hours=1)
STARTED, CANCELLED, FINISHED, RETRIED = (
    "billrun.started",
    "billrun.cancelled",
    "billrun.finished",
    "billrun.retried",
)


def _require_clerk(actor, what: str) -> None:
    if not actor.has_perm(roles.SUBMIT):
        raise NotAllowed(f"Your role does not allow you to {what}: bill runs are for clerks.")


def _locked(run_id: int) -> BillRun:
    return BillRun.objects.select_for_update().get(pk=run_id)


def _step(run: BillRun, step: str, message: str) -> None:
    """Move a locked run along `step`, or refuse with `message` ({state} is its state)."""
    rule = RUN_STEPS[step]
    if run.status not in rule.sources:
        raise InvalidTransition(message.format(state=run.get_status_display().lower()))
    run.status = rule.target


# --- plan ----------------------------------------------------------------------------------------
def filters_of(run: BillRun) -> PlanFilters:
    return PlanFilters(
        through=run.through,
        currency=run.currency,
        customer=run.customer,
        statuses=tuple(run.contract_statuses),
    )


def billrun_plan(*, actor, filters: PlanFilters) -> BillRun:
    """Start a dry run: a `planning` run the page polls while a task builds the plan."""
    _require_clerk(actor, "plan a bill run")
    backend = cycle_backend()
    with transaction.atomic():
        run = BillRun.objects.create(
            status=R.PLANNING,
            backend=backend.name,
            preview_exact=backend.preview_is_exact,
            through=filters.through,
            currency=filters.currency,
            customer=filters.customer,
            contract_statuses=list(filters.statuses),
            created_by=actor,
            heartbeat_at=timezone.now(),
        )
        enqueue_planning(run.pk)
    return run


def enqueue_planning(run_id: int) -> None:
    from .tasks import plan_run

    transaction.on_commit(lambda: plan_run.enqueue(run_id))


def run_planning(run_id: int) -> str:
    """The planning task's work: build the plan and freeze it into the run. Safe to run twice
    (the second finds the run planned already, or loses the race to freeze it)."""
    run = BillRun.objects.filter(pk=run_id).first()
    if run is None or run.status != R.PLANNING:
        return "nothing to plan"

    def progress(stage: str, done: int, total: int) -> None:
        BillRun.objects.filter(pk=run_id, status=R.PLANNING).update(
            plan_stage=stage, plan_done=done, plan_total=total, heartbeat_at=timezone.now()
        )

    try:
        plan = build_plan(filters_of(run), progress=progress)
    except BackendError as exc:
        with transaction.atomic():
            run = _locked(run_id)
            if run.status == R.PLANNING:
                _step(run, "plan_fail", "")
                run.failure_message = (
                    f"The billing backend's contract list could not be read: {exc}"
                )
                run.save(update_fields=["status", "failure_message"])
        return "failed"
    return "planned" if freeze(run_id, plan) else "planned elsewhere"


def freeze(run_id: int, plan: Plan) -> bool:
    """Write the plan into the run: one item per due cycle, with the cycle's values verbatim."""
    with transaction.atomic():
        run = _locked(run_id)
        if run.status != R.PLANNING:
            return False
        BillRunItem.objects.bulk_create(
            [
                BillRunItem(
                    run=run,
                    status=ItemState.PLANNED,
                    contract_id=c.contract_id,
                    contract_name=c.contract_name[:255],
                    customer_id=c.customer_id,
                    customer_name=c.customer_name[:255],
                    currency=c.currency,
                    cycle_name=c.cycle.name,
                    cycle_start_date=c.cycle.start_date,
                    cycle_end_date=c.cycle.end_date,
                    cycle_bill_for_date=c.cycle.bill_for_date,
                    cycle_start_day=c.cycle.billing_cycle_start_day,
                    bill_for=c.cycle.bill_for,
                    preview_total_minor=c.total_minor,
                )
                for c in plan.cycles
            ],
            batch_size=500,
        )
        _step(run, "plan", "")
        run.plan = plan.summary()
        run.preview_exact = plan.exact
        run.planned_at = timezone.now()
        run.plan_stage = ""
        run.save(update_fields=["status", "plan", "preview_exact", "planned_at", "plan_stage"])
    return True


def billrun_from_plan(*, actor, plan: Plan) -> BillRun:
    """A planned run from a plan built in this process (the `bill_run` command, and tests): no
    task, no polling."""
    _require_clerk(actor, "plan a bill run")
    filters = plan.filters
    run = BillRun.objects.create(
        status=R.PLANNING,
        backend=plan.backend,
        preview_exact=plan.exact,
        through=filters.through,
        currency=filters.currency,
        customer=filters.customer,
        contract_statuses=list(filters.statuses),
        created_by=actor,
        heartbeat_at=timezone.now(),
    )
    freeze(run.pk, plan)
    run.refresh_from_db()
    return run


# --- launch, cancel, retry -------------------------------------------------------------------
def billrun_launch(*, actor, run_id: int) -> BillRun:
    """Start the planned run: its items become work for the workers, submitted in `actor`'s
    name."""
    _require_clerk(actor, "launch a bill run")
    with transaction.atomic():
        run = _locked(run_id)
        _step(run, "launch", "This run is {state}; only a planned run can be launched.")
        if run.planned_at and timezone.now() - run.planned_at > PLAN_FRESH_FOR:
            raise InvalidTransition(
                "This plan is more than an hour old. Plan the run again, so that it bills what "
                "is due now."
            )
        count = leases.move_all(run.items.all(), ITEM_STEPS, "launch", next_attempt_at=None)
        if not count:
            raise InvalidTransition("This plan has nothing to bill.")
        now = timezone.now()
        run.launched_by, run.launched_at, run.heartbeat_at = actor, now, now
        run.save(update_fields=["status", "launched_by", "launched_at", "heartbeat_at"])
        audit_record(
            actor=actor,
            action=STARTED,
            data={
                "run": run.pk,
                "items": count,
                "through": run.through.isoformat(),
                "currency": run.currency,
                "customer": run.customer,
                "contract_statuses": run.contract_statuses,
                "backend": run.backend,
            },
        )
        enqueue_work(run.pk)
    return run


def enqueue_work(run_id: int) -> None:
    """Work for up to BILLRUN_WORKERS_PER_RUN workers, after commit (each claims items until
    none is left; an extra one finds nothing to do)."""
    from .config import workers_per_run
    from .tasks import work_run

    for _ in range(workers_per_run()):
        transaction.on_commit(lambda: work_run.enqueue(run_id))


def billrun_cancel(*, actor, run_id: int) -> BillRun:
    """No new claims: every waiting item is cancelled; items in flight finish."""
    _require_clerk(actor, "cancel a bill run")
    with transaction.atomic():
        run = _locked(run_id)
        was_planned = run.status == R.PLANNED
        _step(run, "cancel", "This run is {state}; it cannot be cancelled.")
        now = timezone.now()
        cancelled = leases.move_all(run.items.all(), ITEM_STEPS, "cancel", finished_at=now)
        in_flight = run.items.filter(status=ItemState.CLAIMED).count()
        run.cancelled_by, run.cancelled_at = actor, now
        if was_planned:
            run.finished_at = now  # nothing ran
        run.save(update_fields=["status", "cancelled_by", "cancelled_at", "finished_at"])
        audit_record(
            actor=actor,
            action=CANCELLED,
            data={"run": run.pk, "cancelled_items": cancelled, "in_flight": in_flight},
        )
    if not was_planned:
        finish_if_done(run.pk)
    return run


def billrun_retry_failed(*, actor, run_id: int) -> int:
    """Put the run's failed items back in the queue (with fresh attempts); returns how many."""
    _require_clerk(actor, "retry a bill run's items")
    with transaction.atomic():
        run = _locked(run_id)
        _step(
            run,
            "retry",
            "This run is {state}; only a running or finished run's failed items can be retried.",
        )
        count = leases.move_all(
            run.items.all(),
            ITEM_STEPS,
            "retry",
            attempts=0,
            claims=0,
            next_attempt_at=None,
            message="",
            finished_at=None,
            invoice=None,
        )
        if not count:
            raise InvalidTransition("This run has no failed items to retry.")
        run.finished_at = None
        run.summary_owed, run.summary_sent_at = False, None
        run.backoff_until = None
        run.heartbeat_at = timezone.now()
        run.save(
            update_fields=[
                "status",
                "finished_at",
                "summary_owed",
                "summary_sent_at",
                "backoff_until",
                "heartbeat_at",
            ]
        )
        audit_record(actor=actor, action=RETRIED, data={"run": run.pk, "items": count})
        enqueue_work(run.pk)
    return count


# --- finish --------------------------------------------------------------------------------------
def item_counts(run_id: int) -> dict[str, int]:
    rows = (
        BillRunItem.objects.filter(run_id=run_id)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {status: n for status, n in rows}


def finish_if_done(run_id: int) -> bool:
    """Close a running (or cancelled) run once none of its items is open: audit, and owe the
    one summary e-mail. Safe to call from every worker, any number of times."""
    from .notifications import enqueue_run_summary

    with transaction.atomic():
        run = _locked(run_id)
        if run.finished_at is not None or run.status not in ACTIVE_RUN_STATES:
            return False
        if run.status == R.CANCELLED:
            # An item in flight at the cancel that came back to wait (a backend outage, an
            # expired lease) starts no more: it is cancelled like the others were.
            leases.move_all(run.items.all(), ITEM_STEPS, "cancel", finished_at=timezone.now())
        if run.items.filter(status__in=OPEN).exists():
            return False
        if run.status == R.RUNNING:
            _step(run, "finish", "")
        run.finished_at = timezone.now()
        run.summary_owed = True
        run.save(update_fields=["status", "finished_at", "summary_owed"])
        counts = item_counts(run.pk)
        audit_record(
            actor=None,
            action=FINISHED,
            data={"run": run.pk, "status": run.status, "items": counts},
        )
        enqueue_run_summary(run.pk)
    return True
