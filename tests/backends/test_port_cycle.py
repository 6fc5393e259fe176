"""One set of behaviours for every contract-cycle adapter: the embedded engine in process, and
the Zenskar adapter over HTTP against a loopback Zenskar backed by the same engine. Whatever the
backend, the port behaves the same."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.db import connection

from billing_engine import api
from billing_engine.models import EngineCreditNote
from invoices.backends.base import (
    AlreadyInvoicedUpstream,
    BackendRejected,
    CannotBeVoided,
    CycleBackend,
    CycleNotMatched,
    NotFoundUpstream,
)
from invoices.backends.embedded import EmbeddedCycleBackend
from invoices.backends.zenskar import ZenskarBackend
from tests.engine import factories
from tests.fakes.zenskar_standin import STANDIN_API_KEY, STANDIN_ORGANISATION, register_zenskar

pytestmark = pytest.mark.django_db

BILL_FOR = "2026-06-28T00:00:00Z"  # the cycle [May 28, Jun 28), in arrears
EXPECTED_LINES = {
    "Platform fee": Decimal("87.10"),  # 150.00 x 18/31
    "Seats": Decimal("312.50"),
    "API calls (graduated)": Decimal("470.00"),
    "Storage (volume)": Decimal("360.00"),
}


@pytest.fixture(params=["embedded", "zenskar"])
def port(request, backend_settings, httpserver) -> CycleBackend:
    if request.param == "embedded":
        yield EmbeddedCycleBackend.from_settings(django_settings)
        return
    access = register_zenskar(httpserver, share_connection=connection)
    backend_settings.ZENSKAR_BASE_URL = httpserver.url_for("").rstrip("/")
    backend_settings.ZENSKAR_API_KEY = STANDIN_API_KEY
    backend_settings.ZENSKAR_ORGANISATION = STANDIN_ORGANISATION
    backend = ZenskarBackend.from_settings(django_settings)
    yield backend
    assert httpserver.log, "the adapter never reached the stand-in"
    backend.close()
    access.close()


@pytest.fixture
def contract():
    return factories.worked_example_contract()


def cycle_billed_on(port, contract, bill_for=BILL_FOR):
    (cycle,) = [
        c for c in port.list_billing_cycles(str(contract.id)) if c.bill_for_date == bill_for
    ]
    return cycle


def generate(port, contract, bill_for=BILL_FOR):
    return port.generate_draft(
        contract_id=str(contract.id),
        customer_id=str(contract.customer_id),
        cycle=cycle_billed_on(port, contract, bill_for),
    )


def test_search_finds_a_contract_by_its_name(port, contract):
    factories.contract(name="Contoso analytics")
    page = port.search_contracts(query="northwind PLAT")
    (found,) = page.items
    assert (found.id, found.name, found.currency, found.status) == (
        str(contract.id),
        "Northwind platform",
        "USD",
        "active",
    )
    assert (found.customer.id, found.customer.name) == (
        str(contract.customer_id),
        "Northwind Traders Ltd",
    )
    assert found.start_date == datetime(2026, 1, 28, tzinfo=UTC)
    assert port.search_contracts(query="no such contract").items == ()


def test_search_pages_with_cursors(port):
    for index in range(3):
        factories.contract(name=f"Paged contract {index}")
    first = port.search_contracts(query="paged contract", limit=2)
    assert [c.name for c in first.items] == ["Paged contract 0", "Paged contract 1"]
    assert first.total_count == 3 and first.next_cursor
    second = port.search_contracts(query="paged contract", cursor=first.next_cursor, limit=2)
    assert [c.name for c in second.items] == ["Paged contract 2"]
    assert second.next_cursor is None


def test_get_contract_reads_terms_in_major_units(port, contract):
    read = port.get_contract(str(contract.id))
    assert (read.billing_cycle_start_day, read.cadence, read.in_advance) == (28, "P1M", False)
    (phase,) = read.phases
    assert phase.phase_type == "active"
    pricings = {p.product_name: p for p in phase.pricings}
    assert {name: p.pricing_type for name, p in pricings.items()} == {
        "Platform fee": "flat_fee",
        "Seats": "per_unit",
        "API calls (graduated)": "tiered",
        "Storage (volume)": "volume",
    }
    assert pricings["Platform fee"].unit_amount == Decimal("150.00")
    assert pricings["Platform fee"].start_date == datetime(2026, 6, 10, tzinfo=UTC)
    assert (pricings["Seats"].unit_amount, pricings["Seats"].quantity) == (
        Decimal("12.50"),
        Decimal(25),
    )
    assert pricings["Seats"].unit == "seat"
    assert [(t.up_to, t.unit_amount) for t in pricings["Storage (volume)"].tiers] == [
        (Decimal(10), Decimal("5.00")),
        (Decimal(100), Decimal("4.00")),
        (None, Decimal("3.00")),
    ]


def test_unknown_contract_is_not_found(port):
    with pytest.raises(NotFoundUpstream):
        port.get_contract(str(uuid.uuid4()))


def test_billing_cycles_are_the_engines_strings_verbatim(port, contract):
    cycles = port.list_billing_cycles(str(contract.id))
    assert [
        {
            "name": c.name,
            "start_date": c.start_date,
            "end_date": c.end_date,
            "bill_for_date": c.bill_for_date,
            "billing_cycle_start_day": c.billing_cycle_start_day,
        }
        for c in cycles
    ] == api.billing_cycles(str(contract.id))
    cycle = cycle_billed_on(port, contract)
    assert (cycle.start_date, cycle.end_date) == ("2026-05-28T00:00:00Z", "2026-06-28T00:00:00Z")


def test_preview_shows_the_lines_the_draft_will_have(port, contract):
    read = port.get_contract(str(contract.id))
    preview = port.preview_cycle(read, cycle_billed_on(port, contract))
    assert preview.exact is port.preview_is_exact
    assert {line.name: line.amount for line in preview.lines} == EXPECTED_LINES
    assert preview.total == Decimal("1229.60")


def test_generate_makes_one_draft_with_every_line(port, contract):
    draft = port.get_draft(generate(port, contract))
    assert (draft.status, draft.currency, draft.total) == ("draft", "USD", Decimal("1229.60"))
    assert (draft.contract_id, draft.customer_id) == (str(contract.id), str(contract.customer_id))
    assert {line.name: line.amount for line in draft.lines} == EXPECTED_LINES
    fee = next(line for line in draft.lines if line.name == "Platform fee")
    assert fee.prorated is True
    assert (fee.service_start, fee.service_end) == (
        datetime(2026, 6, 10, tzinfo=UTC),
        datetime(2026, 6, 28, tzinfo=UTC),
    )
    seats = next(line for line in draft.lines if line.name == "Seats")
    assert (seats.quantity, seats.unit_price, seats.unit) == (Decimal(25), Decimal("12.50"), "seat")


def test_regenerating_a_cycle_replaces_its_draft(port, contract):
    first = generate(port, contract)
    second = generate(port, contract)
    assert second == first
    assert len(port.get_draft(first).lines) == len(EXPECTED_LINES)


def test_a_cycle_the_contract_does_not_have_is_not_matched(port, contract):
    cycle = cycle_billed_on(port, contract)
    with pytest.raises(CycleNotMatched):
        port.generate_draft(
            contract_id=str(contract.id),
            customer_id=str(contract.customer_id),
            cycle=replace(cycle, bill_for_date="2026-06-27T00:00:00Z"),
        )


def test_approve_then_regenerate_is_already_invoiced(port, contract):
    draft_id = generate(port, contract)
    approved = port.approve_draft(draft_id)
    assert (approved.id, approved.status, approved.total) == (
        draft_id,
        "approved",
        Decimal("1229.60"),
    )
    assert approved.number.startswith("INV-")
    with pytest.raises(AlreadyInvoicedUpstream):
        generate(port, contract)
    assert port.get_draft(draft_id).status == "approved"


def test_delete_removes_a_draft_but_never_an_approved_invoice(port, contract):
    draft_id = generate(port, contract)
    port.delete_draft(draft_id)
    with pytest.raises(NotFoundUpstream):
        port.get_draft(draft_id)
    kept = generate(port, contract)
    port.approve_draft(kept)
    with pytest.raises(BackendRejected):
        port.delete_draft(kept)


def test_check_passes_against_a_working_backend(port, contract):
    assert port.check().ok is True


# --- corrections of an approved invoice -------------------------------------------------------
def approved_invoice(port, contract) -> str:
    invoice_id = generate(port, contract)
    port.approve_draft(invoice_id)
    return invoice_id


def test_a_credit_note_takes_its_amount_off_the_balance(port, contract):
    invoice_id = approved_invoice(port, contract)
    note = port.credit_note(invoice_id, Decimal("25"), "Seat count was 23, not 25")
    assert (note.invoice_id, note.currency, note.amount, note.recovered) == (
        invoice_id,
        "USD",
        Decimal("25.00"),
        False,
    )
    assert note.id and note.number.startswith("CN-")
    balance = port.invoice_balance(invoice_id)
    assert (balance.total, balance.amount_due, balance.voided) == (
        Decimal("1229.60"),
        Decimal("1204.60"),
        False,
    )
    (engine_note,) = EngineCreditNote.objects.all()
    assert (engine_note.amount_minor, engine_note.reason) == (2500, "Seat count was 23, not 25")


def test_a_credit_note_for_more_than_is_left_is_refused(port, contract):
    invoice_id = approved_invoice(port, contract)
    port.credit_note(invoice_id, Decimal("1200.00"), "Pricing error")
    with pytest.raises(BackendRejected):
        port.credit_note(invoice_id, Decimal("29.61"), "Pricing error")
    assert port.invoice_balance(invoice_id).amount_due == Decimal("29.60")


def test_a_credit_note_with_more_decimals_than_the_currency_is_refused_unsent(port, contract):
    invoice_id = approved_invoice(port, contract)
    with pytest.raises(BackendRejected):
        port.credit_note(invoice_id, Decimal("1.005"), "Pricing error")
    assert not EngineCreditNote.objects.exists()


def test_a_draft_is_neither_credited_nor_voided(port, contract):
    draft_id = generate(port, contract)
    with pytest.raises(BackendRejected):
        port.credit_note(draft_id, Decimal("1"), "Pricing error")
    with pytest.raises((BackendRejected, CannotBeVoided)):
        port.void_invoice(draft_id)
    assert port.get_draft(draft_id).is_draft


def test_a_void_needs_a_zero_balance_and_then_frees_the_cycle(port, contract):
    invoice_id = approved_invoice(port, contract)
    with pytest.raises(CannotBeVoided):
        port.void_invoice(invoice_id)
    port.credit_note(invoice_id, Decimal("1229.60"), "Duplicate")
    voided = port.void_invoice(invoice_id)
    assert (voided.id, voided.status) == (invoice_id, "void")
    balance = port.invoice_balance(invoice_id)
    assert (balance.voided, balance.amount_due) == (True, Decimal("0.00"))
    assert generate(port, contract) != invoice_id  # the cycle can be invoiced again
