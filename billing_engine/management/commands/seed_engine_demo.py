"""The embedded engine's deterministic demo catalogue (run by `manage.py seed_demo`)."""

from django.core.management.base import BaseCommand
from django.db import transaction

from billing_engine.demo import seed_engine_demo


class Command(BaseCommand):
    help = "Load the embedded billing engine's demo catalogue (idempotent)."

    def handle(self, *args, **options):
        with transaction.atomic():
            self.stdout.write(seed_engine_demo())
