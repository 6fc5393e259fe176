import logging
from datetime import timedelta

from django.apps import AppConfig

log = logging.getLogger(__name__)
#: Renderings the sweep enqueues at most a run (a backlog drains at the workers' pace).
ENQUEUED_PER_SWEEP = 100


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
        """Enqueue the rendering of issued invoices still missing their original PDF (at most
        ENQUEUED_PER_SWEEP), unless one is already in the task queue (waiting, or running for
        less than `older_than`) or failed lately (tasks.renderings_held)."""
        from django.utils import timezone

        from . import rendering, services
        from .tasks import render_invoice_document, renderings_held

        # More than a sweep enqueues, so that PDFs which keep failing (held back) cannot
        # crowd out the ones that would render.
        missing = services.issued_without_original(
            older_than=older_than, limit=ENQUEUED_PER_SWEEP * 10
        )
        if not missing:
            return []
        if not rendering.available().ok:
            return [
                f"{len(missing)} issued invoice(s) without a PDF; PDFs unavailable here "
                f"(WeasyPrint or its system libraries are missing: {rendering.available().reason})"
            ]
        now = timezone.now()
        held = renderings_held(missing, running_since=now - older_than, now=now)
        lost = [
            invoice_id
            for invoice_id in missing
            if invoice_id not in held.queued and invoice_id not in held.backing_off
        ][:ENQUEUED_PER_SWEEP]
        for invoice_id in lost:
            render_invoice_document.enqueue(invoice_id)
        lines = [f"{len(lost)} missing invoice PDF(s) enqueued for rendering"] if lost else []
        if held.queued:
            lines.append(
                f"{len(held.queued)} invoice PDF(s) already in the task queue (waiting for a "
                "worker on the 'documents' queue, or being rendered)"
            )
        if held.backing_off:
            lines.append(
                f"{len(held.backing_off)} invoice PDF(s) whose rendering failed lately, tried "
                "again later (their failed tasks on the 'documents' queue say why): invoice(s) "
                + ", ".join(f"#{pk}" for pk in sorted(held.backing_off)[:10])
                + (" ..." if len(held.backing_off) > 10 else "")
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
