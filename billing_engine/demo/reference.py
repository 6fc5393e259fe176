"""Reference data for ad-hoc invoicing: countries, company currencies and their gateways."""

from __future__ import annotations

from decimal import Decimal

from ..models import CompanyCurrency, Country, Gateway
from .common import _Sync

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
