"""Issue: the whole clerk flow in Chromium on the embedded backend, a screenshot per step."""

import re
import threading

import pytest
from playwright.sync_api import expect

from invoices.backends.embedded import EmbeddedCycleBackend
from invoices.models import Invoice
from tests.engine.factories import worked_example_contract

from .conftest import assert_accessible, htmx_ready

pytestmark = pytest.mark.browser


def test_clerk_searches_picks_previews_and_submits(
    page, live_server, clerk, sign_in, shot, monkeypatch
):
    worked_example_contract()
    sign_in(page, "clerk")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New invoice").click()
    expect(page.get_by_role("heading", name="New invoice from a contract")).to_be_visible()
    htmx_ready(page)
    assert_accessible(page, "new invoice")

    # 1. Search as you type (htmx, debounced).
    page.get_by_label("Contract or customer name").fill("northw")
    expect(page).to_have_url(re.compile(r"q=northw"))  # the search is the URL
    results = page.locator("#contract-results")
    expect(results.get_by_role("link", name="Northwind platform")).to_be_visible()
    shot(page, "search")

    # 2. Pick the contract: its details and the cycles fetched from the backend.
    results.get_by_role("link", name="Northwind platform").click()
    expect(page.get_by_role("heading", name="2. Northwind platform")).to_be_visible()
    expect(page.get_by_text("Refresh from backend")).to_be_visible()
    expect(page).to_have_url(re.compile(r"contract="))
    assert_accessible(page, "contract and cycles")
    shot(page, "contract")

    # 3. Preview the [May 28, Jun 28) cycle: the worked example's lines.
    row = page.locator("tr", has_text="2026-05-28 – 2026-06-27")
    row.get_by_role("link", name=re.compile("Preview")).click()
    preview = page.locator("#preview")
    expect(preview.get_by_role("heading", name=re.compile("3. Preview"))).to_be_visible()
    expect(preview.get_by_text("Exact preview")).to_be_visible()
    for product in ("Platform fee", "Seats", "API calls (graduated)", "Storage (volume)"):
        expect(preview.get_by_role("cell", name=product, exact=True)).to_be_visible()
    expect(preview.get_by_role("cell", name="87.10")).to_be_visible()  # prorated 18/31
    expect(preview.get_by_text("$1,229.60")).to_be_visible()  # 87.10 + 312.50 + 470 + 360
    expect(page).to_have_url(re.compile(r"cycle="))
    assert_accessible(page, "preview")
    shot(page, "preview")

    # Submit: while the backend is asked (held here until checked), the button is disabled and
    # the progress message shows; then the invoice page.
    answer = threading.Event()
    generate = EmbeddedCycleBackend.generate_draft

    def generate_when_released(backend, **kwargs):
        answer.wait(timeout=30)
        return generate(backend, **kwargs)

    monkeypatch.setattr(EmbeddedCycleBackend, "generate_draft", generate_when_released)
    submit = page.get_by_role("button", name="Submit for approval")
    submit.click()
    try:
        expect(submit).to_be_disabled()
        expect(page.get_by_text("Generating the draft in the billing backend…")).to_be_visible()
        assert_accessible(page, "submit in flight")
        shot(page, "submitting")
    finally:
        answer.set()
    page.wait_for_url(re.compile(r"/invoices/\d+/$"))
    expect(page.get_by_text("Invoice submitted for approval")).to_be_visible()
    expect(page.get_by_text("Pending approval").first).to_be_visible()
    assert_accessible(page, "invoice page")
    shot(page, "submitted")

    invoice = Invoice.objects.get()
    assert invoice.status == Invoice.Status.PENDING
    assert invoice.total_minor == 122960
    assert invoice.cycle_bill_for_date == "2026-06-28T00:00:00Z"  # in arrears: the end

    # The cycle now links to its invoice instead of being selectable.
    page.goto(f"{live_server.url}/invoices/new/?contract={invoice.contract_id}")
    row = page.locator("tr", has_text="2026-05-28 – 2026-06-27")
    expect(row.get_by_role("link", name=f"Open invoice #{invoice.pk}")).to_be_visible()
    expect(row.get_by_role("link", name=re.compile("Preview"))).to_have_count(0)


def test_the_flow_works_without_javascript(browser, live_server, clerk, sign_in):
    worked_example_contract()
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    sign_in(page, "clerk")
    page.goto(f"{live_server.url}/invoices/new/")
    page.get_by_label("Contract or customer name").fill("northwind")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Northwind platform").click()
    page.locator("tr", has_text="2026-05-28 – 2026-06-27").get_by_role(
        "link", name=re.compile("Preview")
    ).click()
    page.get_by_role("button", name="Submit for approval").click()
    expect(page.get_by_text("Invoice submitted for approval")).to_be_visible()
    assert Invoice.objects.get().status == Invoice.Status.PENDING
    context.close()
