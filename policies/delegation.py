"""Standing in for an absent manager: during an absence the delegate may see and decide that
manager's approvals (an authentication backend grants the rights), and the decision is audited
as "delegate for manager" (set as invoices.extensions.delegations)."""

from __future__ import annotations

from datetime import date

from django.contrib.auth.backends import BaseBackend
from django.core.cache import cache
from django.utils import timezone

from billing_admin.auth import RolesBackend
from invoices import roles

from .models import Absence

#: What a delegate may do while standing in: read invoices and decide approvals.
DELEGATED = frozenset({roles.APPROVE, roles.HISTORY})
_model_backend = RolesBackend()


def _today() -> date:
    return timezone.now().date()


def approves_in_own_right(user) -> bool:
    """Whether `user`'s own role lets them approve (their groups and permissions, a superuser),
    whatever they stand in for: the model backend alone, never DelegationBackend. Cached on
    the user object with their permissions."""
    return _model_backend.has_perm(user, roles.APPROVE)


def current_absences(user, *, today: date | None = None):
    """The absences `user` stands in for today. Filtered by primary key: the history page asks
    the workflow with a wrapper around the user (invoices.selectors.lists._PagePermissions),
    which a filter on the user object itself refuses."""
    today = today or _today()
    return Absence.objects.filter(
        delegate_id=user.pk, cancelled_at__isnull=True, starts_on__lte=today, ends_on__gte=today
    ).select_related("manager")


DELEGATES_CACHE_KEY = "policies:delegates-today"
DELEGATES_CACHE_SECONDS = 60


def delegates_today() -> frozenset[int]:
    """Ids of everyone standing in for someone today: shared through the cache for a minute (and
    forgotten whenever an absence is recorded or cancelled), so that asking "may this person
    approve?" costs no query for everybody else, on every page."""
    today = _today()
    cached = cache.get(DELEGATES_CACHE_KEY)
    if cached is not None and cached[0] == today:
        return cached[1]
    ids = frozenset(
        Absence.objects.filter(
            cancelled_at__isnull=True, starts_on__lte=today, ends_on__gte=today
        ).values_list("delegate_id", flat=True)
    )
    cache.set(DELEGATES_CACHE_KEY, (today, ids), DELEGATES_CACHE_SECONDS)
    return ids


def forget_delegates() -> None:
    cache.delete(DELEGATES_CACHE_KEY)


def standing_in_for(user) -> tuple:
    """The absent managers `user` stands in for today (whose own role lets them approve).
    Cached on the user object for its request, like Django's permission cache."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return ()
    cached = getattr(user, "_standing_in_cache", None)
    if cached is not None:
        return cached
    if user.pk not in delegates_today():
        cached = ()
    else:
        cached = tuple(
            absence.manager
            for absence in current_absences(user)
            if absence.manager.is_active and approves_in_own_right(absence.manager)
        )
    user._standing_in_cache = cached
    return cached


def acting_for(user) -> tuple:
    """Whom a decision by `user` is made for: the managers they stand in for, when their right
    to decide comes only from standing in (a manager deciding in their own right acts for no
    one). invoices.extensions asks it on every workflow check and keeps no copy: after the
    first call it costs no query (standing_in_for and the permissions are cached on the user)."""
    principals = standing_in_for(user)
    if not principals or approves_in_own_right(user):
        return ()
    return principals


class DelegationBackend(BaseBackend):
    """Grants a delegate what the absent manager's approvals need, while the absence lasts."""

    def has_perm(self, user_obj, perm, obj=None):
        return perm in DELEGATED and bool(standing_in_for(user_obj))
