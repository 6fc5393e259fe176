"""Recording and cancelling an absence (the only changes people make here; rules change in the
admin). Each is audited in the transaction of the change."""

from __future__ import annotations

from datetime import date

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from invoices.audit import audit_record
from invoices.services import NotAllowed, ServiceError

from .delegation import approves_in_own_right, forget_delegates
from .models import Absence

MAX_DAYS = 366


def _forget_now_and_on_commit() -> None:
    """Who stands in today is cached for a minute: forget it now, and again once committed (a
    request in between may have cached the old answer)."""
    forget_delegates()
    transaction.on_commit(forget_delegates)


def _overlapping(field: str, user, starts_on: date, ends_on: date):
    return Absence.objects.filter(
        Q(**{field: user}),
        cancelled_at__isnull=True,
        starts_on__lte=ends_on,
        ends_on__gte=starts_on,
    )


def absence_record(*, manager, delegate, starts_on: date, ends_on: date) -> Absence:
    """`manager` is away from `starts_on` to `ends_on` (both included); `delegate` stands in."""
    if not approves_in_own_right(manager):
        raise NotAllowed("Only a manager who approves invoices records an absence.")
    if delegate.pk == manager.pk:
        raise ServiceError("Choose someone else to stand in for you.")
    if not delegate.is_active:
        raise ServiceError(f"{delegate.get_username()} cannot sign in, so cannot stand in.")
    if ends_on < starts_on:
        raise ServiceError("The last day must be on or after the first day.")
    if ends_on < timezone.now().date():
        raise ServiceError("That absence is over already; record today's or a later one.")
    if (ends_on - starts_on).days >= MAX_DAYS:
        raise ServiceError(f"An absence lasts at most {MAX_DAYS} days; record a shorter one.")
    with transaction.atomic():
        # Lock both people's rows (in id order: two requests for the same pair cannot deadlock).
        # Every absence takes these two locks, so a request that could clash with this one (the
        # same manager, the same stand-in, or either of them in the other role) waits for it
        # and then sees what it recorded: two requests cannot both pass the checks below.
        list(
            get_user_model()
            .objects.select_for_update()
            .filter(pk__in=[manager.pk, delegate.pk])
            .order_by("pk")
        )
        clash = _overlapping("manager", manager, starts_on, ends_on).first()
        if clash is not None:
            raise ServiceError(
                f"You are already away from {clash.starts_on} to {clash.ends_on} "
                f"({clash.delegate.get_username()} stands in); that overlaps. Cancel it first "
                "or choose other days."
            )
        if _overlapping("manager", delegate, starts_on, ends_on).exists():
            raise ServiceError(
                f"{delegate.get_username()} is away themselves on some of those days."
            )
        covering = (
            _overlapping("delegate", delegate, starts_on, ends_on).select_related("manager").first()
        )
        if covering is not None:
            # A decision records one absent manager it was taken for: a stand-in for two at once
            # would leave the other's approval free for the next stage.
            raise ServiceError(
                f"{delegate.get_username()} already stands in for "
                f"{covering.manager.get_username()} from {covering.starts_on} to "
                f"{covering.ends_on}; one person stands in for one manager at a time. Choose "
                "someone else or other days."
            )
        if _overlapping("delegate", manager, starts_on, ends_on).exists():
            raise ServiceError(
                "You stand in for someone else on some of those days; a stand-in cannot hand "
                "on what they stand in for."
            )
        absence = Absence.objects.create(
            manager=manager, delegate=delegate, starts_on=starts_on, ends_on=ends_on
        )
        _forget_now_and_on_commit()
        audit_record(
            actor=manager,
            action="policy.absence_recorded",
            reason=f"{delegate.get_username()} for {manager.get_username()}",
            data={
                "absence": absence.pk,
                "delegate": delegate.get_username(),
                "from": starts_on.isoformat(),
                "to": ends_on.isoformat(),
            },
        )
    return absence


def absence_cancel(*, manager, absence_id: int) -> Absence:
    with transaction.atomic():
        absence = Absence.objects.select_for_update().filter(pk=absence_id).first()
        if absence is None or absence.manager_id != manager.pk:
            raise NotAllowed("Only the manager who recorded an absence can cancel it.")
        if absence.cancelled_at is not None:
            return absence
        if absence.ends_on < timezone.now().date():
            raise ServiceError("That absence is over; it stays on record.")
        absence.cancelled_at = timezone.now()
        absence.save(update_fields=["cancelled_at"])
        _forget_now_and_on_commit()
        audit_record(
            actor=manager,
            action="policy.absence_cancelled",
            data={"absence": absence.pk, "delegate": absence.delegate.get_username()},
        )
    return absence
