"""The bill-run pages: who may open them, what they show in each state, their htmx parts and
their query budgets (which do not grow with the number of items)."""

import re

import pytest
from django.urls import reverse

from billruns import selectors, services, work
from billruns.models import BatchApproval, BillRun
from billruns.states import RunState
from invoices import services as invoice_services
from invoices.models import Invoice
from policies.models import ApprovalRule
from tests.workflow.fake_backend import cycle, line

from .conftest import THROUGH, launched, planned

pytestmark = pytest.mark.django_db


def add_contracts(fake, count: int) -> None:
    for n in range(count):
        fake.add_contract(
            f"x-{n}",
            name=f"Extra {n}",
            customer=f"Extra customer {n}",
            cycles=(cycle("2026-05-01", "2026-06-01"), cycle("2026-06-01", "2026-07-01")),
            lines=(line("Hosting", "10.00"),),
        )


# --- who may open what ---------------------------------------------------------------------------
def test_clerks_plan_managers_review_and_outsiders_see_nothing(
    world, clerk, manager, auditor, outsider, client_for, django_capture_on_commit_callbacks
):
    run = launched(clerk, django_capture_on_commit_callbacks)
    pages = {
        "list": reverse("billruns:list"),
        "new": reverse("billruns:new"),
        "run": reverse("billruns:run", args=[run.pk]),
        "review": reverse("billruns:review", args=[run.pk]),
    }
    allowed = {
        clerk: {"list", "new", "run"},
        manager: {"list", "run", "review"},
        auditor: {"list", "run"},
        outsider: set(),
    }
    for person, may in allowed.items():
        client = client_for(person)
        for name, url in pages.items():
            status = client.get(url).status_code
            assert status == (200 if name in may else 403), (person.username, name, status)
    client = client_for(manager)
    for name in ("launch", "cancel", "retry"):
        assert client.post(reverse(f"billruns:{name}", args=[run.pk])).status_code == 403
    client = client_for(clerk)
    approve = reverse("billruns:approve_selected", args=[run.pk])
    assert client.post(approve, {"selected": []}).status_code == 403


def test_an_unknown_run_is_a_404(clerk, client_for):
    assert client_for(clerk).get(reverse("billruns:run", args=[999])).status_code == 404


