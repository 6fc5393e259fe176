"""Settle every interrupted or failed backend write by asking the backend. Safe to repeat."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand

from billing_admin.logging import request_id_var
from invoices.sweep import SweepReport, reconcile_all


class Command(BaseCommand):
    help = (
        "Settle `submitting`, `approving` and `failed` invoices (and pending draft deletions) by "
        "asking the billing backend what happened. Safe to run at any time, repeatedly."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=None,
            metavar="SECONDS",
            help="Leave records changed more recently than this to the request handling them "
            "(default: SWEEP_OLDER_THAN_SECONDS, as the sweep).",
        )

    def handle(self, *args, older_than: int | None, **options):
        if older_than is None:
            older_than = settings.SWEEP_OLDER_THAN_SECONDS
        token = request_id_var.set("reconcile")
        try:
            report = SweepReport()
            looked_at = reconcile_all(report, older_than=timedelta(seconds=older_than))
            for line in report.lines:
                self.stdout.write(line)
            self.stdout.write(
                self.style.SUCCESS(
                    f"reconcile: {looked_at} record(s) looked at, {report.needs_attention} still "
                    "need attention"
                )
            )
        finally:
            request_id_var.reset(token)
