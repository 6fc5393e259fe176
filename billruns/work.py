"""A worker's work on a run: each claimed item goes through the same submit service as the clerk
flow (`invoices.services.invoice_submit_cycle`), in the name of the clerk who launched the run,
and its outcome is recorded on the item under the worker's lease.

- submitted: the invoice it made (or one the run itself had already made for the cycle);
- skipped: the cycle already has a live invoice (linked), the backend already has an approved
  invoice for it, or its draft totals zero (a run never confirms a zero total);
- back to waiting: the backend is unavailable or rate-limiting (the whole run backs off: the
  Retry-After asked for, or exponentially), up to BILLRUN_MAX_ATTEMPTS, then failed with the
  backend's message;
- settled by reconcile first: the cycle is held by an interrupted submission of this very item
  (its worker died, or the draft could not be read back), which reconcile completes from the
  draft the backend made (or drops, if it made none), so the cycle is never generated twice;
- failed: anything a retry cannot fix (the backend refused, the cycle changed since planning).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min, Q
from django.utils import timezone

from invoices import services
from invoices.backends.base import BackendError, BackendUnavailable, OutcomeUnknown
from invoices.models import Invoice

from . import leases
from .config import concurrency
from .driver import Job, Outlook
from .models import BillRun, BillRunItem
from .services import finish_if_done
from .states import ACTIVE_RUN_STATES, ITEM_STEPS, OPEN, RunState
from .states import ItemState as I

log = logging.getLogger(__name__)
WAITING_FOR_RECONCILE = (
    "Waiting for an interrupted submission of this run (invoice #{pk}) to be settled by "
    "reconcile: the cycle is not generated again while a draft of it may exist."
)


def run_job(run_id: int) -> Job:
    run = BillRun.objects.select_related("launched_by").get(pk=run_id)
    return Job(
        claim=lambda: _claim(run_id),
        work=lambda item: process_item(item, run),
        outlook=lambda: outlook(run_id),
        finish=lambda: finish_if_done(run_id),
        heartbeat=lambda: BillRun.objects.filter(pk=run_id).update(heartbeat_at=timezone.now()),
        threads=concurrency(run.backend),
    )


def _claim(run_id: int):
    now = timezone.now()
    claimable = BillRunItem.objects.filter(run_id=run_id, run__status=RunState.RUNNING).filter(
        Q(run__backoff_until__isnull=True) | Q(run__backoff_until__lte=now)
    )
    claimed = leases.claim(claimable, limit=1)
    return claimed[0] if claimed else None


def outlook(run_id: int) -> Outlook:
    found = BillRunItem.objects.filter(run_id=run_id, status__in=OPEN).aggregate(
        open=Count("pk"),
        pending=Count("pk", filter=Q(status=I.PENDING)),
        next_due=Min("next_attempt_at", filter=Q(status=I.PENDING)),
        lease_ends=Min("lease_expires_at", filter=Q(status=I.CLAIMED)),
    )
    run = BillRun.objects.filter(pk=run_id).values("status", "backoff_until").first()
    if run is None or run["status"] not in ACTIVE_RUN_STATES:
        return Outlook(0, None, None)
    if run["status"] == RunState.CANCELLED:
        # Nothing waiting starts again (finish_if_done cancels it): only items in flight count.
        return Outlook(found["open"] - found["pending"], None, found["lease_ends"])
    next_due = None
    if found["pending"]:
        now = timezone.now()
        next_due = max(d for d in (found["next_due"] or now, run["backoff_until"] or now, now))
    return Outlook(found["open"], next_due, found["lease_ends"])


# --- one item ---------------------------------------------------------------------------------
def process_item(item: BillRunItem, run: BillRun) -> None:
    cycle = item.cycle
    try:
        result = services.invoice_submit_cycle(
            actor=run.launched_by,
            contract_id=item.contract_id,
            cycle_key=cycle.key,
            cycle_fp=services.cycle_fingerprint(cycle),
            preview_total_minor=item.preview_total_minor,
            confirm_empty=False,
            run_id=run.pk,
        )
    except services.CycleAlreadyInvoiced as exc:
        _already_invoiced(item, run, exc)
    except services.NeedsConfirmation:
        _settle(
            item,
            "skip",
            "Zero total: the backend's draft has no charge, and a run does not submit one (it "
            "was taken back). Submit it by hand to confirm it.",
        )
    except services.StaleCycle as exc:
        _settle(item, "fail", f"{exc.message} Plan a new run to bill the cycle as it is now.")
    except (services.UpstreamFailed, BackendUnavailable, OutcomeUnknown) as exc:
        _retry(item, run, exc.message, getattr(exc, "retry_after", None))
    except (services.ServiceError, BackendError) as exc:
        _settle(item, "fail", exc.message)
    except DatabaseError:
        raise  # our own database: the lease expires and the item is taken back
    except Exception as exc:  # a bug must not stop the run: the item says what happened
        log.exception("bill run %s item %s failed unexpectedly", run.pk, item.pk)
        _settle(item, "fail", f"Unexpected error ({type(exc).__name__}); see the logs.")
    else:
        _settle(item, "submit", "", invoice=result.invoice)


def _already_invoiced(item: BillRunItem, run: BillRun, exc) -> None:
    holder = exc.invoice
    if holder is None and getattr(exc, "upstream", False):
        _settle(item, "skip", f"Already invoiced upstream: {exc.message}")
        return
    if holder is None:
        holder = services.live_invoice_for_cycle(
            backend=run.backend,
            contract_id=item.contract_id,
            customer_id=item.customer_id,
            bill_for=item.bill_for,
        )
    if holder is None:  # it let go of the cycle a moment ago: try again shortly
        _retry(item, run, exc.message, 1.0, count=False)
        return
    if holder.run_id == run.pk and holder.status == Invoice.Status.SUBMITTING:
        _settle_own_intent(item, run, holder)
    elif holder.run_id == run.pk:
        _settle(item, "submit", "", invoice=holder)  # made by this run (a repeated delivery)
    else:
        by = f"bill run #{holder.run_id}" if holder.run_id else "a clerk"
        _settle(
            item,
            "skip",
            f"The cycle already has a live invoice (#{holder.pk}, "
            f"{holder.get_status_display().lower()}, submitted by {by}).",
            invoice=holder,
        )


def _settle_own_intent(item: BillRunItem, run: BillRun, intent: Invoice) -> None:
    """The cycle is held by this run's own interrupted submission: an earlier attempt at this
    very item that could not finish (the draft could not be read back, or its worker died).
    Holding the item's lease, this worker is the only one on the cycle, so it asks reconcile to
    settle the intent now -- completed from the draft the backend made, or dropped if it made
    none -- and goes on from there. The cycle is never generated a second time while a draft of
    it is known."""
    try:
        services.invoice_reconcile(invoice_id=intent.pk)
    except BackendError as exc:
        waiting = f"{WAITING_FOR_RECONCILE.format(pk=intent.pk)} ({exc.message})"
        _retry(item, run, waiting, getattr(exc, "retry_after", None))
        return
    except services.ServiceError:
        pass  # settled by the sweep meanwhile
    after = Invoice.objects.filter(pk=intent.pk).first()
    if after is None:  # dropped: nothing was generated, or its draft was taken back
        _retry(item, run, "Interrupted submission settled; submitting again.", 0, count=False)
    elif after.status == Invoice.Status.SUBMITTING:
        # Reconcile needs a person (its draft is already approved upstream): say so.
        _settle(
            item,
            "fail",
            f"An interrupted submission of this cycle (invoice #{after.pk}) needs a person: "
            "its draft is no longer a draft upstream. Run `manage.py reconcile` for details.",
            invoice=after,
        )
    elif after.is_live:
        _settle(item, "submit", "", invoice=after)
    else:
        _retry(item, run, "Interrupted submission settled; submitting again.", 0, count=False)


def _retry(
    item: BillRunItem, run: BillRun, message: str, retry_after, *, count: bool = True
) -> None:
    attempts = item.attempts + (1 if count else 0)
    if attempts >= settings.BILLRUN_MAX_ATTEMPTS:
        _settle(item, "fail", f"{message} (gave up after {attempts} attempts)")
        return
    until = timezone.now() + leases.backoff(attempts, retry_after)
    moved = leases.move(
        item,
        ITEM_STEPS,
        "wait",
        attempts=attempts,
        next_attempt_at=until,
        message=f"Will retry: {message}",
    )
    if moved and count and leases.hold_all(run.items.all(), item, retry_after):
        BillRun.objects.filter(pk=run.pk).filter(
            Q(backoff_until__isnull=True) | Q(backoff_until__lt=until)
        ).update(backoff_until=until)


def _settle(item: BillRunItem, step: str, message: str, *, invoice=None) -> None:
    moved = leases.move(
        item,
        ITEM_STEPS,
        step,
        message=message[:2000],
        invoice=invoice,
        finished_at=timezone.now(),
        next_attempt_at=None,
    )
    if not moved:
        log.warning("bill run item %s: lease lost before recording %s", item.pk, step)
