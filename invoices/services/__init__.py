"""Every change of an invoice's status happens here, one module per group of actions:

- `submit`: clerks submit a contract cycle (claim → generate → read back → record);
  `submit_adhoc`: an ad-hoc invoice;
- `decide`: managers approve, retry or reject; the submitter withdraws;
- `corrections`: clerks ask for credit notes and voids of approved invoices (and the money
  rules that hold them); `correct_upstream`: their writes once approved, and reading them back;
- `reconcile` and `settle`: interrupted or failed backend writes settled by asking the backend;
- `records`: the one place a status is written, along `invoices.workflow`'s table;
- `errors`: the refusals, each with a sentence for the person who asked.

Pattern: `transaction.atomic()` → `select_for_update()` → check the action against the workflow
table → save → AuditEvent in the same transaction. Remote calls happen outside any transaction,
bracketed by an intent record committed before the call and a result record committed after it,
so a crash at any point leaves something `manage.py reconcile` can settle by asking the backend.
"""

from .corrections import CreditLine, Standing, invoice_request_correction, standing
from .decide import (
    ALREADY_INVOICED_MESSAGE,
    invoice_approve,
    invoice_cleanup_upstream,
    invoice_reject,
    invoice_retry,
    invoice_withdraw,
)
from .errors import (
    CorrectionRefused,
    CycleAlreadyInvoiced,
    DraftDrifted,
    InvalidTransition,
    NeedsConfirmation,
    NotAllowed,
    ServiceError,
    StaleCycle,
    StaleSnapshot,
    UpstreamFailed,
)
from .reconcile import ReconcileResult, invoice_reconcile, invoices_to_reconcile
from .records import live_invoice_for_cycle
from .submit import (
    SubmitResult,
    cycle_fingerprint,
    invoice_submit_cycle,
    needs_empty_confirmation,
)
from .submit_adhoc import invoice_submit_adhoc

__all__ = [
    "ALREADY_INVOICED_MESSAGE",
    "CorrectionRefused",
    "CreditLine",
    "CycleAlreadyInvoiced",
    "DraftDrifted",
    "InvalidTransition",
    "NeedsConfirmation",
    "NotAllowed",
    "ReconcileResult",
    "ServiceError",
    "StaleCycle",
    "StaleSnapshot",
    "Standing",
    "SubmitResult",
    "UpstreamFailed",
    "cycle_fingerprint",
    "invoice_approve",
    "invoice_cleanup_upstream",
    "invoice_reconcile",
    "invoice_reject",
    "invoice_request_correction",
    "invoice_retry",
    "invoice_submit_adhoc",
    "invoice_submit_cycle",
    "invoice_withdraw",
    "invoices_to_reconcile",
    "live_invoice_for_cycle",
    "needs_empty_confirmation",
    "standing",
]
