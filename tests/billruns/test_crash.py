"""A worker killed mid-item (SIGKILL: no except clause runs) loses its lease; the item is taken
back (by another worker or the sweep) and settles by asking the backend, never by generating the
cycle twice. The sweep restarts runs no worker is working on."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from billruns import driver, leases, services, tasks, work
from billruns.models import BillRun, BillRunItem
from billruns.states import ITEM_STEPS, ItemState, RunState
from invoices.audit import audit_verify
from invoices.models import AuditEvent, Invoice
from invoices.sweep import run_sweep

from .conftest import MAY, planned

pytestmark = pytest.mark.django_db
I = ItemState  # noqa: E741


class Killed(BaseException):
    """What SIGKILL looks like from inside: nothing after this line runs."""


def launched_idle(clerk):
    """Launched, with its workers not started (no commit inside a test)."""
    run = planned(clerk, currency="USD", customer="acme")  # c-1: May and June
    services.billrun_launch(actor=clerk, run_id=run.pk)
    return BillRun.objects.select_related("launched_by").get(pk=run.pk)


def kill_worker_on(world, clerk, method: str, *, after_effect: bool = False):
    """A worker claims May and dies inside the backend's `method`."""
    run = launched_idle(clerk)
    if after_effect:
        world.after_effect[method] = Killed()
    else:
        world.fail(method, Killed())
    item = work._claim(run.pk)
    assert item.cycle_bill_for_date == MAY.bill_for_date
    with pytest.raises(Killed):
        work.process_item(item, run)
    item.refresh_from_db()
    assert item.status == I.CLAIMED  # its lease is still held by the dead worker
    return run, item


def time_passes(item, *, seconds: int = 600) -> None:
    """The dead worker's lease expires; its intent ages (reconcile leaves young ones alone)."""
    past = timezone.now() - timedelta(seconds=seconds)
    BillRunItem.objects.filter(pk=item.pk).update(lease_expires_at=past)
    Invoice.objects.filter(status=Invoice.Status.SUBMITTING).update(updated_at=past)


def one_live_invoice_per_cycle():
    live = Invoice.objects.filter(status__in=Invoice.LIVE_STATUSES)
    keys = list(live.values_list("contract_id", "customer_id", "bill_for"))
    return len(keys) == len(set(keys))


def test_a_worker_killed_after_generating_is_resumed_from_its_draft_not_generated_again(
    world, clerk
):
    run, item = kill_worker_on(world, clerk, "get_draft")
    intent = Invoice.objects.get(status=Invoice.Status.SUBMITTING)
    assert intent.run_id == run.pk and intent.upstream_id  # the draft's id was kept
    time_passes(item)
    assert tasks.work_run.call(run.pk) == "finished"  # another worker takes the run on
    item.refresh_from_db()
    assert item.status == I.SUBMITTED and item.invoice_id == intent.pk
    intent.refresh_from_db()
    assert intent.status == Invoice.Status.PENDING and intent.lines
    assert world.calls["generate_draft"] == 2  # May once (June once): never twice
    assert len(world.drafts) == 2
    assert AuditEvent.objects.get(invoice=intent, action="invoice.reconciled").data["run"] == run.pk
    assert one_live_invoice_per_cycle() and audit_verify().ok
    assert BillRun.objects.get(pk=run.pk).status == RunState.FINISHED


def test_a_worker_killed_before_the_backend_answered_generates_once_more(world, clerk):
    run, item = kill_worker_on(world, clerk, "generate_draft", after_effect=True)
    intent = Invoice.objects.get(status=Invoice.Status.SUBMITTING)
    assert not intent.upstream_id  # the draft was made, but its id never reached us
    time_passes(item)
    tasks.work_run.call(run.pk)
    item.refresh_from_db()
    assert item.status == I.SUBMITTED
    # Reconcile dropped the intent; the item generated again, and the backend replaced its draft
    # for that cycle: one draft, one live invoice.
    assert not Invoice.objects.filter(pk=intent.pk).exists()
    may = [d for d in world.drafts.values() if d.bill_for_date == MAY.bill_for_date]
    assert len(may) == 1 and item.invoice.upstream_id == may[0].id
    assert one_live_invoice_per_cycle() and audit_verify().ok


