"""Fixtures for the history pages: invoices made directly (fast, exact values) and events."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from invoices.audit import audit_record
from invoices.models import Invoice

BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def make_invoice(clerk):
    """make_invoice(**fields) -> an Invoice; each new one is submitted a minute after the last."""
    counter = itertools.count(1)

    def _make(**fields):
        n = next(counter)
        kind = fields.pop("kind", Invoice.Kind.CYCLE)
        values = {
            "kind": kind,
            "backend": "embedded",
            "status": Invoice.Status.PENDING,
            "contract_id": f"c-{n}" if kind == Invoice.Kind.CYCLE else "",
            "contract_name": f"Contract {n}" if kind == Invoice.Kind.CYCLE else "",
            "customer_id": f"cust-{n}",
            "customer_name": f"Customer {n}",
            "currency": "USD",
            "total_minor": 10_000,
            "content_hash": f"{n:064x}",
            "submitted_by": clerk,
            "submitted_at": BASE + timedelta(minutes=n),
            "lines": [],
        }
        if kind == Invoice.Kind.CYCLE:
            bill_for = fields.get("bill_for") or BASE + timedelta(days=n)
            values.update(
                bill_for=bill_for,
                cycle_name=f"cycle {n}",
                cycle_bill_for_date=bill_for.strftime("%Y-%m-%dT%H:%M:%SZ"),
                period_start=bill_for,
                period_end=bill_for + timedelta(days=30),
            )
        else:
            values.update(period_start=BASE, period_end=BASE + timedelta(days=30))
        values.update(fields)
        return Invoice.objects.create(**values)

    return _make


@pytest.fixture
def record_event():
    def _record(actor=None, action="invoice.submitted", **fields):
        with transaction.atomic():
            return audit_record(actor=actor, action=action, **fields)

    return _record


@pytest.fixture
def fake(settings, monkeypatch):
    """The in-memory fake becomes the contract-cycle backend (as in tests/workflow)."""
    from invoices.backends import CYCLE_BACKENDS, reset_backends
    from tests.workflow.fake_backend import FakeCycleBackend

    backend = FakeCycleBackend()
    monkeypatch.setitem(CYCLE_BACKENDS, "fake", "tests.workflow.fake_backend.FakeCycleBackend")
    monkeypatch.setattr(FakeCycleBackend, "current", backend)
    settings.BILLING_BACKEND = "fake"
    reset_backends()
    yield backend
    reset_backends()
