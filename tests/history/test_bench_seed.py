"""bench/seed_history.py: a small run keeps every invariant and leaves a verifying audit chain."""

import json
from collections import Counter
from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Count, F

from bench._seed_rows import request_json
from bench.seed_history import SeedError, seed_history
from invoices import roles
from invoices.adhoc import adhoc_request_from_json, adhoc_request_to_json
from invoices.audit import audit_record, audit_verify
from invoices.backends.base import AdhocInvoiceRequest, AdhocLine
from invoices.models import AuditEvent, Invoice
from invoices.snapshots import invoice_content_hash, lines_total_minor

pytestmark = pytest.mark.django_db
S = Invoice.Status


def as_json(value) -> str:
    return json.dumps(value, sort_keys=True)


def seed(n=500, **options):
    seed_history(n, batch=120, force=True, verbosity=0, **options)


def test_refuses_to_run_with_debug_off_unless_forced(settings):
    settings.DEBUG = False
    with pytest.raises(SeedError, match="refuses to run with DJANGO_DEBUG off"):
        seed_history(10, verbosity=0)
    assert not Invoice.objects.exists()


def test_small_run_writes_exactly_that_many_invoices_with_a_verifying_chain():
    seed(500, seed=7)
    assert Invoice.objects.count() == 500
    report = audit_verify()
    assert report.ok, report.problem
    assert report.checked == AuditEvent.objects.count() > 500
    # every invoice has its submission event, by its submitter
    submitted = AuditEvent.objects.filter(action="invoice.submitted")
    assert submitted.count() == 500
    assert not submitted.exclude(actor_id=F("invoice__submitted_by_id")).exists()


def test_small_run_respects_the_models_constraints():
    seed(500, seed=11)
    invoices = Invoice.objects.all()
    live = invoices.filter(kind="cycle", status__in=Invoice.LIVE_STATUSES)
    per_cycle = live.values("backend", "contract_id", "customer_id", "bill_for").annotate(
        n=Count("id")
    )
    assert max(row["n"] for row in per_cycle) == 1
    assert not invoices.filter(decided_by=F("submitted_by")).exists()
    assert not invoices.filter(kind="cycle", bill_for__isnull=True).exists()
    assert not invoices.filter(total_minor__lt=0).exists()


def test_small_run_has_realistic_spreads():
    seed(600, seed=3)
    invoices = Invoice.objects.all()
    statuses = Counter(invoices.values_list("status", flat=True))
    assert statuses[S.APPROVED] > 300 and statuses[S.REJECTED] > 0
    assert set(statuses) <= set(S.values)
    assert set(invoices.values_list("kind", flat=True)) == {"cycle", "adhoc"}
    assert set(invoices.values_list("backend", flat=True)) == {"embedded", "zenskar", "rebillia"}
    assert set(invoices.values_list("currency", flat=True)) <= {"USD", "EUR", "GBP", "JPY", "KWD"}
    assert invoices.values("contract_id").distinct().count() > 10
    first, last = (
        invoices.order_by(f)[0].submitted_at.date() for f in ("submitted_at", "-submitted_at")
    )
    assert (last - first).days > 2 * 365
    users = get_user_model().objects.filter(username__startswith="bench-")
    assert users.filter(groups__name=roles.CLERKS).count() == 12
    assert users.filter(groups__name=roles.MANAGERS).count() == 8
    assert not any(u.has_usable_password() for u in users)


def test_snapshots_totals_and_hashes_are_what_the_services_write():
    seed(300, seed=5)
    for invoice in Invoice.objects.all():
        assert 1 <= len(invoice.lines) <= 6
        assert lines_total_minor(invoice.lines) == invoice.total_minor
        assert invoice.content_hash == invoice_content_hash(invoice)
        if invoice.kind == Invoice.Kind.ADHOC:
            request = adhoc_request_from_json(invoice.adhoc_request)
            assert as_json(adhoc_request_to_json(request)) == as_json(invoice.adhoc_request)
            assert request.total_minor == invoice.total_minor
        else:
            assert invoice.cycle_bill_for_date.endswith("Z")
            assert invoice.bill_for in (invoice.period_start, invoice.period_end)


def test_revisions_link_rejected_versions_in_one_lineage():
    seed(800, seed=9)
    revised = Invoice.objects.filter(previous__isnull=False).select_related("previous")
    assert revised.exists()
    for invoice in revised:
        assert invoice.previous.status == S.REJECTED
        assert invoice.previous.lineage == invoice.lineage
        assert invoice.version == invoice.previous.version + 1
        assert invoice.submitted_at > invoice.previous.decided_at


def test_continues_an_existing_chain_and_can_run_twice(clerk):
    with transaction.atomic():
        audit_record(actor=clerk, action="invoice.submitted")
    seed(150, seed=1)
    seed(150, seed=1)
    assert Invoice.objects.count() == 300
    assert audit_verify().ok


def test_fast_request_json_matches_the_services_shape():
    request = AdhocInvoiceRequest(
        customer_id="c",
        currency_id="1",
        currency_code="USD",
        gateway_id="1",
        payment_method_id="9",
        date_from=date(2026, 1, 1),
        date_to=date(2026, 1, 31),
        date_due=date(2026, 3, 2),
        lines=(AdhocLine("Training day", 2, 50_000),),
        shipping_minor=1500,
        customer_name="Acme",
    )
    assert as_json(request_json(request)) == as_json(adhoc_request_to_json(request))


def test_is_no_longer_a_management_command():
    with pytest.raises(CommandError, match="Unknown command"):
        call_command("bench_seed", invoices=10)
