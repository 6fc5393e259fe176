"""The auditor's history page in Chromium: filter (htmx, URL pushed), page, go back, search,
without JavaScript too, and no serious accessibility violations."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from playwright.sync_api import expect

from invoices.models import Invoice
from invoices.views import history as views_history

from .conftest import assert_accessible, htmx_ready

pytestmark = pytest.mark.browser
S = Invoice.Status


@pytest.fixture
def invoices(clerk, manager, monkeypatch):
    """12 approved and 3 pending invoices, five to a page."""
    monkeypatch.setattr(views_history, "PAGE_SIZE", 5)
    base = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    made = []
    for n in range(15):
        approved = n % 5 != 4
        made.append(
            Invoice.objects.create(
                kind="cycle",
                backend="embedded",
                status=S.APPROVED if approved else S.PENDING,
                contract_id=f"c-{n}",
                contract_name=f"{'Globex' if n == 7 else 'Initech'} plan {n}",
                customer_id=f"cu-{n}",
                customer_name=f"Customer {n}",
                cycle_name=f"cycle {n}",
                bill_for=base + timedelta(days=n),
                period_start=base,
                period_end=base + timedelta(days=30),
                currency="USD",
                total_minor=1000 * (n + 1),
                content_hash=f"{n:064x}",
                submitted_by=clerk,
                submitted_at=base + timedelta(hours=n),
                decided_by=manager if approved else None,
            )
        )
    return made


def shown(page) -> list[str]:
    return page.locator("#history-results tbody th[scope=row] a").all_inner_texts()


def ids(invoices) -> list[str]:
    return [f"#{i.pk}" for i in invoices]


def test_auditor_filters_pages_and_goes_back(page, live_server, auditor, invoices, sign_in, shot):
    sign_in(page, "auditor")
    page.get_by_role("link", name="History").click()
    page.wait_for_url("**/history/")
    htmx_ready(page)
    newest_first = list(reversed(invoices))
    assert shown(page) == ids(newest_first[:5])
    assert_accessible(page, "history")
    shot(page, "history")

    # Filtering swaps the results in place and puts the filter in the address bar.
    page.get_by_label("Status").select_option("approved")
    page.wait_for_url(re.compile(r"/history/\?status=approved$"))
    approved = [i for i in newest_first if i.status == S.APPROVED]
    expect(page.locator("#history-results tbody tr")).to_have_count(5)
    assert shown(page) == ids(approved[:5])
    expect(page.locator("#history-live")).to_have_text("5 invoices shown.")

    # Older pages follow the keyset cursor, keeping the filter.
    page.get_by_role("link", name="Older invoices").click()
    page.wait_for_url(re.compile(r"status=approved&after="))
    expect(page.locator("#history-results tbody th[scope=row] a").first).to_have_text(
        ids(approved[5:6])[0]
    )
    assert shown(page) == ids(approved[5:10])
    assert_accessible(page, "history page 2")
    shot(page, "history-page-2")

    # The back button returns to the first filtered page.
    page.go_back()
    page.wait_for_url(re.compile(r"/history/\?status=approved$"))
    expect(page.locator("#history-results tbody th[scope=row] a").first).to_have_text(
        ids(approved[:1])[0]
    )
    expect(page.get_by_label("Status")).to_have_value("approved")

    # Search as you type.
    page.get_by_label("Search").fill("globex")
    page.wait_for_url(re.compile(r"q=globex"))
    expect(page.locator("#history-results tbody tr")).to_have_count(1)
    assert shown(page) == ids([invoices[7]])

    # A total without a currency is explained, next to the results.
    page.get_by_label("Total from").fill("10")
    page.get_by_label("Total from").press("Tab")
    expect(page.get_by_role("alert")).to_contain_text("Choose a currency to filter by total")
    assert_accessible(page, "history with an error")
    shot(page, "history-error")


def test_history_works_without_javascript(browser, live_server, auditor, invoices, sign_in):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    sign_in(page, "auditor")
    page.goto(f"{live_server.url}/history/")
    page.get_by_label("Status").select_option("pending_approval")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r"status=pending_approval"))
    pending = [i for i in reversed(invoices) if i.status == S.PENDING]
    assert shown(page) == ids(pending)
    page.get_by_label("Status").select_option("approved")
    page.get_by_role("button", name="Apply filters").click()
    page.get_by_role("link", name="Older invoices").click()
    page.wait_for_url(re.compile(r"after="))
    assert len(shown(page)) == 5
    page.get_by_role("link", name="Newer invoices").click()
    page.wait_for_url(re.compile(r"before="))
    assert len(shown(page)) == 5
    context.close()


def test_history_is_usable_with_the_keyboard(page, live_server, auditor, invoices, sign_in):
    sign_in(page, "auditor")
    page.goto(f"{live_server.url}/history/")
    page.get_by_label("Search").focus()
    page.keyboard.type("globex")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q=globex"))
    expect(page.locator("#history-results tbody tr")).to_have_count(1)
    link = page.get_by_role("link", name=f"#{invoices[7].pk}")
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/invoices/{invoices[7].pk}/")


def test_audit_log_and_coverage_pages_are_accessible(
    page, live_server, auditor, clerk, invoices, sign_in, shot, settings, monkeypatch
):
    from invoices.audit import audit_record
    from invoices.backends import CYCLE_BACKENDS, reset_backends
    from tests.workflow.fake_backend import FakeCycleBackend, cycle, line

    with transaction.atomic():
        for invoice in invoices[:3]:
            audit_record(
                actor=clerk,
                action="invoice.submitted",
                invoice=invoice,
                from_status="submitting",
                to_status="pending_approval",
            )
    fake = FakeCycleBackend()
    done = invoices[0]
    cycles = (
        cycle("2026-02-01", "2026-03-01"),
        cycle("2026-03-01", "2026-04-01"),
        cycle("2099-01-01", "2099-02-01"),
    )
    fake.add_contract(
        done.contract_id, customer="Customer 0", cycles=cycles, lines=(line("Hosting", "10.00"),)
    )
    monkeypatch.setitem(CYCLE_BACKENDS, "fake", "tests.workflow.fake_backend.FakeCycleBackend")
    monkeypatch.setattr(FakeCycleBackend, "current", fake)
    settings.BILLING_BACKEND = "fake"
    reset_backends()

    sign_in(page, "auditor")
    page.get_by_role("link", name="Audit log").click()
    page.wait_for_url("**/audit/")
    htmx_ready(page)
    page.get_by_label("Action").select_option("invoice.submitted")
    page.wait_for_url(re.compile(r"action=invoice.submitted"))
    expect(page.locator("#audit-results tbody tr")).to_have_count(3)
    assert_accessible(page, "audit log")
    shot(page, "audit-log")

    page.goto(f"{live_server.url}/contracts/{done.contract_id}/coverage")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Billing coverage")
    expect(page.locator("tr.gap-row")).to_have_count(2)
    assert_accessible(page, "coverage")
    shot(page, "coverage")
    reset_backends()
