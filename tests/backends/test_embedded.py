"""The embedded adapter against the port: it returns the port's dataclasses (money in major
units, cycle strings verbatim) and maps every engine refusal to the port's errors."""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from billing_engine import api
from billing_engine.models import AdhocInvoice, EngineInvoice
from invoices.backends import adhoc_backend, base, cycle_backend
from invoices.backends.embedded import EmbeddedAdhocBackend, EmbeddedCycleBackend
from tests.engine import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def cycles():
    return EmbeddedCycleBackend.from_settings(None)


@pytest.fixture
def adhoc():
    return EmbeddedAdhocBackend.from_settings(None)


@pytest.fixture
def contract():
    return f.worked_example_contract()


def cycle_billed_on(backend, contract, bill_for: str) -> base.BillingCycle:
    return next(
        c for c in backend.list_billing_cycles(str(contract.id)) if c.bill_for_date == bill_for
    )


def test_the_default_backends_are_the_embedded_adapters_and_satisfy_the_port():
    assert isinstance(cycle_backend(), EmbeddedCycleBackend)
    assert isinstance(adhoc_backend(), EmbeddedAdhocBackend)
    assert isinstance(cycle_backend(), base.CycleBackend)
    assert isinstance(adhoc_backend(), base.AdhocBackend)
    assert cycle_backend().name == adhoc_backend().name == "embedded"
    assert cycle_backend().preview_is_exact is True


# --- contract cycles ------------------------------------------------------------------------
def test_search_pages_with_offset_cursors(cycles):
    owner = f.customer()
    for index in range(5):
        f.contract(owner=owner, name=f"Contract {index}")
    first = cycles.search_contracts(limit=2)
    assert isinstance(first, base.Page)
    assert [c.name for c in first.items] == ["Contract 0", "Contract 1"]
    assert (first.next_cursor, first.previous_cursor, first.total_count) == ("2", None, 5)
    last = cycles.search_contracts(cursor="4", limit=2)
    assert [c.name for c in last.items] == ["Contract 4"]
    assert (last.next_cursor, last.previous_cursor) == (None, "2")
    item = first.items[0]
    assert isinstance(item, base.ContractSummary)
    assert item.customer == base.CustomerRef(id=str(owner.id), name=owner.name, email=owner.email)
    assert item.start_date == f.at(2026, 1, 28)
    with pytest.raises(base.BackendRejected):
        cycles.search_contracts(cursor="page-2")


def test_get_contract_maps_terms_to_major_units(cycles, contract):
    remote = cycles.get_contract(str(contract.id))
    assert isinstance(remote, base.Contract)
    assert (remote.cadence, remote.billing_cycle_start_day, remote.in_advance) == (
        "P1M",
        28,
        False,
    )
    (phase,) = remote.phases
    assert isinstance(phase, base.Phase)
    seats = next(p for p in phase.pricings if p.sku == "SEAT-001")
    assert (seats.unit_amount, seats.quantity, seats.unit, seats.currency) == (
        Decimal("12.50"),
        Decimal(25),
        "seat",
        "USD",
    )
    assert str(seats.unit_amount) == "12.50"
    graduated = next(p for p in phase.pricings if p.pricing_type == "tiered")
    assert graduated.tiers[0] == base.Tier(up_to=Decimal(10), unit_amount=Decimal("5.00"))
    assert graduated.tiers[-1].up_to is None
    platform = next(p for p in phase.pricings if p.sku == "PLAT-001")
    assert platform.start_date == f.at(2026, 6, 10)
    assert platform.product_id == str(contract.phases.get().pricings.get(pk=platform.id).product_id)


def test_billing_cycles_keep_the_engines_strings_verbatim(cycles, contract):
    listed = cycles.list_billing_cycles(str(contract.id))
    raw = api.billing_cycles(str(contract.id))
    assert [
        (c.name, c.start_date, c.end_date, c.bill_for_date, c.billing_cycle_start_day)
        for c in listed
    ] == [tuple(entry.values()) for entry in raw]
    assert listed[4].start_date == "2026-05-28T00:00:00Z"
    assert listed[4].bill_for == f.at(2026, 6, 28)


