"""Issue 14: a large invoice goes through two managers while the first has delegated to a third:
the first manager records an absence, the stand-in approves stage 1 (audited "deputy for
manager"), manager2 approves stage 2, which sends it to the backend."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from billing_engine.models import EngineInvoice
from invoices.models import AuditEvent, Invoice
from policies.models import ApprovalRule
from tests.conftest import _make_user
from tests.engine.factories import worked_example_contract

from .conftest import assert_accessible

pytestmark = pytest.mark.browser
CYCLE_ROW = "2026-05-28 – 2026-06-27"


def as_user(browser, sign_in, username):
    page = browser.new_context().new_page()
    sign_in(page, username)
    return page


def test_a_large_invoice_goes_through_two_managers_while_the_first_is_away(
    browser, live_server, sign_in, shot, clerk, manager, manager2, django_user_model
):
    _make_user(django_user_model, "deputy")  # no approval role of their own
    ApprovalRule.objects.create(
        name="Large USD invoices", currency="USD", threshold="1000.00", stages=2
    )
    contract = worked_example_contract()  # 1,229.60 USD for the cycle below
    today = timezone.now().date().isoformat()

    # The first manager records an absence: deputy stands in.
    m1 = as_user(browser, sign_in, "manager")
    m1.get_by_role("navigation", name="Main").get_by_role("link", name="Absences").click()
    assert_accessible(m1, "absences")
    m1.get_by_label("First day away").fill(today)
    m1.get_by_label("Last day away").fill(today)
    m1.get_by_label("Who stands in for you").select_option(label="Deputy (deputy)")
    m1.get_by_role("button", name="Record absence").click()
    expect(m1.get_by_text("Absence recorded.")).to_be_visible()
    expect(m1.get_by_role("cell", name="deputy")).to_be_visible()
    shot(m1, "absence-recorded")

    # The clerk submits a large invoice.
    clerk_page = as_user(browser, sign_in, "clerk")
    clerk_page.goto(f"{live_server.url}/invoices/new/?contract={contract.pk}")
    clerk_page.locator("tr", has_text=CYCLE_ROW).get_by_role(
        "link", name=re.compile("Preview")
    ).click()
    clerk_page.get_by_role("button", name="Submit for approval").click()
    clerk_page.wait_for_url(re.compile(r"/invoices/\d+/$"))
    invoice = Invoice.objects.get()
    assert invoice.stages_required == 2
    expect(clerk_page.get_by_text("Rule #100 “Large USD invoices”")).to_be_visible()

    # The stand-in sees the approvals and approves stage 1, for the absent manager.
    deputy = as_user(browser, sign_in, "deputy")
    deputy.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
    expect(deputy.get_by_role("cell", name="1 of 2")).to_be_visible()
    deputy.get_by_role("link", name=f"#{invoice.pk}").click()
    expect(deputy.get_by_text("You stand in for manager")).to_be_visible()
    assert_accessible(deputy, "invoice page for a stand-in")
    deputy.get_by_role("button", name="Approve and send to the backend").click()
    expect(deputy.get_by_text("Your approval is recorded (stage 1 of 2)")).to_be_visible()
    expect(deputy.get_by_text("Stage 1 approved by deputy for manager")).to_be_visible()
    shot(deputy, "stage-1-by-deputy")
    assert not EngineInvoice.objects.filter(status="approved").exists()  # nothing sent yet

    # manager2 sees stage 2 and approves: now it goes to the backend.
    m2 = as_user(browser, sign_in, "manager2")
    m2.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
    expect(m2.get_by_role("cell", name="2 of 2")).to_be_visible()
    assert_accessible(m2, "approvals inbox with stages")
    m2.get_by_role("link", name=f"#{invoice.pk}").click()
    expect(m2.get_by_text("this approval sends it to the billing backend")).to_be_visible()
    m2.get_by_role("button", name="Approve and send to the backend").click()
    expect(m2.get_by_text("Invoice approved and sent to the billing backend.")).to_be_visible()
    shot(m2, "stage-2-approved")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.APPROVED
    assert EngineInvoice.objects.get(pk=invoice.upstream_id).status == "approved"
    stage_one = AuditEvent.objects.get(invoice=invoice, action="invoice.stage_approved")
    assert (stage_one.actor_username, stage_one.reason) == ("deputy", "deputy for manager")
    expect(m2.locator(".timeline")).to_contain_text("deputy for manager")
