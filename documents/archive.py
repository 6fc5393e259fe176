"""A period's issued invoice PDFs (approved, or voided since) in one ZIP, streamed with flat
memory.

Python's own `zipfile` writes to a write-only sink (no `seek`, no `tell`: zipfile then puts
each entry's sizes and CRC in a data descriptor after its bytes), and the streaming response
takes what accumulated after each entry: one PDF is in memory at a time, whatever the number of
invoices. No extra dependency is needed for that (the `stream-zip` package does the same with
its own ZIP writer).

The archive holds `manifest.csv` first (number, customer, total, currency, SHA-256, invoice id,
file name, bytes, approved at), then one PDF per issued invoice of the filtered view, as
stored: the bytes whose SHA-256 the audit chain holds. The manifest pass reads the documents
rendered before the download started and keeps their ids (8 bytes each); the files are then
fetched by those ids, so the manifest and the files always agree, whatever is stored, approved or
voided meanwhile.
"""

from __future__ import annotations

import zipfile
from array import array
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.models import QuerySet

from invoices import exports, money
from invoices.workflow import ISSUED_STATUSES

from .models import InvoiceDocument, document_filename

MANIFEST = "manifest.csv"
MANIFEST_HEADER = [
    "number",
    "customer",
    "total",
    "currency",
    "sha256",
    "invoice_id",
    "file",
    "bytes",
    "approved_at",
]
CHUNK = 20  # documents fetched per round trip (each some tens of kilobytes)
MANIFEST_ROWS_PER_PIECE = 500


def streaming_reads():
    """On PostgreSQL, a transaction: its server-side cursor then streams rows as they are
    fetched (in autocommit Django declares it WITH HOLD, which computes every row first; see
    invoices.exports). SQLite streams without one, and a transaction there would take the write
    lock (IMMEDIATE) for the whole download."""
    return transaction.atomic() if connection.vendor == "postgresql" else nullcontext()


class _Sink:
    """Write-only file object for zipfile: keeps what was written until `take()`."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def documents_of(invoices: QuerySet, *, rendered_before: datetime) -> QuerySet:
    """The originals of the issued invoices among `invoices` (a filtered history queryset),
    rendered before `rendered_before`, in the order they were approved."""
    issued = invoices.filter(status__in=ISSUED_STATUSES).values("pk")
    return InvoiceDocument.objects.filter(
        invoice_id__in=issued, rendered_at__lt=rendered_before
    ).order_by("invoice__decided_at", "invoice_id")


def entry_name(number: str, invoice_id: int) -> str:
    """Unique within the archive: the number, then the local invoice id."""
    return document_filename(number, invoice_id, suffix=f"_{invoice_id}")


def _manifest_rows(documents: QuerySet, ids: array) -> Iterator[list]:
    """The manifest's rows; the id of each document listed is appended to `ids`."""
    rows = documents.values_list(
        "pk",
        "number",
        "invoice__customer_name",
        "invoice__total_minor",
        "invoice__currency",
        "sha256",
        "invoice_id",
        "size",
        "invoice__decided_at",
    )
    for (
        pk,
        number,
        customer,
        total,
        currency,
        digest,
        invoice_id,
        size,
        approved_at,
    ) in rows.iterator(chunk_size=2000):
        ids.append(pk)
        yield [
            number,
            customer,
            money.format_amount(total, currency),
            currency,
            digest,
            invoice_id,
            entry_name(number, invoice_id),
            size,
            approved_at,
        ]


def _entry(name: str, when: datetime, compress: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=when.astimezone(UTC).timetuple()[:6])
    info.compress_type = compress
    info.external_attr = 0o644 << 16
    return info


def _stored(ids: array) -> Iterator[InvoiceDocument]:
    """The documents `ids` names, in that order, CHUNK a query (one PDF's bytes in memory at a
    time, give or take a chunk)."""
    fields = ("id", "invoice_id", "number", "content", "rendered_at")
    for start in range(0, len(ids), CHUNK):
        wanted = ids[start : start + CHUNK]
        found = InvoiceDocument.objects.filter(pk__in=list(wanted)).only(*fields).in_bulk()
        for pk in wanted:
            yield found.pop(pk)  # stored documents are never deleted (the table refuses it)


def stream_zip(invoices: QuerySet, *, now: datetime) -> Iterator[bytes]:
    """The ZIP's bytes, piece by piece: the manifest, then each PDF it lists as it is read."""
    documents = documents_of(invoices, rendered_before=now)
    listed = array("q")  # the manifest's documents, in its order: the files are these
    sink = _Sink()
    with streaming_reads(), zipfile.ZipFile(sink, mode="w", allowZip64=True) as archive:
        with archive.open(_entry(MANIFEST, now, zipfile.ZIP_DEFLATED), mode="w") as manifest:
            lines = exports.csv_lines(MANIFEST_HEADER, _manifest_rows(documents, listed))
            for count, line in enumerate(lines, start=1):
                manifest.write(line.encode("utf-8"))
                if count % MANIFEST_ROWS_PER_PIECE == 0:
                    yield sink.take()
        yield sink.take()
        for document in _stored(listed):
            # PDFs are compressed inside already: stored as they are, byte for byte.
            archive.writestr(
                _entry(entry_name(document.number, document.invoice_id), document.rendered_at,
                       zipfile.ZIP_STORED),
                bytes(document.content),
            )  # fmt: skip
            yield sink.take()
    yield sink.take()  # the central directory, written on close
