"""Demo users and demo data for a local run. Idempotent; refuses to run with debug off."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from invoices import roles
from invoices.demo import seed_workflow_demo

DEMO_USERS = [
    # username, full name, group, is_superuser
    ("clerk", "Casey Clerk", roles.CLERKS, False),
    ("clerk2", "Chris Clerk", roles.CLERKS, False),
    ("manager", "Morgan Manager", roles.MANAGERS, False),
    ("manager2", "Max Manager", roles.MANAGERS, False),
    ("auditor", "Avery Auditor", roles.AUDITORS, False),
    # No role of their own: stands in for a manager who records an absence (Absences page).
    ("deputy", "Dana Deputy", None, False),
    ("admin", "Ada Admin", None, True),
]


class Command(BaseCommand):
    help = "Create the demo users and the embedded billing engine's demo data (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DJANGO_DEBUG off (never on a production database).",
        )

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates users with a known password. It refuses to run with "
                "DJANGO_DEBUG off; pass --force if this really is a demo database."
            )
        password = settings.DEMO_PASSWORD
        with transaction.atomic():
            self._seed_users(password)
        if settings.BILLING_BACKEND == "embedded" or settings.ADHOC_BACKEND == "embedded":
            # The engine is another app: its own command loads its catalogue.
            call_command("seed_engine_demo", stdout=self.stdout)
        if settings.BILLING_BACKEND == "embedded":
            self.stdout.write(seed_workflow_demo())
        # Approval policies are another app: its own command adds a demo rule.
        call_command("seed_policies_demo", stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS(f"Demo users (password: {password}):"))
        for username, full_name, group, is_superuser in DEMO_USERS:
            role = "superuser" if is_superuser else group or "no role (a stand-in)"
            self.stdout.write(f"  {username:<9} {full_name:<16} {role}")

    def _seed_users(self, password: str) -> None:
        User = get_user_model()
        for username, full_name, group_name, is_superuser in DEMO_USERS:
            first, last = full_name.split(" ", 1)
            user, _ = User.objects.get_or_create(username=username)
            user.first_name, user.last_name = first, last
            user.email = f"{username}@example.com"
            user.is_superuser = is_superuser
            user.is_staff = is_superuser
            user.is_active = True
            if not user.check_password(password):
                user.set_password(password)
            user.save()
            if group_name:
                user.groups.set([Group.objects.get(name=group_name)])
