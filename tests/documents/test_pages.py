"""The invoice page's PDF panel in its three states, the downloads, who may have them, the sweep,
and an app without WeasyPrint."""

from datetime import timedelta

import pytest
from django.urls import reverse

from documents import panels, rendering, services
from documents.models import InvoiceDocument
from invoices.sweep import run_sweep
from tests.helpers import count_queries

from .conftest import pdf_text

pytestmark = pytest.mark.django_db
UNAVAILABLE = rendering.Availability(False, reason="libpango-1.0.so.0: cannot open shared object")


def page(client, invoice):
    response = client.get(reverse("invoices:detail", args=[invoice.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_panel_offers_the_pdf_with_its_hash_once_it_exists(approved_cycle, client_for, clerk):
    invoice = approved_cycle("USD")
    document = InvoiceDocument.objects.get(invoice=invoice)
    html = page(client_for(clerk), invoice)  # the submitter
    assert "Invoice PDF" in html
    assert reverse("documents:download", args=[invoice.pk]) in html
    assert document.sha256 in html
    assert "being prepared" not in html
    assert f"Invoice number</dt><dd>{invoice.upstream_number}" in html


def test_the_panel_says_being_prepared_and_polls_until_the_pdf_exists(
    approved_cycle, client_for, auditor
):
    invoice = approved_cycle("USD", render=False)
    client = client_for(auditor)
    html = page(client, invoice)
    assert "The PDF is being prepared." in html
    poll = reverse("documents:panel", args=[invoice.pk])
    assert f'hx-get="{poll}"' in html and 'hx-trigger="every 2s"' in html
    assert 'href="' + reverse("invoices:detail", args=[invoice.pk]) + '#document-h"' in html
    fragment = client.get(poll, headers={"HX-Request": "true"}).content.decode()
    assert "being prepared" in fragment and "<html" not in fragment
    services.document_render_original(invoice.pk)
    fragment = client.get(poll, headers={"HX-Request": "true"}).content.decode()
    assert "Download the PDF" in fragment and "hx-trigger" not in fragment


def test_the_panel_is_not_shown_before_approval(clerk, manager, submit_cycle, client_for):
    from tests.engine.factories import worked_example_contract

    invoice = submit_cycle(clerk, worked_example_contract())
    assert "Invoice PDF" not in page(client_for(manager), invoice)
    response = client_for(manager).get(reverse("documents:panel", args=[invoice.pk]))
    assert response.status_code == 404


def test_the_panel_costs_the_invoice_page_one_query(
    approved_cycle, client_for, auditor, monkeypatch
):
    from invoices import extensions

    invoice = approved_cycle("USD")
    client = client_for(auditor)
    page(client, invoice)  # warm (session, permissions)
    with count_queries() as with_panel:
        html = page(client, invoice)
    assert "Download the PDF" in html
    monkeypatch.setattr(extensions, "invoice_page_panels", [])
    with count_queries() as without:
        assert "Download the PDF" not in page(client, invoice)
    assert len(with_panel) == len(without) + 1


def test_the_download_is_the_stored_original_byte_for_byte(approved_cycle, client_for, clerk):
    invoice = approved_cycle("KWD")
    document = InvoiceDocument.objects.get(invoice=invoice)
    response = client_for(clerk).get(reverse("documents:download", args=[invoice.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Document-SHA256"] == document.sha256
    assert f'filename="{invoice.upstream_number}.pdf"' in response["Content-Disposition"]
    assert response.content == bytes(document.content)


def test_a_copy_is_rendered_now_and_marked_copy(approved_cycle, client_for, auditor):
    invoice = approved_cycle("JPY")
    response = client_for(auditor).get(reverse("documents:copy", args=[invoice.pk]))
    assert response.status_code == 200
    assert "-COPY.pdf" in response["Content-Disposition"]
    text = pdf_text(response.content)
    assert "COPY" in text and invoice.upstream_number in text
    assert InvoiceDocument.objects.count() == 1


def test_no_pdf_yet_is_a_clear_404(approved_cycle, client_for, auditor):
    invoice = approved_cycle("USD", render=False)
    response = client_for(auditor).get(reverse("documents:download", args=[invoice.pk]))
    assert response.status_code == 404
    assert b"no PDF yet" in response.content


@pytest.mark.parametrize("name", ["download", "copy", "panel"])
def test_people_who_may_not_read_the_invoice_get_403(approved_cycle, client_for, outsider, name):
    invoice = approved_cycle("USD")
    response = client_for(outsider).get(reverse(f"documents:{name}", args=[invoice.pk]))
    assert response.status_code == 403


@pytest.mark.parametrize("who", ["clerk", "clerk2", "manager", "auditor"])
def test_everyone_who_may_read_the_invoice_may_have_its_pdf(
    approved_cycle, client_for, request, who
):
    invoice = approved_cycle("USD")
    client = client_for(request.getfixturevalue(who))
    assert client.get(reverse("documents:download", args=[invoice.pk])).status_code == 200
    assert client.get(reverse("documents:panel", args=[invoice.pk])).status_code == 200


def test_an_unknown_invoice_is_404(client_for, auditor):
    assert client_for(auditor).get(reverse("documents:download", args=[987])).status_code == 404


def test_the_sweep_renders_what_a_lost_task_left_undone(approved_cycle, settings):
    settings.SWEEP_OLDER_THAN_SECONDS = 0
    invoice = approved_cycle("USD", render=False)
    assert not InvoiceDocument.objects.exists()
    report = run_sweep()
    assert "documents: 1 missing invoice PDF(s) enqueued for rendering" in report.lines
    assert InvoiceDocument.objects.get().invoice_id == invoice.pk
    assert not any(line.startswith("documents:") for line in run_sweep().lines)


def test_the_sweep_leaves_recent_approvals_to_their_task(approved_cycle):
    approved_cycle("USD", render=False)
    run_sweep(older_than=timedelta(minutes=5))
    assert not InvoiceDocument.objects.exists()


def test_the_sweep_does_not_queue_a_rendering_already_waiting_or_running(approved_cycle, settings):
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from documents.tasks import render_invoice_document
    from invoices.models import Invoice

    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": settings.TASK_QUEUES}
    }
    invoice = approved_cycle("USD")  # its rendering is queued; no worker has taken it yet
    now = timezone.now()
    Invoice.objects.filter(pk=invoice.pk).update(updated_at=now - timedelta(minutes=10))
    renderings = DBTaskResult.objects.filter(task_path=render_invoice_document.module_path)
    assert renderings.count() == 1
    for _ in range(3):
        report = run_sweep(older_than=timedelta(minutes=1))
        assert renderings.count() == 1
    assert (
        "documents: 1 invoice PDF(s) already in the task queue (waiting for a worker on the "
        "'documents' queue, or being rendered)"
    ) in report.lines
    assert not any("enqueued for rendering" in line for line in report.lines)
    # A worker is rendering it: left alone.
    renderings.update(status="RUNNING", started_at=now - timedelta(seconds=20))
    run_sweep(older_than=timedelta(minutes=1))
    assert renderings.count() == 1
    # Running for longer than the sweep waits: its worker died with it; queued again, once.
    renderings.update(started_at=now - timedelta(minutes=5))
    report = run_sweep(older_than=timedelta(minutes=1))
    assert "documents: 1 missing invoice PDF(s) enqueued for rendering" in report.lines
    assert renderings.filter(status="READY").count() == 1
    run_sweep(older_than=timedelta(minutes=1))
    assert renderings.count() == 2
    # Lost from the queue altogether: queued again.
    renderings.delete()
    run_sweep(older_than=timedelta(minutes=1))
    assert renderings.get().args_kwargs["args"] == [invoice.pk]
    assert not InvoiceDocument.objects.exists()


def test_the_sweep_renders_a_failing_pdf_again_later_and_later(approved_cycle, settings):
    """A rendering that failed is tried again after NOTIFICATION_RETRY_MINUTES x 2^(n-1) from
    the n-th failure in the last day, at most MAX_ATTEMPTS times a day, not every sweep; the
    sweep says which invoices wait, and a failing one does not hold up the others."""
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from documents.tasks import render_invoice_document
    from invoices.models import Invoice
    from invoices.notifications import MAX_ATTEMPTS

    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": settings.TASK_QUEUES}
    }
    settings.NOTIFICATION_RETRY_MINUTES = 5
    failing = approved_cycle("USD")
    now = timezone.now()
    Invoice.objects.filter(pk=failing.pk).update(updated_at=now - timedelta(hours=2))
    renderings = DBTaskResult.objects.filter(task_path=render_invoice_document.module_path)
    renderings.update(status="FAILED", finished_at=now - timedelta(minutes=4))

    def sweep():
        return run_sweep(older_than=timedelta(minutes=1)).lines

    lines = sweep()  # one failure, 4 minutes ago: the next try waits 5
    assert renderings.count() == 1
    assert (
        "documents: 1 invoice PDF(s) whose rendering failed lately, tried again later (their "
        f"failed tasks on the 'documents' queue say why): invoice(s) #{failing.pk}"
    ) in lines
    renderings.update(finished_at=now - timedelta(minutes=6))
    assert "documents: 1 missing invoice PDF(s) enqueued for rendering" in sweep()
    assert renderings.filter(status="READY").count() == 1
    # Its second failure, 6 minutes ago: the third try waits 10.
    renderings.filter(status="READY").update(
        status="FAILED", finished_at=now - timedelta(minutes=6)
    )
    assert not any("enqueued" in line for line in sweep())
    renderings.filter(finished_at__gte=now - timedelta(minutes=7)).update(
        finished_at=now - timedelta(minutes=11)
    )
    assert "documents: 1 missing invoice PDF(s) enqueued for rendering" in sweep()
    # MAX_ATTEMPTS failures in the last day: no more tries, however long ago the last one was;
    # failures older than a day count no more.
    renderings.delete()
    for hours in range(MAX_ATTEMPTS):
        render_invoice_document.enqueue(failing.pk)
        renderings.filter(status="READY").update(
            status="FAILED", finished_at=now - timedelta(hours=23 - hours)
        )
    assert not any("enqueued" in line for line in sweep())
    renderings.filter(finished_at__lt=now - timedelta(hours=22, minutes=30)).update(
        finished_at=now - timedelta(days=2)
    )
    assert "documents: 1 missing invoice PDF(s) enqueued for rendering" in sweep()
    # Another invoice whose PDF is missing is queued whatever the failing one does.
    renderings.filter(status="READY").update(status="FAILED", finished_at=now)
    other = approved_cycle("JPY")
    Invoice.objects.filter(pk=other.pk).update(updated_at=now - timedelta(hours=1))
    renderings.filter(args_kwargs__args=[other.pk]).delete()
    assert "documents: 1 missing invoice PDF(s) enqueued for rendering" in sweep()
    assert renderings.filter(status="READY").get().args_kwargs["args"] == [other.pk]


# --- without WeasyPrint -----------------------------------------------------------------------
def test_without_weasyprint_the_app_runs_and_says_pdfs_are_unavailable(
    approved_cycle, client_for, auditor, monkeypatch, settings
):
    invoice = approved_cycle("USD", render=False)
    monkeypatch.setattr(rendering, "available", lambda: UNAVAILABLE)
    html = page(client_for(auditor), invoice)
    assert "PDFs unavailable: WeasyPrint or its system libraries are missing" in html
    assert "hx-trigger" not in html
    assert services.document_render_original(invoice.pk) == "unavailable"
    response = client_for(auditor).get(reverse("documents:copy", args=[invoice.pk]))
    assert response.status_code == 503
    settings.SWEEP_OLDER_THAN_SECONDS = 0
    report = run_sweep()
    assert any("PDFs unavailable here" in line for line in report.lines)
    assert not InvoiceDocument.objects.exists()


def test_without_weasyprint_an_existing_original_is_still_offered(
    approved_cycle, client_for, auditor, monkeypatch
):
    invoice = approved_cycle("USD")
    monkeypatch.setattr(rendering, "available", lambda: UNAVAILABLE)
    html = page(client_for(auditor), invoice)
    assert "Download the PDF" in html and "Render a copy" not in html
    response = client_for(auditor).get(reverse("documents:download", args=[invoice.pk]))
    assert response.status_code == 200


def test_availability_is_detected_once_and_reports_a_missing_library(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pango(name, *args, **kwargs):
        if name == "weasyprint":
            raise OSError("cannot load library 'libpango-1.0-0'")
        return real_import(name, *args, **kwargs)

    rendering.available.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_pango)
    try:
        status = rendering.available()
        assert (status.ok, status.reason) == (False, "cannot load library 'libpango-1.0-0'")
        with pytest.raises(rendering.RenderingUnavailable):
            rendering.html_to_pdf("<p>x</p>", "")
    finally:
        monkeypatch.undo()
        rendering.available.cache_clear()
    assert rendering.available().ok


def test_the_panel_context_is_one_query(approved_cycle, auditor):
    invoice = approved_cycle("USD")
    with count_queries() as queries:
        context = panels.panel_context(invoice, auditor)
    assert context["state"] == "ready"
    assert len(queries) == 1


# --- voided invoices: issued, so their PDF stays ------------------------------------------------
def test_a_voided_invoice_still_offers_its_pdf_and_a_copy(
    approved_cycle, void, client_for, auditor
):
    invoice = approved_cycle("USD")
    document = InvoiceDocument.objects.get(invoice=invoice)
    void(invoice)
    client = client_for(auditor)
    html = page(client, invoice)
    assert "Invoice PDF" in html and document.sha256 in html
    assert reverse("documents:download", args=[invoice.pk]) in html
    assert client.get(reverse("documents:panel", args=[invoice.pk])).status_code == 200
    response = client.get(reverse("documents:copy", args=[invoice.pk]))
    assert response.status_code == 200
    assert "COPY" in pdf_text(response.content)


def test_a_voided_invoice_whose_pdf_was_lost_is_rendered_by_the_sweep(
    approved_cycle, void, settings
):
    invoice = approved_cycle("USD", render=False)
    void(invoice)  # voided before its rendering ran (a lost task)
    assert not InvoiceDocument.objects.filter(invoice=invoice).exists()
    settings.SWEEP_OLDER_THAN_SECONDS = 0
    report = run_sweep()
    assert "documents: 1 missing invoice PDF(s) enqueued for rendering" in report.lines
    assert InvoiceDocument.objects.filter(invoice=invoice).exists()
    assert services.document_render_original(invoice.pk) == "already rendered"
