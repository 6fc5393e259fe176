"""Corrections in the engine, with each upstream's semantics: credit notes on approved cycle
invoices (never more than is left, numbered in their own gapless series), a void only at a zero
balance (`INVOICE_CANNOT_BE_VOIDED` otherwise) that frees the cycle, and ad-hoc voids refused
once paid."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from billing_engine import api
from billing_engine.models import AdhocInvoice, EngineCreditNote, EngineInvoice, NumberSequence
from tests.helpers import needs_postgres

from . import factories as f
from .test_engine_invoices import generate

pytestmark = pytest.mark.django_db
TOTAL = 8710 + 31250 + 47000 + 36000  # the worked example's cycle


@pytest.fixture
def approved():
    contract = f.worked_example_contract()
    invoice_id = generate(contract)["invoice_ids"][0]
    api.approve_invoice(invoice_id)
    return contract, invoice_id


def test_a_credit_note_takes_an_amount_off_the_balance_and_is_numbered_in_its_own_series(
    approved,
):
    _, invoice_id = approved
    first = api.credit_invoice(invoice_id, amount_minor=2500, reason="Seat count was 23")
    second = api.credit_invoice(invoice_id, amount_minor=100, reason="Goodwill")
    year = timezone.now().year  # the yearly CN series (billing_engine.api.numbering)
    assert (first.number, second.number) == (f"CN-{year}-000001", f"CN-{year}-000002")
    assert (first.amount_minor, first.currency, first.reason) == (2500, "USD", "Seat count was 23")
    info = api.get_invoice(invoice_id)
    assert (info.status, info.credited_minor, info.amount_due_minor) == (
        "approved",
        2600,
        TOTAL - 2600,
    )
    assert [n.number for n in api.credit_notes(invoice_id)] == [first.number, second.number]
    assert NumberSequence.objects.get(name=f"CN-{year}").last_value == 2
    assert api.verify_numbering().ok
    assert info.number.startswith("INV-")  # the invoice keeps its own series


def test_a_credit_note_cannot_exceed_what_is_left(approved):
    _, invoice_id = approved
    api.credit_invoice(invoice_id, amount_minor=TOTAL - 100)
    with pytest.raises(api.InvalidState, match="more than"):
        api.credit_invoice(invoice_id, amount_minor=101)
    api.credit_invoice(invoice_id, amount_minor=100)
    assert api.get_invoice(invoice_id).amount_due_minor == 0


@pytest.mark.parametrize("amount", [0, -5, True, "25"])
def test_a_credit_note_amount_must_be_a_positive_whole_number_of_minor_units(approved, amount):
    _, invoice_id = approved
    with pytest.raises(api.ValidationFailed):
        api.credit_invoice(invoice_id, amount_minor=amount)
    assert not EngineCreditNote.objects.exists()


def test_a_draft_cannot_be_credited_or_voided(approved):
    contract = f.worked_example_contract()
    draft_id = generate(contract)["invoice_ids"][0]
    with pytest.raises(api.InvalidState):
        api.credit_invoice(draft_id, amount_minor=100)
    with pytest.raises(api.InvalidState):
        api.void_invoice(draft_id)


def test_a_void_needs_a_zero_balance(approved):
    _, invoice_id = approved
    with pytest.raises(api.InvoiceCannotBeVoided, match="INVOICE_CANNOT_BE_VOIDED"):
        api.void_invoice(invoice_id)
    api.credit_invoice(invoice_id, amount_minor=TOTAL)
    voided = api.void_invoice(invoice_id)
    assert voided.status == "void" and voided.voided_at is not None
    with pytest.raises(api.InvalidState):
        api.void_invoice(invoice_id)
    with pytest.raises(api.InvalidState):
        api.credit_invoice(invoice_id, amount_minor=1)


def test_a_void_frees_the_cycle_for_a_new_invoice(approved):
    contract, invoice_id = approved
    with pytest.raises(api.InvoiceAlreadyGeneratedForThisBillingPeriod):
        generate(contract)
    api.credit_invoice(invoice_id, amount_minor=TOTAL)
    api.void_invoice(invoice_id)
    fresh = generate(contract)["invoice_ids"][0]
    assert fresh != invoice_id
    api.approve_invoice(fresh)
    assert EngineInvoice.objects.filter(status="approved").count() == 1


def test_a_void_invoice_cannot_be_changed_through_save(approved):
    _, invoice_id = approved
    api.credit_invoice(invoice_id, amount_minor=TOTAL)
    api.void_invoice(invoice_id)
    invoice = EngineInvoice.objects.get(pk=invoice_id)
    invoice.status = "approved"
    with pytest.raises(Exception, match="cannot be changed"):
        invoice.save()


def test_a_void_status_needs_its_time(approved):
    _, invoice_id = approved
    with pytest.raises(IntegrityError), transaction.atomic():
        EngineInvoice.objects.filter(pk=invoice_id).update(status="void")


# --- ad-hoc -----------------------------------------------------------------------------------
@pytest.fixture
def posted():
    world = f.adhoc_world()
    return api.create_adhoc_invoice(f.adhoc_body(world))


def test_an_adhoc_void_is_irreversible(posted):
    voided = api.void_adhoc_invoice(posted["id"])
    assert voided["status"] == "voided" and voided["dateVoid"]
    assert voided["balanceDue"] == 0
    with pytest.raises(api.InvalidState):
        api.void_adhoc_invoice(posted["id"])
    with pytest.raises(api.InvalidState):
        api.record_adhoc_payment(posted["id"], amount_minor=1)


@pytest.mark.parametrize("part", ["some", "all"])
def test_an_adhoc_invoice_paid_in_full_or_in_part_cannot_be_voided(posted, part):
    amount = 1 if part == "some" else posted["total"]
    paid = api.record_adhoc_payment(posted["id"], amount_minor=amount)
    assert paid["status"] == ("partialPaid" if part == "some" else "paid")
    assert paid["balanceDue"] == posted["total"] - amount
    with pytest.raises(api.InvoiceAlreadyPaid):
        api.void_adhoc_invoice(posted["id"])
    assert AdhocInvoice.objects.get(pk=posted["id"]).status == paid["status"]


def test_a_payment_cannot_exceed_the_balance(posted):
    with pytest.raises(api.ValidationFailed):
        api.record_adhoc_payment(posted["id"], amount_minor=posted["total"] + 1)


# --- concurrency (real row locks) -----------------------------------------------------------
@needs_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_credit_notes_never_exceed_the_invoice():
    contract = f.worked_example_contract()
    invoice_id = generate(contract)["invoice_ids"][0]
    api.approve_invoice(invoice_id)
    barrier = threading.Barrier(4)
    outcomes, unexpected = [], []

    def credit():
        try:
            barrier.wait()
            api.credit_invoice(invoice_id, amount_minor=TOTAL // 2)
            outcomes.append("credited")
        except api.InvalidState:
            outcomes.append("refused")
        except Exception as exc:
            unexpected.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=credit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert unexpected == []
    assert sorted(outcomes) == ["credited", "credited", "refused", "refused"]
    assert api.get_invoice(invoice_id).amount_due_minor == TOTAL - 2 * (TOTAL // 2)
