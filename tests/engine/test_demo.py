"""The engine's demo data: deterministic, idempotent, realistic enough to exercise every rule."""

from collections import Counter
from datetime import date

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import transaction

from billing_engine import api
from billing_engine.demo import seed_engine_demo
from billing_engine.models import (
    AddressBookEntry,
    CompanyCurrency,
    Contract,
    Country,
    Customer,
    EngineInvoice,
    Gateway,
    PaymentMethod,
    Phase,
    Pricing,
)
from billing_rules.cycles import anchor_date

pytestmark = pytest.mark.django_db


def dump() -> dict[str, list[dict]]:
    """Every row of every engine table, in primary-key order."""
    return {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in apps.get_app_config("billing_engine").get_models()
    }


@pytest.fixture
def seeded():
    with transaction.atomic():
        return seed_engine_demo()


def test_seeding_twice_leaves_exactly_the_same_rows_and_values(seeded):
    first = dump()
    assert sum(len(rows) for rows in first.values()) > 1000
    with transaction.atomic():
        seed_engine_demo()
    assert dump() == first


def test_the_summary_is_one_paragraph_with_the_counts(seeded):
    assert "\n" not in seeded
    assert "45 customers" in seeded and "135 contracts" in seeded


def test_customers_look_real(seeded):
    customers = list(Customer.objects.all())
    assert len(customers) >= 40
    assert len({c.name for c in customers}) == len(customers)
    assert all(
        c.email.rsplit("@", 1)[1].endswith((".example.com", ".example.org")) for c in customers
    )
    codes = set(Country.objects.values_list("alpha2", flat=True))
    assert {c.country for c in customers} <= codes
    assert Country.objects.count() >= 30
    assert all(c.street1 and c.city and c.zip for c in customers)
    assert PaymentMethod.objects.values("customer").distinct().count() == len(customers)
    assert AddressBookEntry.objects.values("customer").distinct().count() == len(customers)


def test_contracts_cover_every_currency_cadence_anchor_and_term_shape(seeded):
    contracts = list(Contract.objects.all())
    assert len(contracts) >= 120
    assert {c.currency for c in contracts} == {"USD", "EUR", "GBP", "JPY", "KWD"}
    assert {c.cadence for c in contracts} == {"P1M", "P3M", "P6M", "P1Y"}
    assert {c.billing_cycle_start_day for c in contracts} == {1, 15, 28, 31}
    assert any(c.end_date is None for c in contracts)
    assert any(c.end_date and c.end_date < date(2026, 6, 15) for c in contracts)  # ended
    assert any(c.end_date and c.end_date > date(2026, 12, 31) for c in contracts)  # running
    assert {True, False} == {c.in_advance for c in contracts}
    # Mid-cycle starts (the first cycle is a short stub) and starts on the anchor date.
    stubs = [
        c
        for c in contracts
        if c.start_date
        != anchor_date(c.start_date.year, c.start_date.month, c.billing_cycle_start_day)
    ]
    assert 20 <= len(stubs) <= len(contracts) - 20
    assert Counter(c.status for c in contracts).keys() >= {"active", "expired", "paused", "draft"}


def test_phases_and_pricings_cover_every_type_and_price_rises(seeded):
    assert set(Pricing.objects.values_list("pricing_type", flat=True)) == {
        "flat_fee",
        "per_unit",
        "tiered",
        "volume",
    }
    assert set(Phase.objects.values_list("phase_type", flat=True)) == {"active", "trial", "pause"}
    rises = Contract.objects.filter(phases__name__startswith="Year two").distinct()
    assert rises.exists()
    for contract in rises:
        types = list(contract.phases.order_by("start_date").values_list("phase_type", flat=True))
        assert types[:3] == ["trial", "active", "active"]


def test_every_demo_contract_lists_and_rates_its_cycles(seeded):
    for contract in Contract.objects.all():
        cycles = api.billing_cycles(str(contract.id), as_of=date(2026, 6, 15))
        assert cycles
        preview = api.preview(str(contract.id), bill_for_date=cycles[0]["bill_for_date"])
        assert preview.total_minor == sum(line.amount_minor for line in preview.lines)


def test_some_cycles_are_already_approved_and_generation_refuses_them(seeded):
    approved = EngineInvoice.objects.filter(status="approved")
    assert approved.count() >= 30
    assert not EngineInvoice.objects.filter(status="draft").exists()
    invoice = approved.select_related("contract").first()
    assert invoice.lines.exists()
    assert invoice.total_minor == sum(invoice.lines.values_list("amount_minor", flat=True))
    with pytest.raises(api.InvoiceAlreadyGeneratedForThisBillingPeriod):
        api.generate_invoice(
            customer_id=str(invoice.customer_id),
            contract_id=str(invoice.contract_id),
            from_date=int(invoice.period_start.timestamp()),
            to_date=int(invoice.period_end.timestamp()),
            bill_for_date=int(invoice.bill_for.timestamp()),
            billing_cycle_start_day=invoice.billing_cycle_start_day,
        )


def test_reference_data_for_ad_hoc_invoices(seeded):
    assert set(CompanyCurrency.objects.values_list("iso3", flat=True)) == {
        "USD",
        "EUR",
        "GBP",
        "JPY",
        "KWD",
    }
    for currency in CompanyCurrency.objects.all():
        assert api.gateways(currency.id), currency.iso3
    assert Gateway.objects.filter(status="inactive").exists()


def test_seed_demo_command_includes_the_engine_summary(settings, capsys):
    settings.DEBUG = True
    call_command("seed_demo")
    assert "Embedded engine: 45 customers" in capsys.readouterr().out
