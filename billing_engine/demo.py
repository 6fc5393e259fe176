"""Deterministic demo data for the embedded engine.

Everything here is fixed: ids are uuid5 of stable names (integer-keyed rows are found by their
natural keys), variety comes from `random.Random` seeded per record, and dates are laid out around
2026 rather than today. Running it again updates rows in place and changes nothing; rows a
previous version of this module created for a demo contract but no longer defines are removed.

The catalogue is meant to exercise the engine: every cadence, anchor days 1/15/28/31, mid-cycle
starts, fixed, ended and open-ended terms, trial → active → price-rise phases, pauses, all four
pricing types in USD, EUR, GBP, JPY and KWD, and a share of cycles already approved.
"""

from __future__ import annotations

import calendar
import random
import unicodedata
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import models, transaction

from . import api
from .api.contracts import _load_contract
from .api.cycles import _cycles, _rate
from .models import (
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
    Product,
)

NAMESPACE = uuid.UUID("6f1d3c2e-8b4a-5e7f-9a0b-1c2d3e4f5a6b")
# "Today" for the demo's statuses (expired, paused, draft); the data does not move with the clock.
REFERENCE = date(2026, 6, 15)
# Cycles billed before this date are approved on a share of the contracts.
APPROVED_BEFORE = date(2026, 4, 1)


def demo_id(*parts: object) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, ":".join(str(part) for part in parts))


# --- reference data -------------------------------------------------------------------------
# (ISO 3166-1 numeric code as the id, alpha-2, name)
COUNTRIES = [
    (36, "AU", "Australia"),
    (40, "AT", "Austria"),
    (48, "BH", "Bahrain"),
    (56, "BE", "Belgium"),
    (76, "BR", "Brazil"),
    (124, "CA", "Canada"),
    (203, "CZ", "Czechia"),
    (208, "DK", "Denmark"),
    (246, "FI", "Finland"),
    (250, "FR", "France"),
    (276, "DE", "Germany"),
    (344, "HK", "Hong Kong"),
    (356, "IN", "India"),
    (372, "IE", "Ireland"),
    (376, "IL", "Israel"),
    (380, "IT", "Italy"),
    (392, "JP", "Japan"),
    (410, "KR", "Korea, Republic of"),
    (414, "KW", "Kuwait"),
    (484, "MX", "Mexico"),
    (528, "NL", "Netherlands"),
    (554, "NZ", "New Zealand"),
    (578, "NO", "Norway"),
    (616, "PL", "Poland"),
    (620, "PT", "Portugal"),
    (634, "QA", "Qatar"),
    (682, "SA", "Saudi Arabia"),
    (702, "SG", "Singapore"),
    (710, "ZA", "South Africa"),
    (724, "ES", "Spain"),
    (752, "SE", "Sweden"),
    (756, "CH", "Switzerland"),
    (784, "AE", "United Arab Emirates"),
    (826, "GB", "United Kingdom"),
    (840, "US", "United States"),
]

# (ISO 4217, symbol, name, decimals, value of one US dollar in it for the demo's price lists)
CURRENCIES = [
    ("EUR", "€", "Euro", 2, Decimal("0.92")),
    ("GBP", "£", "Pound Sterling", 2, Decimal("0.79")),
    ("JPY", "¥", "Japanese Yen", 0, Decimal(150)),
    ("KWD", "KD", "Kuwaiti Dinar", 3, Decimal("0.31")),
    ("USD", "$", "US Dollar", 2, Decimal(1)),
]
EXPONENT = {code: decimals for code, _, _, decimals, _ in CURRENCIES}
RATE = {code: rate for code, _, _, _, rate in CURRENCIES}

# (currency, display name, type, status)
GATEWAYS = [
    ("USD", "Stripe US", "stripe", "active"),
    ("USD", "Authorize.Net", "authorizeNet", "active"),
    ("USD", "Braintree (retired)", "braintree", "inactive"),
    ("EUR", "Adyen Europe", "adyen", "active"),
    ("EUR", "SEPA bank transfer", "bankTransfer", "active"),
    ("GBP", "Stripe UK", "stripe", "active"),
    ("GBP", "GoCardless Bacs", "goCardless", "active"),
    ("JPY", "Stripe Japan", "stripe", "active"),
    ("KWD", "KNET", "knet", "active"),
    ("KWD", "Checkout.com Kuwait", "checkout", "active"),
]

