"""The invoice page's "Invoice PDF" panel (registered on `invoices.extensions`).

Shown on issued invoices (approved, or voided since) to whoever may read the invoice page: the
download with its SHA-256 once the original exists; "being prepared" (polled by htmx, with a
plain refresh link) until then; or, where WeasyPrint cannot load, that PDFs are unavailable.
One query.
"""

from __future__ import annotations

from django.urls import reverse

from invoices.extensions import Panel
from invoices.models import Invoice
from invoices.workflow import ISSUED_STATUSES

from . import rendering
from .models import InvoiceDocument

TEMPLATE = "documents/_panel.html"
POLL_SECONDS = 2


def panel_context(invoice: Invoice, user) -> dict | None:
    if invoice.status not in ISSUED_STATUSES:
        return None
    found = InvoiceDocument.objects.filter(invoice_id=invoice.pk).only(
        "id", "invoice_id", "number", "sha256", "size", "rendered_at", "renderer"
    )
    document = next(iter(found[:1]), None)  # one per invoice: no order needed
    available = rendering.available()
    if document is not None:
        state = "ready"
    elif available.ok:
        state = "pending"
    else:
        state = "unavailable"
    return {
        "state": state,
        "document": document,
        "invoice_id": invoice.pk,
        "number": invoice.upstream_number,
        "can_copy": available.ok,
        "download_url": reverse("documents:download", args=[invoice.pk]),
        "copy_url": reverse("documents:copy", args=[invoice.pk]),
        "poll_url": reverse("documents:panel", args=[invoice.pk]),
        "refresh_url": reverse("invoices:detail", args=[invoice.pk]) + "#document-h",
        "poll_seconds": POLL_SECONDS,
    }


PANEL = Panel(template=TEMPLATE, context=panel_context, order=50)
