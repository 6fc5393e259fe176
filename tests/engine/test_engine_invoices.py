"""Generation, approval and deletion of engine invoices, with the upstream's semantics: exact
cycle match or `invoice_ids: []`, one draft per cycle (regenerated in place), and approved
invoices final."""

import threading
import uuid
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, close_old_connections, transaction

from billing_engine import api
from billing_engine.models import EngineInvoice, EngineInvoiceLine, NumberSequence
from tests.helpers import needs_postgres

from . import factories as f

pytestmark = pytest.mark.django_db

# The worked example's cycle [May 28, Jun 28), in arrears: billed for Jun 28.
CYCLE = {
    "from_date": f.unix(2026, 5, 28),
    "to_date": f.unix(2026, 6, 28),
    "bill_for_date": f.unix(2026, 6, 28),
    "billing_cycle_start_day": 28,
}


def generate(contract, **changes):
    values = {**CYCLE, **changes}
    return api.generate_invoice(
        customer_id=str(contract.customer_id), contract_id=str(contract.id), **values
    )


@pytest.fixture
def contract():
    return f.worked_example_contract()


def test_generate_creates_one_draft_covering_every_pricing_of_the_window(contract):
    answer = generate(contract)
    (invoice_id,) = answer["invoice_ids"]
    info = api.get_invoice(invoice_id)
    assert info.status == "draft"
    assert info.number.startswith("DRAFT-")
    assert info.currency == "USD"
    assert (info.period_start, info.period_end, info.bill_for) == (
        f.at(2026, 5, 28),
        f.at(2026, 6, 28),
        f.at(2026, 6, 28),
    )
    assert len(info.lines) == 4
    assert info.total_minor == 8710 + 31250 + 47000 + 36000
    assert info.total_minor == sum(line.amount_minor for line in info.lines)


def test_generated_lines_are_exactly_the_preview(contract):
    preview = api.preview(str(contract.id), bill_for_date="2026-06-28T00:00:00Z")
    draft = api.get_invoice(generate(contract)["invoice_ids"][0])
    assert draft.lines == preview.lines
    assert draft.total_minor == preview.total_minor


@pytest.mark.parametrize(
    "changes",
    [
        {"bill_for_date": f.unix(2026, 6, 27)},  # no cycle is billed then
        {"bill_for_date": f.unix(2026, 5, 28)},  # the start: this contract bills in arrears
        {"from_date": f.unix(2026, 5, 27)},  # stale window
        {"to_date": f.unix(2026, 6, 29)},
        {"billing_cycle_start_day": 27},
    ],
)
def test_values_matching_no_cycle_answer_empty_invoice_ids(contract, changes):
    assert generate(contract, **changes) == {"invoice_ids": []}
    assert not EngineInvoice.objects.exists()


def test_generating_again_replaces_the_draft_in_place_and_never_duplicates(contract):
    first = generate(contract)["invoice_ids"][0]
    old_lines = set(EngineInvoiceLine.objects.values_list("pk", flat=True))
    seats = contract.phases.get().pricings.get(product__sku="SEAT-001")
    seats.quantity = 30
    seats.save()

    second = generate(contract)["invoice_ids"][0]

    assert second == first
    assert EngineInvoice.objects.count() == 1
    info = api.get_invoice(second)
    assert {line.product_name: line.amount_minor for line in info.lines}["Seats"] == 37500
    assert info.total_minor == 8710 + 37500 + 47000 + 36000
    assert not old_lines & set(EngineInvoiceLine.objects.values_list("pk", flat=True))


def test_an_approved_cycle_cannot_be_generated_again(contract):
    invoice_id = generate(contract)["invoice_ids"][0]
    api.approve_invoice(invoice_id)
    with pytest.raises(api.InvoiceAlreadyGeneratedForThisBillingPeriod) as caught:
        generate(contract)
    assert "InvoiceAlreadyGeneratedForThisBillingPeriod" in str(caught.value)
    assert EngineInvoice.objects.count() == 1


def test_other_cycles_of_the_same_contract_stay_open_after_one_is_approved(contract):
    api.approve_invoice(generate(contract)["invoice_ids"][0])
    next_cycle = generate(
        contract,
        from_date=f.unix(2026, 6, 28),
        to_date=f.unix(2026, 7, 28),
        bill_for_date=f.unix(2026, 7, 28),
    )
    assert len(next_cycle["invoice_ids"]) == 1