# (sku, name, description)
PRODUCTS = [
    ("PLT-CORE", "Core platform", "Hosted platform, all core modules"),
    ("SEAT-STD", "Standard user seats", "Named users with standard access"),
    ("SEAT-ADM", "Administrator seats", "Named users with administration rights"),
    ("API-REQ", "API requests", "Metered API usage, per 1,000 requests, graduated tiers"),
    ("STOR-GB", "Data storage", "Replicated object storage, per GB, volume-priced"),
    ("CMP-HRS", "Reserved compute", "Reserved compute hours, volume-priced"),
    ("SUP-PREM", "Premium support", "24/7 support with a one-hour response target"),
    ("SUP-CSM", "Dedicated success manager", "Named customer success manager"),
    ("SEC-SSO", "Single sign-on", "SAML and OIDC single sign-on"),
    ("SEC-AUD", "Audit log retention", "Seven-year audit log retention"),
    ("INT-DWH", "Data warehouse connector", "Managed sync to Snowflake, BigQuery or Redshift"),
    ("ENV-SBX", "Sandbox environment", "A full copy of production for testing"),
    ("ANL-DSH", "Analytics dashboards", "Shared analytics dashboards"),
    ("MSG-EML", "Transactional email", "Per 1,000 emails, graduated tiers"),
    ("MSG-SMS", "SMS notifications", "Per pack of 100 text messages"),
    ("FLD-LIC", "Field service licences", "Mobile licences for field technicians"),
    ("OPS-BKP", "Backup and recovery", "Daily backups with 35-day retention, per GB"),
]

# Monthly list prices in US cents. Tiers: (up_to, unit price in US cents).
FLAT = {
    "PLT-CORE": 49000,
    "SUP-PREM": 75000,
    "SUP-CSM": 120000,
    "SEC-SSO": 15000,
    "SEC-AUD": 9000,
    "INT-DWH": 30000,
    "ENV-SBX": 20000,
}
PER_UNIT = {"SEAT-STD": 2500, "SEAT-ADM": 4500, "ANL-DSH": 1200, "MSG-SMS": 450, "FLD-LIC": 3900}
TIERED = {
    "API-REQ": [(100, 200), (1000, 150), (None, 100)],
    "MSG-EML": [(50, 100), (500, 80), (None, 50)],
}
VOLUME = {
    "STOR-GB": [(100, 25), (1000, 20), (10000, 15), (None, 10)],
    "CMP-HRS": [(500, 90), (2000, 75), (None, 60)],
    "OPS-BKP": [(250, 10), (None, 7)],
}
UNITS = {
    "SEAT-STD": "seat",
    "SEAT-ADM": "seat",
    "ANL-DSH": "dashboard",
    "MSG-SMS": "pack",
    "FLD-LIC": "licence",
    "API-REQ": "1k requests",
    "MSG-EML": "1k emails",
    "STOR-GB": "GB",
    "CMP-HRS": "hour",
    "OPS-BKP": "GB",
}

# Plans: the products a contract carries, with the quantity range of each (None: flat fee).
PLANS = {
    "Starter plan": [("PLT-CORE", None), ("SEAT-STD", (5, 15))],
    "Growth plan": [
        ("PLT-CORE", None),
        ("SEAT-STD", (20, 80)),
        ("API-REQ", (50, 400)),
        ("SEC-SSO", None),
    ],
    "Enterprise agreement": [
        ("PLT-CORE", None),
        ("SEAT-STD", (150, 600)),
        ("SEAT-ADM", (5, 20)),
        ("STOR-GB", (500, 5000)),
        ("SUP-PREM", None),
        ("SEC-AUD", None),
    ],
    "Data platform": [
        ("INT-DWH", None),
        ("STOR-GB", (200, 8000)),
        ("CMP-HRS", (300, 3000)),
        ("API-REQ", (100, 1500)),
    ],
    "Support retainer": [("SUP-CSM", None), ("SUP-PREM", None)],
    "Field operations": [("FLD-LIC", (10, 120)), ("OPS-BKP", (100, 900))],
    "Analytics add-on": [("ANL-DSH", (5, 40)), ("MSG-EML", (20, 900))],
    "Messaging bundle": [("MSG-EML", (40, 1200)), ("MSG-SMS", (10, 200))],
    "Compute reservation": [("CMP-HRS", (400, 2500)), ("ENV-SBX", None)],
}

EURO = {"AT", "BE", "CH", "DE", "DK", "ES", "FI", "FR", "IE", "IT", "NL", "NO", "PT", "SE"}

