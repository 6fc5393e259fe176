"""Small builders for engine records, with the values of design.md's worked examples."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal

from billing_engine.models import (
    AddressBookEntry,
    CompanyCurrency,
    Contract,
    Country,
    Customer,
    Gateway,
    PaymentMethod,
    Phase,
    Pricing,
    Product,
)

_numbers = itertools.count(1000)


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def unix(year: int, month: int, day: int) -> int:
    return int(at(year, month, day).timestamp())


def customer(name: str = "Northwind Traders Ltd", **extra) -> Customer:
    values = {
        "account_number": next(_numbers),
        "name": name,
        "contact_name": "Dana Whitfield",
        "email": "billing@northwind.example.com",
        "street1": "14 Harbour Road",
        "city": "Bristol",
        "zip": "BS1 5TY",
        "country": "GB",
        **extra,
    }
    return Customer.objects.create(**values)


def product(name: str, sku: str, description: str = "") -> Product:
    return Product.objects.get_or_create(
        sku=sku, defaults={"name": name, "description": description or f"{name} subscription"}
    )[0]


def contract(
    *,
    owner: Customer | None = None,
    name: str = "Northwind platform",
    currency: str = "USD",
    start: date = date(2026, 1, 28),
    end: date | None = None,
    cadence: str = "P1M",
    anchor: int = 28,
    in_advance: bool = False,
    status: str = "active",
) -> Contract:
    return Contract.objects.create(
        customer=owner or customer(),
        name=name,
        status=status,
        currency=currency,
        start_date=start,
        end_date=end,
        cadence=cadence,
        billing_cycle_start_day=anchor,
        in_advance=in_advance,
    )


def phase(
    owner: Contract, *, kind: str = "active", start: date | None = None, end=None, name=""
) -> Phase:
    return Phase.objects.create(
        contract=owner,
        name=name or kind.capitalize(),
        phase_type=kind,
        start_date=start or owner.start_date,
        end_date=end,
    )


def pricing(
    on: Phase,
    *,
    product_: Product | None = None,
    kind: str = "flat_fee",
    amount: int = 0,
    quantity: str = "1",
    tiers: list | None = None,
    start: date | None = None,
    end: date | None = None,
    unit: str = "",
) -> Pricing:
    return Pricing.objects.create(
        phase=on,
        product=product_ or product("Platform fee", "PLAT-001"),
        pricing_type=kind,
        unit_amount_minor=amount,
        quantity=Decimal(quantity),
        tiers=tiers or [],
        start_date=start or on.start_date,
        end_date=end,
        unit=unit,
    )


TIERS = [
    {"up_to": 10, "unit_amount_minor": 500},
    {"up_to": 100, "unit_amount_minor": 400},
    {"up_to": None, "unit_amount_minor": 300},
]


def worked_example_contract() -> Contract:
    """Monthly in arrears on the 28th, USD: the flat fee from Jun 10 (87.10 in [May 28, Jun 28)),
    25 seats at 12.50 and the tiered/volume examples with quantity 120."""
    owner = contract()
    active = phase(owner)
    pricing(
        active,
        product_=product("Platform fee", "PLAT-001"),
        amount=15000,
        start=date(2026, 6, 10),
    )
    pricing(
        active,
        product_=product("Seats", "SEAT-001"),
        kind="per_unit",
        amount=1250,
        quantity="25",
        unit="seat",
    )
    pricing(
        active,
        product_=product("API calls (graduated)", "API-GRAD"),
        kind="tiered",
        quantity="120",
        tiers=TIERS,
        unit="k calls",
    )
    pricing(
        active,
        product_=product("Storage (volume)", "STO-VOL"),
        kind="volume",
        quantity="120",
        tiers=TIERS,
        unit="GB",
    )
    return owner


def adhoc_world() -> dict:
    """A customer with a card and an address, two currencies with gateways, two countries."""
    gb = Country.objects.create(id=826, alpha2="GB", name="United Kingdom")
    us = Country.objects.create(id=840, alpha2="US", name="United States")
    usd = CompanyCurrency.objects.create(iso3="USD", symbol="$", name="US Dollar")
    eur = CompanyCurrency.objects.create(iso3="EUR", symbol="€", name="Euro")
    stripe = Gateway.objects.create(currency=usd, display_name="Stripe USD", type="stripe")
    old = Gateway.objects.create(
        currency=usd, display_name="Legacy gateway", type="authorizeNet", status="inactive"
    )
    adyen = Gateway.objects.create(currency=eur, display_name="Adyen EUR", type="adyen")
    owner = customer()
    other = customer("Contoso Pharmaceuticals", email="ap@contoso.example.org")
    card = PaymentMethod.objects.create(
        customer=owner, type="card", account_name="Dana Whitfield", masked_number="•••• 4242"
    )
    other_card = PaymentMethod.objects.create(
        customer=other, type="ach", account_name="Contoso AP", masked_number="•••• 6789"
    )
    address = AddressBookEntry.objects.create(
        customer=owner,
        contact_name="Dana Whitfield",
        street1="14 Harbour Road",
        city="Bristol",
        zip="BS1 5TY",
        country=gb,
    )
    return {
        "gb": gb,
        "us": us,
        "usd": usd,
        "eur": eur,
        "stripe": stripe,
        "old_gateway": old,
        "adyen": adyen,
        "customer": owner,
        "other": other,
        "card": card,
        "other_card": other_card,
        "address": address,
    }


def adhoc_body(world: dict, **changes) -> dict:
    body = {
        "companyCurrencyId": world["usd"].id,
        "companyGatewayId": world["stripe"].id,
        "customerId": world["customer"].account_number,
        "paymentMethodId": world["card"].id,
        "detail": [
            {"amount": 4100, "description": "On-site training, 1 day", "qty": 2},
            {"amount": 1999, "description": "Printed manuals", "qty": 3},
        ],
        "dateDue": "2026-07-31",
        "dateFrom": "2026-07-01",
        "dateTo": "2026-07-01",
    }
    body.update(changes)
    return body