def test_preview_is_exact_and_in_major_units(cycles, contract):
    remote = cycles.get_contract(str(contract.id))
    preview = cycles.preview_cycle(
        remote, cycle_billed_on(cycles, contract, "2026-06-28T00:00:00Z")
    )
    assert preview.exact is True
    assert preview.currency == "USD"
    assert preview.total == Decimal("87.10") + Decimal("312.50") + Decimal("470.00") + Decimal(
        "360.00"
    )
    platform = next(line for line in preview.lines if line.name == "Platform fee")
    assert platform.amount == Decimal("87.10")
    assert platform.prorated and platform.note == "Prorated: 18 of 31 days"
    assert platform.service_start == f.at(2026, 6, 10)
    seats = next(line for line in preview.lines if line.name == "Seats")
    assert (seats.quantity, seats.unit, seats.unit_price, seats.amount) == (
        Decimal(25),
        "seat",
        Decimal("12.50"),
        Decimal("312.50"),
    )
    assert str(seats.quantity) == "25"
    graduated = next(line for line in preview.lines if line.name == "API calls (graduated)")
    assert graduated.amount == Decimal("470.00")
    assert graduated.unit_price * graduated.quantity == pytest.approx(Decimal("470.00"))


def test_preview_of_a_trial_says_no_charge(cycles):
    contract = f.contract(start=date(2026, 1, 1), anchor=1, in_advance=True)
    f.pricing(f.phase(contract, kind="trial"), amount=5000)
    remote = cycles.get_contract(str(contract.id))
    (line,) = cycles.preview_cycle(
        remote, cycle_billed_on(cycles, contract, "2026-01-01T00:00:00Z")
    ).lines
    assert (line.amount, line.note) == (Decimal("0.00"), "Trial: no charge")


def test_yen_and_dinar_amounts_use_their_currencys_decimals(cycles):
    yen = f.contract(currency="JPY", start=date(2026, 1, 1), anchor=1, in_advance=True)
    f.pricing(f.phase(yen), amount=98000)
    dinar = f.contract(currency="KWD", start=date(2026, 1, 1), anchor=1, in_advance=True)
    f.pricing(f.phase(dinar), kind="per_unit", amount=12500, quantity="3")
    for contract, expected in ((yen, Decimal(98000)), (dinar, Decimal("37.500"))):
        cycle = cycles.list_billing_cycles(str(contract.id))[0]
        preview = cycles.preview_cycle(cycles.get_contract(str(contract.id)), cycle)
        assert preview.total == expected
        assert str(preview.total) == str(expected)


def test_generate_get_approve_round_trip_returns_port_values(cycles, contract):
    cycle = cycle_billed_on(cycles, contract, "2026-06-28T00:00:00Z")
    remote = cycles.get_contract(str(contract.id))
    preview = cycles.preview_cycle(remote, cycle)
    draft_id = cycles.generate_draft(
        contract_id=str(contract.id), customer_id=str(contract.customer_id), cycle=cycle
    )
    draft = cycles.get_draft(draft_id)
    assert isinstance(draft, base.Draft)
    assert (draft.status, draft.currency, draft.contract_id) == ("draft", "USD", str(contract.id))
    assert draft.lines == preview.lines
    assert draft.total == preview.total == Decimal("1229.60")
    approved = cycles.approve_draft(draft_id)
    assert isinstance(approved, base.RemoteInvoice)
    year = timezone.now().year
    assert (approved.id, approved.status, approved.number) == (
        draft_id,
        "approved",
        f"INV-{year}-000001",
    )
    assert approved.total == Decimal("1229.60")


def test_generate_sends_the_cycle_as_unix_seconds_like_the_zenskar_wire(
    cycles, contract, monkeypatch
):
    seen = {}

    def spy(**kwargs):
        seen.update(kwargs)
        return {"invoice_ids": ["4c1f3c6e-0000-4000-8000-000000000001"]}

    monkeypatch.setattr(api, "generate_invoice", spy)
    # The example body of upstream/zenskar.md: the cycle [Apr 28, May 28), in arrears.
    cycle = cycle_billed_on(cycles, contract, "2026-05-28T00:00:00Z")
    cycles.generate_draft(contract_id=str(contract.id), customer_id="c-1", cycle=cycle)
    assert seen == {
        "customer_id": "c-1",
        "contract_id": str(contract.id),
        "from_date": 1777334400,
        "to_date": 1779926400,
        "bill_for_date": 1779926400,
        "billing_cycle_start_day": 28,
    }


