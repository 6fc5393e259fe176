"""How many backend calls each step of the clerk flow makes, on Zenskar over loopback HTTP.

Goal: one call per step where the step needs the backend, none on a cached revisit. The counts
asserted here are the ones reported for the product (README, "Backend calls per step"): search 1;
open a contract 2 read at the same time (its terms and its billing cycles, cached together);
revisit 0; preview 0 (Zenskar has no dry run: the estimate is computed from the cached terms);
submit 3 in two round trips (generate, then the draft's invoice and line items at the same time;
the chosen cycle is checked against the cycle list fetched under a minute ago, and the draft's
period against the cycle); approve 3 in two round trips (the draft's invoice and lines for the
drift check, then approve).
"""

import re
from collections import Counter
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.urls import reverse
from pytest_httpserver import HTTPServer

from invoices import services
from invoices.backends import reset_backends
from invoices.models import Invoice
from tests.engine.factories import worked_example_contract
from tests.fakes.zenskar_standin import STANDIN_API_KEY, STANDIN_ORGANISATION, register_zenskar

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def make_httpserver():
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def zenskar(settings, httpserver):
    settings.BILLING_BACKEND = "zenskar"
    settings.ZENSKAR_BASE_URL = httpserver.url_for("").rstrip("/")
    settings.ZENSKAR_API_KEY = STANDIN_API_KEY
    settings.ZENSKAR_ORGANISATION = STANDIN_ORGANISATION
    reset_backends()
    access = register_zenskar(httpserver, share_connection=connection)
    yield httpserver
    reset_backends()
    access.close()


def calls_during(server, action) -> Counter:
    before = len(server.log)
    action()
    shape = re.compile(r"[0-9a-f]{8}-[0-9a-f-]{27}")
    return Counter(f"{r.method} {shape.sub('{id}', r.path)}" for r, _ in server.log[before:])


def test_calls_per_step(zenskar, client_for, clerk, manager):
    contract = worked_example_contract()
    client = client_for(clerk)
    new = reverse("invoices:new_cycle")
    step = {"contract": str(contract.pk)}
    bill_for = "2026-06-28T00:00:00Z"

    search = calls_during(zenskar, lambda: client.get(new + "?q=northwind"))
    assert search == {"GET /contract_v2": 1}

    opened = calls_during(zenskar, lambda: client.get(f"{new}?{urlencode(step)}"))
    assert opened == {"GET /contract_v2/{id}": 1, "GET /contracts/{id}/billingCycles": 1}

    revisit = calls_during(zenskar, lambda: client.get(f"{new}?{urlencode(step)}"))
    assert revisit == {}

    preview_url = f"{new}?{urlencode({**step, 'cycle': bill_for})}"
    page = None

    def preview():
        nonlocal page
        page = client.get(preview_url)

    assert calls_during(zenskar, preview) == {}
    assert "Estimate" in page.content.decode()
    fp = re.search(r'name="cycle_fp" value="([0-9a-f]+)"', page.content.decode()).group(1)

    submitted = calls_during(
        zenskar,
        lambda: client.post(
            reverse("invoices:submit_cycle"),
            {"contract": str(contract.pk), "cycle": bill_for, "cycle_fp": fp},
        ),
    )
    assert submitted == {
        "POST /invoices/generate_invoice": 1,
        "GET /invoices/{id}": 1,
        "GET /invoices/{id}/line_items": 1,
    }
    invoice = Invoice.objects.get()
    assert invoice.total_minor == 122960  # the draft's real lines, not the estimate

    approved = calls_during(
        zenskar,
        lambda: services.invoice_approve(
            actor=manager, invoice_id=invoice.pk, seen_hash=invoice.content_hash
        ),
    )
    assert approved == {
        "GET /invoices/{id}": 1,
        "GET /invoices/{id}/line_items": 1,
        "PATCH /invoices/{id}/approve": 1,
    }


def test_reject_makes_one_call(zenskar, client_for, clerk, manager):
    contract = worked_example_contract()
    client = client_for(clerk)
    bill_for = "2026-06-28T00:00:00Z"
    page = client.get(
        reverse("invoices:new_cycle")
        + "?"
        + urlencode({"contract": contract.pk, "cycle": bill_for})
    ).content.decode()
    fp = re.search(r'name="cycle_fp" value="([0-9a-f]+)"', page).group(1)
    client.post(
        reverse("invoices:submit_cycle"),
        {"contract": str(contract.pk), "cycle": bill_for, "cycle_fp": fp},
    )
    invoice = Invoice.objects.get()
    rejected = calls_during(
        zenskar,
        lambda: services.invoice_reject(actor=manager, invoice_id=invoice.pk, reason="Seats"),
    )
    assert rejected == {"DELETE /invoices/{id}": 1}
    assert Invoice.objects.get().upstream_cleanup_pending is False
