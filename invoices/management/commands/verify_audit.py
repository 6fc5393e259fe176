"""Walk the audit chain and report the first broken link."""

from django.core.management.base import BaseCommand, CommandError

from invoices.audit import audit_verify


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; exits non-zero at the first broken link."

    def handle(self, *args, **options):
        report = audit_verify()
        if report.ok:
            self.stdout.write(
                self.style.SUCCESS(f"audit chain intact: {report.checked} event(s) verified")
            )
            return
        raise CommandError(
            f"audit chain BROKEN at event #{report.first_broken_seq}: {report.problem} "
            f"({report.checked} event(s) verified before it)"
        )
