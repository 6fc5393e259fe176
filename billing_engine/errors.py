"""How the embedded engine refuses. Named after the upstream's own failure modes so the adapter
can map them one-to-one onto the port's errors."""

from __future__ import annotations


class EngineError(Exception):
    """Base of every refusal; `message` is safe to show to a person."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(EngineError):
    """No such record (unknown or malformed id)."""


class CycleNotFound(EngineError):
    """No billing cycle of the contract has that bill-for date."""


class InvoiceAlreadyGeneratedForThisBillingPeriod(EngineError):
    """An approved invoice already exists for the cycle (the upstream's error name, verbatim)."""


class InvalidState(EngineError):
    """The record exists but its state forbids the operation (e.g. approving an approved
    invoice, deleting one, or rating terms that cannot be rated)."""


class ValidationFailed(EngineError):
    """The request is malformed; `field_errors` maps wire field names to messages."""

    def __init__(self, field_errors: dict[str, list[str]], message: str = ""):
        self.field_errors = {key: list(value) for key, value in field_errors.items()}
        summary = "; ".join(f"{key}: {', '.join(msgs)}" for key, msgs in self.field_errors.items())
        super().__init__(message or f"Invalid request ({summary})")


class InvoiceCannotBeVoided(EngineError):
    """A contract-cycle invoice whose balance is not zero (the upstream voids only once credit
    notes bring it to zero); the message carries the upstream's code `INVOICE_CANNOT_BE_VOIDED`."""


class InvoiceAlreadyPaid(EngineError):
    """An ad-hoc invoice that has been paid, fully or in part, can no longer be voided."""
