"""One set of behaviours for every ad-hoc adapter: the embedded engine in process, and the
Rebillia adapter over HTTP against a loopback Rebillia backed by the same engine."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.db import connection

from billing_engine import api
from invoices.backends.base import (
    Address,
    AdhocBackend,
    AdhocInvoiceRequest,
    AdhocLine,
    AlreadyPaid,
    BackendRejected,
    NotFoundUpstream,
)
from invoices.backends.embedded import EmbeddedAdhocBackend
from invoices.backends.rebillia import RebilliaBackend
from tests.engine import factories
from tests.fakes.rebillia_standin import STANDIN_API_KEY, register_rebillia

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["embedded", "rebillia"])
def port(request, backend_settings, httpserver) -> AdhocBackend:
    if request.param == "embedded":
        yield EmbeddedAdhocBackend.from_settings(django_settings)
        return
    access = register_rebillia(httpserver, share_connection=connection)
    backend_settings.REBILLIA_BASE_URL = httpserver.url_for("/v1")
    backend_settings.REBILLIA_API_KEY = STANDIN_API_KEY
    backend = RebilliaBackend.from_settings(django_settings)
    yield backend
    assert httpserver.log, "the adapter never reached the stand-in"
    backend.close()
    access.close()


@pytest.fixture
def world():
    return factories.adhoc_world()


@pytest.fixture
def invoice_request(world):
    return AdhocInvoiceRequest(
        customer_id=str(world["customer"].account_number),
        currency_id=str(world["usd"].id),
        currency_code="USD",
        gateway_id=str(world["stripe"].id),
        payment_method_id=str(world["card"].id),
        date_from=date(2026, 7, 1),
        date_to=date(2026, 7, 31),
        date_due=date(2026, 8, 15),
        lines=(
            AdhocLine(description="On-site training, 1 day", quantity=2, unit_amount_minor=4100),
            AdhocLine(description="Printed manuals", quantity=3, unit_amount_minor=1999),
        ),
        billing_address=Address(
            contact_name="Dana Whitfield",
            street1="14 Harbour Road",
            city="Bristol",
            zip="BS1 5TY",
            country_code="GB",
        ),
    )


def test_search_finds_customers_by_name(port, world):
    page = port.search_customers(query="northwind")
    (found,) = page.items
    assert (found.id, found.name, found.email, found.business_name) == (
        str(world["customer"].account_number),
        "Dana Whitfield",
        "billing@northwind.example.com",
        "Northwind Traders Ltd",
    )
    assert port.search_customers(query="nobody at all").items == ()


def test_search_pages_through_customers(port, world):
    first = port.search_customers(limit=1)
    assert len(first.items) == 1 and first.total_count == 2 and first.next_cursor
    second = port.search_customers(limit=1, cursor=first.next_cursor)
    assert len(second.items) == 1 and second.items != first.items


def test_get_customer_by_id_and_unknown_is_not_found(port, world):
    owner = world["customer"]
    assert port.get_customer(str(owner.account_number)).business_name == "Northwind Traders Ltd"
    with pytest.raises(NotFoundUpstream):
        port.get_customer("999999")


def test_payment_methods_are_the_customers_own_and_masked(port, world):
    (method,) = port.payment_methods(str(world["customer"].account_number))
    assert (method.id, method.type, method.account_name, method.masked_number) == (
        str(world["card"].id),
        "card",
        "Dana Whitfield",
        "•••• 4242",
    )


def test_address_book_gives_alpha2_country_codes(port, world):
    (address,) = port.address_book(str(world["customer"].account_number))
    assert (address.contact_name, address.city, address.zip, address.country_code) == (
        "Dana Whitfield",
        "Bristol",
        "BS1 5TY",
        "GB",
    )


def test_currencies_gateways_and_countries(port, world):
    currencies = {c.code: c for c in port.currencies()}
    assert set(currencies) == {"USD", "EUR"}
    assert currencies["USD"].id == str(world["usd"].id)
    assert currencies["EUR"].symbol == "€"
    gateways = port.gateways(str(world["usd"].id))
    assert [(g.id, g.name) for g in gateways] == [(str(world["stripe"].id), "Stripe USD")]
    assert {(c.id, c.code) for c in port.countries()} == {("826", "GB"), ("840", "US")}


def test_create_posts_a_live_invoice_and_find_sees_it(port, invoice_request):
    created = port.create_invoice(invoice_request)
    assert created.status == "posted"
    assert created.total == Decimal("141.97")  # 2 x 41.00 + 3 x 19.99
    assert created.recovered is False
    found = port.find_invoice(invoice_request)
    assert found is not None
    assert (found.id, found.number, found.total, found.recovered) == (
        created.id,
        created.number,
        Decimal("141.97"),
        True,
    )


def test_find_invoice_does_not_match_another_period_or_total(port, invoice_request):
    port.create_invoice(invoice_request)
    assert port.find_invoice(replace(invoice_request, date_to=date(2026, 7, 30))) is None
    other_total = replace(
        invoice_request,
        lines=(AdhocLine(description="Printed manuals", quantity=1, unit_amount_minor=1999),),
    )
    assert port.find_invoice(other_total) is None


def test_create_refuses_a_payment_method_of_another_customer(port, world, invoice_request):
    with pytest.raises(BackendRejected):
        port.create_invoice(replace(invoice_request, payment_method_id=str(world["other_card"].id)))
    assert port.find_invoice(invoice_request) is None


def test_create_refuses_an_unknown_country(port, invoice_request):
    address = replace(invoice_request.billing_address, country_code="ZZ")
    with pytest.raises(BackendRejected) as excinfo:
        port.create_invoice(replace(invoice_request, billing_address=address))
    assert "billingAddress.countryId" in excinfo.value.field_errors


def test_check_passes_against_a_working_backend(port, world):
    assert port.check().ok is True


# --- corrections: a void (there are no ad-hoc credit notes) ------------------------------------
def test_a_void_is_irreversible_and_find_no_longer_matches(port, invoice_request):
    created = port.create_invoice(invoice_request)
    before = port.invoice_balance(created.id)
    assert (before.voided, before.paid, before.currency, before.total, before.amount_due) == (
        False,
        False,
        "USD",
        Decimal("141.97"),
        Decimal("141.97"),
    )
    voided = port.void_invoice(created.id)
    assert (voided.id, voided.status, voided.recovered) == (created.id, "voided", False)
    assert port.invoice_balance(created.id).voided is True
    assert port.find_invoice(invoice_request) is None
    again = port.void_invoice(created.id)  # void already: found, nothing sent
    assert (again.status, again.recovered) == ("voided", True)


@pytest.mark.parametrize("paid_minor", [1, 14197])
def test_a_paid_invoice_cannot_be_voided(port, invoice_request, paid_minor):
    created = port.create_invoice(invoice_request)
    api.record_adhoc_payment(created.id, amount_minor=paid_minor)
    balance = port.invoice_balance(created.id)
    assert balance.paid is True and balance.amount_due == Decimal(14197 - paid_minor) / 100
    with pytest.raises(AlreadyPaid):
        port.void_invoice(created.id)
    assert port.invoice_balance(created.id).voided is False


def test_voiding_an_unknown_invoice_is_not_found(port, world):
    with pytest.raises(NotFoundUpstream):
        port.void_invoice("999999")
