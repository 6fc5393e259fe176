"""The engine's ad-hoc side: reference data, and creating invoices from exactly Rebillia's body,
validated by rebillia.md's rules plus the cross-record ones."""

import pytest
from django.utils import timezone

from billing_engine import api
from billing_engine.models import AdhocInvoice, AdhocInvoiceLine

from . import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return f.adhoc_world()


def errors_of(body) -> dict[str, list[str]]:
    with pytest.raises(api.ValidationFailed) as caught:
        api.create_adhoc_invoice(body)
    assert not AdhocInvoice.objects.exists()
    return caught.value.field_errors


# --- reference data -------------------------------------------------------------------------
def test_customers_are_found_by_name_contact_or_email_with_their_integer_ids(world):
    rows, total = api.search_customers(query="contoso")
    assert total == 1
    assert rows[0].account_number == world["other"].account_number
    rows, total = api.search_customers(query="DANA")
    assert [row.name for row in rows] == ["Contoso Pharmaceuticals", "Northwind Traders Ltd"]
    assert api.get_customer(world["customer"].account_number).name == "Northwind Traders Ltd"
    assert api.get_customer(str(world["customer"].account_number)).country == "GB"


@pytest.mark.parametrize("bad", [0, -1, "abc", "", None, 99999999])
def test_unknown_customers_are_not_found(world, bad):
    with pytest.raises(api.NotFound):
        api.get_customer(bad)
    with pytest.raises(api.NotFound):
        api.payment_methods(bad)


def test_payment_methods_and_address_book_belong_to_their_customer(world):
    methods = api.payment_methods(world["customer"].account_number)
    assert [(m.type, m.masked_number) for m in methods] == [("card", "•••• 4242")]
    (address,) = api.address_book(world["customer"].account_number)
    assert (address.city, address.country_code, address.country_id) == ("Bristol", "GB", 826)
    assert api.address_book(world["other"].account_number) == []


def test_gateways_are_the_active_ones_of_that_currency(world):
    names = [g.display_name for g in api.gateways(world["usd"].id)]
    assert names == ["Stripe USD"]
    assert [g.display_name for g in api.gateways(str(world["eur"].id))] == ["Adyen EUR"]
    with pytest.raises(api.NotFound):
        api.gateways(4242)


def test_currencies_and_countries(world):
    assert [c.iso3 for c in api.currencies()] == ["EUR", "USD"]
    assert [(c.id, c.alpha2) for c in api.countries()] == [(826, "GB"), (840, "US")]


# --- create ---------------------------------------------------------------------------------
def test_create_posts_the_invoice_with_totals_in_cents(world):
    body = f.adhoc_body(
        world,
        shippingAmount=1500,
        paymentType="offlinePaymentProvider",
        terms="Net 30",
        billingAddress={
            "contactName": "Dana Whitfield",
            "street1": "14 Harbour Road",
            "city": "Bristol",
            "zip": "BS1 5TY",
            "countryId": 826,
            "type": "commercial",
        },
        shippingAddress={},
    )
    created = api.create_adhoc_invoice(body)
    assert created["status"] == "posted"
    assert created["total"] == 2 * 4100 + 3 * 1999 + 1500 == 15697
    assert created["balanceDue"] == created["total"]
    assert created["dateDue"] == "2026-07-31"
    assert created["invoiceNo"] == f"INV-{timezone.now().year}-000001"
    assert created["currency"] == "USD"
    assert created["shippingAddress"] is None
    assert created["billingAddress"]["countryId"] == 826
    assert AdhocInvoiceLine.objects.filter(invoice_id=created["id"]).count() == 2
    assert api.get_adhoc_invoice(created["id"]) == created


