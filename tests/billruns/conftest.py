"""Bill-run tests: the fake backend (tests/workflow) with a few contracts in two currencies."""

from dataclasses import replace
from datetime import date

import pytest

from billruns import services
from billruns.models import BillRun
from billruns.planning import PlanFilters, build_plan
from tests.workflow.conftest import JUNE, MAY, fake  # noqa: F401  (the fake backend fixture)
from tests.workflow.fake_backend import cycle, line

JULY = cycle("2026-07-01", "2026-08-01")
THROUGH = date(2026, 6, 30)  # May and June are due, July is not


@pytest.fixture
def world(fake):  # noqa: F811
    """c-1 (USD, the fixture's: 150.00 a cycle), c-2 (EUR, 80.00), c-3 (USD, zero total), c-4
    (USD, paused): each with May, June and July."""
    fake.cycles["c-1"] = (MAY, JUNE, JULY)
    fake.lines[("c-1", JULY.bill_for_date)] = fake.lines[("c-1", MAY.bill_for_date)]
    fake.add_contract(
        "c-2",
        name="Globex support",
        customer="Globex GmbH",
        currency="EUR",
        cycles=(MAY, JUNE, JULY),
        lines=(line("Support", "80.00"),),
    )
    fake.add_contract(
        "c-3", name="Initech trial", customer="Initech", cycles=(MAY, JUNE, JULY), lines=()
    )
    fake.add_contract(
        "c-4", name="Umbrella paused", customer="Umbrella", cycles=(MAY, JUNE, JULY),
        lines=(line("Hosting", "10.00"),),
    )  # fmt: skip
    fake.contracts["c-4"] = replace(fake.contracts["c-4"], status="paused")
    return fake


def planned(clerk, **filters) -> BillRun:
    plan = build_plan(PlanFilters(through=filters.pop("through", THROUGH), **filters))
    return services.billrun_from_plan(actor=clerk, plan=plan)


def launched(clerk, django_capture_on_commit_callbacks, *, execute=True, **filters) -> BillRun:
    """A run planned and launched by `clerk`; with `execute`, its workers run to the end (the
    tests' task backend runs tasks inline)."""
    run = planned(clerk, **filters)
    with django_capture_on_commit_callbacks(execute=execute):
        services.billrun_launch(actor=clerk, run_id=run.pk)
    run.refresh_from_db()
    return run
