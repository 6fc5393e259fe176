"""Auditors download a period's approved PDFs in one ZIP, filtered as in the history, with a
manifest; the ZIP is streamed one document at a time."""

import csv
import hashlib
import io
import zipfile

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from documents import archive
from documents.models import InvoiceDocument
from invoices.models import Invoice

pytestmark = pytest.mark.django_db
ZIP = reverse("documents:zip")


def download(client, query: str = "") -> tuple[zipfile.ZipFile, StreamingHttpResponse]:
    response = client.get(ZIP + query)
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="invoice-pdfs-')
    body = b"".join(response.streaming_content)
    return zipfile.ZipFile(io.BytesIO(body)), response


def manifest(archive_file: zipfile.ZipFile) -> list[dict]:
    return list(csv.DictReader(io.StringIO(archive_file.read("manifest.csv").decode("utf-8"))))


@pytest.fixture
def three(approved_cycle):
    return [approved_cycle("USD"), approved_cycle("JPY"), approved_cycle("KWD")]


def test_the_zip_holds_a_manifest_and_every_approved_pdf_as_stored(three, client_for, auditor):
    archive_file, _ = download(client_for(auditor))
    assert archive_file.testzip() is None
    names = archive_file.namelist()
    assert names[0] == "manifest.csv"
    rows = manifest(archive_file)
    assert [row["invoice_id"] for row in rows] == [str(i.pk) for i in three]
    assert list(rows[0]) == archive.MANIFEST_HEADER
    for invoice, row in zip(three, rows, strict=True):
        document = InvoiceDocument.objects.get(invoice=invoice)
        assert row["number"] == invoice.upstream_number
        assert row["customer"] == invoice.customer_name
        assert row["currency"] == invoice.currency
        assert row["sha256"] == document.sha256
        content = archive_file.read(row["file"])
        assert content == bytes(document.content)
        assert hashlib.sha256(content).hexdigest() == row["sha256"]
        assert row["bytes"] == str(len(content))
    assert [row["total"] for row in rows] == ["1229.60", "111500", "2.125"]
    assert sorted(names[1:]) == sorted(row["file"] for row in rows)


def test_the_zip_uses_the_history_filters(three, client_for, auditor):
    archive_file, _ = download(client_for(auditor), "?currency=JPY")
    (row,) = manifest(archive_file)
    assert row["invoice_id"] == str(three[1].pk)
    archive_file, _ = download(client_for(auditor), "?billed_from=2030-01-01")
    assert manifest(archive_file) == []
    assert archive_file.namelist() == ["manifest.csv"]


def test_only_approved_invoices_with_a_stored_pdf_are_in_it(
    approved_cycle, clerk, submit_cycle, client_for, auditor
):
    from tests.engine.factories import worked_example_contract

    ready = approved_cycle("USD")
    approved_cycle("JPY", render=False)  # approved, PDF not rendered yet
    submit_cycle(clerk, worked_example_contract())  # pending
    (row,) = manifest(download(client_for(auditor))[0])
    assert row["invoice_id"] == str(ready.pk)


def test_the_manifest_neutralises_spreadsheet_formulas(approved_adhoc, client_for, auditor):
    approved_adhoc(customer_name='=HYPERLINK("http://example.com","x")')
    (row,) = manifest(download(client_for(auditor))[0])
    assert row["customer"] == '\'=HYPERLINK("http://example.com","x")'


def test_the_zip_streams_one_document_at_a_time(three):
    pieces = list(archive.stream_zip(Invoice.objects.all(), now=timezone.now()))
    sizes = [len(piece) for piece in pieces]
    largest_pdf = max(d.size for d in InvoiceDocument.objects.all())
    # The manifest, one piece per PDF, the central directory: never more than one PDF at once.
    assert len([s for s in sizes if s > 0]) >= 1 + len(three)
    assert max(sizes) < largest_pdf + 1024
    assert zipfile.ZipFile(io.BytesIO(b"".join(pieces))).testzip() is None


def test_documents_rendered_after_the_download_started_are_left_out(three):
    from datetime import timedelta

    first = InvoiceDocument.objects.order_by("rendered_at").first()
    body = b"".join(
        archive.stream_zip(Invoice.objects.all(), now=first.rendered_at + timedelta(microseconds=1))
    )
    rows = manifest(zipfile.ZipFile(io.BytesIO(body)))
    assert [row["invoice_id"] for row in rows] == [str(first.invoice_id)]


def test_invalid_filters_are_a_422_with_the_reason(client_for, auditor):
    response = client_for(auditor).get(ZIP + "?total_min=12")
    assert response.status_code == 422
    assert b"Choose a currency to filter by total" in response.content


@pytest.mark.parametrize("who", ["clerk", "manager", "outsider"])
def test_only_auditors_download_the_zip_or_open_the_page(three, client_for, request, who):
    client = client_for(request.getfixturevalue(who))
    assert client.get(ZIP).status_code == 403
    assert client.get(reverse("documents:index")).status_code == 403


def test_the_documents_page_counts_what_the_zip_will_hold(
    approved_cycle, client_for, auditor, django_assert_max_num_queries
):
    approved_cycle("USD")
    approved_cycle("JPY", render=False)
    client = client_for(auditor)
    client.get(reverse("documents:index"))
    with django_assert_max_num_queries(8):
        response = client.get(reverse("documents:index") + "?kind=cycle")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<strong>2</strong> approved invoices match" in html
    assert "<strong>1</strong> PDF ready" in html
    assert f'href="{ZIP}?kind=cycle"' in html


def test_a_voided_invoice_and_its_void_notice_are_in_the_zip(
    approved_cycle, void, client_for, auditor
):
    invoice = approved_cycle("USD")
    notice = void(invoice)
    client = client_for(auditor)
    rows = manifest(download(client)[0])
    assert [row["invoice_id"] for row in rows] == [str(invoice.pk), str(notice.pk)]
    html = client.get(reverse("documents:index")).content.decode()
    assert "<strong>2</strong> approved invoices match" in html
    assert "<strong>2</strong> PDFs ready" in html


def test_a_document_stored_during_the_download_is_in_neither_the_manifest_nor_the_files(
    approved_cycle,
):
    from datetime import timedelta

    from documents.services import document_render_original

    approved_cycle("USD")
    approved_cycle("JPY")
    late = approved_cycle("KWD", render=False)
    pieces = archive.stream_zip(Invoice.objects.all(), now=timezone.now() + timedelta(hours=1))
    body = [next(pieces)]  # the manifest is written
    assert document_render_original(late.pk) == "rendered"  # a worker stores one meanwhile
    body.extend(pieces)
    archive_file = zipfile.ZipFile(io.BytesIO(b"".join(body)))
    assert archive_file.testzip() is None
    rows = manifest(archive_file)
    assert len(rows) == 2 and str(late.pk) not in [row["invoice_id"] for row in rows]
    assert archive_file.namelist()[1:] == [row["file"] for row in rows]
