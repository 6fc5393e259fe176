"""Issue: a clerk builds a three-line JPY invoice and a two-line USD invoice with an address;
a manager approves them; both appear in history with the right totals."""

import re

import pytest
from playwright.sync_api import expect

from billing_engine.models import AdhocInvoice, CompanyCurrency, Gateway
from invoices.models import Invoice
from tests.engine.factories import adhoc_world

from .conftest import assert_accessible, htmx_ready

pytestmark = pytest.mark.browser


def fill_line(page, index, description, quantity, amount):
    page.locator(f"#id_lines-{index}-description").fill(description)
    page.locator(f"#id_lines-{index}-quantity").fill(str(quantity))
    page.locator(f"#id_lines-{index}-amount").fill(amount)


def start_invoice(page, live_server, currency_label, gateway_label):
    page.goto(f"{live_server.url}/invoices/adhoc/new/")
    page.get_by_label("Customer name or e-mail").fill("northwind")
    expect(page).to_have_url(re.compile(r"q=northwind"))
    page.locator("#customer-results").get_by_role("link", name="Northwind Traders Ltd").click()
    expect(page.get_by_role("heading", name="Customer: Northwind Traders Ltd")).to_be_visible()
    htmx_ready(page)
    page.get_by_label("Company currency").select_option(label=currency_label)
    # htmx reloads the gateways for the chosen currency.
    expect(
        page.get_by_label("Payment gateway").locator("option", has_text=gateway_label)
    ).to_have_count(1)
    page.get_by_label("Payment gateway").select_option(label=gateway_label)
    page.get_by_label("Payment method").select_option(index=1)
    page.get_by_label("Period from").fill("2026-07-01")
    page.get_by_label("Period to").fill("2026-07-31")
    page.get_by_label("Due date").fill("2026-08-15")


def test_clerk_builds_jpy_and_usd_invoices_and_a_manager_approves_them(
    browser, live_server, sign_in, shot, clerk, manager
):
    adhoc_world()
    jpy = CompanyCurrency.objects.create(iso3="JPY", symbol="¥", name="Japanese Yen")
    Gateway.objects.create(currency=jpy, display_name="Komoju JPY", type="komoju")

    clerk_page = browser.new_context().new_page()
    sign_in(clerk_page, "clerk")

    # --- three-line JPY invoice, lines added with htmx ---
    start_invoice(clerk_page, live_server, "JPY — Japanese Yen", "Komoju JPY")
    assert_accessible(clerk_page, "ad-hoc form")
    fill_line(clerk_page, 0, "Implementation workshop", 1, "98000")
    clerk_page.get_by_role("button", name="Add a line").click()
    expect(clerk_page.locator("#id_lines-1-description")).to_be_visible()
    fill_line(clerk_page, 1, "Travel", 2, "15500")
    clerk_page.get_by_role("button", name="Add a line").click()
    expect(clerk_page.locator("#id_lines-2-description")).to_be_visible()
    fill_line(clerk_page, 2, "Printed manuals", 3, "1200")
    # Totals follow the lines as they change.
    expect(clerk_page.locator("#totals")).to_contain_text("Total: ¥132,600")
    # Yen have no decimals: a decimal is refused with a clear message, then corrected.
    clerk_page.locator("#id_lines-2-amount").fill("1200.5")
    clerk_page.get_by_role("button", name="Preview").click()
    expect(clerk_page.get_by_text("JPY amounts have no decimals")).to_be_visible()
    clerk_page.locator("#id_lines-2-amount").fill("1200")
    # The billing address came from the address book; keep it.
    clerk_page.get_by_role("button", name="Preview").click()
    expect(clerk_page.get_by_text("amount 98000 × qty 1")).to_be_visible()  # wire minor units
    shot(clerk_page, "jpy-preview")
    clerk_page.get_by_role("button", name="Submit for approval").click()
    clerk_page.wait_for_url(re.compile(r"/invoices/\d+/$"))
    expect(clerk_page.get_by_text("Ad-hoc invoice submitted for approval")).to_be_visible()

    # --- two-line USD invoice with a shipping address ---
    start_invoice(clerk_page, live_server, "USD — US Dollar", "Stripe USD")
    fill_line(clerk_page, 0, "On-site training, 1 day", 2, "41")
    clerk_page.get_by_role("button", name="Add a line").click()
    expect(clerk_page.locator("#id_lines-1-description")).to_be_visible()
    fill_line(clerk_page, 1, "Printed manuals", 3, "19.99")
    clerk_page.get_by_label("Shipping amount").fill("12.50")
    ship = clerk_page.locator("fieldset", has_text="Shipping address")
    ship.get_by_label("Contact name").fill("Receiving dock")
    ship.get_by_label("Street", exact=True).fill("1 Quay Street")
    ship.get_by_label("City").fill("Bristol")
    ship.get_by_label("Postal code").fill("BS1 4DJ")
    ship.get_by_label("Country").select_option(label="United Kingdom")
    expect(clerk_page.locator("#totals")).to_contain_text("Total: $154.47")
    clerk_page.get_by_role("button", name="Preview").click()
    expect(clerk_page.get_by_text("amount 1999 × qty 3")).to_be_visible()
    clerk_page.get_by_role("button", name="Submit for approval").click()
    clerk_page.wait_for_url(re.compile(r"/invoices/\d+/$"))

    jpy_invoice, usd_invoice = Invoice.objects.order_by("id")
    assert (jpy_invoice.currency, jpy_invoice.total_minor, len(jpy_invoice.lines)) == (
        "JPY",
        132600,
        3,
    )
    assert (usd_invoice.currency, usd_invoice.total_minor) == ("USD", 15447)
    assert usd_invoice.adhoc_request["shipping_address"]["country_code"] == "GB"
    assert not AdhocInvoice.objects.exists()

    # --- the manager approves both ---
    manager_page = browser.new_context().new_page()
    sign_in(manager_page, "manager")
    for invoice in (jpy_invoice, usd_invoice):
        manager_page.goto(f"{live_server.url}/invoices/{invoice.pk}/")
        manager_page.get_by_role("button", name="Approve and send to the backend").click()
        expect(manager_page.get_by_text("Invoice approved and sent")).to_be_visible()
    remote = {r.currency.iso3: r for r in AdhocInvoice.objects.select_related("currency")}
    assert remote["JPY"].total_minor == 132600
    assert remote["USD"].total_minor == 15447

    # --- both in history with the right totals ---
    manager_page.goto(f"{live_server.url}/history/")
    table = manager_page.locator("table").first
    expect(table.locator("tr", has_text=f"#{jpy_invoice.pk}")).to_contain_text("¥132,600")
    expect(table.locator("tr", has_text=f"#{usd_invoice.pk}")).to_contain_text("$154.47")
    assert_accessible(manager_page, "history")
    shot(manager_page, "history")
