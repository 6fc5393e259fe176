import logging
from datetime import timedelta

from django.apps import AppConfig

log = logging.getLogger(__name__)


class DocumentsConfig(AppConfig):
    """Invoice documents: the PDF frozen at approval, its copies, and a period's PDFs in a ZIP.

    Built on `invoices` through its extension points (invoices never imports this app): the
    `invoice_approved` signal (sent after commit) enqueues the rendering, a panel on the invoice
    page offers the PDF, and the sweep renders what a lost task left undone.
    """

    name = "documents"
    verbose_name = "Invoice documents"

    def ready(self) -> None:
        from invoices import extensions

        from . import panels

        extensions.invoice_approved.connect(
            _enqueue_rendering, dispatch_uid="documents.render_on_approval"
        )
        if panels.PANEL not in extensions.invoice_page_panels:
            extensions.invoice_page_panels.append(panels.PANEL)

    def nav_items(self, user) -> list[tuple[str, str]]:
        """Auditors download a period's PDFs."""
        from invoices import roles

        return [("documents:index", "Invoice PDFs")] if user.has_perm(roles.AUDIT) else []

    def sweep(self, older_than: timedelta) -> list[str]:
        """Enqueue the rendering of issued invoices still missing their original PDF, unless
        one is already in the task queue (waiting, or running for less than `older_than`)."""
        from django.utils import timezone

        from . import rendering, services
        from .tasks import render_invoice_document, renderings_in_queue

        missing = services.issued_without_original(older_than=older_than)
        if not missing:
            return []
        if not rendering.available().ok:
            return [
                f"{len(missing)} issued invoice(s) without a PDF; PDFs unavailable here "
                f"(WeasyPrint or its system libraries are missing: {rendering.available().reason})"
            ]
        queued = renderings_in_queue(missing, running_since=timezone.now() - older_than)
        lost = [invoice_id for invoice_id in missing if invoice_id not in queued]
        for invoice_id in lost:
            render_invoice_document.enqueue(invoice_id)
        lines = [f"{len(lost)} missing invoice PDF(s) enqueued for rendering"] if lost else []
        waiting = len(missing) - len(lost)
        if waiting:
            lines.append(
                f"{waiting} invoice PDF(s) already in the task queue (waiting for a worker "
                "on the 'documents' queue, or being rendered)"
            )
        return lines


def _enqueue_rendering(sender, invoice_id: int, **kwargs) -> None:
    """`invoice_approved` is sent after the approval committed: the task sees it. A failure to
    enqueue must not turn the manager's committed approval into an error page: it is logged,
    and the sweep enqueues the rendering again."""
    from .tasks import render_invoice_document

    try:
        render_invoice_document.enqueue(invoice_id)
    except Exception:
        log.exception("invoice %s: could not enqueue its PDF rendering; the sweep will", invoice_id)