def test_generate_refuses_a_customer_that_is_not_the_contracts(contract):
    stranger = f.customer("Initech")
    with pytest.raises(api.ValidationFailed) as caught:
        api.generate_invoice(customer_id=str(stranger.id), contract_id=str(contract.id), **CYCLE)
    assert "customer_id" in caught.value.field_errors


@pytest.mark.parametrize(
    "changes",
    [
        {"from_date": "1779926400"},
        {"bill_for_date": 1779926400.0},
        {"to_date": True},
        {"billing_cycle_start_day": "28"},
    ],
)
def test_generate_takes_integer_unix_seconds_only(contract, changes):
    with pytest.raises(api.ValidationFailed):
        generate(contract, **changes)


def test_generate_for_an_unknown_contract_is_not_found(contract):
    with pytest.raises(api.NotFound):
        api.generate_invoice(
            customer_id=str(contract.customer_id), contract_id=str(uuid.uuid4()), **CYCLE
        )


def test_generation_matches_cycles_beyond_the_listing_horizon_of_open_contracts(contract):
    answer = generate(
        contract,
        from_date=f.unix(2031, 5, 28),
        to_date=f.unix(2031, 6, 28),
        bill_for_date=f.unix(2031, 6, 28),
    )
    assert len(answer["invoice_ids"]) == 1


def test_in_advance_short_first_cycle_is_generated_for_its_start():
    contract = f.contract(start=date(2026, 1, 10), anchor=28, in_advance=True)
    f.pricing(f.phase(contract), amount=10000)
    answer = generate(
        contract,
        from_date=f.unix(2026, 1, 10),
        to_date=f.unix(2026, 1, 28),
        bill_for_date=f.unix(2026, 1, 10),
    )
    info = api.get_invoice(answer["invoice_ids"][0])
    # The pricing covers the whole 18-day stub: full price (proration is against the window).
    assert info.total_minor == 10000


def test_trial_then_price_rise_contract_in_one_cycle():
    contract = f.contract(start=date(2026, 1, 1), anchor=1, in_advance=True)
    f.pricing(f.phase(contract, kind="trial", end=date(2026, 1, 15)), amount=3100)
    active = f.phase(contract, start=date(2026, 1, 15), name="Year one")
    f.pricing(active, amount=3100, end=date(2026, 1, 25))
    f.pricing(active, amount=6200, start=date(2026, 1, 25))
    answer = generate(
        contract,
        from_date=f.unix(2026, 1, 1),
        to_date=f.unix(2026, 2, 1),
        bill_for_date=f.unix(2026, 1, 1),
        billing_cycle_start_day=1,
    )
    info = api.get_invoice(answer["invoice_ids"][0])
    assert [(line.phase_type, line.covered_days, line.amount_minor) for line in info.lines] == [
        ("trial", 14, 0),
        ("active", 10, 1000),
        ("active", 7, 1400),
    ]


def test_a_paused_cycle_produces_an_empty_zero_draft():
    contract = f.contract(start=date(2026, 1, 1), anchor=1, in_advance=True)
    f.pricing(f.phase(contract, kind="pause"), amount=3100)
    answer = generate(
        contract,
        from_date=f.unix(2026, 1, 1),
        to_date=f.unix(2026, 2, 1),
        bill_for_date=f.unix(2026, 1, 1),
        billing_cycle_start_day=1,
    )
    info = api.get_invoice(answer["invoice_ids"][0])
    assert info.lines == () and info.total_minor == 0


# --- approve / delete -----------------------------------------------------------------------
def test_approve_turns_a_draft_into_a_numbered_approved_invoice(contract):
    invoice_id = generate(contract)["invoice_ids"][0]
    info = api.approve_invoice(invoice_id)
    assert info.status == "approved"
    assert info.number == f"INV-{info.approved_at.year}-000001"
    assert info.approved_at is not None
    assert info.lines == api.get_invoice(invoice_id).lines


def test_approved_numbers_are_consecutive(contract):
    first = api.approve_invoice(generate(contract)["invoice_ids"][0])
    second = api.approve_invoice(
        generate(
            contract,
            from_date=f.unix(2026, 6, 28),
            to_date=f.unix(2026, 7, 28),
            bill_for_date=f.unix(2026, 7, 28),
        )["invoice_ids"][0]
    )
    year = first.approved_at.year
    assert (first.number, second.number) == (f"INV-{year}-000001", f"INV-{year}-000002")
    assert NumberSequence.objects.get(name=f"INV-{year}").last_value == 2


