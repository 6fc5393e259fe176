from datetime import timedelta

from django.apps import AppConfig


class BillrunsConfig(AppConfig):
    name = "billruns"
    verbose_name = "Bill runs"
    default_auto_field = "django.db.models.BigAutoField"

    def nav_items(self, user) -> list[tuple[str, str]]:
        """Clerks run bill runs, managers review them, history readers follow them."""
        from invoices import roles

        readers = (roles.SUBMIT, roles.APPROVE, roles.HISTORY)
        return [("billruns:list", "Bill runs")] if any(user.has_perm(p) for p in readers) else []

    def ready(self) -> None:
        from invoices import extensions

        from . import batch, services

        extensions.invoice_page_panels.append(
            extensions.Panel(template="billruns/_invoice_panel.html", context=_panel, order=50)
        )
        for action in (
            services.STARTED,
            services.CANCELLED,
            services.FINISHED,
            services.RETRIED,
            batch.BATCH_STARTED,
            batch.BATCH_FINISHED,
        ):
            if action not in extensions.audit_actions:
                extensions.audit_actions.append(action)

    def sweep(self, *, older_than: timedelta) -> list[str]:
        """Called by invoices' sweep (after reconcile): take back expired leases, restart runs
        and batches no worker has touched for `older_than`, re-send lost summaries."""
        from .sweep import sweep

        return sweep(older_than=older_than)


def _panel(invoice, user):
    """'Submitted by bill run #N' on a run's invoice page (no query)."""
    if invoice.run_id is None:
        return None
    return {"run_id": invoice.run_id}
