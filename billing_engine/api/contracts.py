"""Contracts as the contract-cycle side reads them (Zenskar semantics): search, one contract
with its terms, and loading a contract with everything rating needs in a fixed number of
queries."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Prefetch

from billing_rules.rating import PhaseTerm, PricingTerm, Tier

from ..errors import InvalidState
from ..models import Contract, Customer, Phase, Pricing
from .values import ContractInfo, CustomerRef, PhaseRef, PricingRef, _by_uuid, _search_page


def search_contracts(
    *, query: str = "", offset: int = 0, limit: int = 20
) -> tuple[list[ContractInfo], int]:
    """Contracts whose name or customer's name contains `query` (any case), a page at a time,
    and how many there are."""
    rows, total = _search_page(
        Contract.objects.select_related("customer"),
        query=query,
        fields=("name", "customer__name"),
        offset=offset,
        limit=limit,
    )
    return [_contract_info(row, with_terms=False) for row in rows], total


def get_contract(contract_id: str) -> ContractInfo:
    return _contract_info(_load_contract(contract_id), with_terms=True)


def _customer_ref(customer: Customer) -> CustomerRef:
    return CustomerRef(id=str(customer.id), name=customer.name, email=customer.email)


def _contract_info(contract: Contract, *, with_terms: bool) -> ContractInfo:
    phases: tuple[PhaseTerm, ...] = ()
    phase_refs: tuple[PhaseRef, ...] = ()
    pricing_refs: tuple[PricingRef, ...] = ()
    if with_terms:
        phase_rows = list(contract.phases.all())
        try:
            phases = tuple(_phase_term(phase) for phase in phase_rows)
        except (ValueError, TypeError) as exc:
            raise InvalidState(
                f"Contract {contract.name!r} has terms that cannot be rated: {exc}"
            ) from exc
        phase_refs = tuple(PhaseRef(id=str(phase.id), name=phase.name) for phase in phase_rows)
        pricing_refs = tuple(
            PricingRef(id=str(p.id), product_id=str(p.product_id), unit=p.unit)
            for phase in phase_rows
            for p in phase.pricings.all()
        )
    return ContractInfo(
        id=str(contract.id),
        name=contract.name,
        status=contract.status,
        currency=contract.currency,
        customer=_customer_ref(contract.customer),
        start_date=contract.start_date,
        end_date=contract.end_date,
        cadence=contract.cadence,
        billing_cycle_start_day=contract.billing_cycle_start_day,
        in_advance=contract.in_advance,
        phases=phases,
        phase_refs=phase_refs,
        pricing_refs=pricing_refs,
    )


def _phase_term(phase: Phase) -> PhaseTerm:
    return PhaseTerm(
        phase_type=phase.phase_type,
        start=phase.start_date,
        end=phase.end_date,
        pricings=tuple(_pricing_term(pricing) for pricing in phase.pricings.all()),
    )


def _pricing_term(pricing: Pricing) -> PricingTerm:
    tiers = tuple(
        Tier(up_to=tier["up_to"], unit_amount_minor=Decimal(str(tier["unit_amount_minor"])))
        for tier in (pricing.tiers or [])
    )
    return PricingTerm(
        id=str(pricing.id),
        product_name=pricing.product.name,
        sku=pricing.product.sku,
        description=pricing.product.description,
        pricing_type=pricing.pricing_type,
        unit_amount_minor=Decimal(pricing.unit_amount_minor),
        quantity=Decimal(pricing.quantity),
        tiers=tiers,
        start=pricing.start_date,
        end=pricing.end_date,
    )


def _contracts_with_terms():
    pricings = Pricing.objects.select_related("product").order_by(
        "start_date", "product__name", "id"
    )
    phases = Phase.objects.order_by("start_date", "id").prefetch_related(
        Prefetch("pricings", queryset=pricings)
    )
    return Contract.objects.select_related("customer").prefetch_related(
        Prefetch("phases", queryset=phases)
    )


def _load_contract(contract_id: object, *, lock: bool = False) -> Contract:
    queryset = _contracts_with_terms()
    if lock:
        # Lock only the contract row: `of=("self",)` keeps PostgreSQL from locking the customer.
        queryset = queryset.select_for_update(of=("self",))
    return _by_uuid(queryset, contract_id, "contract")
