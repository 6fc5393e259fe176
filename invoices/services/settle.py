"""What the backend says happened to an approval, and the step that records "not approved".

Shared by the manager's Retry (`decide`) and `manage.py reconcile` (`reconcile`): both ask
before they send anything. Corrections are asked about by `correct_upstream.ask`.
"""

from __future__ import annotations

from ..adhoc import adhoc_request_from_json
from ..backends import adhoc_backend, cycle_backend
from ..backends.base import NotFoundUpstream
from ..models import Invoice
from . import correct_upstream, records
from .outcome import Outcome


def ask_backend(invoice: Invoice) -> Outcome:
    if invoice.is_correction:
        return correct_upstream.ask(invoice)
    if invoice.kind == Invoice.Kind.CYCLE:
        try:
            draft = cycle_backend().get_draft(invoice.upstream_id)
        except NotFoundUpstream:
            return Outcome(
                gone=True,
                explanation="The backend no longer has this invoice's draft. Reject it so the "
                "clerk can submit the cycle again.",
            )
        if not draft.is_draft:
            return Outcome(draft.as_remote(recovered=True))
        return Outcome(
            explanation="The backend still holds it as a draft (not approved).", draft=draft
        )
    found = adhoc_backend().find_invoice(
        adhoc_request_from_json(invoice.adhoc_request), known=records.adhoc_ids_held(invoice)
    )
    if found is not None:
        return Outcome(found)
    return Outcome(explanation="The backend has no such invoice (it was not created).")


def back_to_pending(locked: Invoice, actor, explanation: str) -> None:
    """Not approved upstream: back to the approvals inbox, for a manager to decide again (the
    last stage's approval did not go through; earlier stages stand)."""
    records.forget_final_stage(locked)
    locked.decided_by = None
    locked.decided_at = None
    locked.failure_code = ""
    locked.failure_message = ""
    records.transition(
        locked,
        "settle.not_approved",
        actor=actor,
        reason=f"{explanation} Returned to the approvals inbox.",
        fields=("decided_by", "decided_at", "failure_code", "failure_message"),
    )
