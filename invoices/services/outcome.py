"""What the backend says happened to a write a person approved (an approval, or a correction):
shared by the manager's Retry (`decide`) and `manage.py reconcile` (`reconcile`), which both
ask before they send anything."""

from __future__ import annotations

from dataclasses import dataclass

from ..backends.base import Draft, RemoteInvoice


@dataclass(frozen=True)
class Outcome:
    """Done (`remote`), impossible (`gone`, `refused`), half done (`partial`: a void whose credit
    note is made upstream and whose void is still to be sent), impossible to tell (`unclear`), or
    none of these: not done."""

    remote: RemoteInvoice | None = None
    gone: bool = False
    explanation: str = ""
    draft: Draft | None = None  # a cycle invoice's draft, still unapproved upstream
    partial: bool = False
    credit_found: bool = False  # (partial) the credit note was found by looking, not recorded
    refused: bool = False  # the backend will refuse it now (a paid invoice is not voided)
    unclear: bool = False
