"""Issue: clerk submits, manager2 rejects with a reason, clerk resubmits, manager approves,
the auditor sees the whole timeline."""

import re

import pytest
from playwright.sync_api import expect

from billing_engine.models import EngineInvoice
from invoices.models import Invoice
from tests.engine.factories import worked_example_contract

from .conftest import assert_accessible

pytestmark = pytest.mark.browser
CYCLE_ROW = "2026-05-28 – 2026-06-27"


def as_user(browser, sign_in, username):
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, username)
    return page


def test_reject_resubmit_approve_and_the_auditor_sees_it_all(
    browser, live_server, sign_in, shot, clerk, manager, manager2, auditor
):
    contract = worked_example_contract()
    start = f"{live_server.url}/invoices/new/?contract={contract.pk}"

    # The clerk submits.
    clerk_page = as_user(browser, sign_in, "clerk")
    clerk_page.goto(start)
    clerk_page.locator("tr", has_text=CYCLE_ROW).get_by_role(
        "link", name=re.compile("Preview")
    ).click()
    clerk_page.get_by_role("button", name="Submit for approval").click()
    clerk_page.wait_for_url(re.compile(r"/invoices/\d+/$"))
    first = Invoice.objects.get()

    # manager2 rejects it with a reason, from the approvals inbox.
    m2 = as_user(browser, sign_in, "manager2")
    m2.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
    assert_accessible(m2, "approvals inbox")
    shot(m2, "inbox")
    m2.get_by_role("link", name=f"#{first.pk}").click()
    assert_accessible(m2, "invoice page for a manager")
    m2.get_by_label("Reason (the clerk sees this)").fill("Seat count should be 30 from June")
    m2.get_by_role("button", name="Reject and send back").click()
    expect(m2.get_by_text("Invoice rejected")).to_be_visible()
    shot(m2, "rejected")

    # The clerk sees it under "Needs changes" with the reason, and resubmits.
    clerk_page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="My invoices"
    ).click()
    expect(clerk_page.get_by_role("heading", name="Needs changes (1)")).to_be_visible()
    expect(clerk_page.get_by_text("Seat count should be 30 from June")).to_be_visible()
    assert_accessible(clerk_page, "my invoices")
    shot(clerk_page, "needs-changes")
    clerk_page.get_by_role("link", name=re.compile("Revise and resubmit")).click()
    expect(clerk_page.get_by_text(f"Revising invoice #{first.pk}")).to_be_visible()
    clerk_page.get_by_role("button", name="Submit for approval").click()
    clerk_page.wait_for_url(re.compile(r"/invoices/\d+/$"))
    second = Invoice.objects.latest("id")
    assert (second.version, second.previous_id) == (2, first.pk)

    # The manager approves version 2; the backend's draft becomes approved.
    m1 = as_user(browser, sign_in, "manager")
    m1.goto(f"{live_server.url}/invoices/{second.pk}/")
    expect(m1.get_by_role("heading", name=re.compile("version 2"))).to_be_visible()
    m1.get_by_role("button", name="Approve and send to the backend").click()
    expect(m1.get_by_text("Invoice approved and sent to the billing backend.")).to_be_visible()
    shot(m1, "approved")
    second.refresh_from_db()
    assert second.status == Invoice.Status.APPROVED
    assert EngineInvoice.objects.get(pk=second.upstream_id).status == "approved"

    # The auditor sees the whole timeline across both versions.
    aud = as_user(browser, sign_in, "auditor")
    aud.goto(f"{live_server.url}/invoices/{second.pk}/")
    timeline = aud.locator(".timeline")
    for text in (
        "invoice.submitted",
        "invoice.rejected",
        "Seat count should be 30 from June",
        "invoice.approval_started",
        "invoice.approved",
        "by manager2",
        "by manager",
        "by clerk",
    ):
        expect(timeline).to_contain_text(text)
    expect(aud.get_by_role("heading", name="Versions")).to_be_visible()
    expect(aud.get_by_text("No action is open to you on this invoice.")).to_be_visible()
    assert_accessible(aud, "invoice page for the auditor")
    shot(aud, "auditor-timeline")
