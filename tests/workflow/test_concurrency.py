"""Races on PostgreSQL: real concurrent requests end with one live invoice, one approval, and
corrections that never take more than an invoice's total."""

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


def test_two_concurrent_credit_requests_cannot_exceed_the_invoice(fake, clerk, clerk2, manager):
    pending = submit(clerk)().invoice
    invoice = services.invoice_approve(
        actor=manager, invoice_id=pending.pk, seen_hash=pending.content_hash
    )
    hosting = 0  # 100.00 of the invoice's 150.00

    def credit(actor, minor):
        return lambda: services.invoice_request_correction(
            actor=actor,
            invoice_id=invoice.pk,
            kind="credit_note",
            reason_code="pricing_error",
            reason_text="Hosting price",
            lines=[services.CreditLine(hosting, minor)],
        )

    results = run_together(credit(clerk, 6000), credit(clerk2, 6000), credit(clerk, 6000))
    made = [r for r in results if isinstance(r, Invoice)]
    refused = [r for r in results if isinstance(r, services.CorrectionRefused)]
    assert len(made) == 1 and len(refused) == 2, results
    live = Invoice.objects.filter(corrects=invoice, status__in=Invoice.LIVE_STATUSES)
    assert sum(live.values_list("total_minor", flat=True)) == 6000


def test_a_concurrent_void_and_credit_leave_the_invoice_whole(fake, clerk, clerk2, manager):
    pending = submit(clerk)().invoice
    invoice = services.invoice_approve(
        actor=manager, invoice_id=pending.pk, seen_hash=pending.content_hash
    )

    def ask(actor, kind, lines=None):
        return lambda: services.invoice_request_correction(
            actor=actor,
            invoice_id=invoice.pk,
            kind=kind,
            reason_code="duplicate",
            reason_text="Billed twice",
            lines=lines,
        )

    results = run_together(ask(clerk, "void"), ask(clerk2, "credit_note"), ask(clerk2, "void"))
    made = [r for r in results if isinstance(r, Invoice)]
    assert len(made) == 1, results
    assert all(isinstance(r, services.ServiceError) for r in results if r not in made), results
    live = Invoice.objects.filter(corrects=invoice, status__in=Invoice.LIVE_STATUSES)
    assert sum(live.values_list("total_minor", flat=True)) == 15000