def test_the_next_claim_settles_the_interrupted_submission_before_anything_else(world, clerk):
    run, item = kill_worker_on(world, clerk, "get_draft")
    intent = Invoice.objects.get(status=Invoice.Status.SUBMITTING)
    BillRunItem.objects.filter(pk=item.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    again = work._claim(run.pk)  # another worker takes the item as soon as the lease expired
    assert again.pk == item.pk and again.claims == 2
    work.process_item(again, run)
    again.refresh_from_db()
    assert again.status == I.SUBMITTED and again.invoice_id == intent.pk
    assert world.calls["generate_draft"] == 1  # completed from its draft, not generated again


def test_a_draft_that_could_not_be_read_back_is_completed_on_the_next_attempt(
    world, clerk, settings, django_capture_on_commit_callbacks
):
    from invoices.backends.base import BackendUnavailable

    settings.BILLRUN_BACKOFF_SECONDS = 0.01
    world.fail("get_draft", BackendUnavailable("Zenskar is unavailable (HTTP 503)"))
    world.fail("delete_draft", BackendUnavailable("Zenskar is unavailable (HTTP 503)"))
    run = planned(clerk, currency="USD", customer="acme")
    with django_capture_on_commit_callbacks(execute=True):
        services.billrun_launch(actor=clerk, run_id=run.pk)
    may = run.items.get(cycle_bill_for_date=MAY.bill_for_date)
    assert may.status == I.SUBMITTED and may.attempts == 1
    assert world.calls["generate_draft"] == 2  # May once, June once
    assert may.invoice.events.filter(action="invoice.reconciled").exists()
    assert one_live_invoice_per_cycle() and audit_verify().ok


def test_the_sweep_takes_the_lease_back_reconciles_and_restarts_the_run(
    world, clerk, django_capture_on_commit_callbacks
):
    run, item = kill_worker_on(world, clerk, "get_draft")
    time_passes(item)
    BillRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        report = run_sweep(older_than=timedelta(seconds=60))
    text = "\n".join(report.lines)
    assert "interrupted submission completed" in text  # invoices' reconcile, first
    assert "1 expired lease(s) taken back" in text
    assert f"run {run.pk}: workers restarted" in text
    run.refresh_from_db()
    assert run.status == RunState.FINISHED  # the restarted workers ran (inline in tests)
    assert set(run.items.values_list("status", flat=True)) == {I.SUBMITTED}
    assert world.calls["generate_draft"] == 2
    assert one_live_invoice_per_cycle() and audit_verify().ok


def test_the_sweep_finishes_a_run_whose_last_worker_died_after_its_last_item(world, clerk):
    run = launched_idle(clerk)
    for _ in range(2):
        work.process_item(work._claim(run.pk), run)
    BillRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert f"billruns: run {run.pk}: finished" in run_sweep(older_than=timedelta(seconds=60)).lines
    assert BillRun.objects.get(pk=run.pk).finished_at is not None


def test_the_sweep_leaves_a_live_run_alone(world, clerk):
    run = launched_idle(clerk)
    work._claim(run.pk)  # a live worker holds an item, and the run's heartbeat is fresh
    lines = run_sweep(older_than=timedelta(seconds=60)).lines
    assert not [line for line in lines if line.startswith(f"billruns: run {run.pk}")]
    assert BillRunItem.objects.filter(run=run, status=I.CLAIMED).count() == 1


def test_the_sweep_restarts_planning_that_a_dead_worker_left(
    world, clerk, django_capture_on_commit_callbacks
):
    from billruns.planning import PlanFilters

    from .conftest import THROUGH

    with django_capture_on_commit_callbacks(execute=False):  # the planning task is lost
        run = services.billrun_plan(actor=clerk, filters=PlanFilters(through=THROUGH))
    BillRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        report = run_sweep(older_than=timedelta(seconds=60))
    assert f"billruns: run {run.pk}: planning restarted" in report.lines
    assert BillRun.objects.get(pk=run.pk).status == RunState.PLANNED


def test_a_live_workers_leases_are_renewed_while_it_works_and_a_taken_back_one_is_not(world, clerk):
    run = launched_idle(clerk)
    mine, taken = work._claim(run.pk), work._claim(run.pk)
    past = timezone.now() - timedelta(seconds=1)
    BillRunItem.objects.filter(pk__in=[mine.pk, taken.pk]).update(lease_expires_at=past)
    leases.requeue_expired(BillRunItem.objects.filter(pk=taken.pk), ITEM_STEPS)
    assert leases.extend(BillRunItem, [mine.lease_token, taken.lease_token]) == 1
    mine.refresh_from_db()
    assert mine.lease_expires_at > timezone.now()  # still this worker's: nobody may take it
    assert leases.requeue_expired(BillRunItem.objects.all(), ITEM_STEPS) == 0
    taken.refresh_from_db()
    assert taken.status == I.PENDING and taken.lease_token == ""


@pytest.mark.django_db(transaction=True)  # the lease keeper writes on its own connection
def test_the_driver_keeps_renewing_the_lease_of_an_item_slower_than_a_lease(world, clerk, settings):
    settings.BILLRUN_LEASE_SECONDS = 0.3
    run = planned(clerk)  # launched by hand: a launch here would run its workers at commit
    BillRunItem.objects.filter(run=run).update(status=I.PENDING)
    BillRun.objects.filter(pk=run.pk).update(status=RunState.RUNNING, launched_by=clerk)
    item = work._claim(run.pk)
    first_expiry = item.lease_expires_at
    with driver.Held() as held:
        held.add(item)
        time.sleep(0.5)  # longer than a lease: without renewals it would have expired
        renewed = BillRunItem.objects.get(pk=item.pk).lease_expires_at
        held.discard(item)
    assert renewed > first_expiry
    assert BillRunItem.objects.get(pk=item.pk).lease_token == item.lease_token
