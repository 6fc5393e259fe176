"""Issue 12: a clerk dry-runs a bill run, launches it and watches it to the end; a manager reviews
its invoices and approves a selection of them in the background. The workers are driven from the
test (the task backend only queues), so each step of the progress can be seen; axe on every new
page."""

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from billing_engine.models import EngineInvoice
from billruns import tasks, work
from billruns.models import BatchApproval, BillRun
from invoices.models import Invoice
from tests.engine import factories as f

from .conftest import assert_accessible, htmx_ready

pytestmark = pytest.mark.browser
QUEUED_ONLY = {
    "default": {
        "BACKEND": "django_tasks.backends.dummy.DummyBackend",
        "QUEUES": ["default", "email", "billruns", "documents"],
    }
}


def catalogue() -> None:
    """Due by 2026-04-30: three cycles of the worked example (USD, in arrears on the 28th) and
    four of a EUR support contract (in advance on the 1st); a paused contract is left out."""
    f.worked_example_contract()
    globex = f.contract(
        owner=f.customer("Globex GmbH"),
        name="Globex support",
        currency="EUR",
        start=date(2026, 1, 1),
        anchor=1,
        in_advance=True,
    )
    f.pricing(f.phase(globex), product_=f.product("Support", "SUP-001"), amount=8000)
    paused = f.contract(owner=f.customer("Umbrella Corp"), name="Umbrella paused", status="paused")
    f.pricing(f.phase(paused), amount=1000)


def as_user(browser, sign_in, username):
    page = browser.new_context().new_page()
    sign_in(page, username)
    return page


def test_a_clerk_runs_a_bill_run_and_a_manager_approves_it_in_a_batch(
    browser, live_server, sign_in, shot, settings, clerk, manager
):
    settings.TASKS = QUEUED_ONLY
    catalogue()

    # The clerk plans a dry run.
    page = as_user(browser, sign_in, "clerk")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Bill runs").click()
    expect(page.get_by_role("heading", name="Bill runs")).to_be_visible()
    assert_accessible(page, "bill runs")
    page.get_by_role("link", name="New bill run").click()
    assert_accessible(page, "new bill run")
    page.get_by_label("Bill through").fill("2026-04-30")
    page.get_by_role("button", name="Dry run").click()
    expect(page.get_by_role("heading", name=re.compile(r"Bill run #\d+"))).to_be_visible()
    expect(page.get_by_text("Planning bill run")).to_be_visible()
    htmx_ready(page)
    run = BillRun.objects.get()
    assert run.status == "planning"
    assert_accessible(page, "planning")
    shot(page, "planning")

    tasks.plan_run.call(run.pk)  # a worker builds the plan; the page reloads by itself
    expect(page.get_by_role("heading", name=re.compile("The plan"))).to_be_visible()
    expect(page.get_by_text("7 cycles to invoice, by currency")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("EUR 4"))).to_be_visible()
    expect(page.get_by_text("Contract is paused")).to_be_visible()
    assert_accessible(page, "the plan")
    shot(page, "plan")

    # Launch, and watch it.
    page.get_by_role("button", name=re.compile("Launch: submit 7 invoices")).click()
    expect(page.get_by_text(f"Bill run #{run.pk} launched")).to_be_visible()
    expect(page.get_by_text("0 of 7 cycles settled")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel the run")).to_be_visible()
    htmx_ready(page)
    assert_accessible(page, "a running run")
    job = BillRun.objects.select_related("launched_by").get(pk=run.pk)
    for _ in range(2):  # a worker settles two items: the progress part follows by itself
        work.process_item(work._claim(run.pk), job)
    expect(page.get_by_text("2 of 7 cycles settled (29%)")).to_be_visible()
    shot(page, "running")
    tasks.work_run.call(run.pk)  # ... and the rest; the page reloads when the run finishes
    expect(page.get_by_text("7 of 7 cycles settled (100%)")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("Finished"))).to_be_visible()
    expect(page.get_by_role("button", name="Cancel the run")).to_have_count(0)
    assert_accessible(page, "a finished run")
    shot(page, "finished")
    assert Invoice.objects.filter(run_id=run.pk, status="pending_approval").count() == 7

    # The manager reviews the run and approves four of its seven invoices.
    boss = as_user(browser, sign_in, "manager")
    boss.get_by_role("navigation", name="Main").get_by_role("link", name="Bill runs").click()
    boss.get_by_role("link", name=f"Review run #{run.pk}").click()
    expect(boss.get_by_role("heading", name=f"Review bill run #{run.pk}")).to_be_visible()
    htmx_ready(boss)
    assert_accessible(boss, "review")
    first = Invoice.objects.filter(run_id=run.pk, currency="USD").order_by("pk").first()
    boss.locator("summary", has_text=f"lines of invoice #{first.pk}").click()  # on demand
    expect(boss.get_by_role("cell", name="Seats", exact=True).first).to_be_visible()
    boss.get_by_label("Select every invoice on this page that you may approve").check()
    picked = list(Invoice.objects.filter(run_id=run.pk).order_by("pk"))[4:]
    for invoice in picked:
        boss.get_by_label(f"Approve invoice #{invoice.pk}").uncheck()
    shot(boss, "review")
    boss.get_by_role("button", name="Approve selected").click()
    expect(boss.get_by_text("Approving 4 invoice(s)")).to_be_visible()
    htmx_ready(boss)
    assert_accessible(boss, "batch approval")
    batch = BatchApproval.objects.get()
    tasks.work_batch.call(batch.pk)  # a worker approves them, one upstream call each
    expect(boss.get_by_text("4 of 4 invoices done (100%)")).to_be_visible()
    expect(boss.get_by_role("heading", name=re.compile("Finished"))).to_be_visible()
    shot(boss, "batch-done")
    approved = Invoice.objects.filter(run_id=run.pk, status="approved")
    assert approved.count() == 4 and not approved.filter(pk__in=[i.pk for i in picked]).exists()
    upstream = EngineInvoice.objects.filter(
        pk__in=list(approved.values_list("upstream_id", flat=True))
    )
    assert set(upstream.values_list("status", flat=True)) == {"approved"}

    # The invoice page names its run.
    boss.goto(f"{live_server.url}/invoices/{first.pk}/")
    boss.get_by_role("link", name=f"bill run #{run.pk}").click()
    expect(boss.get_by_role("heading", name=re.compile(f"Bill run #{run.pk}"))).to_be_visible()
