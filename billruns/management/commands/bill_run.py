"""Plan and launch a bill run from the command line (month-end cron):

    manage.py bill_run --through 2026-06-30 --as clerk [--currency USD] [--dry-run]

Prints the plan (with --dry-run: nothing is saved) or the launched run's id. Exits non-zero with
a clear message on a bad argument.
"""

from datetime import date

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from billruns.planning import CONTRACT_STATUSES, DEFAULT_STATUSES, Plan, PlanFilters, build_plan
from billruns.services import billrun_from_plan, billrun_launch
from invoices import money, roles
from invoices.backends.base import BackendError
from invoices.services import ServiceError


class Command(BaseCommand):
    help = "Plan a bill run of every cycle due by --through and launch it (or only print it)."

    def add_arguments(self, parser):
        parser.add_argument("--through", required=True, metavar="YYYY-MM-DD")
        parser.add_argument(
            "--as", dest="username", required=True, metavar="USERNAME", help="the clerk it acts for"
        )
        parser.add_argument("--currency", default="", metavar="XXX")
        parser.add_argument("--customer", default="", help="part of a customer's name, or its id")
        parser.add_argument(
            "--status",
            action="append",
            choices=CONTRACT_STATUSES,
            help=f"contract status to bill (repeatable; default: {', '.join(DEFAULT_STATUSES)})",
        )
        parser.add_argument("--dry-run", action="store_true", help="print the plan, save nothing")

    def handle(self, *args, through, username, currency, customer, status, dry_run, **options):
        filters = PlanFilters(
            through=_date(through),
            currency=_currency(currency),
            customer=customer.strip(),
            statuses=tuple(dict.fromkeys(status)) if status else DEFAULT_STATUSES,
        )
        clerk = _clerk(username)
        try:
            plan = build_plan(filters)
            self._print(plan)
            if dry_run:
                return
            if not plan.cycles:
                self.stdout.write("Nothing to bill: no run launched.")
                return
            planned = billrun_from_plan(actor=clerk, plan=plan)
            run = billrun_launch(actor=clerk, run_id=planned.pk)
        except (BackendError, ServiceError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Launched bill run #{run.pk}")

    def _print(self, plan: Plan) -> None:
        exact = "exact" if plan.exact else "estimated from the contracts' terms"
        self.stdout.write(
            f"Plan through {plan.filters.through.isoformat()} on the {plan.backend} backend "
            f"(totals {exact}):"
        )
        for group in plan.groups:
            total = money.format_money(group.total_minor, group.currency)
            self.stdout.write(f"  {group.currency}: {group.count} cycle(s), {total}")
        if not plan.cycles:
            self.stdout.write("  nothing to bill")
        self.stdout.write(
            f"{plan.contracts_listed} contract(s) listed; {plan.already_live} due cycle(s) "
            f"already have a live invoice; {len(plan.exceptions)} left out:"
        )
        for skip in plan.exceptions:
            cycle = f" {skip.cycle_name}" if skip.cycle_name else ""
            self.stdout.write(f"  - {skip.contract_name}{cycle}: {skip.reason}")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise CommandError(f"--through {text!r}: write the date as YYYY-MM-DD.") from None


def _currency(text: str) -> str:
    code = text.strip().upper()
    if not code:
        return ""
    try:
        money.exponent(code)
    except money.MoneyError as exc:
        raise CommandError(f"--currency {text!r}: {exc}") from None
    return code


def _clerk(username: str):
    user = get_user_model().objects.filter(username=username).first()
    if user is None or not user.is_active:
        raise CommandError(f"--as {username!r}: no active user by that name.")
    if not user.has_perm(roles.SUBMIT):
        raise CommandError(
            f"--as {username!r}: a bill run acts for a billing clerk, and {username} cannot "
            "submit invoices."
        )
    return user
