"""A demo approval rule, so that a local run shows two-stage approvals (idempotent)."""

from decimal import Decimal

from django.core.management.base import BaseCommand

from policies.models import ApprovalRule


class Command(BaseCommand):
    help = "Add the demo approval rule (large USD invoices need two approvals) if there is none."

    def handle(self, *args, **options):
        if ApprovalRule.objects.exists():
            self.stdout.write("Approval rules: already there; left as they are.")
            return
        ApprovalRule.objects.create(
            order=10,
            name="Large USD invoices",
            currency="USD",
            threshold=Decimal("5000.00"),
            stages=2,
        )
        self.stdout.write("Approval rules: USD invoices of 5,000.00 or more need two approvals.")
