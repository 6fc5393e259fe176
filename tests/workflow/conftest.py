from datetime import date

import pytest

from invoices.backends import CYCLE_BACKENDS, reset_backends

from .fake_backend import FakeCycleBackend, cycle, line

MAY = cycle("2026-05-01", "2026-06-01")
JUNE = cycle("2026-06-01", "2026-07-01")


@pytest.fixture
def fake(settings, monkeypatch):
    """The fake becomes the contract-cycle backend (BILLING_BACKEND=fake) for this test."""
    backend = FakeCycleBackend()
    backend.add_contract(
        "c-1",
        cycles=(MAY, JUNE),
        lines=(line("Hosting", "100.00"), line("Support", "50.00")),
    )
    monkeypatch.setitem(CYCLE_BACKENDS, "fake", "tests.workflow.fake_backend.FakeCycleBackend")
    monkeypatch.setattr(FakeCycleBackend, "current", backend)
    settings.BILLING_BACKEND = "fake"
    reset_backends()
    yield backend
    reset_backends()


@pytest.fixture
def adhoc_approved(clerk, manager):
    """An ad-hoc invoice on the embedded engine, submitted by the clerk and approved (82.00 USD)."""
    from invoices import services
    from invoices.backends.base import AdhocInvoiceRequest, AdhocLine
    from tests.engine.factories import adhoc_world

    world = adhoc_world()
    invoice = services.invoice_submit_adhoc(
        actor=clerk,
        request=AdhocInvoiceRequest(
            customer_id=str(world["customer"].account_number),
            currency_id=str(world["usd"].id),
            currency_code="USD",
            gateway_id=str(world["stripe"].id),
            payment_method_id=str(world["card"].id),
            date_from=date(2026, 7, 1),
            date_to=date(2026, 7, 31),
            date_due=date(2026, 8, 15),
            lines=(AdhocLine("Training day", 2, 4100),),
        ),
        customer_name="Northwind",
    )
    return services.invoice_approve(
        actor=manager, invoice_id=invoice.pk, seen_hash=invoice.content_hash
    )
