"""A stored PDF never changes: the database refuses, and verify_documents (and the download)
detect what an administrator changes anyway, against the row and the audit chain."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from documents.models import InvoiceDocument
from documents.services import documents_verify, sha256

pytestmark = pytest.mark.django_db
TABLE = "documents_invoicedocument"


def _without_guard(sql: str, params=()) -> None:
    """A database administrator bypassing the append-only trigger."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
            cursor.execute(sql, params)
            cursor.execute("SET session_replication_role = DEFAULT")
        else:
            cursor.execute(f"DROP TRIGGER {TABLE}_no_update")
            cursor.execute(sql, params)


def _tamper(document: InvoiceDocument, *, also_row_hash: bool = False) -> bytes:
    forged = bytes(document.content) + b"\n% edited\n"
    if also_row_hash:
        _without_guard(
            f"UPDATE {TABLE} SET content = %s, sha256 = %s, size = %s WHERE id = %s",  # noqa: S608
            [forged, sha256(forged), len(forged), document.pk],
        )
    else:
        _without_guard(
            f"UPDATE {TABLE} SET content = %s WHERE id = %s",  # noqa: S608
            [forged, document.pk],
        )
    return forged


def test_the_stored_hash_matches_the_file_and_the_audit_event(approved_cycle):
    approved_cycle("USD")
    approved_cycle("KWD")
    report = documents_verify()
    assert (report.checked, report.problems) == (2, [])
    out = StringIO()
    call_command("verify_documents", stdout=out)
    assert "documents intact: 2 PDF(s) match their SHA-256" in out.getvalue()


def test_the_model_and_the_database_refuse_to_change_a_stored_pdf(approved_cycle):
    invoice = approved_cycle("USD")
    document = InvoiceDocument.objects.get(invoice=invoice)
    document.number = "INV-FORGED"
    with pytest.raises(Exception, match="never changed"):
        document.save()
    with pytest.raises(DatabaseError), transaction.atomic():
        InvoiceDocument.objects.filter(pk=document.pk).update(content=b"%PDF-forged")
    assert InvoiceDocument.objects.get(pk=document.pk).sha256 == sha256(bytes(document.content))


def test_a_tampered_file_is_detected(approved_cycle):
    invoice = approved_cycle("USD")
    document = InvoiceDocument.objects.get(invoice=invoice)
    _tamper(document)
    report = documents_verify()
    assert not report.ok
    assert report.problems == [
        f"invoice {invoice.pk}: the stored PDF was changed: its SHA-256 is "
        f"{sha256(bytes(InvoiceDocument.objects.get(pk=document.pk).content))}, "
        f"but {document.sha256} was recorded"
    ]
    with pytest.raises(CommandError, match="documents BROKEN: 1 of 1"):
        call_command("verify_documents", stdout=StringIO())


def test_a_file_whose_row_hash_was_rewritten_too_is_caught_by_the_audit_event(approved_cycle):
    invoice = approved_cycle("JPY")
    document = InvoiceDocument.objects.get(invoice=invoice)
    forged = _tamper(document, also_row_hash=True)
    (problem,) = documents_verify().problems
    assert f"recorded SHA-256 {document.sha256}, the stored PDF has {sha256(forged)}" in problem


def test_a_tampered_file_is_not_handed_out(approved_cycle, client_for, auditor):
    invoice = approved_cycle("USD")
    _tamper(InvoiceDocument.objects.get(invoice=invoice))
    response = client_for(auditor).get(reverse("documents:download", args=[invoice.pk]))
    assert response.status_code == 409
    assert b"no longer matches the SHA-256" in response.content


def test_a_file_whose_row_hash_was_rewritten_too_is_not_handed_out(
    approved_cycle, client_for, auditor
):
    invoice = approved_cycle("USD")
    _tamper(InvoiceDocument.objects.get(invoice=invoice), also_row_hash=True)
    response = client_for(auditor).get(reverse("documents:download", args=[invoice.pk]))
    assert response.status_code == 409  # the audit event still names the original's SHA-256
    assert b"no longer matches the SHA-256" in response.content