# (name, contact, street, city, state, zip, country)
CUSTOMERS = [
    ("Contoso Pharmaceuticals Inc.", "Maya Patel", "410 Commerce Drive", "Princeton", "NJ",
     "08540", "US"),
    ("Copperleaf Foods Inc.", "Ethan Brooks", "1200 Market Street", "Philadelphia", "PA",
     "19107", "US"),
    ("Tailspin Aviation Services LLC", "Jordan Reyes", "88 Hangar Road", "Wichita", "KS",
     "67209", "US"),
    ("Redwood Clinical Labs Inc.", "Priya Raman", "2550 Sand Hill Road", "Menlo Park", "CA",
     "94025", "US"),
    ("Lakeshore Credit Union", "Amanda Cole", "311 W Wacker Drive", "Chicago", "IL", "60606",
     "US"),
    ("Granite Peak Outfitters", "Luke Harmon", "75 Main Street", "Bozeman", "MT", "59715",
     "US"),
    ("Bluebonnet Energy Partners", "Carlos Medina", "900 Louisiana Street", "Houston", "TX",
     "77002", "US"),
    ("Harborview Logistics Corp.", "Grace Kim", "1 Seaport Lane", "Boston", "MA", "02210",
     "US"),
    ("Maple Ridge Dental Group", "Olivia Tremblay", "155 Wellington Street W", "Toronto", "ON",
     "M5V 3H1", "CA"),
    ("Northwind Traders Ltd", "Dana Whitfield", "14 Harbour Road", "Bristol", "", "BS1 5TY",
     "GB"),
    ("Brightwater Clinics Ltd", "Hannah Price", "22 Queen Street", "Edinburgh", "", "EH2 1JX",
     "GB"),
    ("Fenwick & Hale Solicitors LLP", "Oliver Grant", "5 Chancery Lane", "London", "",
     "WC2A 1LG", "GB"),
    ("Pennine Engineering plc", "Samuel Ashworth", "Unit 4, Calder Park", "Wakefield", "",
     "WF2 7AW", "GB"),
    ("Thames Valley Housing Trust", "Amelia Clarke", "40 Station Road", "Reading", "",
     "RG1 1LX", "GB"),
    ("Albion Print Works Ltd", "George Elliott", "19 Deansgate", "Manchester", "", "M3 2BA",
     "GB"),
    ("Liffey Software Ltd", "Ciara Byrne", "7 Hanover Quay", "Dublin", "", "D02 XY83", "IE"),
    ("Harbour Lane Logistik GmbH", "Jonas Becker", "Am Sandtorkai 50", "Hamburg", "", "20457",
     "DE"),
    ("Helios Medizintechnik AG", "Lena Vogel", "Leopoldstraße 120", "München", "Bayern",
     "80802", "DE"),
    ("Rheinwerk Maschinenbau GmbH", "Felix Wagner", "Industriestraße 12", "Düsseldorf", "",
     "40227", "DE"),
    ("Atelier Lumière SAS", "Camille Laurent", "18 Rue de la Paix", "Paris", "", "75002", "FR"),
    ("Vignobles Durand SARL", "Antoine Durand", "3 Quai des Chartrons", "Bordeaux", "",
     "33000", "FR"),
    ("Kestrel Analytics BV", "Sanne de Vries", "Keizersgracht 210", "Amsterdam", "", "1016 DZ",
     "NL"),
    ("Atlas Freight NV", "Pieter Janssens", "Noorderlaan 147", "Antwerpen", "", "2030", "BE"),
    ("Iberia Solar SL", "Lucía Fernández", "Calle de Alcalá 95", "Madrid", "", "28009", "ES"),
    ("Officine Ferri SpA", "Marco Ferri", "Via Tortona 27", "Milano", "MI", "20144", "IT"),
    ("Donau Bau GmbH", "Katharina Huber", "Wagramer Straße 19", "Wien", "", "1220", "AT"),
    ("Kuusi Health Oy", "Aino Virtanen", "Mannerheimintie 12", "Helsinki", "", "00100", "FI"),
    ("Atlântico Seguros SA", "Inês Carvalho", "Avenida da Liberdade 110", "Lisboa", "",
     "1269-046", "PT"),
    ("Helvetia Präzision AG", "Luca Meier", "Bahnhofstrasse 45", "Zürich", "", "8001", "CH"),
    ("Nordlys Energi AB", "Erik Lindqvist", "Sveavägen 44", "Stockholm", "", "111 34", "SE"),
    ("Fjordline Seafood AS", "Ingrid Solberg", "Bryggen 9", "Bergen", "", "5003", "NO"),
    ("Havn Design ApS", "Mads Jensen", "Strandgade 27", "København", "", "1401", "DK"),
    ("Sakura Precision KK", "Haruto Sato", "2-7-1 Marunouchi, Chiyoda-ku", "Tokyo", "Tokyo",
     "100-0005", "JP"),
    ("Kobe Maritime Systems KK", "Yui Tanaka", "1-1 Higashikawasaki-cho, Chuo-ku", "Kobe",
     "Hyogo", "650-0044", "JP"),
    ("Hokuto Foods Co., Ltd.", "Ren Suzuki", "4-1 Kita 5-jo Nishi, Chuo-ku", "Sapporo",
     "Hokkaido", "060-0005", "JP"),
    ("Minato Creative Inc.", "Aoi Takahashi", "6-10-1 Roppongi, Minato-ku", "Tokyo", "Tokyo",
     "106-6108", "JP"),
    ("Gulf Crescent Trading Co. WLL", "Fahad Al-Sabah", "Al Hamra Tower, Floor 32, Sharq",
     "Kuwait City", "Capital", "13001", "KW"),
    ("Al Noor Medical Supplies", "Noura Al-Mutairi", "Salem Al Mubarak Street, Block 3",
     "Salmiya", "Hawalli", "22001", "KW"),
    ("Burgan Engineering Services", "Yousef Al-Ajmi", "Block 4, Street 10", "Ahmadi",
     "Al Ahmadi", "61001", "KW"),
    ("Tasman Agritech Pty Ltd", "Chloe Nguyen", "120 Collins Street", "Melbourne", "VIC",
     "3000", "AU"),
    ("Lion City Fintech Pte. Ltd.", "Wei Ling Tan", "8 Marina View", "Singapore", "", "018960",
     "SG"),
    ("Falcon Ridge Hospitality LLC", "Omar Haddad", "Emirates Towers, Sheikh Zayed Road",
     "Dubai", "Dubai", "00000", "AE"),
    ("Kiwi Orchard Exports Ltd", "Aroha Williams", "25 Customs Street East", "Auckland", "",
     "1010", "NZ"),
    ("Cape Horizon Tours (Pty) Ltd", "Thabo Nkosi", "1 Dock Road, V&A Waterfront", "Cape Town",
     "Western Cape", "8001", "ZA"),
    ("Mumbai Textile Mills Pvt. Ltd.", "Arjun Mehta", "221 Nariman Point", "Mumbai",
     "Maharashtra", "400021", "IN"),
]  # fmt: skip

