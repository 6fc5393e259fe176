"""Issue 13 in Chromium: a clerk requests a partial credit note, a manager approves it, the
invoice's balance and the history show it; then credit and re-issue frees the cycle, and a new
invoice for it is submitted and approved. Every new page is checked with axe."""

import re

import pytest
from playwright.sync_api import expect

from billing_engine.models import EngineCreditNote, EngineInvoice
from invoices import services
from invoices.backends import cycle_backend
from invoices.models import Invoice
from tests.engine.factories import worked_example_contract

from .conftest import assert_accessible, htmx_ready
from .test_approval_flow import as_user

pytestmark = pytest.mark.browser
S = Invoice.Status
BILL_FOR = "2026-06-28T00:00:00Z"  # the worked example's cycle [May 28, Jun 28), in arrears


@pytest.fixture
def approved_invoice(clerk, manager) -> Invoice:
    """The worked example's cycle, submitted by the clerk and approved (1,229.60 USD)."""
    contract = worked_example_contract()
    (cycle,) = [
        c
        for c in cycle_backend().list_billing_cycles(str(contract.pk))
        if c.bill_for_date == BILL_FOR
    ]
    invoice = services.invoice_submit_cycle(
        actor=clerk,
        contract_id=str(contract.pk),
        cycle_key=cycle.key,
        cycle_fp=services.cycle_fingerprint(cycle),
        preview_total_minor=None,
    ).invoice
    return services.invoice_approve(
        actor=manager, invoice_id=invoice.pk, seen_hash=invoice.content_hash
    )


