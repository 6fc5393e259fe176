"""Settle what crashes and lost tasks left behind (see invoices.sweep). Safe to repeat."""

import signal
import time
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections

from billing_admin.logging import request_id_var
from invoices.sweep import run_sweep


class Command(BaseCommand):
    help = (
        "Reconcile interrupted backend writes, re-enqueue lost notifications and run every app's "
        "sweep (bill-run leases, documents). Once, or every N seconds with --every."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--every",
            type=int,
            default=0,
            metavar="SECONDS",
            help="Run in a loop, this many seconds apart, until stopped (SIGTERM or Ctrl-C).",
        )
        parser.add_argument(
            "--older-than",
            type=int,
            default=settings.SWEEP_OLDER_THAN_SECONDS,
            metavar="SECONDS",
            help="Leave records changed more recently than this to whoever is handling them.",
        )

    def handle(self, *args, every: int, older_than: int, **options):
        self.stopping = False
        if every:
            signal.signal(signal.SIGTERM, self._stop)
        while True:
            self._once(timedelta(seconds=older_than), quiet=bool(every))
            if not every or self.stopping:
                return
            deadline = time.monotonic() + every
            try:
                while time.monotonic() < deadline and not self.stopping:
                    time.sleep(0.5)
            except KeyboardInterrupt:
                return
            if self.stopping:
                return

    def _stop(self, *_):
        self.stopping = True

    def _once(self, older_than: timedelta, *, quiet: bool) -> None:
        token = request_id_var.set("sweep")
        try:
            close_old_connections()
            report = run_sweep(older_than=older_than)
        except DatabaseError as exc:  # the loop outlives a database restart
            self.stderr.write(f"sweep: database unavailable ({exc}); trying again later")
            return
        finally:
            request_id_var.reset(token)
        for line in report.lines:
            if not quiet or not line.endswith("0 record(s) looked at"):
                self.stdout.write(line)
        if report.needs_attention:
            self.stdout.write(
                self.style.WARNING(f"sweep: {report.needs_attention} item(s) need a person")
            )
