"""Claiming items with a lease, and the one place an item's state is written.

A worker claims an item by giving it a fresh lease token and expiry: on PostgreSQL the candidates
are read with `SELECT ... FOR UPDATE SKIP LOCKED`, so two workers claiming at the same moment take
different items without waiting for each other; on SQLite the transaction holds the write lock
and the UPDATE repeats the condition, so the claim is atomic there too. An item whose lease has
expired (its worker died or hung) is claimable again, by any worker or after the sweep put it
back. Every later write names the lease token: a worker that lost its lease changes nothing.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import F, Q
from django.db.models.expressions import Combinable
from django.utils import timezone

from .states import CLAIMED, PENDING, Step


def lease_length() -> timedelta:
    return timedelta(seconds=settings.BILLRUN_LEASE_SECONDS)


def claimable(now: datetime) -> Q:
    """Pending and due, or claimed with an expired lease."""
    due = Q(status=PENDING) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    expired = Q(status=CLAIMED, lease_expires_at__lt=now)
    return due | expired


def claim(queryset: models.QuerySet, *, limit: int = 1) -> list:
    """Claim up to `limit` of the claimable items of `queryset` (oldest first) for this worker.
    Returns them with their lease (`lease_token`); an empty list when none is claimable."""
    now = timezone.now()
    token = uuid.uuid4().hex
    model = queryset.model
    expires = now + lease_length()
    with transaction.atomic():
        candidates = queryset.filter(claimable(now)).order_by("pk")
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
        items = list(candidates[:limit])
        if not items:
            return []
        claimed = model.objects.filter(pk__in=[i.pk for i in items]).filter(claimable(now))
        updated = claimed.update(
            status=CLAIMED, lease_token=token, lease_expires_at=expires, claims=F("claims") + 1
        )
    if updated != len(items):  # (only where rows are not locked) another worker took some
        return list(model.objects.filter(lease_token=token, status=CLAIMED).order_by("pk"))
    for item in items:
        item.status, item.lease_token, item.lease_expires_at = CLAIMED, token, expires
        item.claims += 1
    return items


def extend(model, tokens: list[str]) -> int:
    """Renew the leases a live worker still holds (`tokens`), so that an item whose work takes
    longer than one lease (a slow backend) is not taken back from under it. A lease the sweep
    already took back (its token cleared) is not renewed."""
    if not tokens:
        return 0
    expires = timezone.now() + lease_length()
    return model.objects.filter(lease_token__in=tokens, status=CLAIMED).update(
        lease_expires_at=expires
    )


def move(item, steps: dict[str, Step], step: str, *, leased: bool = True, **fields) -> bool:
    """Move one item along `step` if it is still in a source state (and, for a leased step,
    still held under the lease this worker claimed it with). Returns whether it moved. A step
    out of `claimed` ends the lease."""
    rule = steps[step]
    query = Q(pk=item.pk, status__in=rule.sources)
    if leased:
        query &= Q(lease_token=item.lease_token)
    if CLAIMED in rule.sources:
        fields.setdefault("lease_token", "")
        fields.setdefault("lease_expires_at", None)
    moved = type(item).objects.filter(query).update(status=rule.target, **fields)
    if moved:
        item.status = rule.target
        for name, value in fields.items():
            if not isinstance(value, Combinable):
                setattr(item, name, value)
    return bool(moved)


def move_all(queryset: models.QuerySet, steps: dict[str, Step], step: str, **fields) -> int:
    """Move every item of `queryset` that is in a source state of `step`; how many moved."""
    rule = steps[step]
    return queryset.filter(status__in=rule.sources).update(status=rule.target, **fields)


def requeue_expired(queryset: models.QuerySet, steps: dict[str, Step]) -> int:
    """Put items whose lease expired back in the queue (their worker died or hung)."""
    now = timezone.now()
    return move_all(
        queryset.filter(status=CLAIMED, lease_expires_at__lt=now),
        steps,
        "requeue",
        lease_token="",
        lease_expires_at=None,
        next_attempt_at=now,
    )


def backoff(attempt: int, retry_after: float | None = None) -> timedelta:
    """How long to wait before attempt `attempt + 1`: what the backend asked for (Retry-After),
    or exponential from BILLRUN_BACKOFF_SECONDS up to BILLRUN_BACKOFF_MAX_SECONDS, jittered."""
    if retry_after is not None and retry_after >= 0:
        return timedelta(seconds=min(retry_after, 15 * 60))
    base = settings.BILLRUN_BACKOFF_SECONDS
    ceiling = min(settings.BILLRUN_BACKOFF_MAX_SECONDS, base * 2 ** max(0, attempt - 1))
    return timedelta(seconds=ceiling * random.uniform(0.5, 1.0))  # jitter, not a secret


def hold_all(items: models.QuerySet, item, retry_after: float | None) -> bool:
    """Whether an item's retryable failure should hold every item of its run (or batch), not
    only itself: the backend asked everyone to wait (Retry-After), or another item is already
    waiting after a failure. A blip holds nobody else; an outage or a rate limit holds all."""
    if retry_after is not None:
        return True
    waiting = items.filter(status=PENDING, attempts__gt=0, next_attempt_at__gt=timezone.now())
    return waiting.exclude(pk=item.pk).exists()
