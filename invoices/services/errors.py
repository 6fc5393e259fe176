"""The refusals services raise, each with a sentence for the person who asked."""

from __future__ import annotations

from ..backends.base import BillingCycle
from ..snapshots import LineChange
from ..workflow import Refusal


class ServiceError(Exception):
    """A refusal with a sentence for the person who asked."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotAllowed(ServiceError):
    """This person may never do this (their role, or four eyes)."""


class InvalidTransition(ServiceError):
    """The invoice's state does not allow it (now)."""


def refused(refusal: Refusal) -> ServiceError:
    """The error for a refusal of `invoices.workflow`."""
    cls = NotAllowed if refusal.not_allowed else InvalidTransition
    return cls(refusal.message)


class StaleCycle(ServiceError):
    """The chosen cycle is no longer in the backend's list exactly as shown."""

    def __init__(self, message: str, fresh_cycles: tuple[BillingCycle, ...]):
        super().__init__(message)
        self.fresh_cycles = fresh_cycles


class CycleAlreadyInvoiced(ServiceError):
    """`invoice`: the live local invoice holding the cycle (None if it let go meanwhile);
    `upstream`: the backend itself already has an approved invoice for the period."""

    def __init__(self, message: str, invoice=None, *, upstream: bool = False):
        super().__init__(message)
        self.invoice = invoice
        self.upstream = upstream


class NeedsConfirmation(ServiceError):
    """A zero total or an invoice without lines: submit again with the confirmation ticked."""


class StaleSnapshot(ServiceError):
    """The invoice changed after the manager opened it."""


class DraftDrifted(ServiceError):
    def __init__(self, message: str, changes: list[LineChange]):
        super().__init__(message)
        self.changes = changes


class UpstreamFailed(ServiceError):
    """The backend call failed; the invoice is now `failed` (or unchanged) and says why."""

    def __init__(self, message: str, invoice=None):
        super().__init__(message)
        self.invoice = invoice


class CorrectionRefused(ServiceError):
    """A correction that cannot be asked for or applied as it is (more than is left, nothing to
    correct, another correction in the way); nothing was changed."""
