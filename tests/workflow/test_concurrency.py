"""Races on PostgreSQL: real concurrent requests end with one live invoice, one approval."""

import threading

import pytest
from django.db import connection

from invoices import services
from invoices.models import Invoice

from ..helpers import needs_postgres
from .conftest import MAY

pytestmark = [
    pytest.mark.postgres,
    needs_postgres,
    pytest.mark.django_db(transaction=True),
]


def run_together(*calls):
    """Start every call at the same moment on its own thread (own DB connection)."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(i, fn):
        try:
            barrier.wait()
            results[i] = fn()
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def submit(actor):
    return lambda: services.invoice_submit_cycle(
        actor=actor,
        contract_id="c-1",
        cycle_key=MAY.key,
        cycle_fp=services.cycle_fingerprint(MAY),
        preview_total_minor=15000,
    )


def test_two_clerks_submitting_the_same_cycle_make_one_live_invoice(fake, clerk, clerk2):
    fake.delays["generate_draft"] = 0.2
    results = run_together(submit(clerk), submit(clerk2), submit(clerk))
    ok = [r for r in results if isinstance(r, services.SubmitResult)]
    refused = [r for r in results if isinstance(r, services.CycleAlreadyInvoiced)]
    assert len(ok) == 1, results
    assert len(refused) == 2, results
    assert all(r.invoice is None or r.invoice.pk == ok[0].invoice.pk for r in refused)
    assert Invoice.objects.filter(status__in=Invoice.LIVE_STATUSES).count() == 1
    assert fake.calls["generate_draft"] == 1
    assert len(fake.drafts) == 1


def test_two_managers_approving_at_once_make_one_upstream_approval(fake, clerk, manager, manager2):
    invoice = submit(clerk)().invoice
    fake.delays["approve_draft"] = 0.3

    def approve(actor):
        return lambda: services.invoice_approve(
            actor=actor, invoice_id=invoice.pk, seen_hash=invoice.content_hash
        )

    results = run_together(approve(manager), approve(manager2))
    approved = [r for r in results if isinstance(r, Invoice)]
    refused = [r for r in results if isinstance(r, services.InvalidTransition)]
    assert len(approved) == 1 and len(refused) == 1, results
    assert fake.calls["approve_draft"] == 1
    assert Invoice.objects.get().status == Invoice.Status.APPROVED
