"""Recompute every stored invoice PDF's SHA-256 against its row and its audit event."""

from django.core.management.base import BaseCommand, CommandError

from documents.services import documents_verify


class Command(BaseCommand):
    help = (
        "Verify stored invoice PDFs: each one's SHA-256 must match what was recorded with it "
        "and in the audit chain (run verify_audit for the chain itself). Exits non-zero on any "
        "mismatch."
    )

    def handle(self, *args, **options):
        report = documents_verify()
        for problem in report.problems:
            self.stdout.write(self.style.ERROR(problem))
        if not report.ok:
            raise CommandError(
                f"documents BROKEN: {len(report.problems)} of {report.checked} do not match "
                "their recorded SHA-256"
            )
        self.stdout.write(
            self.style.SUCCESS(f"documents intact: {report.checked} PDF(s) match their SHA-256")
        )
