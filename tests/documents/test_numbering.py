"""Gapless document numbers on the embedded engine: taken at issue (approval, ad-hoc creation),
never before; one series per kind and year; verify_numbering finds gaps and duplicates."""

import threading
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from billing_engine import api
from billing_engine.models import AdhocInvoice, EngineInvoice, NumberSequence
from invoices import services
from tests.engine import factories as f
from tests.helpers import needs_postgres

pytestmark = pytest.mark.django_db
YEAR = timezone.now().year


def generate(contract, month: int) -> str:
    """The draft of the worked example's cycle ending on the 28th of `month` (2026)."""
    return api.generate_invoice(
        customer_id=str(contract.customer_id),
        contract_id=str(contract.id),
        from_date=f.unix(2026, month - 1, 28),
        to_date=f.unix(2026, month, 28),
        bill_for_date=f.unix(2026, month, 28),
        billing_cycle_start_day=28,
    )["invoice_ids"][0]


def verify() -> tuple[str, CommandError | None]:
    out = StringIO()
    try:
        call_command("verify_numbering", stdout=out)
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def test_a_draft_has_no_number_until_it_is_approved():
    contract = f.worked_example_contract()
    draft_id = generate(contract, 6)
    draft = EngineInvoice.objects.get(pk=draft_id)
    assert draft.number.startswith("DRAFT-")
    assert not NumberSequence.objects.exists()
    approved = api.approve_invoice(draft_id)
    assert approved.number == f"INV-{YEAR}-000001"
    assert NumberSequence.objects.get(name=f"INV-{YEAR}").last_value == 1


def test_rejected_and_withdrawn_invoices_take_no_number(
    clerk, manager, submit_cycle, approve, django_capture_on_commit_callbacks
):
    contract = f.worked_example_contract()
    rejected = submit_cycle(clerk, contract, 0)
    withdrawn = submit_cycle(clerk, contract, 1)
    with django_capture_on_commit_callbacks(execute=True):
        services.invoice_reject(actor=manager, invoice_id=rejected.pk, reason="seats are wrong")
        services.invoice_withdraw(actor=clerk, invoice_id=withdrawn.pk)
    assert not EngineInvoice.objects.exists()  # both drafts deleted upstream
    assert not NumberSequence.objects.exists()
    approved = approve(manager, submit_cycle(clerk, contract, 2))
    assert approved.upstream_number == f"INV-{YEAR}-000001"
    assert NumberSequence.objects.get(name=f"INV-{YEAR}").last_value == 1


def test_a_rolled_back_approval_gives_its_number_back():
    contract = f.worked_example_contract()
    first, second = generate(contract, 6), generate(contract, 7)
    with pytest.raises(RuntimeError), transaction.atomic():
        api.approve_invoice(first)
        raise RuntimeError("the caller's transaction failed after the approval")
    assert EngineInvoice.objects.get(pk=first).status == "draft"
    assert api.approve_invoice(second).number == f"INV-{YEAR}-000001"
    assert api.approve_invoice(first).number == f"INV-{YEAR}-000002"


def test_ad_hoc_invoices_are_numbered_in_the_same_invoice_series_when_created():
    contract = f.worked_example_contract()
    world = f.adhoc_world()
    cycle_number = api.approve_invoice(generate(contract, 6)).number
    adhoc_number = api.create_adhoc_invoice(f.adhoc_body(world))["invoiceNo"]
    assert (cycle_number, adhoc_number) == (f"INV-{YEAR}-000001", f"INV-{YEAR}-000002")


def test_each_year_and_each_kind_has_its_own_series():
    with transaction.atomic():
        taken = [
            api.take(series="INV", year=2026),
            api.take(series="INV", year=2026),
            api.take(series="INV", year=2027),
            api.take(series="CN", year=2026),
            api.take(series="CN", year=2026),
        ]
    assert taken == [
        "INV-2026-000001",
        "INV-2026-000002",
        "INV-2027-000001",
        "CN-2026-000001",
        "CN-2026-000002",
    ]
    row = NumberSequence.objects.get(name="CN-2026")
    assert (row.series, row.year, row.last_value) == ("CN", 2026, 2)


def test_take_refuses_unknown_series_and_years():
    with pytest.raises(ValueError, match="Unknown number series"), transaction.atomic():
        api.take(series="AH", year=2026)  # closed: nothing takes from it any more
    with pytest.raises(ValueError, match="four-digit year"), transaction.atomic():
        api.take(series="INV", year=26)


@pytest.mark.django_db(transaction=True)
def test_take_refuses_to_number_outside_the_issuing_transaction():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        api.take(series="INV", year=2026)
    assert not NumberSequence.objects.exists()


# --- verify_numbering ---------------------------------------------------------------------------
def _issue_three():
    contract = f.worked_example_contract()
    world = f.adhoc_world()
    api.approve_invoice(generate(contract, 6))
    api.create_adhoc_invoice(f.adhoc_body(world))
    api.approve_invoice(generate(contract, 7))
    generate(contract, 8)  # a draft: no number, not counted


def test_verify_numbering_reports_each_series_range_when_intact():
    _issue_three()
    output, error = verify()
    assert error is None, output
    assert f"INV-{YEAR}: 3 number(s), INV-{YEAR}-000001 … INV-{YEAR}-000003" in output
    assert "counter at 3" in output
    assert "numbering intact" in output


