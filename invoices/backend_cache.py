"""Brief caching of what the billing backend lists, shared by every worker through Django's cache.

A contract's billing cycles and details are fetched once and reused for at most
BILLING_CYCLE_CACHE_SECONDS (≤ 60 s); "refresh from backend" and every submission fetch anew.
"""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from .backends import cycle_backend
from .backends.base import BillingCycle, Contract, NotFoundUpstream
from .backends.http import concurrently


@dataclass(frozen=True)
class Fetched:
    value: object
    fetched_at: datetime
    from_cache: bool


#: The longest contract id there is (Invoice.contract_id's column); a longer one, or one with
#: control characters, is not asked of the backend (nor made a cache key).
MAX_CONTRACT_ID = 64


def _key(kind: str, contract_id: str) -> str:
    if len(contract_id) > MAX_CONTRACT_ID or not contract_id.isprintable():
        raise NotFoundUpstream("No such contract: that is not a contract id.")
    return f"billing:{settings.BILLING_BACKEND}:{kind}:{contract_id}"


def _cached(kind: str, contract_id: str, fetch, refresh: bool) -> Fetched:
    key = _key(kind, contract_id)
    if not refresh:
        hit = cache.get(key)
        if hit is not None:
            value, fetched_at = hit
            return Fetched(value, fetched_at, True)
    value = fetch()
    fetched_at = timezone.now()
    cache.set(key, (value, fetched_at), settings.BILLING_CYCLE_CACHE_SECONDS)
    return Fetched(value, fetched_at, False)


def contract(contract_id: str, *, refresh: bool = False) -> tuple[Contract, Fetched]:
    fetched = _cached(
        "contract", contract_id, lambda: cycle_backend().get_contract(contract_id), refresh
    )
    return fetched.value, fetched


def billing_cycles(
    contract_id: str, *, refresh: bool = False
) -> tuple[tuple[BillingCycle, ...], Fetched]:
    fetched = _cached(
        "cycles", contract_id, lambda: cycle_backend().list_billing_cycles(contract_id), refresh
    )
    return fetched.value, fetched


def contract_and_cycles(
    contract_id: str, *, refresh: bool = False
) -> tuple[Contract, tuple[BillingCycle, ...], Fetched]:
    """A contract and its cycles. When both must be fetched from a remote backend, the two reads
    go out at the same time (one round trip of waiting instead of two)."""
    both_missing = refresh or (
        cache.get(_key("contract", contract_id)) is None
        and cache.get(_key("cycles", contract_id)) is None
    )
    if both_missing and getattr(cycle_backend(), "concurrent_reads", False):
        (contract_value, _), (cycles_value, fetched) = concurrently(
            lambda: contract(contract_id, refresh=True),
            lambda: billing_cycles(contract_id, refresh=True),
        )
        return contract_value, cycles_value, fetched
    contract_value, _ = contract(contract_id, refresh=refresh)
    cycles_value, fetched = billing_cycles(contract_id, refresh=refresh)
    return contract_value, cycles_value, fetched


def forget(contract_id: str) -> None:
    cache.delete_many([_key("contract", contract_id), _key("cycles", contract_id)])
