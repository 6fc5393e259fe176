"""CSV exports of the history and the audit log: exactly the filtered view, streamed, safe."""

import csv
import io
from datetime import UTC, datetime

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils.http import urlencode

from invoices.models import Invoice

from ..helpers import count_queries

pytestmark = pytest.mark.django_db
HISTORY_CSV = reverse("invoices:history_export")
AUDIT_CSV = reverse("invoices:audit_export")
S = Invoice.Status


def rows_of(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def export(client, url=HISTORY_CSV, **params):
    return client.get(url + ("?" + urlencode(params) if params else ""))


def test_history_export_is_streamed_csv_with_a_header(client_for, auditor, make_invoice):
    make_invoice()
    response = export(client_for(auditor))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"].startswith('attachment; filename="invoice-history-')
    assert response["Cache-Control"] == "no-store"
    rows = rows_of(response)
    assert rows[0][:6] == ["id", "version", "previous_id", "kind", "backend", "status"]
    assert len(rows) == 2


def test_history_export_has_major_units_currency_and_utc_dates(
    client_for, auditor, manager, make_invoice
):
    invoice = make_invoice(
        currency="KWD",
        total_minor=1250,
        status=S.APPROVED,
        decided_by=manager,
        decided_at=datetime(2026, 3, 5, 9, 30, 15, tzinfo=UTC),
        submitted_at=datetime(2026, 3, 4, 8, 0, tzinfo=UTC),
        bill_for=datetime(2026, 4, 1, tzinfo=UTC),
        upstream_number="INV-7",
    )
    make_invoice(currency="JPY", total_minor=98000)
    header, *rows = rows_of(export(client_for(auditor)))
    by_id = {int(r[0]): dict(zip(header, r, strict=True)) for r in rows}
    row = by_id[invoice.pk]
    assert row["total"] == "1.250" and row["currency"] == "KWD"
    assert row["submitted_at"] == "2026-03-04T08:00:00Z"
    assert row["decided_at"] == "2026-03-05T09:30:15Z"
    assert row["bill_for"] == "2026-04-01T00:00:00Z"
    assert row["submitted_by"] == "clerk" and row["decided_by"] == "manager"
    assert row["upstream_number"] == "INV-7"
    yen = next(r for pk, r in by_id.items() if pk != invoice.pk)
    assert yen["total"] == "98000" and yen["decided_by"] == "" and yen["decided_at"] == ""


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_history_export_neutralises_formulas(client_for, auditor, make_invoice, start):
    make_invoice(customer_name=f'{start}HYPERLINK("http://evil")', contract_name=f"{start}1+1")
    header, row = rows_of(export(client_for(auditor)))
    values = dict(zip(header, row, strict=True))
    assert values["customer_name"] == f'\'{start}HYPERLINK("http://evil")'
    assert values["contract_name"] == f"'{start}1+1"


def test_history_export_is_exactly_the_filtered_view_across_pages(
    client_for, auditor, make_invoice
):
    wanted = [make_invoice(currency="EUR") for _ in range(60)]
    make_invoice(currency="USD")
    _header, *rows = rows_of(export(client_for(auditor), currency="EUR"))
    assert [int(r[0]) for r in rows] == [i.pk for i in reversed(wanted)]  # all 60, newest first


def test_history_export_ignores_the_page_cursor(client_for, auditor, make_invoice):
    for _ in range(3):
        make_invoice()
    _, *rows = rows_of(export(client_for(auditor), after="anything"))
    assert len(rows) == 3


def test_history_export_with_invalid_filters_shows_the_errors(client_for, auditor):
    response = export(client_for(auditor), total_min="5")
    assert response.status_code == 422
    assert b"Choose a currency to filter by total" in response.content
    assert b'<option value="EUR"></option>' in response.content  # the form as it always is


@pytest.mark.parametrize("who", ["clerk", "manager", "auditor"])
def test_history_export_for_every_history_reader(client_for, request, make_invoice, who):
    mine, theirs = make_invoice(customer_name="Acme Ltd"), make_invoice(customer_name="Zeta GmbH")
    response = export(client_for(request.getfixturevalue(who)))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    header, *rows = rows_of(response)
    assert header[:3] == ["id", "version", "previous_id"]
    by_id = {int(r[0]): dict(zip(header, r, strict=True)) for r in rows}
    assert set(by_id) == {mine.pk, theirs.pk}  # every invoice, whoever submitted it
    assert by_id[theirs.pk]["customer_name"] == "Zeta GmbH"


def test_history_export_refused_to_outsiders(client_for, outsider, client):
    assert export(client_for(outsider)).status_code == 403


def test_history_export_queries_do_not_grow_with_rows(client_for, auditor, make_invoice):
    client = client_for(auditor)
    for _ in range(3):
        make_invoice()
    rows_of(export(client))
    with count_queries() as few:
        assert len(rows_of(export(client))) == 4
    for _ in range(60):
        make_invoice()
    with count_queries() as many:
        assert len(rows_of(export(client))) == 64
    assert len(many) == len(few)


def test_history_export_uses_a_chunked_iterator(client_for, auditor, make_invoice, monkeypatch):
    """Rows come from QuerySet.iterator (a server-side cursor on PostgreSQL), never a list."""
    from django.db.models.query import QuerySet

    seen = []
    original = QuerySet.iterator

    def spy(self, chunk_size=None):
        seen.append(chunk_size)
        return original(self, chunk_size=chunk_size)

    monkeypatch.setattr(QuerySet, "iterator", spy)
    make_invoice()
    rows_of(export(client_for(auditor)))
    assert seen == [2000]


# --- audit log export -------------------------------------------------------------------------
def test_audit_export_only_for_auditors(client_for, clerk, manager, outsider, auditor):
    for user in (clerk, manager, outsider):
        assert export(client_for(user), AUDIT_CSV).status_code == 403
    assert export(client_for(auditor), AUDIT_CSV).status_code == 200


def test_audit_export_is_the_filtered_view_with_hashes(
    client_for, auditor, manager, record_event, make_invoice
):
    client = client_for(auditor)
    invoice = make_invoice()
    rejected = record_event(
        manager,
        "invoice.rejected",
        invoice=invoice,
        reason="-2+3 is wrong",
        from_status="pending_approval",
        to_status="rejected",
        data={"why": "@once"},
    )
    record_event(None, "auth.sign_in_failed", data={"username": "=cmd"})
    header, *rows = rows_of(export(client, AUDIT_CSV, action="invoice.rejected"))
    assert header[:4] == ["seq", "at", "actor", "action"]
    assert len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    assert row["seq"] == str(rejected.seq)
    assert row["actor"] == "manager"
    assert row["invoice_id"] == str(invoice.pk)
    assert row["reason"] == "'-2+3 is wrong"
    assert row["hash"] == rejected.hash and row["prev_hash"] == rejected.prev_hash
    assert row["at"].endswith("Z")
    assert row["data"] == '{"why": "@once"}'


def test_audit_export_newest_first_by_time(client_for, auditor, record_event):
    client = client_for(auditor)
    first = record_event(None, "invoice.submitted")
    second = record_event(None, "invoice.submitted")
    _, *rows = rows_of(export(client, AUDIT_CSV, action="invoice.submitted"))
    assert [int(r[0]) for r in rows] == [second.seq, first.seq]