def test_approving_twice_is_an_invalid_state(contract):
    invoice_id = generate(contract)["invoice_ids"][0]
    api.approve_invoice(invoice_id)
    with pytest.raises(api.InvalidState):
        api.approve_invoice(invoice_id)


def test_drafts_can_be_deleted_and_the_cycle_generated_again(contract):
    invoice_id = generate(contract)["invoice_ids"][0]
    api.delete_invoice(invoice_id)
    assert not EngineInvoice.objects.exists()
    assert not EngineInvoiceLine.objects.exists()
    with pytest.raises(api.NotFound):
        api.get_invoice(invoice_id)
    assert generate(contract)["invoice_ids"][0] != invoice_id


def test_approved_invoices_cannot_be_deleted(contract):
    invoice_id = generate(contract)["invoice_ids"][0]
    api.approve_invoice(invoice_id)
    with pytest.raises(api.InvalidState):
        api.delete_invoice(invoice_id)
    assert EngineInvoice.objects.filter(pk=invoice_id).exists()


@pytest.mark.parametrize("bad_id", [str(uuid.UUID(int=7)), "INV-000001", ""])
def test_unknown_invoices_are_not_found(bad_id):
    for call in (api.get_invoice, api.approve_invoice, api.delete_invoice):
        with pytest.raises(api.NotFound):
            call(bad_id)


def test_an_approved_invoice_refuses_any_save(contract):
    invoice_id = generate(contract)["invoice_ids"][0]
    api.approve_invoice(invoice_id)
    invoice = EngineInvoice.objects.get(pk=invoice_id)
    invoice.total_minor = 1
    with pytest.raises(ValidationError):
        invoice.save()
    assert EngineInvoice.objects.get(pk=invoice_id).total_minor != 1


def test_the_database_allows_one_draft_per_cycle(contract):
    invoice_id = generate(contract)["invoice_ids"][0]
    original = EngineInvoice.objects.get(pk=invoice_id)
    with pytest.raises(IntegrityError), transaction.atomic():
        EngineInvoice.objects.create(
            contract=contract,
            customer_id=contract.customer_id,
            period_start=original.period_start,
            period_end=original.period_end,
            bill_for=original.bill_for,
            billing_cycle_start_day=28,
            number="DRAFT-DUPLICATE",
            currency="USD",
            generated_at=original.generated_at,
        )


def test_the_database_allows_one_approved_invoice_per_cycle(contract):
    invoice_id = generate(contract)["invoice_ids"][0]
    approved = api.approve_invoice(invoice_id)
    with pytest.raises(IntegrityError), transaction.atomic():
        EngineInvoice.objects.create(
            contract=contract,
            customer_id=contract.customer_id,
            period_start=approved.period_start,
            period_end=approved.period_end,
            bill_for=approved.bill_for,
            billing_cycle_start_day=28,
            status="approved",
            approved_at=approved.approved_at,
            number="INV-999999",
            currency="USD",
            generated_at=approved.approved_at,
        )


# --- concurrency (real row locks) -----------------------------------------------------------
@needs_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_generations_of_one_cycle_leave_exactly_one_draft():
    contract = f.worked_example_contract()
    barrier = threading.Barrier(6)
    answers, errors = [], []

    def worker():
        try:
            barrier.wait()
            answers.append(generate(contract)["invoice_ids"])
        except Exception as exc:
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({ids[0] for ids in answers}) == 1
    assert EngineInvoice.objects.count() == 1
    assert EngineInvoiceLine.objects.count() == 4


@needs_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_approval_racing_regenerations_stays_approved():
    contract = f.worked_example_contract()
    invoice_id = generate(contract)["invoice_ids"][0]
    barrier = threading.Barrier(5)
    outcomes, unexpected = [], []

    def approve():
        try:
            barrier.wait()
            api.approve_invoice(invoice_id)
            outcomes.append("approved")
        except Exception as exc:
            unexpected.append(exc)
        finally:
            close_old_connections()

    def regenerate():
        try:
            barrier.wait()
            generate(contract)
            outcomes.append("regenerated")
        except api.InvoiceAlreadyGeneratedForThisBillingPeriod:
            outcomes.append("refused")
        except Exception as exc:
            unexpected.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=approve)] + [
        threading.Thread(target=regenerate) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert unexpected == []
    assert outcomes.count("approved") == 1
    (invoice,) = EngineInvoice.objects.all()
    assert invoice.status == "approved" and str(invoice.id) == invoice_id
    assert invoice.lines.count() == 4
