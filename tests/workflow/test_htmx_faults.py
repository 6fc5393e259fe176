"""Every htmx fragment shows a backend problem in place: the part of the page htmx swaps holds
the message (or the response is retargeted to the page's problem area), with a status htmx
swaps (base.html's responseHandling), never a blank area or a whole page inside a fragment."""

import time

import pytest
from django.urls import reverse
from django.utils.http import urlencode
from pytest_httpserver import HTTPServer
from werkzeug import Response

from invoices import services
from invoices.backends import reset_backends
from invoices.backends.base import BackendMisconfigured, BackendUnavailable
from invoices.backends.embedded import EmbeddedAdhocBackend
from invoices.models import Invoice
from tests.engine.factories import adhoc_world

from .conftest import MAY
from .test_adhoc import form_url, valid_data

pytestmark = pytest.mark.django_db
NEW = reverse("invoices:new_cycle")
ADHOC = reverse("invoices:new_adhoc")
SWAPPED = {400, 404, 409, 422, 502, 503}  # base.html: statuses htmx swaps in place


def htmx(target: str) -> dict:
    return {"HX-Request": "true", "HX-Target": target}


def starts_with(response, element: str) -> str:
    html = response.content.decode()
    assert html.lstrip().startswith(element), html[:300]
    assert "<html" not in html
    return html


# --- the clerk's cycle flow -------------------------------------------------------------------
def test_contract_search_results_show_a_backend_problem_in_place(client_for, clerk, fake):
    fake.fail("search_contracts", BackendUnavailable("Zenskar answered with an error (HTTP 500)"))
    response = client_for(clerk).get(f"{NEW}?q=acme", headers=htmx("contract-results"))
    assert response.status_code == 503 and response.status_code in SWAPPED
    html = starts_with(response, '<div id="contract-results"')
    assert "answered with an error (HTTP 500)" in html
    assert "Try again" in html


def test_the_contract_workspace_shows_a_backend_problem_in_place(client_for, clerk, fake):
    fake.fail("get_contract", BackendMisconfigured("ZENSKAR_ORGANISATION is wrong."))
    response = client_for(clerk).get(f"{NEW}?contract=c-1", headers=htmx("workspace"))
    assert response.status_code == 503
    html = starts_with(response, '<div id="workspace"')
    assert "ZENSKAR_ORGANISATION is wrong." in html
    assert "trying again will not help" in html


def test_the_preview_shows_a_backend_problem_in_place(client_for, clerk, fake):
    fake.fail("preview_cycle", BackendUnavailable("read timeout", cause="timeout"))
    query = urlencode({"contract": "c-1", "cycle": MAY.key})
    response = client_for(clerk).get(f"{NEW}?{query}", headers=htmx("preview"))
    assert response.status_code == 503
    html = starts_with(response, '<section id="preview"')
    assert "read timeout" in html and "did not answer in time" in html