def test_invoice_numbers_are_consecutive(world):
    first = api.create_adhoc_invoice(f.adhoc_body(world))
    second = api.create_adhoc_invoice(f.adhoc_body(world))
    year = timezone.now().year
    assert (first["invoiceNo"], second["invoiceNo"]) == (f"INV-{year}-000001", f"INV-{year}-000002")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"companyCurrencyId": None}, "companyCurrencyId"),
        ({"companyCurrencyId": "1"}, "companyCurrencyId"),
        ({"companyGatewayId": 0}, "companyGatewayId"),
        ({"customerId": True}, "customerId"),
        ({"paymentMethodId": -3}, "paymentMethodId"),
        ({"detail": []}, "detail"),
        ({"detail": [{"amount": -1, "description": "x", "qty": 1}]}, "detail.0.amount"),
        ({"detail": [{"amount": 10.5, "description": "x", "qty": 1}]}, "detail.0.amount"),
        ({"detail": [{"amount": "41.00", "description": "x", "qty": 1}]}, "detail.0.amount"),
        ({"detail": [{"amount": 1, "description": "x" * 256, "qty": 1}]}, "detail.0.description"),
        ({"detail": [{"amount": 1, "description": "  ", "qty": 1}]}, "detail.0.description"),
        ({"detail": [{"amount": 1, "description": "x", "qty": 0}]}, "detail.0.qty"),
        ({"detail": [{"amount": 1, "description": "x", "qty": 1, "tax": 2}]}, "detail.0.tax"),
        ({"dateDue": "31/07/2026"}, "dateDue"),
        ({"dateFrom": "2026-02-30"}, "dateFrom"),
        ({"dateTo": None}, "dateTo"),
        ({"dateFrom": "2026-07-02", "dateTo": "2026-07-01"}, "dateTo"),
        ({"dateDue": "2026-06-30"}, "dateDue"),
        ({"customerEmail": "x" * 46}, "customerEmail"),
        ({"customerName": 42}, "customerName"),
        ({"customerPhone": "+44 " + "1" * 42}, "customerPhone"),
        ({"terms": "t" * 201}, "terms"),
        ({"comments": "c" * 201}, "comments"),
        ({"paymentType": "cash"}, "paymentType"),
        ({"shippingAmount": -1}, "shippingAmount"),
        ({"shippingAmount": "5.00"}, "shippingAmount"),
        ({"billingAddress": "Bristol"}, "billingAddress"),
        ({"discount": 5}, "discount"),
    ],
)
def test_create_refuses_what_rebillia_refuses(world, changes, field):
    assert field in errors_of(f.adhoc_body(world, **changes))


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("contactName", "", "billingAddress.contactName"),
        ("countryId", 999, "billingAddress.countryId"),
        ("countryId", "826", "billingAddress.countryId"),
        ("type", "office", "billingAddress.type"),
        ("zip", None, "billingAddress.zip"),
    ],
)
def test_create_refuses_incomplete_addresses(world, key, value, field):
    address = {
        "contactName": "Dana Whitfield",
        "street1": "14 Harbour Road",
        "city": "Bristol",
        "zip": "BS1 5TY",
        "countryId": 826,
        "type": "commercial",
        key: value,
    }
    assert field in errors_of(f.adhoc_body(world, billingAddress=address))


def test_create_refuses_records_that_do_not_belong_together(world):
    errors = errors_of(
        f.adhoc_body(
            world,
            companyGatewayId=world["adyen"].id,  # an EUR gateway for a USD invoice
            paymentMethodId=world["other_card"].id,  # another customer's card
        )
    )
    assert errors["companyGatewayId"] == ["does not take this currency"]
    assert errors["paymentMethodId"] == ["does not belong to the customer"]


def test_create_refuses_inactive_gateways_and_unknown_records(world):
    errors = errors_of(
        f.adhoc_body(
            world,
            companyGatewayId=world["old_gateway"].id,
            companyCurrencyId=777,
            customerId=888,
            paymentMethodId=999,
        )
    )
    assert set(errors) == {"companyGatewayId", "companyCurrencyId", "customerId", "paymentMethodId"}


def test_create_reports_every_problem_at_once(world):
    errors = errors_of(f.adhoc_body(world, dateDue="soon", terms="t" * 300, detail=[]))
    assert {"dateDue", "terms", "detail"} <= set(errors)


def test_a_zero_amount_line_is_allowed(world):
    created = api.create_adhoc_invoice(
        f.adhoc_body(world, detail=[{"amount": 0, "description": "Goodwill visit", "qty": 1}])
    )
    assert created["total"] == 0


def test_find_adhoc_invoices_returns_the_customers_invoices_for_exactly_that_period(world):
    created = api.create_adhoc_invoice(f.adhoc_body(world))
    api.create_adhoc_invoice(f.adhoc_body(world, dateFrom="2026-06-01", dateTo="2026-06-30"))
    found = api.find_adhoc_invoices(
        customer_id=world["customer"].account_number,
        date_from="2026-07-01",
        date_to="2026-07-01",
    )
    assert [row["id"] for row in found] == [created["id"]]
    assert (
        api.find_adhoc_invoices(
            customer_id=world["other"].account_number,
            date_from="2026-07-01",
            date_to="2026-07-01",
        )
        == []
    )