# --- error mapping --------------------------------------------------------------------------
def test_a_cycle_the_engine_does_not_have_is_cycle_not_matched(cycles, contract):
    stale = base.BillingCycle(
        name="stale",
        start_date="2026-05-27T00:00:00Z",
        end_date="2026-06-27T00:00:00Z",
        bill_for_date="2026-06-27T00:00:00Z",
        billing_cycle_start_day=27,
    )
    with pytest.raises(base.CycleNotMatched):
        cycles.generate_draft(
            contract_id=str(contract.id), customer_id=str(contract.customer_id), cycle=stale
        )
    with pytest.raises(base.CycleNotMatched):
        cycles.preview_cycle(cycles.get_contract(str(contract.id)), stale)
    assert not EngineInvoice.objects.exists()


def test_a_shifted_window_with_a_real_bill_for_date_is_cycle_not_matched_too(cycles, contract):
    shifted = base.BillingCycle(
        name="shifted",
        start_date="2026-05-29T00:00:00Z",
        end_date="2026-06-28T00:00:00Z",
        bill_for_date="2026-06-28T00:00:00Z",
        billing_cycle_start_day=28,
    )
    with pytest.raises(base.CycleNotMatched):
        cycles.preview_cycle(cycles.get_contract(str(contract.id)), shifted)
    with pytest.raises(base.CycleNotMatched):
        cycles.generate_draft(
            contract_id=str(contract.id), customer_id=str(contract.customer_id), cycle=shifted
        )


def test_an_approved_cycle_is_already_invoiced_upstream(cycles, contract):
    cycle = cycle_billed_on(cycles, contract, "2026-06-28T00:00:00Z")
    kwargs = {"contract_id": str(contract.id), "customer_id": str(contract.customer_id)}
    cycles.approve_draft(cycles.generate_draft(cycle=cycle, **kwargs))
    with pytest.raises(base.AlreadyInvoicedUpstream):
        cycles.generate_draft(cycle=cycle, **kwargs)


def test_approving_or_deleting_an_approved_invoice_is_rejected_with_409(cycles, contract):
    cycle = cycle_billed_on(cycles, contract, "2026-06-28T00:00:00Z")
    draft_id = cycles.generate_draft(
        contract_id=str(contract.id), customer_id=str(contract.customer_id), cycle=cycle
    )
    cycles.approve_draft(draft_id)
    for call in (cycles.approve_draft, cycles.delete_draft):
        with pytest.raises(base.BackendRejected) as caught:
            call(draft_id)
        assert caught.value.status == 409
        assert not isinstance(caught.value, base.NotFoundUpstream)


def test_deleting_a_draft_removes_it(cycles, contract):
    cycle = cycle_billed_on(cycles, contract, "2026-06-28T00:00:00Z")
    draft_id = cycles.generate_draft(
        contract_id=str(contract.id), customer_id=str(contract.customer_id), cycle=cycle
    )
    cycles.delete_draft(draft_id)
    with pytest.raises(base.NotFoundUpstream):
        cycles.get_draft(draft_id)


def test_unknown_ids_are_not_found_upstream(cycles):
    for call in (cycles.get_contract, cycles.list_billing_cycles, cycles.get_draft):
        with pytest.raises(base.NotFoundUpstream) as caught:
            call("00000000-0000-4000-8000-000000000000")
        assert caught.value.status == 404 and caught.value.backend == "embedded"


def test_a_wrong_customer_is_rejected_with_422_and_field_errors(cycles, contract):
    cycle = cycle_billed_on(cycles, contract, "2026-06-28T00:00:00Z")
    stranger = f.customer("Initech")
    with pytest.raises(base.BackendRejected) as caught:
        cycles.generate_draft(
            contract_id=str(contract.id), customer_id=str(stranger.id), cycle=cycle
        )
    assert caught.value.status == 422
    assert "customer_id" in caught.value.field_errors


def test_check_reports_the_engine(cycles, adhoc, contract):
    result = cycles.check()
    assert isinstance(result, base.CheckResult)
    assert result.ok and "1 contract(s)" in result.detail
    assert not adhoc.check().ok  # no company currencies yet
    f.adhoc_world()
    assert adhoc.check().ok


# --- ad-hoc ---------------------------------------------------------------------------------
@pytest.fixture
def world():
    return f.adhoc_world()


