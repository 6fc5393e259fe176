"""Issue 17: the manager sees everything approval sends. A clerk fills every field of an ad-hoc
invoice; before approving, the manager can read each value in the approvals inbox and on the
invoice page; what the backend then receives is exactly that."""

import re

import pytest
from playwright.sync_api import expect

from billing_engine.models import AdhocInvoice
from invoices.models import Invoice
from tests.engine.factories import adhoc_world

from .conftest import assert_accessible, htmx_ready
from .test_adhoc_flow import fill_line, start_invoice

pytestmark = pytest.mark.browser

# (what the manager reads, the value) for every value approval sends besides the lines.
SENT = [
    ("Customer", "Northwind Traders Ltd"),
    ("Name on the invoice", "Dana Whitfield"),
    ("Customer e-mail", "dana@northwind.example.com"),
    ("Customer phone", "+44 117 496 0000"),
    ("Billing address", "Dana Whitfield, 14 Harbour Road, Bristol, BS1 5TY, GB (United Kingdom)"),
    ("Shipping address", "Receiving dock, 1 Quay Street, Bristol, BS1 4DJ, GB (United Kingdom)"),
    ("Currency", "USD — US Dollar"),
    ("Payment gateway", "Stripe USD"),
    ("Payment method", "CARD Dana Whitfield •••• 4242"),
    ("Payment type", "Offline payment"),
    ("Period", "2026-07-01 – 2026-07-31"),
    ("Due date", "2026-08-15"),
    ("Shipping amount", "$12.50"),
    ("Terms", "Net 15, bank transfer"),
    ("Comments", "PO 4471 — deliver to the dock"),
]


def expect_every_value(facts):
    for label, value in SENT:
        term = facts.locator("dt", has_text=re.compile(rf"^{re.escape(label)}$"))
        expect(term).to_be_visible()
        # The value is the description right after its term.
        expect(term.locator("xpath=following-sibling::dd[1]")).to_contain_text(value)


def test_the_manager_sees_every_value_approval_sends_before_approving(
    browser, live_server, sign_in, shot, clerk, manager
):
    adhoc_world()
    clerk_page = browser.new_context().new_page()
    sign_in(clerk_page, "clerk")
    start_invoice(clerk_page, live_server, "USD — US Dollar", "Stripe USD")
    clerk_page.get_by_label("Payment type").select_option(label="Offline payment")
    fill_line(clerk_page, 0, "On-site training, 1 day", 2, "41")
    clerk_page.get_by_label("Shipping amount").fill("12.50")
    ship = clerk_page.locator("fieldset", has_text="Shipping address")
    ship.get_by_label("Contact name").fill("Receiving dock")
    ship.get_by_label("Street", exact=True).fill("1 Quay Street")
    ship.get_by_label("City").fill("Bristol")
    ship.get_by_label("Postal code").fill("BS1 4DJ")
    ship.get_by_label("Country").select_option(label="United Kingdom")
    clerk_page.get_by_label("Customer e-mail").fill("dana@northwind.example.com")
    clerk_page.get_by_label("Customer phone").fill("+44 117 496 0000")
    clerk_page.get_by_label("Terms").fill("Net 15, bank transfer")
    clerk_page.get_by_label("Comments").fill("PO 4471 — deliver to the dock")
    clerk_page.get_by_role("button", name="Preview").click()
    # The clerk's preview already lists what will be sent.
    expect_every_value(clerk_page.locator("#preview dl.adhoc-facts"))
    clerk_page.get_by_role("button", name="Submit for approval").click()
    clerk_page.wait_for_url(re.compile(r"/invoices/\d+/$"))
    invoice = Invoice.objects.get()

    manager_page = browser.new_context().new_page()
    sign_in(manager_page, "manager")

    # The approvals inbox shows it all, with the invoice's row.
    manager_page.goto(f"{live_server.url}/approvals/")
    expect(manager_page.get_by_role("link", name=f"#{invoice.pk}")).to_be_visible()
    expect_every_value(manager_page.locator("tr.adhoc-sends dl.adhoc-facts"))
    assert_accessible(manager_page, "approvals inbox")
    shot(manager_page, "inbox")

    # So does the invoice page, above the button that sends it.
    manager_page.get_by_role("link", name=f"#{invoice.pk}").click()
    htmx_ready(manager_page)
    sends = manager_page.get_by_role("region", name="What approval sends to the billing backend")
    expect_every_value(sends.locator("dl.adhoc-facts"))
    lines = manager_page.get_by_role("region", name="Lines (as submitted)")
    expect(lines.locator("tr", has_text="On-site training, 1 day")).to_contain_text("82.00")
    expect(lines.locator("tr", has_text="Shipping")).to_contain_text("12.50")
    expect(lines.locator("tfoot")).to_contain_text("$94.50")
    assert_accessible(manager_page, "invoice page")
    shot(manager_page, "invoice-page")
    manager_page.get_by_role("button", name="Approve and send to the backend").click()
    expect(manager_page.get_by_text("Invoice approved and sent")).to_be_visible()

    # What the backend received is what the manager read.
    assert Invoice.objects.get().status == Invoice.Status.APPROVED
    remote = AdhocInvoice.objects.select_related("gateway", "payment_method", "currency").get()
    assert (remote.total_minor, remote.shipping_amount_minor) == (9450, 1250)
    assert (remote.currency.iso3, remote.gateway.display_name) == ("USD", "Stripe USD")
    assert remote.payment_method.masked_number == "•••• 4242"
    assert remote.payment_type == "offlinePaymentProvider"
    assert (remote.date_from.isoformat(), remote.date_to.isoformat()) == (
        "2026-07-01",
        "2026-07-31",
    )
    assert remote.date_due.isoformat() == "2026-08-15"
    assert (remote.customer_name, remote.customer_email, remote.customer_phone) == (
        "Dana Whitfield",
        "dana@northwind.example.com",
        "+44 117 496 0000",
    )
    assert (remote.terms, remote.comments) == (
        "Net 15, bank transfer",
        "PO 4471 — deliver to the dock",
    )
    assert remote.billing_address["street1"] == "14 Harbour Road"
    assert remote.shipping_address["street1"] == "1 Quay Street"
