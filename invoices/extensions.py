"""Where the apps built on `invoices` (bill runs, documents, approval policies ...) plug in,
without `invoices` importing them (tests/test_layering.py).

- Panels: a section of the invoice page contributed by another app. Register one in your
  AppConfig.ready(): `extensions.invoice_page_panels.append(Panel(template=..., context=fn))`,
  where `fn(invoice, user)` returns the panel's context (a dict) or None to show nothing. The
  invoice page renders each panel's template with `panel` set to that dict, below the details.
  A panel costs the page its own queries: keep it to one or two, whatever the invoice.
- Signals, sent after the change has committed (receivers may enqueue tasks):
  `invoice_submitted(invoice_id)` and `invoice_approved(invoice_id)`.
- Approval policy: `approval_policy` decides, when an invoice is submitted, how many approval
  stages it needs and why (an app sets it in ready(); the default is one stage). `delegations`
  says whom a person stands in for while they are away (an app sets it; default: nobody). It
  is asked on every workflow check, several times a list row: the app keeps its answer for
  the request itself (approval policies cache it on the user object, as Django caches
  permissions).
- Audit actions: an app that writes its own audit events (`invoices.audit.audit_record`, inside
  the transaction of its change) lists their action names in `audit_actions` from its
  AppConfig.ready(), so the audit log's action filter offers them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.dispatch import Signal

invoice_submitted = Signal()  # kwargs: invoice_id
invoice_approved = Signal()  # kwargs: invoice_id


@dataclass(frozen=True)
class Panel:
    template: str
    context: Callable[..., dict | None]  # (invoice, user) -> context, or None: not shown
    order: int = 100  # lower first


invoice_page_panels: list[Panel] = []
#: Audit actions written by other apps (for the audit log's action filter).
audit_actions: list[str] = []


@dataclass(frozen=True)
class PolicyDecision:
    stages: int  # approvals needed before the invoice goes to the backend (1 or 2)
    rule: str = ""  # the rule that applied, as a person reads it
    why: str = ""  # why it applied to this invoice


DEFAULT_POLICY = PolicyDecision(1, "", "One manager's approval (no approval policy applies).")


def _one_stage(invoice) -> PolicyDecision:
    return DEFAULT_POLICY


def _nobody(user) -> tuple:
    return ()


#: (invoice about to be submitted) -> PolicyDecision. Replaced by the approval-policies app.
approval_policy: Callable[..., PolicyDecision] = _one_stage
#: (user) -> the users `user` stands in for right now. Replaced by the approval-policies app.
delegations: Callable[..., tuple] = _nobody


def acting_for(user) -> tuple:
    """The people `user` stands in for right now (empty for most people, most of the time)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return ()
    return tuple(delegations(user))


def panels_for(invoice, user) -> list[dict]:
    """The panels to show on `invoice`'s page for `user`, in order."""
    shown = []
    for panel in sorted(invoice_page_panels, key=lambda p: p.order):
        context = panel.context(invoice, user)
        if context is not None:
            shown.append({"template": panel.template, "context": context})
    return shown


def send_after_commit(signal: Signal, **kwargs) -> None:
    """Send `signal` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: signal.send(sender=None, **kwargs))
