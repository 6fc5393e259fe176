"""Which approval rule applies to an invoice, and why (set as invoices.extensions.approval_policy,
called once when the invoice is submitted)."""

from __future__ import annotations

from invoices import money
from invoices.extensions import DEFAULT_POLICY, PolicyDecision

from .models import ApprovalRule


def reasons(rule: ApprovalRule, invoice) -> list[str] | None:
    """Why `rule` applies to `invoice` (one phrase per condition), or None if it does not."""
    why = []
    if rule.kind:
        if invoice.kind != rule.kind:
            return None
        why.append(f"its kind is {invoice.get_kind_display().lower()}")
    if rule.currency:
        if invoice.currency != rule.currency:
            return None
        why.append(f"it is in {rule.currency}")
    threshold = rule.threshold_minor()
    if threshold is not None:
        if invoice.total_minor < threshold:
            return None
        why.append(
            f"its total {money.format_money(invoice.total_minor, invoice.currency)} is at least "
            f"{money.format_money(threshold, rule.currency)}"
        )
    if rule.customer_id:
        if invoice.customer_id != rule.customer_id:
            return None
        why.append(f"its customer is {invoice.customer_name or rule.customer_id}")
    return why or ["the rule applies to every document"]


def decide(invoice) -> PolicyDecision:
    """The first active rule that matches, in order; one approval when none does."""
    for rule in ApprovalRule.objects.filter(active=True).order_by("order", "id"):
        why = reasons(rule, invoice)
        if why is not None:
            needs = "two approvals by different people" if rule.stages == 2 else "one approval"
            return PolicyDecision(
                stages=rule.stages,
                rule=f"Rule #{rule.order} “{rule.name}”",
                why=f"Applies because {' and '.join(why)}: {needs}.",
            )
    return DEFAULT_POLICY
