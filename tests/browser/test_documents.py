"""Invoice documents in Chromium: the PDF panel while the PDF is prepared (htmx polling) and
once it exists, the download, the printed page, PDFs unavailable, and the auditors' ZIP page;
no serious accessibility violations."""

import io
import re
import zipfile

import pytest
from playwright.sync_api import expect

from documents import rendering, services
from documents.models import InvoiceDocument
from invoices import services as invoice_services
from invoices.backends import cycle_backend
from tests.documents.conftest import jpy_contract
from tests.engine.factories import worked_example_contract

from .conftest import assert_accessible, htmx_ready

pytestmark = pytest.mark.browser


def approved(clerk, manager, contract, index=0):
    cycle = cycle_backend().list_billing_cycles(str(contract.id))[index]
    invoice = invoice_services.invoice_submit_cycle(
        actor=clerk,
        contract_id=str(contract.id),
        cycle_key=cycle.key,
        cycle_fp=invoice_services.cycle_fingerprint(cycle),
        preview_total_minor=None,
    ).invoice
    return invoice_services.invoice_approve(
        actor=manager, invoice_id=invoice.pk, seen_hash=invoice.content_hash
    )


def test_the_pdf_is_prepared_then_offered_downloaded_and_zipped(
    page, live_server, sign_in, shot, clerk, manager, auditor, monkeypatch
):
    render_now = services.document_render_original
    # The rendering task is held back, as on a busy queue.
    monkeypatch.setattr(services, "document_render_original", lambda invoice_id: "held")
    invoice = approved(clerk, manager, worked_example_contract(), index=4)
    assert not InvoiceDocument.objects.exists()

    sign_in(page, "auditor")
    page.goto(f"{live_server.url}/invoices/{invoice.pk}/")
    htmx_ready(page)
    panel = page.locator("#document-panel")
    expect(panel.get_by_text("The PDF is being prepared.")).to_be_visible()
    expect(panel.get_by_role("link", name="Refresh")).to_be_visible()
    assert_accessible(page, "invoice page, PDF being prepared")
    shot(page, "pdf-being-prepared")

    # The worker gets to it: the page notices without a reload (htmx polls the panel).
    monkeypatch.setattr(services, "document_render_original", render_now)
    assert render_now(invoice.pk) == "rendered"
    document = InvoiceDocument.objects.get(invoice=invoice)
    expect(panel.get_by_role("link", name="Download the PDF")).to_be_visible()
    expect(panel.get_by_text(document.sha256)).to_be_visible()
    assert_accessible(page, "invoice page, PDF ready")
    shot(page, "pdf-ready")

    with page.expect_download() as info:
        panel.get_by_role("link", name="Download the PDF").click()
    download = info.value
    assert download.suggested_filename == f"{invoice.upstream_number}.pdf"
    with open(download.path(), "rb") as saved:
        assert saved.read() == bytes(document.content)

    # On paper: the content, without navigation, buttons or forms.
    page.emulate_media(media="print")
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    expect(panel.get_by_role("link", name="Download the PDF")).to_be_hidden()
    expect(page.get_by_role("heading", name="Lines (as submitted)")).to_be_visible()
    expect(page.get_by_role("heading", name="Actions")).to_be_hidden()
    shot(page, "printed")
    page.emulate_media(media="screen")

    # The auditor's documents page, then the ZIP of the period.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Invoice PDFs").click()
    expect(page.get_by_role("heading", name="Invoice PDFs", level=1)).to_be_visible()
    assert_accessible(page, "invoice PDFs page")
    page.get_by_label("Billing date from").fill("2026-06-01")
    page.get_by_label("Billing date up to").fill("2026-06-30")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_text(re.compile(r"1 approved invoice matches"))).to_be_visible()
    assert "billed_from=2026-06-01" in page.url
    assert_accessible(page, "invoice PDFs page, filtered")
    shot(page, "documents-page")
    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile("Download the ZIP")).click()
    with open(info.value.path(), "rb") as saved:
        archive = zipfile.ZipFile(io.BytesIO(saved.read()))
    assert archive.namelist()[0] == "manifest.csv"
    assert document.sha256 in archive.read("manifest.csv").decode()
    assert bytes(document.content) in {archive.read(name) for name in archive.namelist()[1:]}


def test_the_panel_says_plainly_when_pdfs_are_unavailable(
    page, live_server, sign_in, shot, clerk, manager, monkeypatch
):
    monkeypatch.setattr(
        rendering,
        "available",
        lambda: rendering.Availability(False, reason="libpango-1.0.so.0: cannot open"),
    )
    invoice = approved(clerk, manager, jpy_contract())
    sign_in(page, "clerk")  # the submitter reads their own invoice
    page.goto(f"{live_server.url}/invoices/{invoice.pk}/")
    expect(
        page.get_by_text("PDFs unavailable: WeasyPrint or its system libraries are missing")
    ).to_be_visible()
    assert_accessible(page, "invoice page, PDFs unavailable")
    shot(page, "pdfs-unavailable")
    assert not InvoiceDocument.objects.exists()
