"""The periodic sweep: what a crash, a killed worker or a lost task left behind, settled without a
person. Run by `manage.py sweep` (once, from cron) or `manage.py sweep --every 60` (a loop beside
the workers; `make run` starts one).

Each step reads the truth from our tables and is safe to repeat:
- reconcile interrupted or failed backend writes (as `manage.py reconcile`);
- re-enqueue notifications a lost task left unsent;
- every other app's own sweep: an AppConfig with a `sweep(older_than)` method (bill runs requeue
  expired leases, documents render what is missing). `invoices` never imports those apps.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.apps import apps
from django.conf import settings

from . import notifications
from .backends.base import BackendError
from .services import invoice_reconcile, invoices_to_reconcile

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    lines: list[str] = field(default_factory=list)
    needs_attention: int = 0

    def add(self, line: str, *, attention: bool = False) -> None:
        self.lines.append(line)
        self.needs_attention += attention


def reconcile_all(report: SweepReport, *, older_than: timedelta) -> int:
    ids = list(invoices_to_reconcile(older_than=older_than))
    for invoice_id in ids:
        try:
            result = invoice_reconcile(invoice_id=invoice_id)
        except BackendError as exc:
            report.add(f"invoice {invoice_id}: backend unavailable ({exc}); later", attention=True)
            continue
        report.add(
            f"invoice {result.invoice_id}: {result.before} -> {result.after} ({result.detail})",
            attention=result.detail.startswith(("needs a person", "upstream draft still")),
        )
    return len(ids)


def run_sweep(*, older_than: timedelta | None = None) -> SweepReport:
    older_than = older_than or timedelta(seconds=settings.SWEEP_OLDER_THAN_SECONDS)
    report = SweepReport()
    looked_at = reconcile_all(report, older_than=older_than)
    report.add(f"reconcile: {looked_at} record(s) looked at")
    owed = notifications.owed()
    for notification_id in owed:
        notifications.enqueue_now(notification_id)
    if owed:
        report.add(f"notifications: {len(owed)} unsent re-enqueued")
    for config in apps.get_app_configs():
        sweep = getattr(config, "sweep", None)
        if callable(sweep):
            for line in sweep(older_than=older_than) or ():
                report.add(f"{config.label}: {line}")
    return report