def test_a_submission_shows_a_backend_problem_in_the_preview(client_for, clerk, fake):
    fake.fail("generate_draft", BackendUnavailable("connection failed", cause="unreachable"))
    response = client_for(clerk).post(
        reverse("invoices:submit_cycle"),
        {"contract": "c-1", "cycle": MAY.key, "cycle_fp": services.cycle_fingerprint(MAY)},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 503
    assert response["HX-Retarget"] == "#preview"
    html = starts_with(response, '<section id="preview"')
    assert "connection failed" in html and "could not be reached" in html
    assert not Invoice.objects.exists()


def test_a_submission_whose_workspace_cannot_be_shown_still_says_why(client_for, clerk, fake):
    fake.fail("generate_draft", BackendUnavailable("connection failed", cause="unreachable"))
    fake.fail("get_contract", BackendUnavailable("connection failed", cause="unreachable"))
    fake.fail("get_contract", BackendUnavailable("connection failed", cause="unreachable"))
    response = client_for(clerk).post(
        reverse("invoices:submit_cycle"),
        {"contract": "c-1", "cycle": MAY.key, "cycle_fp": services.cycle_fingerprint(MAY)},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 503
    html = starts_with(response, '<section id="preview"')
    assert "connection failed" in html


# --- the invoice page's actions (hx-target="body": the whole page comes back) --------------------
def test_approve_by_htmx_shows_a_backend_problem_on_the_page(client_for, clerk, manager, fake):
    invoice = services.invoice_submit_cycle(
        actor=clerk, contract_id="c-1", cycle_key=MAY.key, cycle_fp=services.cycle_fingerprint(MAY)
    ).invoice
    fake.fail("get_draft", BackendUnavailable("Zenskar answered with an error (HTTP 503)"))
    response = client_for(manager).post(
        reverse("invoices:approve", args=[invoice.pk]),
        {"content_hash": invoice.content_hash},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 503
    html = response.content.decode()
    assert 'id="problem"' in html and "answered with an error (HTTP 503)" in html
    assert Invoice.objects.get().status == Invoice.Status.PENDING


def test_retry_by_htmx_shows_a_backend_problem_on_the_page(client_for, clerk, manager, fake):
    invoice = services.invoice_submit_cycle(
        actor=clerk, contract_id="c-1", cycle_key=MAY.key, cycle_fp=services.cycle_fingerprint(MAY)
    ).invoice
    fake.fail("approve_draft", BackendUnavailable("down"))
    with pytest.raises(services.UpstreamFailed):
        services.invoice_approve(
            actor=manager, invoice_id=invoice.pk, seen_hash=invoice.content_hash
        )
    fake.fail("get_draft", BackendUnavailable("read timeout", cause="timeout"))
    response = client_for(manager).post(
        reverse("invoices:retry", args=[invoice.pk]), headers={"HX-Request": "true"}
    )
    assert response.status_code == 503
    html = response.content.decode()
    assert 'id="problem"' in html and "did not answer in time" in html
    assert Invoice.objects.get().status == Invoice.Status.FAILED


# --- the ad-hoc form, on the embedded engine ------------------------------------------------------
@pytest.fixture
def world():
    return adhoc_world()


@pytest.mark.parametrize(
    "error",
    [
        BackendUnavailable("Rebillia answered with an error (HTTP 500)", cause="error_reply"),
        BackendUnavailable("Rebillia did not answer in time (read timeout)", cause="timeout"),
        BackendMisconfigured("REBILLIA_API_KEY was refused."),
    ],
    ids=["error-reply", "timeout", "misconfigured"],
)
def test_customer_search_results_show_a_backend_problem_in_place(
    client_for, clerk, world, monkeypatch, error
):
    def fail(self, **kwargs):
        raise error

    monkeypatch.setattr(EmbeddedAdhocBackend, "search_customers", fail)
    response = client_for(clerk).get(f"{ADHOC}?q=north", headers=htmx("customer-results"))
    assert response.status_code == 503
    html = starts_with(response, '<div id="customer-results"')
    assert error.message in html
    assert 'role="alert"' in html


@pytest.mark.parametrize(
    ("action", "failing"),
    [
        ("add_line", "get_customer"),
        ("remove_line:1", "payment_methods"),
        ("currency", "gateways"),
        ("totals", "currencies"),
    ],
)
def test_ad_hoc_form_actions_show_a_backend_problem_above_the_form(
    client_for, clerk, world, monkeypatch, action, failing
):
    def fail(self, *args, **kwargs):
        raise BackendUnavailable("Rebillia answered with an error (HTTP 502)", cause="error_reply")

    monkeypatch.setattr(EmbeddedAdhocBackend, failing, fail)
    response = client_for(clerk).post(
        form_url(world), valid_data(world, action=action), headers={"HX-Request": "true"}
    )
    assert response.status_code == 503
    # The form the clerk is typing in stays as it is; the problem appears above it.
    assert response["HX-Retarget"] == "#page-problem"
    assert response["HX-Reswap"] == "outerHTML"
    html = starts_with(response, '<div id="page-problem"')
    assert "answered with an error (HTTP 502)" in html
    assert not Invoice.objects.exists()


def test_an_unknown_customer_on_an_htmx_action_says_so_in_place(client_for, clerk, world):
    response = client_for(clerk).post(
        f"{ADHOC}?customer=999999", valid_data(world, action="add_line"), headers=htmx("x")
    )
    assert response.status_code == 404
    html = starts_with(response, '<div id="page-problem"')
    assert "No customer 999999" in html


# --- the ad-hoc customer search over real HTTP (Rebillia's adapter, loopback) ---------------------
@pytest.fixture(scope="module")
def make_httpserver():
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def rebillia_down(settings, httpserver):
    settings.ADHOC_BACKEND = "rebillia"
    settings.REBILLIA_BASE_URL = httpserver.url_for("/v1")
    settings.REBILLIA_API_KEY = "rb_test_key_0123456789abcdef"
    settings.BACKEND_READ_TIMEOUT = 0.2
    settings.BACKEND_READ_RETRIES = 0
    reset_backends()
    yield httpserver
    reset_backends()


def _slow(request):
    time.sleep(0.6)
    return Response("{}", status=200, content_type="application/json")


@pytest.mark.parametrize(
    ("reply", "told"),
    [
        (lambda s: s.respond_with_json({"message": "boom"}, status=500), "(HTTP 500)"),
        (lambda s: s.respond_with_json({"message": "down"}, status=503), "(HTTP 503)"),
        (lambda s: s.respond_with_handler(_slow), "did not answer in time"),
    ],
    ids=["500", "503", "timeout"],
)
def test_a_failed_customer_search_over_http_is_shown_in_the_results(
    client_for, clerk, rebillia_down, reply, told
):
    reply(rebillia_down.expect_request("/v1/customers"))
    response = client_for(clerk).get(f"{ADHOC}?q=north", headers=htmx("customer-results"))
    assert response.status_code == 503
    html = starts_with(response, '<div id="customer-results"')
    assert told in html
    if "HTTP" in told:
        assert "answered with an error" in html and "in time" not in html
