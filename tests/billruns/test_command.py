"""`manage.py bill_run`: the month-end cron's way in."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billruns.models import BillRun
from billruns.states import RunState
from invoices.models import Invoice

pytestmark = pytest.mark.django_db


def bill_run(*args: str) -> str:
    out = StringIO()
    call_command("bill_run", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--through", "30/06/2026", "--as", "clerk"], "write the date as YYYY-MM-DD"),
        (["--through", "2026-02-30", "--as", "clerk"], "write the date as YYYY-MM-DD"),
        (["--through", "2026-06-30", "--as", "clerk", "--currency", "XYZ"], "--currency 'XYZ'"),
        (["--through", "2026-06-30", "--as", "nobody"], "no active user by that name"),
        (["--through", "2026-06-30", "--as", "manager"], "acts for a billing clerk"),
        (["--as", "clerk"], "the following arguments are required: --through"),
        (["--through", "2026-06-30"], "the following arguments are required: --as"),
        (["--through", "2026-06-30", "--as", "clerk", "--status", "frozen"], "invalid choice"),
    ],
)
def test_a_bad_argument_exits_non_zero_with_a_clear_message(world, clerk, manager, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("bill_run", *args, stdout=StringIO(), stderr=StringIO())
    assert not BillRun.objects.exists()


def test_the_command_exits_non_zero_from_the_shell(world, clerk):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "manage.py", "bill_run", "--through", "june", "--as", "clerk"],
        capture_output=True,
        text=True,
        env={"DJANGO_DEBUG": "true", "PATH": "/usr/bin:/bin", "DATABASE_URL": "sqlite://:memory:"},
        check=False,
    )
    assert done.returncode != 0
    assert "--through 'june': write the date as YYYY-MM-DD." in done.stderr


def test_a_dry_run_prints_the_plan_and_saves_nothing(world, clerk):
    out = bill_run("--through", "2026-06-30", "--as", "clerk", "--dry-run")
    assert "Plan through 2026-06-30 on the embedded backend (totals exact):" in out
    assert "EUR: 2 cycle(s), €160.00" in out and "USD: 2 cycle(s), $300.00" in out
    assert "Umbrella paused: Contract is paused" in out
    assert not BillRun.objects.exists() and not Invoice.objects.exists()


def test_the_command_launches_a_run_and_prints_its_id(
    world, clerk, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        out = bill_run("--through", "2026-06-30", "--as", "clerk", "--currency", "eur")
    run = BillRun.objects.get()
    assert out.strip().endswith(f"Launched bill run #{run.pk}")
    assert run.launched_by == clerk and run.currency == "EUR"
    assert run.status == RunState.FINISHED
    assert Invoice.objects.filter(run_id=run.pk).count() == 2


def test_nothing_due_launches_nothing(world, clerk):
    out = bill_run("--through", "2020-01-01", "--as", "clerk")
    assert "Nothing to bill: no run launched." in out
    assert not BillRun.objects.exists()
