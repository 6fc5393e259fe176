"""Ad-hoc approval through the Rebillia adapter over loopback HTTP (a stand-in speaking the
documented wire, backed by the engine), including a create whose reply is lost."""

import time
from datetime import date

import pytest
from django.db import connection
from pytest_httpserver import HTTPServer

from billing_engine import api
from billing_engine.models import AdhocInvoice
from invoices import services
from invoices.backends import reset_backends
from invoices.backends.base import AdhocInvoiceRequest, AdhocLine
from invoices.models import Invoice
from tests.engine.factories import adhoc_world
from tests.fakes.rebillia_standin import STANDIN_API_KEY, register_rebillia
from tests.fakes.wire import EngineAccess, body_of, reply

pytestmark = pytest.mark.django_db
S = Invoice.Status


@pytest.fixture(scope="module")
def make_httpserver():
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def world():
    return adhoc_world()


@pytest.fixture
def rebillia(settings, httpserver):
    """ADHOC_BACKEND=rebillia against the stand-in; returns a hook to put a handler first."""
    settings.ADHOC_BACKEND = "rebillia"
    settings.REBILLIA_BASE_URL = httpserver.url_for("/v1")
    settings.REBILLIA_API_KEY = STANDIN_API_KEY
    settings.BACKEND_READ_TIMEOUT = 0.5
    reset_backends()
    access = EngineAccess(share_connection=connection)
    registered = []

    def start(first_post_handler=None):
        if first_post_handler is not None:
            httpserver.expect_ordered_request("/v1/invoices", method="POST").respond_with_handler(
                first_post_handler
            )
        registered.append(register_rebillia(httpserver, share_connection=connection))

    yield start, access
    reset_backends()
    for a in registered:
        a.close()
    access.close()


def submitted(clerk, world) -> Invoice:
    request = AdhocInvoiceRequest(
        customer_id=str(world["customer"].account_number),
        currency_id=str(world["usd"].id),
        currency_code="USD",
        gateway_id=str(world["stripe"].id),
        payment_method_id=str(world["card"].id),
        date_from=date(2026, 7, 1),
        date_to=date(2026, 7, 31),
        date_due=date(2026, 8, 15),
        lines=(
            AdhocLine("On-site training, 1 day", 2, 4100),
            AdhocLine("Printed manuals", 3, 1999),
        ),
        shipping_minor=500,
    )
    return services.invoice_submit_adhoc(
        actor=clerk, request=request, customer_name="Northwind Traders Ltd"
    )


def approve(manager, invoice):
    return services.invoice_approve(
        actor=manager, invoice_id=invoice.pk, seen_hash=invoice.content_hash
    )


def test_approval_creates_the_invoice_upstream_over_http(
    rebillia, clerk, manager, world, httpserver
):
    start, _ = rebillia
    start()
    invoice = submitted(clerk, world)
    assert not AdhocInvoice.objects.exists()  # nothing sent before approval
    approved = approve(manager, invoice)
    remote = AdhocInvoice.objects.get()
    assert approved.status == S.APPROVED
    assert approved.upstream_id == str(remote.pk)
    assert approved.upstream_number == remote.invoice_no
    assert remote.total_minor == 14197 + 500
    posts = [r for r, _ in httpserver.log if r.method == "POST"]
    assert len(posts) == 1
    sent = posts[0].get_json()
    assert sent["detail"] == [
        {"amount": 4100, "description": "On-site training, 1 day", "qty": 2},
        {"amount": 1999, "description": "Printed manuals", "qty": 3},
    ]
    assert sent["shippingAmount"] == 500


def test_a_create_whose_reply_is_lost_is_found_not_sent_again(
    rebillia, clerk, manager, world, httpserver
):
    start, access = rebillia
    arrived = []

    def create_then_lose_the_reply(request):
        arrived.append(request)
        with access():
            api.create_adhoc_invoice(body_of(request))
        time.sleep(1.0)  # longer than the read timeout: the reply never arrives in time
        return reply({}, 200)

    start(create_then_lose_the_reply)
    invoice = submitted(clerk, world)
    approved = approve(manager, invoice)
    assert approved.status == S.APPROVED
    remote = AdhocInvoice.objects.get()  # exactly one invoice upstream
    assert approved.upstream_id == str(remote.pk)
    assert approved.events.filter(action="invoice.approved", data__recovered=True).exists()
    assert len(arrived) == 1  # the POST reached the backend once; it was never re-sent


def test_a_lost_reply_with_nothing_created_fails_clearly_and_reconcile_settles_it(
    rebillia, clerk, manager, world, httpserver
):
    start, _ = rebillia

    def lose_everything(request):
        time.sleep(1.0)
        return reply({}, 200)

    start(lose_everything)
    invoice = submitted(clerk, world)
    with pytest.raises(services.UpstreamFailed, match=r"not sent again|no invoice"):
        approve(manager, invoice)
    failed = Invoice.objects.get()
    assert (failed.status, failed.failure_code) == (S.FAILED, "outcome_unknown")
    assert not AdhocInvoice.objects.exists()
    # reconcile asks the backend: nothing there, so it goes back to the inbox ...
    result = services.invoice_reconcile(invoice_id=failed.pk)
    assert (result.before, result.after) == ("failed", "pending_approval")
    # ... and the next approval creates it exactly once.
    back = Invoice.objects.get()
    assert approve(manager, back).status == S.APPROVED
    assert AdhocInvoice.objects.count() == 1
