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
