"""CSV exports, streamed row by row with constant memory.

Text cells that a spreadsheet would read as a formula (starting with =, +, -, @, tab or carriage
return) are neutralised with a leading apostrophe. Numbers and dates we produce ourselves are
typed values (int, Decimal, datetime), written as they are.
"""

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

from django.db import transaction
from django.http import StreamingHttpResponse

from . import money
from .forms import AuditFilterForm, HistoryFilterForm
from .models import AuditEvent, Invoice

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, int | Decimal | date):
        return value.isoformat() if isinstance(value, date) else str(value)
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


class _Echo:
    def write(self, value: str) -> str:
        return value


ROWS_PER_CHUNK = 200  # rows joined into one piece of the streamed response (fewer writes)


def csv_lines(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([neutralise(cell) for cell in row])


def _chunks(lines: Iterable[str]) -> Iterator[str]:
    buffer: list[str] = []
    for line in lines:
        buffer.append(line)
        if len(buffer) >= ROWS_PER_CHUNK:
            yield "".join(buffer)
            buffer.clear()
    if buffer:
        yield "".join(buffer)


def csv_response(filename: str, header: list[str], rows: Iterable[Iterable]):
    response = StreamingHttpResponse(_chunks(csv_lines(header, rows)), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


# --- what the history and audit exports write ---------------------------------------------------
# (CSV header, model field read for it): one list, so header and values cannot drift apart.
_HISTORY_CSV_COLUMNS = (
    ("id", "id"),
    ("version", "version"),
    ("previous_id", "previous_id"),
    ("kind", "kind"),
    ("backend", "backend"),
    ("status", "status"),
    ("contract_id", "contract_id"),
    ("contract_name", "contract_name"),
    ("customer_id", "customer_id"),
    ("customer_name", "customer_name"),
    ("cycle_name", "cycle_name"),
    ("bill_for", "bill_for"),
    ("period_start", "period_start"),
    ("period_end", "period_end"),
    ("currency", "currency"),
    ("total", "total_minor"),
    ("submitted_by", "submitted_by__username"),
    ("submitted_at", "submitted_at"),
    ("decided_by", "decided_by__username"),
    ("decided_at", "decided_at"),
    ("decision_reason", "decision_reason"),
    ("upstream_id", "upstream_id"),
    ("upstream_number", "upstream_number"),
    ("content_hash", "content_hash"),
    ("corrects_id", "corrects_id"),
    ("correction_reason", "reason_code"),
    ("correction_reason_text", "reason_text"),
    ("run_id", "run_id"),
)
HISTORY_CSV_HEADER = [header for header, _ in _HISTORY_CSV_COLUMNS]
_HISTORY_CSV_FIELDS = tuple(field for _, field in _HISTORY_CSV_COLUMNS)
_TOTAL = _HISTORY_CSV_FIELDS.index("total_minor")
_CURRENCY = _HISTORY_CSV_FIELDS.index("currency")


def invoice_csv_rows(queryset, *, chunk_size: int = 2000) -> Iterator[list]:
    """CSV rows (HISTORY_CSV_HEADER) of the invoices in `queryset`, in its order, streamed from
    a server-side cursor. Plain tuples (no model instances) keep it fast; totals in major units
    beside their currency code. Used by the history export and the admin's."""
    rows = queryset.values_list(*_HISTORY_CSV_FIELDS)
    # Inside a transaction, PostgreSQL's server-side cursor streams as rows are fetched; in
    # autocommit Django declares it WITH HOLD, which makes the server compute every row first.
    with transaction.atomic():
        for row in rows.iterator(chunk_size=chunk_size):
            row = list(row)
            row[_TOTAL] = money.to_major(row[_TOTAL], row[_CURRENCY])
            yield row


def history_csv_rows(form: HistoryFilterForm, *, chunk_size: int = 2000) -> Iterator[list]:
    """Every invoice of the filtered view, newest first."""
    queryset = form.filter(Invoice.objects.all()).order_by("-submitted_at", "-id")
    return invoice_csv_rows(queryset, chunk_size=chunk_size)


_AUDIT_CSV_COLUMNS = (
    ("seq", "seq"),
    ("at", "at"),
    ("actor", "actor_username"),
    ("action", "action"),
    ("invoice_id", "invoice_id"),
    ("from_status", "from_status"),
    ("to_status", "to_status"),
    ("reason", "reason"),
    ("request_id", "request_id"),
    ("ip", "ip"),
    ("data", "data"),
    ("prev_hash", "prev_hash"),
    ("hash", "hash"),
)
AUDIT_CSV_HEADER = [header for header, _ in _AUDIT_CSV_COLUMNS]
_AUDIT_CSV_FIELDS = tuple(field for _, field in _AUDIT_CSV_COLUMNS)
_DATA = _AUDIT_CSV_FIELDS.index("data")


def audit_event_csv_rows(queryset, *, chunk_size: int = 2000) -> Iterator[list]:
    """CSV rows (AUDIT_CSV_HEADER) of the events in `queryset`, in its order, streamed."""
    rows = queryset.values_list(*_AUDIT_CSV_FIELDS)
    with transaction.atomic():  # a streaming cursor, as for invoices (see above)
        for row in rows.iterator(chunk_size=chunk_size):
            row = list(row)
            row[_DATA] = json.dumps(row[_DATA], sort_keys=True)
            yield row


def audit_csv_rows(form: AuditFilterForm, *, chunk_size: int = 2000) -> Iterator[list]:
    """Every event of the filtered view, newest first."""
    queryset = form.filter(AuditEvent.objects.all()).order_by("-at", "-seq")
    return audit_event_csv_rows(queryset, chunk_size=chunk_size)
