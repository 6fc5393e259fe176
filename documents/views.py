"""Invoice documents' pages, by who uses them.

- Whoever may read an invoice's page (history readers, and its submitter): its original PDF,
  a COPY rendered now, and the panel fragment htmx polls while the original is being prepared.
- Auditors: the documents page (the history's filters) and the ZIP of the filtered period's
  issued invoices' PDFs (approved, or voided since) with a manifest.
"""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from invoices import roles, selectors, workflow
from invoices.forms import HistoryFilterForm
from invoices.forms.filters import COMMON_CURRENCIES
from invoices.models import Invoice
from invoices.workflow import ISSUED_STATUSES

from . import archive, panels, rendering, services
from .models import InvoiceDocument, document_filename

log = logging.getLogger(__name__)


# --- whoever may read the invoice -----------------------------------------------------------
def _readable_invoice(request, pk: int) -> Invoice:
    invoice = Invoice.objects.defer("lines", "adhoc_request").filter(pk=pk).first()
    if invoice is None:
        raise Http404("No such invoice")
    if not workflow.may_read(request.user, invoice):
        raise PermissionDenied
    return invoice


def _pdf_response(content: bytes, filename: str, digest: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Document-SHA256"] = digest
    response["Cache-Control"] = "private, no-store"
    return response


def _problem(request, status: int, title: str, message: str, invoice_id: int | None = None):
    return render(
        request,
        "documents/problem.html",
        {"title": title, "message": message, "invoice_id": invoice_id},
        status=status,
    )


@require_GET
def download(request, pk: int):
    """The original PDF, exactly as stored: refused if its bytes no longer match the hash on its
    row and in its audit event (what `manage.py verify_documents` checks)."""
    invoice = _readable_invoice(request, pk)
    document = (
        InvoiceDocument.objects.select_related("audit_event").filter(invoice_id=invoice.pk).first()
    )
    if document is None:
        return _problem(
            request,
            404,
            "No PDF yet",
            "This invoice has no PDF yet: one is made once an invoice is approved.",
            invoice.pk,
        )
    problem = services.document_problem(document)
    if problem:
        log.error("invoice %s: stored PDF withheld: %s", invoice.pk, problem)
        return _problem(
            request,
            409,
            "PDF withheld",
            "The stored PDF no longer matches the SHA-256 recorded when it was made, so it is "
            "not handed out. Tell an administrator (manage.py verify_documents).",
            invoice.pk,
        )
    return _pdf_response(services.stored_content(document), document.filename, document.sha256)


@require_GET
def copy(request, pk: int):
    """A fresh rendering of an issued invoice, marked COPY on every page."""
    invoice = _readable_invoice(request, pk)
    if invoice.status not in ISSUED_STATUSES:
        return _problem(
            request,
            409,
            "Not approved",
            "Only an approved invoice has a document.",
            invoice.pk,
        )
    if not rendering.available().ok:
        return _problem(
            request,
            503,
            "PDFs unavailable",
            "PDFs unavailable: WeasyPrint or its system libraries are missing on this server.",
            invoice.pk,
        )
    invoice = Invoice.objects.select_related("submitted_by", "decided_by").get(pk=invoice.pk)
    original = InvoiceDocument.objects.filter(invoice_id=invoice.pk).defer("content").first()
    content = services.document_render_copy(invoice, original)
    name = document_filename(invoice.upstream_number, invoice.pk, suffix="-COPY")
    return _pdf_response(content, name, services.sha256(content))


@require_GET
def panel(request, pk: int):
    """The invoice page's PDF panel alone (htmx polls it while the PDF is being prepared)."""
    invoice = _readable_invoice(request, pk)
    context = panels.panel_context(invoice, request.user)
    if context is None:
        raise Http404("This invoice has no document")
    return render(request, panels.TEMPLATE, {"panel": context})


# --- auditors: a period's PDFs ----------------------------------------------------------------
#: The history's filters, period first; no status (only issued invoices have a PDF).
ZIP_FIELDSETS = (
    (
        "Period (UTC, both days included)",
        ("billed_from", "billed_to", "submitted_from", "submitted_to"),
    ),
    ("Invoice", ("q", "kind", "backend", "contract", "customer")),
    ("People and amount", ("submitter", "approver", "currency", "total_min", "total_max")),
)


def _filter_form(request) -> HistoryFilterForm:
    return HistoryFilterForm(request.GET, users=selectors.user_choices())


@require_GET
@permission_required(roles.AUDIT, raise_exception=True)
def index(request):
    form = _filter_form(request)
    context = {
        "form": form,
        "fieldsets": form.grouped(ZIP_FIELDSETS),
        "currencies": COMMON_CURRENCIES,
        "counts": None,
    }
    if form.is_valid():
        approved = form.filter(Invoice.objects.filter(status__in=ISSUED_STATUSES))
        query = urlencode(form.query_items())
        context.update(
            counts={
                "approved": approved.count(),
                "ready": InvoiceDocument.objects.filter(
                    invoice_id__in=approved.values("pk")
                ).count(),
            },
            zip_url=reverse("documents:zip") + (f"?{query}" if query else ""),
        )
    return render(request, "documents/index.html", context, status=200 if form.is_valid() else 422)


@require_GET
@permission_required(roles.AUDIT, raise_exception=True)
def zip_export(request):
    form = _filter_form(request)
    if not form.is_valid():
        return index(request)
    now = timezone.now()
    response = StreamingHttpResponse(
        archive.stream_zip(form.filter(Invoice.objects.all()), now=now),
        content_type="application/zip",
    )
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="invoice-pdfs-{stamp}.zip"'
    response["Cache-Control"] = "no-store"
    return response