# Numbers set aside for fiction where a country has them (555-01xx in North America, 020 7946 0xxx
# in London); the last three digits are added per customer.
PHONE_PREFIX = {
    "US": "+1 212 555 0",
    "CA": "+1 416 555 0",
    "GB": "+44 20 7946 0",
    "IE": "+353 1 555 0",
    "DE": "+49 40 5555 0",
    "FR": "+33 1 55 55 0",
    "NL": "+31 20 555 0",
    "BE": "+32 3 555 0",
    "ES": "+34 91 555 0",
    "IT": "+39 02 5555 0",
    "AT": "+43 1 555 0",
    "FI": "+358 9 555 0",
    "PT": "+351 21 555 0",
    "CH": "+41 44 555 0",
    "SE": "+46 8 555 0",
    "NO": "+47 55 55 0",
    "DK": "+45 33 55 0",
    "JP": "+81 3 5555 0",
    "KW": "+965 2555 0",
    "AU": "+61 3 5550 0",
    "SG": "+65 6555 0",
    "AE": "+971 4 555 0",
    "NZ": "+64 9 555 0",
    "ZA": "+27 21 555 0",
    "IN": "+91 22 5555 0",
}

CADENCES = ["P1M", "P1M", "P3M", "P1M", "P1Y", "P1M", "P6M", "P3M", "P1M", "P1Y", "P1M"]
ANCHORS = [1, 15, 28, 31]
ARCHETYPES = ["simple", "trial", "rise", "midterm change", "pause"]
CADENCE_MONTHS = {"P1M": 1, "P3M": 3, "P6M": 6, "P1Y": 12}
CONTRACTS_PER_CUSTOMER = 3


