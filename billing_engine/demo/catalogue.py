"""The product catalogue and its price lists: monthly list prices in US cents, converted to each
currency and rounded as a price list would be, and priced per cycle of a cadence."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from ..models import Product
from .common import _Sync, demo_id
from .reference import EXPONENT, RATE

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

CADENCE_MONTHS = {"P1M": 1, "P3M": 3, "P6M": 6, "P1Y": 12}


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


def _seed_products() -> dict[str, Product]:
    rows = [
        {"id": demo_id("product", sku), "sku": sku, "name": name, "description": description}
        for sku, name, description in PRODUCTS
    ]
    _Sync(Product, rows).run()
    skus = [sku for sku, _, _ in PRODUCTS]
    return {product.sku: product for product in Product.objects.filter(sku__in=skus)}
