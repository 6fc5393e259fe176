"""Settle every interrupted or failed backend write by asking the backend. Safe to repeat."""

from datetime import timedelta

from django.core.management.base import BaseCommand

from billing_admin.logging import request_id_var
from invoices.backends.base import BackendError
from invoices.services import invoice_reconcile, invoices_to_reconcile


class Command(BaseCommand):
    help = (
        "Settle `submitting`, `approving` and `failed` invoices (and pending draft deletions) by "
        "asking the billing backend what happened. Safe to run at any time, repeatedly."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=60,
            metavar="SECONDS",
            help="Leave records changed more recently than this to the request handling them "
            "(default 60).",
        )

    def handle(self, *args, older_than: int, **options):
        token = request_id_var.set("reconcile")
        try:
            ids = list(invoices_to_reconcile(older_than=timedelta(seconds=older_than)))
            unsettled = 0
            for invoice_id in ids:
                try:
                    result = invoice_reconcile(invoice_id=invoice_id)
                except BackendError as exc:
                    unsettled += 1
                    self.stdout.write(f"invoice {invoice_id}: backend unavailable ({exc}); later")
                    continue
                self.stdout.write(
                    f"invoice {result.invoice_id}: {result.before} -> {result.after} "
                    f"({result.detail})"
                )
                if result.detail.startswith(("needs a person", "upstream draft still")):
                    unsettled += 1
            self.stdout.write(
                self.style.SUCCESS(
                    f"reconcile: {len(ids)} record(s) looked at, {unsettled} still need attention"
                )
            )
        finally:
            request_id_var.reset(token)
