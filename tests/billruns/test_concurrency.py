"""Workers claiming at the same moment on PostgreSQL: SKIP LOCKED hands each item to one worker,
without one waiting for the other; a run worked by two workers at once invoices each cycle once."""

import contextvars
import threading
import time

import pytest
from django.db import connection, transaction

from billruns import leases, services, tasks, work
from billruns.models import BillRun, BillRunItem
from billruns.states import ItemState
from invoices.models import Invoice
from tests.helpers import needs_postgres
from tests.workflow.fake_backend import cycle, line

from .conftest import planned

pytestmark = [pytest.mark.postgres, needs_postgres, pytest.mark.django_db(transaction=True)]


def many_contracts(fake, count: int) -> None:
    for n in range(count):
        fake.add_contract(
            f"p-{n}",
            name=f"Parallel {n}",
            customer=f"Parallel customer {n}",
            cycles=(cycle("2026-05-01", "2026-06-01"), cycle("2026-06-01", "2026-07-01")),
            lines=(line("Hosting", "10.00"),),
        )


def launched_idle(clerk) -> BillRun:
    run = planned(clerk)
    with transaction.atomic():
        BillRunItem.objects.filter(run=run).update(status=ItemState.PENDING)
        BillRun.objects.filter(pk=run.pk).update(status="running", launched_by=clerk)
    return run


def test_two_workers_claiming_at_once_never_take_the_same_item(world, clerk):
    many_contracts(world, 20)
    run = launched_idle(clerk)
    total = run.items.count()
    barrier = threading.Barrier(2)
    taken: list[list[int]] = [[], []]

    def worker(n: int) -> None:
        try:
            barrier.wait()
            while True:
                claimed = leases.claim(BillRunItem.objects.filter(run=run), limit=3)
                if not claimed:
                    return
                taken[n].extend(item.pk for item in claimed)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert taken[0] and taken[1], "both workers claimed some"
    assert not set(taken[0]) & set(taken[1])
    assert sorted(taken[0] + taken[1]) == sorted(run.items.values_list("pk", flat=True))
    assert len(taken[0]) + len(taken[1]) == total
    assert set(BillRunItem.objects.values_list("claims", flat=True)) == {1}


def test_a_claim_skips_a_row_another_worker_has_locked_instead_of_waiting(world, clerk):
    run = launched_idle(clerk)
    first = run.items.order_by("pk").first()
    locked, release = threading.Event(), threading.Event()

    def holder() -> None:
        try:
            with transaction.atomic():
                BillRunItem.objects.select_for_update().get(pk=first.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=holder)
    thread.start()
    assert locked.wait(10)
    started = time.monotonic()
    claimed = leases.claim(BillRunItem.objects.filter(run=run), limit=1)
    waited = time.monotonic() - started
    release.set()
    thread.join(10)
    assert claimed and claimed[0].pk != first.pk
    assert waited < 2  # it did not wait for the lock


QUEUED_ONLY = {
    "default": {
        "BACKEND": "django_tasks.backends.dummy.DummyBackend",
        "QUEUES": ["default", "email", "billruns"],
    }
}


def test_a_run_worked_by_two_workers_at_once_invoices_each_cycle_once(
    world, clerk, settings, monkeypatch
):
    settings.TASKS = QUEUED_ONLY  # launching queues the workers; this test runs them
    settings.BILLRUN_CONCURRENCY = {"*": 3}  # three threads in each worker
    many_contracts(world, 15)
    world.delays["generate_draft"] = 0.01
    run = planned(clerk)
    services.billrun_launch(actor=clerk, run_id=run.pk)
    assert run.items.filter(status=ItemState.PENDING).count() == 34
    barrier = threading.Barrier(2)
    which = contextvars.ContextVar("which")
    shares = {0: 0, 1: 0}
    real = work.process_item

    def counted(item, run):
        real(item, run)
        shares[which.get()] += 1  # the worker threads inherit their worker's context

    monkeypatch.setattr(work, "process_item", counted)

    def worker(n: int) -> None:
        try:
            which.set(n)
            barrier.wait()
            tasks.work_run.call(run.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    run.refresh_from_db()
    assert run.status == "finished"
    live = Invoice.objects.filter(status__in=Invoice.LIVE_STATUSES)
    keys = list(live.values_list("contract_id", "customer_id", "bill_for"))
    assert len(keys) == len(set(keys)) == run.items.count()
    assert world.calls["generate_draft"] == run.items.count()
    assert set(run.items.values_list("status", flat=True)) == {ItemState.SUBMITTED}
    assert set(run.items.values_list("claims", flat=True)) == {1}
    assert all(shares.values()) and sum(shares.values()) == run.items.count()
