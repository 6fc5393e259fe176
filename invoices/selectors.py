"""Read queries for pages. Each returns what a template needs in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Min, Q

from . import roles
from .backends.base import BillingCycle, Contract
from .forms import ApproveForm, RejectForm
from .models import AuditEvent, Invoice
from .snapshots import diff_lines

S = Invoice.Status


# --- clerk flow: cycles with their local state ----------------------------------------------
@dataclass(frozen=True)
class CycleRow:
    cycle: BillingCycle
    state: str  # not_invoiced | a status of the latest local invoice for the cycle
    state_label: str
    live: Invoice | None  # the live invoice holding the cycle, if any
    latest: Invoice | None


def cycle_rows(*, backend: str, contract: Contract, cycles) -> list[CycleRow]:
    """Every fetched cycle, as fetched, with its local state (one query for all of them)."""
    local = (
        Invoice.objects.filter(
            kind=Invoice.Kind.CYCLE,
            backend=backend,
            contract_id=contract.id,
            customer_id=contract.customer.id,
        )
        .only("id", "status", "bill_for", "cycle_bill_for_date", "version", "decision_reason")
        .order_by("bill_for", "id")
    )
    latest: dict[str, Invoice] = {}
    live: dict[str, Invoice] = {}
    for invoice in local:
        key = invoice.cycle_bill_for_date
        latest[key] = invoice
        if invoice.is_live:
            live[key] = invoice
    rows = []
    for cycle in cycles:
        holder = live.get(cycle.bill_for_date) or _same_instant(live, cycle)
        last = latest.get(cycle.bill_for_date) or _same_instant(latest, cycle)
        shown = holder or last
        if shown is None:
            state, label = "not_invoiced", "Not invoiced"
        else:
            state, label = shown.status, shown.get_status_display()
        rows.append(CycleRow(cycle, state, label, holder, last))
    return rows


def _same_instant(invoices: dict[str, Invoice], cycle: BillingCycle) -> Invoice | None:
    """Match by instant when the backend now spells the same bill-for date differently."""
    for invoice in invoices.values():
        if invoice.bill_for == cycle.bill_for:
            return invoice
    return None


# --- clerk: my invoices ---------------------------------------------------------------------
def my_invoices(user, *, limit: int = 100) -> dict:
    mine = Invoice.objects.filter(submitted_by=user).select_related("decided_by")
    needs_changes = list(
        mine.filter(status=S.REJECTED, next_version__isnull=True).order_by("-decided_at")[:limit]
    )
    recent = list(mine.order_by("-submitted_at", "-id")[:limit])
    return {"needs_changes": needs_changes, "invoices": recent, "limit": limit}


# --- manager: inbox -------------------------------------------------------------------------
def approval_inbox(user, *, limit: int = 200) -> list[Invoice]:
    """Pending invoices, oldest first (the user's own are shown but cannot be approved)."""
    return list(
        Invoice.objects.filter(status__in=(S.PENDING, S.FAILED, S.APPROVING))
        .select_related("submitted_by")
        .order_by("submitted_at", "id")[:limit]
    )


# --- invoice page ---------------------------------------------------------------------------
def invoice_for_page(pk: int) -> Invoice | None:
    return (
        Invoice.objects.select_related("submitted_by", "decided_by", "previous")
        .filter(pk=pk)
        .first()
    )


def invoice_page(invoice: Invoice, user) -> dict:
    versions = list(
        Invoice.objects.filter(lineage=invoice.lineage)
        .select_related("submitted_by", "decided_by")
        .order_by("version")
    )
    by_version = {v.version: v for v in versions}
    changes_since_previous = None
    prior = by_version.get(invoice.version - 1)
    if prior is not None:
        changes_since_previous = diff_lines(prior.lines, invoice.lines)
    events = list(
        AuditEvent.objects.filter(invoice__lineage=invoice.lineage)
        .select_related("invoice")
        .order_by("seq")
    )
    is_submitter = invoice.submitted_by_id == user.pk
    can_decide = user.has_perm(roles.APPROVE) and not is_submitter
    return {
        "invoice": invoice,
        "versions": versions,
        "changes_since_previous": changes_since_previous,
        "prior": prior,
        "events": events,
        "is_submitter": is_submitter,
        "can_approve": can_decide and invoice.status == S.PENDING,
        "can_retry": can_decide
        and invoice.status == S.FAILED
        and invoice.failure_code != "already_invoiced",
        "can_reject": can_decide and invoice.status in (S.PENDING, S.FAILED),
        "can_withdraw": is_submitter
        and invoice.status in (S.PENDING, S.FAILED)
        and invoice.failure_code != "outcome_unknown",
        "can_revise": user.has_perm(roles.SUBMIT)
        and invoice.status == S.REJECTED
        and not any(v.previous_id == invoice.pk for v in versions),
        "own_submission_notice": user.has_perm(roles.APPROVE)
        and is_submitter
        and invoice.status == S.PENDING,
        "approve_form": ApproveForm(initial={"content_hash": invoice.content_hash}),
        "reject_form": RejectForm(),
    }


# --- home -----------------------------------------------------------------------------------
def home_dashboard(user) -> dict:
    counts = dict(
        Invoice.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    status_counts = [(value, label, counts.get(value, 0)) for value, label in S.choices]
    context: dict = {"status_counts": status_counts}
    pending = Invoice.objects.filter(status=S.PENDING)
    if user.has_perm(roles.APPROVE):
        context["waiting_for_me"] = pending.exclude(submitted_by=user).count()
        context["oldest_pending"] = (
            pending.exclude(submitted_by=user)
            .select_related("submitted_by")
            .order_by("submitted_at", "id")
            .first()
        )
        context["failed_count"] = counts.get(S.FAILED, 0)
    if user.has_perm(roles.SUBMIT):
        mine = Invoice.objects.filter(submitted_by=user)
        context["sent_back"] = list(
            mine.filter(status=S.REJECTED, next_version__isnull=True)
            .select_related("decided_by")
            .order_by("-decided_at")[:10]
        )
        context["my_pending"] = mine.filter(status=S.PENDING).count()
    oldest = pending.aggregate(oldest=Min("submitted_at"))["oldest"]
    context["oldest_pending_at"] = oldest
    context["is_clerk"] = user.has_perm(roles.SUBMIT)
    context["is_manager"] = user.has_perm(roles.APPROVE)
    context["is_auditor"] = user.has_perm(roles.AUDIT)
    context["sent_back_total"] = Invoice.objects.filter(
        Q(status=S.REJECTED) & Q(next_version__isnull=True)
    ).count()
    return context
