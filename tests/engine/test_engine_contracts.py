"""The engine's contract side: search, contract terms, billing cycles on the wire, preview."""

import ast
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from billing_engine import api
from billing_engine.models import Contract, Pricing
from tests.helpers import count_queries

from . import factories as f

pytestmark = pytest.mark.django_db


def test_search_matches_contract_or_customer_name_case_insensitively_in_a_stable_order():
    acme = f.customer("Acme Robotics GmbH")
    f.contract(owner=acme, name="Platform 2026")
    f.contract(owner=acme, name="Support")
    f.contract(owner=f.customer("Blue Harbor Foods"), name="acme add-on")
    f.contract(owner=f.customer("Globex"), name="Unrelated")

    rows, total = api.search_contracts(query="ACME")
    assert total == 3
    assert [row.name for row in rows] == ["acme add-on", "Platform 2026", "Support"]
    assert {row.customer.name for row in rows} == {"Acme Robotics GmbH", "Blue Harbor Foods"}
    assert all(row.phases == () for row in rows)


def test_search_pages_without_overlap_and_in_a_constant_number_of_queries():
    owner = f.customer()
    for index in range(25):
        f.contract(owner=owner, name=f"Contract {index:02d}")
    with count_queries() as queries:
        first, total = api.search_contracts(offset=0, limit=10)
    assert len(queries) == 2
    second, _ = api.search_contracts(offset=10, limit=10)
    third, _ = api.search_contracts(offset=20, limit=10)
    names = [row.name for row in first + second + third]
    assert total == 25
    assert names == sorted(names, key=str.lower)
    assert len(set(names)) == 25


def test_get_contract_returns_the_terms_as_pure_values_in_a_fixed_number_of_queries():
    contract = f.worked_example_contract()
    with count_queries() as queries:
        info = api.get_contract(str(contract.id))
    assert len(queries) == 3  # contract+customer, phases, pricings+products
    assert info.customer.name == "Northwind Traders Ltd"
    assert (info.cadence, info.billing_cycle_start_day, info.in_advance) == ("P1M", 28, False)
    (phase,) = info.phases
    assert [p.product_name for p in phase.pricings] == [
        "API calls (graduated)",
        "Seats",
        "Storage (volume)",
        "Platform fee",
    ]
    seats = phase.pricings[1]
    assert (seats.pricing_type, seats.unit_amount_minor, seats.quantity) == (
        "per_unit",
        Decimal(1250),
        Decimal(25),
    )
    assert phase.pricings[0].tiers[0].unit_amount_minor == Decimal(500)
    assert len(info.phase_refs) == 1 and len(info.pricing_refs) == 4
    assert {ref.unit for ref in info.pricing_refs} == {"", "seat", "k calls", "GB"}


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000", ""])
def test_unknown_or_malformed_contract_ids_are_not_found(bad_id):
    with pytest.raises(api.NotFound):
        api.get_contract(bad_id)
    with pytest.raises(api.NotFound):
        api.billing_cycles(bad_id)


def test_billing_cycles_are_the_upstream_wire_entries():
    contract = f.contract(start=date(2026, 1, 31), end=date(2026, 5, 31), anchor=31)
    cycles = api.billing_cycles(str(contract.id))
    assert cycles[0] == {
        "name": "2026-01-31 \u2013 2026-02-27",
        "start_date": "2026-01-31T00:00:00Z",
        "end_date": "2026-02-28T00:00:00Z",
        "bill_for_date": "2026-02-28T00:00:00Z",  # in arrears: the end
        "billing_cycle_start_day": 31,
    }
    assert [c["start_date"][:10] for c in cycles] == [
        "2026-01-31",
        "2026-02-28",
        "2026-03-31",
        "2026-04-30",
    ]
    assert cycles[-1]["end_date"] == "2026-05-31T00:00:00Z"


def test_open_ended_contracts_list_twelve_months_ahead_of_as_of():
    contract = f.contract(start=date(2025, 3, 1), anchor=1, in_advance=True)
    cycles = api.billing_cycles(str(contract.id), as_of=date(2026, 2, 10))
    assert cycles[0]["start_date"] == "2025-03-01T00:00:00Z"
    assert cycles[-1]["start_date"] == "2027-02-01T00:00:00Z"  # last start before 2027-02-10
    assert all(c["bill_for_date"] == c["start_date"] for c in cycles)


def test_preview_is_the_worked_example_invoice():
    contract = f.worked_example_contract()
    info = api.preview(str(contract.id), bill_for_date="2026-06-28T00:00:00Z")
    assert info.status == "preview" and info.id == ""
    assert (info.period_start, info.period_end) == (f.at(2026, 5, 28), f.at(2026, 6, 28))
    amounts = {line.product_name: line.amount_minor for line in info.lines}
    assert amounts == {
        "Platform fee": 8710,
        "Seats": 31250,
        "API calls (graduated)": 47000,
        "Storage (volume)": 36000,
    }
    assert info.total_minor == 8710 + 31250 + 47000 + 36000
    platform = next(line for line in info.lines if line.product_name == "Platform fee")
    assert platform.prorated and (platform.covered_days, platform.window_days) == (18, 31)
    seats = next(line for line in info.lines if line.product_name == "Seats")
    assert seats.unit == "seat"


def test_preview_of_a_date_that_is_no_cycle_raises_cycle_not_found():
    contract = f.worked_example_contract()
    with pytest.raises(api.CycleNotFound):
        api.preview(str(contract.id), bill_for_date="2026-06-27T00:00:00Z")
    with pytest.raises(api.CycleNotFound):
        api.preview(str(contract.id), bill_for_date="next tuesday")


def test_preview_saves_nothing():
    contract = f.worked_example_contract()
    api.preview(str(contract.id), bill_for_date="2026-06-28T00:00:00Z")
    assert not Contract.objects.get(pk=contract.pk).invoices.exists()


def test_terms_that_cannot_be_rated_are_an_invalid_state_not_a_crash():
    contract = f.contract()
    active = f.phase(contract)
    bad = f.pricing(active, kind="volume", quantity="500", tiers=[f.TIERS[0]])  # above the tiers
    assert bad.pk
    with pytest.raises(api.InvalidState, match="cannot be rated"):
        api.get_contract(str(contract.id))


def test_billing_engine_never_imports_invoices():
    folder = Path(__file__).resolve().parents[2] / "billing_engine"
    for module in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(name.split(".")[0] == "invoices" for name in names), module


@pytest.mark.parametrize(
    ("tiers", "quantity", "field"),
    [
        ({"up_to": 10}, "5", "tiers"),
        ([{"up_to": "ten", "unit_amount_minor": 5}], "5", "tiers"),
        ([{"up_to": 10, "unit_amount_minor": 5}], "11", "quantity"),
        (
            [{"up_to": None, "unit_amount_minor": 5}, {"up_to": 10, "unit_amount_minor": 4}],
            "1",
            "tiers",
        ),
        ([], "1", "tiers"),
    ],
)
def test_pricing_validation_refuses_tiers_rating_would_refuse(tiers, quantity, field):
    phase = f.phase(f.contract())
    pricing = Pricing(
        phase=phase,
        product=f.product("Storage", "STO-1"),
        pricing_type="volume",
        quantity=Decimal(quantity),
        tiers=tiers,
        start_date=phase.start_date,
    )
    with pytest.raises(ValidationError) as caught:
        pricing.full_clean()
    assert field in caught.value.message_dict