def test_verify_numbering_detects_a_gap():
    _issue_three()
    # The second invoice vanishes (a database administrator, a bad script).
    AdhocInvoice.objects.filter(invoice_no=f"INV-{YEAR}-000002").delete()
    output, error = verify()
    assert error is not None and "BROKEN" in str(error)
    assert f"GAP: INV-{YEAR}-000002 (1 missing)" in output


def test_verify_numbering_detects_numbers_taken_past_the_last_document():
    _issue_three()
    NumberSequence.objects.filter(name=f"INV-{YEAR}").update(last_value=5)
    output, error = verify()
    assert error is not None
    assert f"GAP: INV-{YEAR}-000004 … INV-{YEAR}-000005 (2 missing)" in output


def test_verify_numbering_detects_a_duplicate():
    _issue_three()
    AdhocInvoice.objects.update(invoice_no=f"INV-{YEAR}-000003")  # same as the last engine one
    output, error = verify()
    assert error is not None
    assert f"DUPLICATE: INV-{YEAR}-000003 issued 2 times" in output
    assert f"GAP: INV-{YEAR}-000002" in output


def test_verify_numbering_detects_a_number_ahead_of_its_counter():
    _issue_three()
    NumberSequence.objects.filter(name=f"INV-{YEAR}").update(last_value=2)
    output, error = verify()
    assert error is not None
    assert f"AHEAD OF COUNTER: INV-{YEAR}-000003" in output


def test_a_voided_invoice_keeps_its_number_in_the_series():
    contract = f.worked_example_contract()
    first = api.approve_invoice(generate(contract, 6))
    api.approve_invoice(generate(contract, 7))
    api.credit_invoice(first.id, amount_minor=first.total_minor)
    api.void_invoice(first.id)  # it was issued: its number stays taken
    output, error = verify()
    assert error is None, output
    assert f"INV-{YEAR}: 2 number(s), INV-{YEAR}-000001 … INV-{YEAR}-000002" in output
    assert "GAP" not in output


def test_verify_numbering_sees_numbers_an_app_registers(monkeypatch):
    from billing_engine.api import numbering

    monkeypatch.setattr(numbering, "ISSUED", list(numbering.ISSUED))
    with transaction.atomic():
        api.take(series="CN", year=2026)
        api.take(series="CN", year=2026)
    api.register_issued("credit notes", lambda: ["CN-2026-000002"])
    output, error = verify()
    assert error is not None
    assert "GAP: CN-2026-000001 (1 missing)" in output


# --- the migration ------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_the_migration_carries_the_old_counters_over_as_closed_series():
    executor = MigrationExecutor(connection)
    executor.migrate([("billing_engine", "0001_initial")])
    old_apps = executor.loader.project_state([("billing_engine", "0001_initial")]).apps
    OldSequence = old_apps.get_model("billing_engine", "NumberSequence")
    OldSequence.objects.create(name="engine-invoice", last_value=7)
    OldSequence.objects.create(name="adhoc-invoice", last_value=3)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    rows = {
        row.name: (row.series, row.year, row.last_value) for row in NumberSequence.objects.all()
    }
    assert rows == {"INV": ("INV", None, 7), "AH": ("AH", None, 3)}
    # The old numbers are still checked: AH-000001..3 are issued, INV-000001..7 are not here.
    world = f.adhoc_world()
    for value in (1, 2, 3):
        body = f.adhoc_body(world)
        with transaction.atomic():
            created = api.create_adhoc_invoice(body)
        AdhocInvoice.objects.filter(pk=created["id"]).update(invoice_no=f"AH-{value:06d}")
    NumberSequence.objects.filter(name=f"INV-{YEAR}").delete()
    output, error = verify()
    assert "AH: 3 number(s), AH-000001 … AH-000003; counter at 3" in output
    assert "GAP: INV-000001 … INV-000007 (7 missing)" in output
    assert error is not None


# --- concurrency (real row locks) -------------------------------------------------------------
@needs_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_approvals_take_consecutive_numbers():
    contracts = [f.worked_example_contract() for _ in range(8)]
    drafts = [generate(contract, 6) for contract in contracts]
    world = f.adhoc_world()
    barrier = threading.Barrier(len(drafts) + 2)
    numbers, errors = [], []

    def run(call):
        try:
            barrier.wait()
            numbers.append(call())
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    calls = [lambda d=d: api.approve_invoice(d).number for d in drafts]
    calls += [lambda: api.create_adhoc_invoice(f.adhoc_body(world))["invoiceNo"]] * 2
    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(numbers) == [f"INV-{YEAR}-{n:06d}" for n in range(1, 11)]
    assert NumberSequence.objects.get(name=f"INV-{YEAR}").last_value == 10
    assert verify()[1] is None


def test_the_year_is_the_approval_year(monkeypatch):
    contract = f.worked_example_contract()
    draft = generate(contract, 6)
    monkeypatch.setattr(
        "billing_engine.api.cycles.timezone.now", lambda: datetime(2027, 1, 1, 0, 5, tzinfo=UTC)
    )
    assert api.approve_invoice(draft).number == "INV-2027-000001"