# --- planning from the page ----------------------------------------------------------------------
def test_the_plan_form_refuses_bad_input_and_saves_nothing(world, clerk, client_for):
    client = client_for(clerk)
    response = client.post(
        reverse("billruns:plan"), {"through": "30/06/2026", "currency": "XYZ", "statuses": "x"}
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "Enter a date as YYYY-MM-DD." in html
    assert "XYZ" in html and 'aria-invalid="true"' in html
    assert not BillRun.objects.exists()


def test_a_clerk_plans_on_the_page_and_sees_the_plan(
    world, clerk, client_for, django_capture_on_commit_callbacks
):
    client = client_for(clerk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("billruns:plan"), {"through": THROUGH.isoformat(), "statuses": ["active"]}
        )
    run = BillRun.objects.get()
    assert response.status_code == 302 and response.url == reverse("billruns:run", args=[run.pk])
    html = client.get(response.url).content.decode()
    assert "The plan" in html and "4 cycles to invoice, by currency" in html
    assert "€160.00" in html and "$300.00" in html
    assert "Umbrella paused" in html and "Contract is paused" in html
    assert "Zero total" in html
    assert "Launch: submit 4 invoices for approval" in html


def test_the_planning_page_polls_and_reloads_once_the_plan_is_ready(
    world, clerk, client_for, django_capture_on_commit_callbacks
):
    from billruns.planning import PlanFilters

    with django_capture_on_commit_callbacks(execute=False) as queued:
        run = services.billrun_plan(actor=clerk, filters=PlanFilters(through=THROUGH))
    client = client_for(clerk)
    url = reverse("billruns:run", args=[run.pk])
    html = client.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in html
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in html
    poll = client.get(f"{url}?seen=planning", headers={"HX-Request": "true"})
    assert poll.status_code == 200 and "Progress" in poll.content.decode()
    assert "<html" not in poll.content.decode()
    for callback in queued:
        callback()  # the planning task runs
    poll = client.get(f"{url}?seen=planning", headers={"HX-Request": "true"})
    assert poll.headers["HX-Refresh"] == "true"
    html = client.get(url).content.decode()
    assert 'hx-trigger="every 2s"' not in html and "http-equiv" not in html


# --- a run's page --------------------------------------------------------------------------------
def test_the_run_page_shows_progress_failures_and_skips(
    world, clerk, settings, client_for, django_capture_on_commit_callbacks
):
    settings.BILLRUN_MAX_ATTEMPTS = 1
    from invoices.backends.base import BackendUnavailable

    world.fail("generate_draft", BackendUnavailable("Zenskar could not be reached"))
    run = launched(clerk, django_capture_on_commit_callbacks)
    html = client_for(clerk).get(reverse("billruns:run", args=[run.pk])).content.decode()
    assert "4 of 4</strong> cycles settled (100%)" in html
    assert "Failed (1)" in html
    assert "Zenskar could not be reached (gave up after 1 attempts)" in html
    assert "Retry failed items" in html
    assert "Cancel the run" not in html  # it finished
    assert f"?run={run.pk}" in html  # its invoices in history


def test_a_running_run_offers_cancel_and_polls_its_progress(world, clerk, client_for):
    run = planned(clerk)
    services.billrun_launch(actor=clerk, run_id=run.pk)  # no worker yet
    client = client_for(clerk)
    url = reverse("billruns:run", args=[run.pk])
    html = client.get(url).content.decode()
    assert "Cancel the run" in html and 'hx-trigger="every 2s"' in html
    assert "0 of 4</strong> cycles settled" in html
    work.process_item(work._claim(run.pk), BillRun.objects.get(pk=run.pk))
    poll = client.get(f"{url}?seen=running", headers={"HX-Request": "true"})
    assert "1 of 4</strong> cycles settled" in poll.content.decode()
    response = client.post(reverse("billruns:cancel", args=[run.pk]))
    assert response.status_code == 302
    assert BillRun.objects.get(pk=run.pk).status == RunState.CANCELLED
    poll = client.get(f"{url}?seen=running", headers={"HX-Request": "true"})
    assert poll.headers["HX-Refresh"] == "true"


def test_a_refused_action_is_shown_on_the_run_page(world, clerk, client_for):
    run = planned(clerk)
    client = client_for(clerk)
    response = client.post(reverse("billruns:retry", args=[run.pk]))
    assert response.status_code == 409
    assert "only a running or finished run" in response.content.decode()


def test_the_run_page_query_count_does_not_grow_with_items(
    world, clerk, client_for, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    small = launched(clerk, django_capture_on_commit_callbacks)
    add_contracts(world, 30)
    big = launched(clerk, django_capture_on_commit_callbacks)
    assert big.items.count() == 60
    client = client_for(clerk)
    for run in (small, big):
        with django_assert_max_num_queries(12):
            assert client.get(reverse("billruns:run", args=[run.pk])).status_code == 200
        with django_assert_max_num_queries(6):
            client.get(
                reverse("billruns:run", args=[run.pk]) + "?seen=finished",
                headers={"HX-Request": "true"},
            )
    planned_run = planned(clerk, through=THROUGH.replace(day=29))
    with django_assert_max_num_queries(12):
        assert client.get(reverse("billruns:run", args=[planned_run.pk])).status_code == 200


# --- managers ------------------------------------------------------------------------------------
def test_the_review_page_lists_the_run_invoices_with_their_hashes_and_lines(
    world, clerk, manager, client_for, django_capture_on_commit_callbacks
):
    run = launched(clerk, django_capture_on_commit_callbacks)
    html = client_for(manager).get(reverse("billruns:review", args=[run.pk])).content.decode()
    for invoice in Invoice.objects.filter(run_id=run.pk):
        assert f'value="{invoice.pk}:{invoice.content_hash}"' in html
    assert "<details>" in html and "Hosting" in html
    assert "4 are waiting for approval" in html


def test_the_review_page_shows_a_managers_own_submissions_without_a_checkbox(
    world, superuser, client_for, django_capture_on_commit_callbacks
):
    run = launched(superuser, django_capture_on_commit_callbacks)
    html = client_for(superuser).get(reverse("billruns:review", args=[run.pk])).content.decode()
    assert 'name="selected"' not in html
    assert html.count("You submitted this invoice, so you cannot approve it") == 4


def test_the_review_page_says_why_an_invoice_waiting_for_another_stage_has_no_checkbox(
    world, clerk, manager, manager2, client_for, django_capture_on_commit_callbacks
):
    ApprovalRule.objects.create(name="Everything twice", stages=2)
    run = launched(clerk, django_capture_on_commit_callbacks)
    first, *others = Invoice.objects.filter(run_id=run.pk).order_by("pk")
    invoice_services.invoice_approve(
        actor=manager, invoice_id=first.pk, seen_hash=first.content_hash
    )
    url = reverse("billruns:review", args=[run.pk])
    html = client_for(manager).get(url).content.decode()
    assert f'value="{first.pk}:' not in html  # stage 1 was theirs: another manager's stage 2
    assert html.count("earlier stage") == 1
    assert all(f'value="{i.pk}:{i.content_hash}"' in html for i in others)
    assert (
        f'value="{first.pk}:{first.content_hash}"' in client_for(manager2).get(url).content.decode()
    )


def test_review_pages_keep_their_rows_while_invoices_are_approved(
    world, clerk, manager, client_for, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(selectors, "REVIEW_PAGE", 2)
    run = launched(clerk, django_capture_on_commit_callbacks)
    ids = list(Invoice.objects.filter(run_id=run.pk).order_by("pk").values_list("pk", flat=True))
    url = reverse("billruns:review", args=[run.pk])
    client = client_for(manager)
    for pk in ids[:2]:  # the manager approves page 1 ...
        invoice = Invoice.objects.get(pk=pk)
        invoice_services.invoice_approve(
            actor=manager, invoice_id=pk, seen_hash=invoice.content_hash
        )
    page_two = client.get(url, {"page": 2}).content.decode()  # ... and goes on to page 2
    assert all(f'value="{pk}:' in page_two for pk in ids[2:])  # nothing skipped


def test_approve_selected_from_the_page_runs_a_batch_and_shows_its_progress(
    world, clerk, manager, client_for, django_capture_on_commit_callbacks
):
    run = launched(clerk, django_capture_on_commit_callbacks)
    invoices = list(Invoice.objects.filter(run_id=run.pk).order_by("pk"))
    client = client_for(manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("billruns:approve_selected", args=[run.pk]),
            {"selected": [f"{i.pk}:{i.content_hash}" for i in invoices[:2]]},
        )
    batch = BatchApproval.objects.get()
    assert response.url == reverse("billruns:batch", args=[batch.pk])
    html = client.get(response.url).content.decode()
    assert "2 of 2</strong> invoices done" in html
    assert Invoice.objects.filter(status=Invoice.Status.APPROVED).count() == 2


def test_a_garbled_selection_is_refused_and_nothing_is_queued(
    world, clerk, manager, client_for, django_capture_on_commit_callbacks
):
    run = launched(clerk, django_capture_on_commit_callbacks)
    url = reverse("billruns:approve_selected", args=[run.pk])
    client = client_for(manager)
    for selected in ([], ["12"], ["1:nothex"], ["<script>:x"]):
        response = client.post(url, {"selected": selected})
        assert response.status_code == 422
        assert "<script>:x" not in response.content.decode()
    assert not BatchApproval.objects.exists()


@pytest.mark.parametrize("stages", [1, 2])
def test_the_review_page_query_count_does_not_grow_with_invoices(
    world, clerk, manager, client_for, django_assert_max_num_queries,
    django_capture_on_commit_callbacks, stages,
):  # fmt: skip
    if stages == 2:  # who approved an earlier stage is read once for the page, not per row
        ApprovalRule.objects.create(name="Everything twice", stages=2)
    small = launched(clerk, django_capture_on_commit_callbacks)
    add_contracts(world, 30)
    big = launched(clerk, django_capture_on_commit_callbacks)
    client = client_for(manager)
    for run in (small, big):
        # 11: the page's 10, and who stands in for an absent manager today (approval policies;
        # asked once a minute and shared through the cache, which each test starts empty).
        with django_assert_max_num_queries(11 + (stages == 2)):
            html = client.get(reverse("billruns:review", args=[run.pk])).content.decode()
        assert (
            len(re.findall(r'name="selected"', html))
            == Invoice.objects.filter(run_id=run.pk).count()
        )


def test_the_invoice_page_names_its_bill_run(
    world, clerk, manager, client_for, django_capture_on_commit_callbacks
):
    run = launched(clerk, django_capture_on_commit_callbacks)
    invoice = Invoice.objects.filter(run_id=run.pk).first()
    html = client_for(manager).get(reverse("invoices:detail", args=[invoice.pk])).content.decode()
    assert f'Submitted by <a href="/billruns/{run.pk}/">bill run #{run.pk}</a>' in html
    assert "billrun.started" not in html


def test_history_filters_by_run_and_exports_it(
    world, clerk, manager, client_for, django_capture_on_commit_callbacks
):
    from invoices.services import cycle_fingerprint, invoice_submit_cycle

    from .conftest import JULY

    by_hand = invoice_submit_cycle(
        actor=clerk,
        contract_id="c-1",
        cycle_key=JULY.key,
        cycle_fp=cycle_fingerprint(JULY),
        preview_total_minor=None,
    ).invoice
    run = launched(clerk, django_capture_on_commit_callbacks)
    client = client_for(manager)
    html = client.get(reverse("invoices:history"), {"run": run.pk}).content.decode()
    assert f"/invoices/{by_hand.pk}/" not in html
    for invoice in Invoice.objects.filter(run_id=run.pk):
        assert f"/invoices/{invoice.pk}/" in html
    csv = b"".join(
        client.get(reverse("invoices:history_export"), {"run": run.pk}).streaming_content
    ).decode()
    header, *rows = csv.strip().splitlines()
    assert header.endswith(",run_id") and len(rows) == 4
    assert all(row.endswith(f",{run.pk}") for row in rows)
    bad = client.get(reverse("invoices:history"), {"run": "abc"})
    assert "Enter a bill run number" in bad.content.decode()


def test_the_audit_log_offers_the_runs_actions(clerk, auditor, client_for):
    html = client_for(auditor).get(reverse("invoices:audit")).content.decode()
    for action in ("billrun.started", "billrun.cancelled", "billrun.finished"):
        assert f'<option value="{action}">' in html


def test_every_bill_run_action_needs_the_csrf_token(world, clerk, manager):
    from django.test import Client

    run = planned(clerk)
    for person, names in ((clerk, ("launch", "cancel", "retry")), (manager, ("approve_selected",))):
        client = Client(enforce_csrf_checks=True)
        client.force_login(person)
        for name in names:
            assert client.post(reverse(f"billruns:{name}", args=[run.pk])).status_code == 403
    client = Client(enforce_csrf_checks=True)
    client.force_login(clerk)
    assert client.post(reverse("billruns:plan"), {"through": "2026-06-30"}).status_code == 403
    run.refresh_from_db()
    assert run.status == "planned" and BillRun.objects.count() == 1