# --- helpers --------------------------------------------------------------------------------
def _slug(name: str) -> str:
    """A mail domain label from a company name: 'Atlântico Seguros SA' -> 'atlantico-seguros'."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    words = "".join(c if c.isalnum() else " " for c in plain).lower().split()
    return "-".join(words[:2])


def _phone(country: str, index: int) -> str:
    digits = (index * 37) % 100 + (100 if country in ("US", "CA") else 0)
    return f"{PHONE_PREFIX[country]}{digits:03d}"


def _add_months(day: date, months: int, anchor: int | None = None) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    wanted = anchor if anchor is not None else day.day
    return date(year, month, min(wanted, calendar.monthrange(year, month)[1]))


def _nice_minor(usd_cents: Decimal, currency: str) -> int:
    """A list price converted from US cents and rounded to a step a price list would use."""
    exp = EXPONENT[currency]
    major = usd_cents / 100 * RATE[currency]
    if major >= 1000:
        step = Decimal(10)
    elif major >= 100:
        step = Decimal(1)
    elif major >= 10:
        step = Decimal("0.5")
    elif major >= 1:
        step = Decimal("0.05")
    else:
        step = Decimal("0.01")
    step = max(step, Decimal(1).scaleb(-exp))
    rounded = (major / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step
    return int((rounded * Decimal(10) ** exp).to_integral_value(rounding=ROUND_HALF_UP))


def _cycle_factor(cadence: str) -> Decimal:
    """Price of a cycle in monthly list prices: yearly terms get two months free."""
    months = CADENCE_MONTHS[cadence]
    return Decimal(10) if months == 12 else Decimal(months)


@dataclass
class _Sync:
    """Create-or-update rows by primary key in bulk, touching only rows that differ."""

    model: type[models.Model]
    rows: list[dict]

    def run(self) -> None:
        if not self.rows:
            return
        existing = self.model.objects.in_bulk([row["id"] for row in self.rows])
        create, update, changed_fields = [], [], set()
        for row in self.rows:
            current = existing.get(row["id"])
            if current is None:
                create.append(self.model(**row))
                continue
            differs = [
                key
                for key, value in row.items()
                if key != "id" and getattr(current, _attname(self.model, key)) != _raw(value)
            ]
            if differs:
                for key in differs:
                    setattr(current, key, row[key])
                update.append(current)
                changed_fields.update(differs)
        if create:
            self.model.objects.bulk_create(create, batch_size=500)
        if update:
            self.model.objects.bulk_update(update, sorted(changed_fields), batch_size=500)


def _attname(model: type[models.Model], key: str) -> str:
    field = model._meta.get_field(key)
    return field.attname


def _raw(value):
    return value.pk if isinstance(value, models.Model) else value


# --- the seed -------------------------------------------------------------------------------
def seed_engine_demo() -> str:
    """Create or refresh the demo catalogue; returns a one-paragraph summary to print."""
    countries = _seed_countries()
    currencies, gateways = _seed_currencies_and_gateways()
    products = _seed_products()
    customers = _seed_customers(countries)
    contracts = _seed_contracts(customers, products)
    created, approved = _seed_approved_invoices(contracts)

    by_currency = Counter(contract.currency for contract in contracts)
    by_cadence = Counter(contract.cadence for contract in contracts)
    by_status = Counter(contract.status for contract in contracts)
    currencies_text = ", ".join(f"{code} {by_currency[code]}" for code in sorted(by_currency))
    cadence_text = ", ".join(f"{code} {by_cadence[code]}" for code in sorted(by_cadence))
    status_text = ", ".join(f"{name} {by_status[name]}" for name in sorted(by_status))
    return (
        f"Embedded engine: {len(customers)} customers, {len(contracts)} contracts "
        f"({currencies_text}; {cadence_text}; {status_text}) over {len(products)} products; "
        f"{approved} cycle invoices already approved ({created} new this run); "
        f"{len(currencies)} company currencies with {len(gateways)} gateways, "
        f"{PaymentMethod.objects.filter(customer__in=customers).count()} payment methods, "
        f"{len(countries)} countries. Dates are laid out around {REFERENCE:%B %Y}."
    )


def _seed_countries() -> dict[str, Country]:
    _Sync(Country, [{"id": pk, "alpha2": code, "name": name} for pk, code, name in COUNTRIES]).run()
    return {country.alpha2: country for country in Country.objects.filter(alpha2__in=_codes())}


def _codes() -> list[str]:
    return [code for _, code, _ in COUNTRIES]


def _seed_currencies_and_gateways() -> tuple[dict[str, CompanyCurrency], list[Gateway]]:
    currencies = {}
    for code, symbol, name, _, _ in CURRENCIES:
        currencies[code], _ = CompanyCurrency.objects.update_or_create(
            iso3=code, defaults={"symbol": symbol, "name": name}
        )
    gateways = []
    for code, display_name, kind, status in GATEWAYS:
        gateway, _ = Gateway.objects.update_or_create(
            currency=currencies[code],
            display_name=display_name,
            defaults={"type": kind, "status": status},
        )
        gateways.append(gateway)
    return currencies, gateways


def _seed_products() -> dict[str, Product]:
    rows = [
        {"id": demo_id("product", sku), "sku": sku, "name": name, "description": description}
        for sku, name, description in PRODUCTS
    ]
    _Sync(Product, rows).run()
    skus = [sku for sku, _, _ in PRODUCTS]
    return {product.sku: product for product in Product.objects.filter(sku__in=skus)}


def _seed_customers(countries: dict[str, Country]) -> list[Customer]:
    rows = []
    for index, (name, contact, street, city, state, zip_code, country) in enumerate(CUSTOMERS):
        slug = _slug(name)
        domain = f"{slug}.example.{'com' if index % 2 == 0 else 'org'}"
        mailbox = ("billing", "accounts.payable", "finance", "ap")[index % 4]
        rows.append(
            {
                "id": demo_id("customer", name),
                "account_number": 10001 + index,
                "name": name,
                "contact_name": contact,
                "email": f"{mailbox}@{domain}",
                "phone": _phone(country, index),
                "street1": street,
                "street2": "",
                "city": city,
                "state": state,
                "zip": zip_code,
                "country": country,
            }
        )
    _Sync(Customer, rows).run()
    customers = list(Customer.objects.filter(id__in=[row["id"] for row in rows]))
    customers.sort(key=lambda customer: customer.account_number)
    for index, customer in enumerate(customers):
        _seed_payment_methods(customer, index)
        _seed_addresses(customer, index, countries)
    return customers


def _seed_payment_methods(customer: Customer, index: int) -> None:
    rng = random.Random(f"payment:{customer.account_number}")
    methods = [("card", customer.contact_name, f"•••• {rng.randint(1000, 9999)}")]
    if customer.country == "US" or index % 3 == 0:
        methods.append(("ach", f"{customer.name} operating", f"•••• {rng.randint(1000, 9999)}"))
    for kind, account_name, number in methods:
        PaymentMethod.objects.update_or_create(
            customer=customer,
            masked_number=number,
            defaults={"type": kind, "account_name": account_name[:100]},
        )


def _seed_addresses(customer: Customer, index: int, countries: dict[str, Country]) -> None:
    entries = [
        {
            "contact_name": customer.contact_name,
            "street1": customer.street1,
            "street2": "",
            "city": customer.city,
            "state": customer.state,
            "zip": customer.zip,
            "type": AddressBookEntry.Type.COMMERCIAL,
            "contact_email": customer.email,
            "contact_phone": customer.phone,
            "contact_company": customer.name,
        }
    ]
    if index % 3 == 1:
        entries.append(
            {
                **entries[0],
                "street2": "Goods-in, loading bay 2",
                "contact_name": "Receiving desk",
                "contact_email": "",
            }
        )
    for entry in entries:
        AddressBookEntry.objects.update_or_create(
            customer=customer,
            contact_name=entry["contact_name"],
            street1=entry["street1"],
            street2=entry["street2"],
            defaults={**entry, "country": countries[customer.country]},
        )


@dataclass
class _Plan:
    contract: dict
    phases: list[dict]
    pricings: list[dict]


def _contract_plan(customer: Customer, number: int, index: int, products) -> _Plan:
    """One contract's rows, derived from its position only (same input, same contract)."""
    rng = random.Random(f"contract:{customer.account_number}:{number}")
    key = f"{customer.id}:{number}"
    cadence = CADENCES[index % len(CADENCES)]
    anchor = ANCHORS[(index // 2) % len(ANCHORS)]
    archetype = ARCHETYPES[index % len(ARCHETYPES)]

    currency = "USD"
    if customer.country == "GB":
        currency = "GBP"
    elif customer.country in EURO:
        currency = "EUR"
    elif customer.country == "JP":
        currency = "JPY"
    elif customer.country == "KW":
        currency = "KWD"
    if index % 7 == 3 and currency != "USD":
        currency = "USD"  # some customers buy in dollars too
    elif index % 11 == 5 and currency == "USD":
        currency = "EUR"

    first_anchor = _add_months(date(2025, 1, 1), rng.randint(0, 18), anchor)
    if rng.random() < 0.5:
        start = first_anchor  # starts on its anchor date
    else:
        start = first_anchor - timedelta(days=rng.randint(3, 12))  # mid-cycle: a short stub
    if archetype == "rise":
        start = min(start, date(2025, 9, 1))  # so the price rise lands inside 2026
    months = CADENCE_MONTHS[cadence]
    term = rng.random()
    end: date | None
    if term < 0.45:
        end = None
    elif term < 0.8:
        end = _add_months(first_anchor, months * max(1, 24 // months), anchor)  # fixed term
    else:
        # Ended (or ending) part-way through a cycle: a short last cycle.
        end = _add_months(first_anchor, rng.randint(4, 14), anchor) + timedelta(days=9)
    if end is not None and end <= start + timedelta(days=40):
        end = _add_months(start, 6)

    # Consecutive indexes get different plans, so a customer's three contracts differ.
    plan_name = sorted(PLANS)[(index * 4) % len(PLANS)]
    phases: list[dict] = []
    pricings: list[dict] = []

    def add_phase(name: str, kind: str, phase_start: date, phase_end: date | None) -> dict | None:
        if end is not None:
            if phase_start >= end:
                return None
            phase_end = end if phase_end is None else min(phase_end, end)
        if phase_end is not None and phase_end <= phase_start:
            return None
        row = {
            "id": demo_id("phase", key, len(phases)),
            "contract_id": demo_id("contract", key),
            "name": name,
            "phase_type": kind,
            "start_date": phase_start,
            "end_date": phase_end,
        }
        phases.append(row)
        return row

    quantities = {
        sku: (None if bounds is None else rng.randint(*bounds)) for sku, bounds in PLANS[plan_name]
    }

    def add_pricings(phase: dict, uplift: Decimal = Decimal(1), *, only=None, start=None, end=None):
        for sku, _ in PLANS[plan_name]:
            if only is not None and sku not in only:
                continue
            pricings.append(
                _pricing_row(
                    key=key,
                    phase=phase,
                    sku=sku,
                    product=products[sku],
                    currency=currency,
                    cadence=cadence,
                    quantity=quantities[sku],
                    uplift=uplift,
                    start=start or phase["start_date"],
                    end=end or phase["end_date"],
                    serial=len(pricings),
                )
            )

    if archetype == "simple":
        add_pricings(add_phase("Subscription", "active", start, None))
    elif archetype == "trial":
        trial_end = _add_months(start, 1)
        trial = add_phase("Free trial", "trial", start, trial_end)
        add_pricings(trial)
        active = add_phase("Subscription", "active", trial_end, None)
        if active:
            add_pricings(active)
    elif archetype == "rise":
        trial_end = _add_months(start, 1)
        rise = _add_months(trial_end, 12)
        add_pricings(add_phase("Pilot (free)", "trial", start, trial_end))
        year_one = add_phase("Year one", "active", trial_end, rise)
        if year_one:
            add_pricings(year_one)
        year_two = add_phase("Year two (list price +8%)", "active", rise, None)
        if year_two:
            add_pricings(year_two, Decimal("1.08"))
    elif archetype == "midterm change":
        # Seats (or the first metered product) change on a day inside a cycle: both pricings
        # are on that cycle's invoice, each prorated.
        phase = add_phase("Subscription", "active", start, None)
        change = _add_months(start, rng.randint(2, 8)) + timedelta(days=9)
        metered = [sku for sku, bounds in PLANS[plan_name] if bounds is not None]
        if metered and (end is None or change < end):
            target = metered[0]
            add_pricings(phase, only=[sku for sku, _ in PLANS[plan_name] if sku != target])
            add_pricings(phase, only=[target], end=change)
            quantities[target] = quantities[target] * 3 // 2 + 1  # the account grew by half
            add_pricings(phase, only=[target], start=change)
        else:
            add_pricings(phase)
    else:  # pause
        pause_start = _add_months(start, rng.randint(3, 9))
        pause_end = _add_months(pause_start, 2)
        add_pricings(add_phase("Subscription", "active", start, pause_start))
        add_phase("Seasonal pause", "pause", pause_start, pause_end)
        resumed = add_phase("Subscription (resumed)", "active", pause_end, None)
        if resumed:
            add_pricings(resumed)

    status = Contract.Status.ACTIVE
    if start > REFERENCE:
        status = Contract.Status.DRAFT
    elif end is not None and end <= REFERENCE:
        status = Contract.Status.EXPIRED
    elif any(
        row["phase_type"] == "pause"
        and row["start_date"] <= REFERENCE < (row["end_date"] or date.max)
        for row in phases
    ):
        status = Contract.Status.PAUSED
    elif index % 29 == 13:
        status = Contract.Status.DISPUTED

    short = customer.name.split(" (")[0]
    contract = {
        "id": demo_id("contract", key),
        "customer_id": customer.id,
        "name": f"{short}: {plan_name}",
        "status": status,
        "currency": currency,
        "start_date": start,
        "end_date": end,
        "cadence": cadence,
        "billing_cycle_start_day": anchor,
        "in_advance": index % 10 not in (2, 5, 9),
    }
    return _Plan(contract=contract, phases=phases, pricings=pricings)


def _pricing_row(
    *, key, phase, sku, product, currency, cadence, quantity, uplift, start, end, serial
) -> dict:
    factor = _cycle_factor(cadence) * uplift
    tiers: list = []
    if sku in FLAT:
        kind, amount, qty = "flat_fee", _nice_minor(FLAT[sku] * factor, currency), Decimal(1)
    elif sku in PER_UNIT:
        kind, amount, qty = "per_unit", _nice_minor(PER_UNIT[sku] * factor, currency), quantity
    else:
        kind = "tiered" if sku in TIERED else "volume"
        table = TIERED.get(sku) or VOLUME[sku]
        amount, qty = 0, quantity
        tiers = [
            {"up_to": up_to, "unit_amount_minor": _nice_minor(price * factor, currency)}
            for up_to, price in table
        ]
    return {
        "id": demo_id("pricing", key, serial),
        "phase_id": phase["id"],
        "product_id": product.id,
        "pricing_type": kind,
        "unit_amount_minor": amount,
        "quantity": Decimal(qty),
        "unit": UNITS.get(sku, ""),
        "tiers": tiers,
        "start_date": start,
        "end_date": end,
    }


def _seed_contracts(customers: list[Customer], products: dict[str, Product]) -> list[Contract]:
    plans = []
    for position, customer in enumerate(customers):
        for number in range(CONTRACTS_PER_CUSTOMER):
            index = position * CONTRACTS_PER_CUSTOMER + number
            plans.append(_contract_plan(customer, number, index, products))
    _Sync(Contract, [plan.contract for plan in plans]).run()
    contract_ids = [plan.contract["id"] for plan in plans]
    phase_rows = [row for plan in plans for row in plan.phases]
    pricing_rows = [row for plan in plans for row in plan.pricings]
    # What an earlier version of the demo defined and this one does not, goes.
    Pricing.objects.filter(phase__contract_id__in=contract_ids).exclude(
        id__in=[row["id"] for row in pricing_rows]
    ).delete()
    Phase.objects.filter(contract_id__in=contract_ids).exclude(
        id__in=[row["id"] for row in phase_rows]
    ).delete()
    _Sync(Phase, phase_rows).run()
    _Sync(Pricing, pricing_rows).run()
    order = {pk: position for position, pk in enumerate(contract_ids)}
    contracts = list(Contract.objects.filter(id__in=contract_ids))
    contracts.sort(key=lambda contract: order[contract.id])
    return contracts


def _seed_approved_invoices(contracts: list[Contract]) -> tuple[int, int]:
    """Approve the last few cycles billed before APPROVED_BEFORE on every third contract, as if
    an earlier billing run had done it. Cycles that already have an invoice (the demo's own from
    a previous run, or one made through the app) are left alone. They are numbered in the order
    they were approved, as the engine would have numbered them."""
    approved = 0
    owed = []
    for position, contract in enumerate(contracts):
        if position % 3 != 0 or contract.status == Contract.Status.DRAFT:
            continue
        cycles = [
            cycle
            for cycle in _cycles(contract, horizon=APPROVED_BEFORE)
            if cycle.bill_for.date() < APPROVED_BEFORE
        ][-3:]
        if not cycles:
            continue
        loaded = _load_contract(contract.id)
        taken = set(
            EngineInvoice.objects.filter(contract=contract).values_list("bill_for", flat=True)
        )
        for cycle in cycles:
            approved += 1
            if cycle.bill_for not in taken:
                issued = datetime.combine(cycle.bill_for.date(), time(9, 0), tzinfo=UTC)
                owed.append((issued, contract.id, contract, loaded, cycle))
    owed.sort(key=lambda item: item[:2])
    for issued, _, contract, loaded, cycle in owed:
        lines = _rate(loaded, cycle)
        approved_at = issued + timedelta(days=1, hours=2)
        with transaction.atomic():
            invoice = EngineInvoice(
                id=demo_id("invoice", contract.id, cycle.bill_for.date()),
                contract=contract,
                customer_id=contract.customer_id,
                period_start=cycle.start,
                period_end=cycle.end,
                bill_for=cycle.bill_for,
                billing_cycle_start_day=cycle.billing_cycle_start_day,
                status=EngineInvoice.Status.APPROVED,
                number=api.take(series="INV", year=approved_at.year),
                currency=contract.currency,
                total_minor=sum(line.amount_minor for line in lines),
                created_at=issued,
                generated_at=issued,
                approved_at=approved_at,
            )
            invoice.save(force_insert=True)
            api.write_lines(invoice, lines)
    return len(owed), approved
