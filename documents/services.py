"""Rendering, storing and checking invoice documents.

- `document_render_original(invoice_id)`: the task's work. Renders the approved invoice's PDF
  once, from the approved snapshot, and stores it with a `document.rendered` audit event
  carrying its SHA-256, in one transaction. Safe to run twice: an invoice that has its original
  is left alone.
- `document_render_copy(invoice)`: any later rendering, marked COPY on every page, never stored.
- `documents_verify()`: recomputes every stored document's hash and compares it with the row
  and with the audit event that recorded it (`manage.py verify_documents`).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from invoices import money
from invoices.audit import audit_record
from invoices.models import AuditEvent, Invoice
from invoices.templatetags.invoice_tags import period
from invoices.workflow import ISSUED_STATUSES

from . import rendering
from .archive import streaming_reads
from .models import InvoiceDocument

log = logging.getLogger(__name__)

RENDERED = "document.rendered"
#: Audit actions about documents themselves, left out of the approval trail a document shows.
DOCUMENT_ACTIONS_PREFIX = "document."


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


TITLES = {Invoice.Kind.CREDIT_NOTE: "Credit note", Invoice.Kind.VOID: "Void notice"}


# --- what the document says -----------------------------------------------------------------
def document_context(
    invoice: Invoice, *, rendered_at, original: InvoiceDocument | None = None
) -> dict:
    """Everything the document shows, from the approved snapshot (the invoice's frozen lines,
    total and currency, the ad-hoc request's addresses) and the invoice's audit events. With
    `original`, the context of a COPY of that document."""
    currency = invoice.currency
    request = invoice.adhoc_request or {}
    title = TITLES.get(invoice.kind, "Invoice")
    corrects = invoice.corrects if invoice.corrects_id else None
    events = list(
        AuditEvent.objects.filter(invoice=invoice)
        .exclude(action__startswith=DOCUMENT_ACTIONS_PREFIX)
        .order_by("seq")
    )
    return {
        "invoice": invoice,
        # A correction is its own document: a credit note, or the notice of a void.
        "title": title,
        **_heading(invoice, title, corrects),
        "corrects": corrects,
        "number": invoice.upstream_number,
        "lines": [_line(line, invoice) for line in invoice.lines],
        "total": money.format_money(invoice.total_minor, currency),
        "exponent": money.exponent(currency),
        "billing_address": _address(request.get("billing_address")),
        "shipping_address": _address(request.get("shipping_address")),
        "adhoc": request,
        "trail": events,
        "approved_event": next(
            (e for e in reversed(events) if e.to_status == Invoice.Status.APPROVED), None
        ),
        "rendered_at": rendered_at,
        "renderer": rendering.renderer_version(),
        "copy": original is not None,
        "original": original,
    }


def _heading(invoice: Invoice, title: str, corrects: Invoice | None) -> dict:
    """What the document is called, and what its number is. A void notice has no number of its
    own: the number its approval recorded is that of the credit note of what was left (a
    contract-cycle invoice is credited to zero before it is voided), so it is labelled as such,
    and the notice is named after the invoice it voids."""
    number = invoice.upstream_number
    if invoice.kind != Invoice.Kind.VOID:
        return {
            "heading": f"{title} {number or '(no number)'}",
            "document_title": f"{title} {number or f'#{invoice.pk}'}",
            "number_label": f"{title} number",
        }
    voided = corrects.upstream_number if corrects else ""
    heading = f"{title} of invoice {voided}" if voided else title
    return {
        "heading": heading,
        "document_title": heading if voided else f"{title} #{invoice.pk}",
        "number_label": "Credit note number" if number else "",
    }


def _line(line: dict, invoice: Invoice) -> dict:
    currency = invoice.currency
    start, end = line.get("service_start"), line.get("service_end")
    if not start:
        service = "—"
    elif invoice.kind == Invoice.Kind.ADHOC:
        service = f"{start} – {end}"  # ad-hoc periods are days, both included, as typed
    else:
        service = period(start, end)  # a cycle's half-open window [start, end)
    return {
        **line,
        "service_period": service,
        "unit_price_text": unit_price_text(line.get("unit_price", ""), currency),
        "amount_text": money.format_money(line["amount_minor"], currency),
    }


def unit_price_text(text: str, currency: str) -> str:
    """A snapshot's unit price ("12.5", "3.916667") shown with at least the currency's decimals
    ("12.50"), never rounded: an effective price with more decimals keeps them all."""
    try:
        value = Decimal(str(text))
    except (InvalidOperation, ValueError):
        return str(text)
    if not value.is_finite():
        return str(text)
    places = max(money.exponent(currency), -value.as_tuple().exponent)
    return f"{value:,.{places}f}"


def _address(data: dict | None) -> list[str]:
    """An address as the lines printed on an envelope (empty parts left out)."""
    if not data:
        return []
    town = " ".join(part for part in (data.get("zip"), data.get("city")) if part)
    rows = [
        data.get("contact_company"),
        data.get("contact_name"),
        data.get("street1"),
        data.get("street2"),
        ", ".join(part for part in (town, data.get("state")) if part),
        data.get("country_code"),
        data.get("contact_email"),
        data.get("contact_phone"),
    ]
    return [row for row in rows if row]


# --- the original ---------------------------------------------------------------------------
def document_render_original(invoice_id: int) -> str:
    """Render and store the original PDF of an issued invoice (approved, or voided since).
    Idempotent; returns what happened ("rendered", "already rendered", "not approved",
    "unavailable", "no invoice")."""
    if InvoiceDocument.objects.filter(invoice_id=invoice_id).exists():
        return "already rendered"
    invoice = (
        Invoice.objects.select_related("submitted_by", "decided_by").filter(pk=invoice_id).first()
    )
    if invoice is None:
        return "no invoice"
    if invoice.status not in ISSUED_STATUSES:
        return "not approved"
    if not rendering.available().ok:
        return "unavailable"
    rendered_at = timezone.now()
    content = rendering.render_pdf(document_context(invoice, rendered_at=rendered_at))
    digest = sha256(content)
    with transaction.atomic():
        # The invoice row first, then the audit chain's head (the order the services take):
        # two workers rendering the same invoice queue here, and the second finds the first's.
        locked = Invoice.objects.select_for_update().only("id", "status").get(pk=invoice_id)
        if InvoiceDocument.objects.filter(invoice_id=invoice_id).exists():
            return "already rendered"
        event = audit_record(
            actor=None,
            action=RENDERED,
            invoice=locked,
            data={"sha256": digest, "bytes": len(content), "number": invoice.upstream_number},
        )
        InvoiceDocument.objects.create(
            invoice=locked,
            number=invoice.upstream_number,
            sha256=digest,
            size=len(content),
            content=content,
            rendered_at=rendered_at,
            renderer=rendering.renderer_version(),
            audit_event=event,
        )
    log.info("invoice %s: PDF rendered (%d bytes, sha256 %s)", invoice_id, len(content), digest)
    return "rendered"


def document_render_copy(invoice: Invoice, original: InvoiceDocument | None) -> bytes:
    """A fresh rendering of an issued invoice, marked COPY on every page (never stored)."""
    return rendering.render_pdf(
        document_context(invoice, rendered_at=timezone.now(), original=original)
    )


def issued_without_original(*, older_than: timedelta, limit: int = 100) -> list[int]:
    """Issued invoices still missing their original, untouched for `older_than`, oldest
    first (the sweep enqueues their rendering again: a lost or failed task, or invoices
    approved before documents existed). At most `limit`; the sweep then leaves out those whose
    rendering is already in the task queue or failed lately (`tasks.renderings_held`), so a
    backlog drains at the workers' pace instead of piling up duplicate tasks, and a PDF that
    fails is not rendered again every minute."""
    cutoff = timezone.now() - older_than
    has_document = InvoiceDocument.objects.filter(invoice_id=OuterRef("pk"))
    return list(
        Invoice.objects.filter(status__in=ISSUED_STATUSES, updated_at__lte=cutoff)
        .exclude(Exists(has_document))
        .order_by("updated_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def stored_content(document: InvoiceDocument) -> bytes:
    return bytes(document.content)


# --- verification ---------------------------------------------------------------------------
@dataclass
class DocumentsReport:
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def documents_verify(*, chunk_size: int = 50) -> DocumentsReport:
    """Recompute each stored document's SHA-256 and compare it with its row and with the audit
    event that recorded it (whose own integrity `manage.py verify_audit` checks)."""
    report = DocumentsReport()
    rows = InvoiceDocument.objects.select_related("audit_event").order_by("id")
    with streaming_reads():
        for document in rows.iterator(chunk_size=chunk_size):
            report.checked += 1
            problem = document_problem(document)
            if problem:
                report.problems.append(f"invoice {document.invoice_id}: {problem}")
    return report


def document_problem(document: InvoiceDocument) -> str:
    """What does not hold about a stored document ("" when it is intact)."""
    actual = sha256(stored_content(document))
    event = document.audit_event
    recorded = (event.data or {}).get("sha256")
    if event.action != RENDERED or event.invoice_id != document.invoice_id:
        return f"its audit event #{event.seq} is not the rendering of this invoice"
    if actual != document.sha256 or len(document.content) != document.size:
        return (
            f"the stored PDF was changed: its SHA-256 is {actual}, "
            f"but {document.sha256} was recorded"
        )
    if recorded != actual:
        return (
            f"the audit event #{event.seq} recorded SHA-256 {recorded}, the stored PDF has {actual}"
        )
    return ""
