"""`seed_engine_demo`: the whole demo, in order, and the one-paragraph summary of it."""

from __future__ import annotations

from collections import Counter

from ..models import PaymentMethod
from .approvals import _seed_approved_invoices
from .catalogue import _seed_products
from .common import REFERENCE
from .contracts import _seed_contracts
from .customers import _seed_customers
from .reference import _seed_countries, _seed_currencies_and_gateways


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
