"""Check the embedded engine's document numbers: every series' range, gaps and duplicates."""

from django.core.management.base import BaseCommand, CommandError

from billing_engine import api


class Command(BaseCommand):
    help = (
        "Report each number series of the embedded engine (INV-<year>, CN-<year>, closed "
        "series) with its range; exits non-zero on any gap or duplicate."
    )

    def handle(self, *args, **options):
        report = api.verify_numbering()
        for series in report.series:
            line = series.describe()
            self.stdout.write(line if series.ok else self.style.ERROR(line))
        for where, number in report.unreadable:
            self.stdout.write(self.style.ERROR(f"UNREADABLE: {number!r} ({where})"))
        if not report.series:
            self.stdout.write("no number has been issued yet")
        if not report.ok:
            broken = sum(not s.ok for s in report.series) + bool(report.unreadable)
            raise CommandError(f"numbering BROKEN in {broken} series: see above")
        self.stdout.write(self.style.SUCCESS("numbering intact: no gap, no duplicate"))
