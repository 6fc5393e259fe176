"""Read queries for pages. Each returns what a template needs in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.db.models import Count, Min
from django.utils import timezone

from . import roles
from .backends.base import BillingCycle, Contract
from .forms import ApproveForm, RejectForm
from .models import AuditEvent, Invoice
from .snapshots import diff_lines

S = Invoice.Status
# Lists never show the line snapshot or the ad-hoc request: leave those big columns behind.
LIST_DEFERRED = ("lines", "adhoc_request")


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
    mine = (
        Invoice.objects.filter(submitted_by=user).select_related("decided_by").defer(*LIST_DEFERRED)
    )
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
        .defer(*LIST_DEFERRED)
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
        "can_reject": can_decide
        and invoice.status in (S.PENDING, S.FAILED)
        and not invoice.approval_outcome_unknown,
        "can_withdraw": is_submitter
        and invoice.status in (S.PENDING, S.FAILED)
        and not invoice.approval_outcome_unknown,
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
STATUS_COUNTS_SECONDS = 30


def _status_counts() -> tuple[dict[str, int], datetime]:
    """Invoices by status (and "sent back", rejected and not yet revised). Counting a million
    rows takes a few hundred milliseconds, so the figures are shared by everyone for half a
    minute (the page says when they were counted)."""

    def count():
        rows = Invoice.objects.values_list("status").annotate(n=Count("id"))
        counts = dict(rows.values_list("status", "n"))
        counts["sent_back"] = Invoice.objects.filter(
            status=S.REJECTED, next_version__isnull=True
        ).count()
        return counts, timezone.now()

    return cache.get_or_set("home:status-counts", count, STATUS_COUNTS_SECONDS)


def home_dashboard(user) -> dict:
    counts, counted_at = _status_counts()
    status_counts = [(value, label, counts.get(value, 0)) for value, label in S.choices]
    context: dict = {"status_counts": status_counts, "counted_at": counted_at}
    pending = Invoice.objects.filter(status=S.PENDING)
    if user.has_perm(roles.APPROVE):
        context["waiting_for_me"] = pending.exclude(submitted_by=user).count()
        context["oldest_pending"] = (
            pending.exclude(submitted_by=user)
            .select_related("submitted_by")
            .order_by("submitted_at", "id")
            .first()
        )
        context["failed_count"] = Invoice.objects.filter(status=S.FAILED).count()
    if user.has_perm(roles.SUBMIT):
        mine = Invoice.objects.filter(submitted_by=user).defer(*LIST_DEFERRED)
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
    context["sent_back_total"] = counts["sent_back"]
    return context