def test_credit_note_then_credit_and_reissue(
    browser, live_server, sign_in, shot, clerk, manager, manager2, auditor, approved_invoice
):
    invoice_url = f"{live_server.url}/invoices/{approved_invoice.pk}/"

    # The clerk asks for a partial credit note: 25.00 off the seats.
    clerk_page = as_user(browser, sign_in, "clerk")
    clerk_page.goto(invoice_url)
    clerk_page.get_by_role("link", name="Request a correction").click()
    expect(
        clerk_page.get_by_role("heading", name=f"Correct invoice #{approved_invoice.pk}")
    ).to_be_visible()
    assert_accessible(clerk_page, "correction request")
    shot(clerk_page, "request")
    clerk_page.get_by_label("Credit note: amounts of some lines").check()
    clerk_page.get_by_label("Credit on Seats (USD)").fill("25.005")
    clerk_page.get_by_label("Reason", exact=True).select_option("quantity_error")
    clerk_page.get_by_label("What is wrong (the manager reads this)").fill("23 seats, not 25")
    clerk_page.get_by_role("button", name="Request the correction").click()
    expect(clerk_page.get_by_text("USD amounts have at most 2 decimals.")).to_be_visible()
    assert_accessible(clerk_page, "correction request with an error")
    shot(clerk_page, "request-error")
    clerk_page.get_by_label("Credit on Seats (USD)").fill("25")
    clerk_page.get_by_role("button", name="Request the correction").click()
    clerk_page.wait_for_url(re.compile(r"/invoices/\d+/$"))
    expect(clerk_page.get_by_text("Credit note requested.")).to_be_visible()
    note = Invoice.objects.get(kind="credit_note")
    assert (note.total_minor, note.status) == (2500, S.PENDING)
    assert not EngineCreditNote.objects.exists()  # nothing upstream before approval

    # A manager approves it from the approvals inbox.
    m2 = as_user(browser, sign_in, "manager2")
    m2.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
    m2.get_by_role("link", name=f"#{note.pk}").click()
    expect(m2.get_by_text("A credit note of $25.00 on invoice")).to_be_visible()
    assert_accessible(m2, "credit note for approval")
    shot(m2, "credit-note-for-approval")
    m2.get_by_role("button", name="Approve and send to the backend").click()
    expect(m2.get_by_text("Invoice approved and sent to the billing backend.")).to_be_visible()
    assert EngineCreditNote.objects.get().amount_minor == 2500

    # The invoice's page shows the correction and the balance; history lists it as its own row.
    aud = as_user(browser, sign_in, "auditor")
    aud.goto(invoice_url)
    corrections = aud.locator(
        "section", has=aud.get_by_role("heading", name="Corrections and balance")
    )
    expect(corrections).to_contain_text("$1,204.60")
    expect(corrections).to_contain_text("manager2")
    expect(corrections).to_contain_text("Quantity error: 23 seats, not 25")
    assert_accessible(aud, "invoice with a credit note")
    shot(aud, "balance")
    aud.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    htmx_ready(aud)
    aud.get_by_label("Kind").select_option("credit_note")
    aud.wait_for_url(re.compile(r"kind=credit_note"))
    expect(aud.locator("#history-results tbody tr")).to_have_count(1)
    expect(aud.locator("#history-results")).to_contain_text(f"#{note.pk}")
    assert_accessible(aud, "history of credit notes")
    shot(aud, "history")

    # Credit and re-issue: the rest is credited, the invoice voided, its cycle free again.
    clerk_page.goto(invoice_url)
    clerk_page.get_by_role("link", name="Request a correction").click()
    clerk_page.get_by_label(re.compile("^Credit and re-issue")).check()
    clerk_page.get_by_label("Reason", exact=True).select_option("pricing_error")
    clerk_page.get_by_label("What is wrong (the manager reads this)").fill("Wrong price list")
    clerk_page.get_by_role("button", name="Request the correction").click()
    expect(clerk_page.get_by_text("Void requested.")).to_be_visible()
    void = Invoice.objects.get(kind="void")
    assert void.total_minor == 122960 - 2500
    m1 = as_user(browser, sign_in, "manager")
    m1.goto(f"{live_server.url}/invoices/{void.pk}/")
    expect(m1.get_by_text("then a void of invoice")).to_be_visible()
    assert_accessible(m1, "void for approval")
    m1.get_by_role("button", name="Approve and send to the backend").click()
    expect(m1.get_by_text("Invoice approved and sent to the billing backend.")).to_be_visible()
    assert EngineInvoice.objects.get(pk=approved_invoice.upstream_id).status == "void"

    clerk_page.goto(invoice_url)
    expect(clerk_page.get_by_text("its billing cycle can be invoiced again")).to_be_visible()
    assert_accessible(clerk_page, "voided invoice")
    shot(clerk_page, "voided")
    clerk_page.goto(f"{live_server.url}/contracts/{approved_invoice.contract_id}/coverage")
    row = clerk_page.locator("tr", has_text="2026-05-28 – 2026-06-27")
    expect(row).to_contain_text("Voided")
    expect(row.get_by_role("link", name=re.compile("Invoice this cycle"))).to_be_visible()
    shot(clerk_page, "coverage")

    # Re-issue: a new invoice for the cycle, the next version of the voided one.
    clerk_page.goto(invoice_url)
    clerk_page.get_by_role("link", name="Re-issue a corrected invoice").click()
    expect(clerk_page.get_by_text(f"Re-issuing invoice #{approved_invoice.pk}")).to_be_visible()
    htmx_ready(clerk_page)
    assert_accessible(clerk_page, "re-issue")
    clerk_page.get_by_role("button", name="Submit for approval").click()
    clerk_page.wait_for_url(re.compile(r"/invoices/\d+/$"))
    expect(clerk_page.get_by_text("Invoice submitted for approval")).to_be_visible()
    reissued = Invoice.objects.get(kind="cycle", status=S.PENDING)
    assert (reissued.previous_id, reissued.version) == (approved_invoice.pk, 2)
    m2.goto(f"{live_server.url}/invoices/{reissued.pk}/")
    m2.get_by_role("button", name="Approve and send to the backend").click()
    expect(m2.get_by_text("Invoice approved and sent to the billing backend.")).to_be_visible()
    reissued.refresh_from_db()
    assert reissued.status == S.APPROVED
    assert EngineInvoice.objects.get(pk=reissued.upstream_id).status == "approved"
    shot(m2, "reissued-approved")