def request_for(world, **changes) -> base.AdhocInvoiceRequest:
    values = {
        "customer_id": str(world["customer"].account_number),
        "currency_id": str(world["usd"].id),
        "currency_code": "USD",
        "gateway_id": str(world["stripe"].id),
        "payment_method_id": str(world["card"].id),
        "date_from": date(2026, 7, 1),
        "date_to": date(2026, 7, 31),
        "date_due": date(2026, 8, 15),
        "lines": (
            base.AdhocLine(
                description="On-site training, 1 day", quantity=2, unit_amount_minor=4100
            ),
            base.AdhocLine(description="Printed manuals", quantity=3, unit_amount_minor=1999),
        ),
        "shipping_minor": 1500,
        "billing_address": base.Address(
            contact_name="Dana Whitfield",
            street1="14 Harbour Road",
            city="Bristol",
            zip="BS1 5TY",
            country_code="GB",
        ),
        "shipping_address": base.Address(
            contact_name="", street1="", city="", zip="", country_code=""
        ),
    }
    values.update(changes)
    return base.AdhocInvoiceRequest(**values)


def test_reference_data_comes_back_as_port_values(adhoc, world):
    page = adhoc.search_customers(query="northwind")
    (customer,) = page.items
    assert customer == base.AdhocCustomer(
        id=str(world["customer"].account_number),
        name="Dana Whitfield",
        email="billing@northwind.example.com",
        business_name="Northwind Traders Ltd",
    )
    assert adhoc.get_customer(customer.id) == customer
    assert adhoc.payment_methods(customer.id) == (
        base.PaymentMethod(
            id=str(world["card"].id),
            type="card",
            account_name="Dana Whitfield",
            masked_number="•••• 4242",
        ),
    )
    (address,) = adhoc.address_book(customer.id)
    assert (address.country_code, address.city, address.type) == ("GB", "Bristol", "commercial")
    assert [c.code for c in adhoc.currencies()] == ["EUR", "USD"]
    assert adhoc.gateways(str(world["usd"].id)) == (
        base.Gateway(id=str(world["stripe"].id), name="Stripe USD", type="stripe"),
    )
    assert base.Country(id="826", code="GB", name="United Kingdom") in adhoc.countries()
    with pytest.raises(base.NotFoundUpstream):
        adhoc.get_customer("999999")


def test_the_create_body_is_rebillias_with_cents_and_country_ids(adhoc, world):
    body = adhoc.build_invoice_body(request_for(world))
    assert body["customerId"] == world["customer"].account_number
    assert body["detail"] == [
        {"amount": 4100, "description": "On-site training, 1 day", "qty": 2},
        {"amount": 1999, "description": "Printed manuals", "qty": 3},
    ]
    assert body["shippingAmount"] == 1500
    assert body["billingAddress"]["countryId"] == 826
    assert "shippingAddress" not in body  # an empty address is absent
    assert (body["dateFrom"], body["dateTo"], body["dateDue"]) == (
        "2026-07-01",
        "2026-07-31",
        "2026-08-15",
    )


def test_create_invoice_posts_it_and_find_invoice_finds_it(adhoc, world):
    request = request_for(world)
    assert adhoc.find_invoice(request) is None
    created = adhoc.create_invoice(request)
    assert isinstance(created, base.RemoteInvoice)
    assert (created.status, created.currency, created.recovered) == ("posted", "USD", False)
    assert created.total == Decimal("156.97")
    found = adhoc.find_invoice(request)
    assert found is not None and found.id == created.id and found.recovered
    # A different total is a different invoice.
    assert adhoc.find_invoice(request_for(world, shipping_minor=0)) is None


def test_engine_validation_is_rejected_with_422_and_field_errors(adhoc, world):
    request = request_for(world, date_due=date(2026, 6, 1), gateway_id=str(world["adyen"].id))
    with pytest.raises(base.BackendRejected) as caught:
        adhoc.create_invoice(request)
    assert caught.value.status == 422
    assert set(caught.value.field_errors) == {"dateDue", "companyGatewayId"}
    assert not AdhocInvoice.objects.exists()


def test_an_unknown_country_code_is_a_field_error(adhoc, world):
    address = base.Address(
        contact_name="Dana", street1="1 Main St", city="Springfield", zip="12345", country_code="ZZ"
    )
    with pytest.raises(base.BackendRejected) as caught:
        adhoc.create_invoice(request_for(world, shipping_address=address))
    assert caught.value.field_errors == {"shippingAddress.countryId": ["unknown country code 'ZZ'"]}


def test_non_numeric_ids_are_refused_by_the_engine_not_crashed_on(adhoc, world):
    with pytest.raises(base.BackendRejected) as caught:
        adhoc.create_invoice(request_for(world, customer_id="cus_abc"))
    assert "customerId" in caught.value.field_errors
