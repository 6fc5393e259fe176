"""Read queries for pages. Each returns what a template needs in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Count, Exists, Min, OuterRef, QuerySet
from django.utils import timezone

from . import extensions, money, roles, services, workflow
from .adhoc import adhoc_changes, adhoc_facts
from .backends.base import BillingCycle, Contract
from .forms import ApproveForm, AuditFilterForm, HistoryFilterForm, RejectForm
from .keyset import PAGE_SIZE, keyset_page
from .models import AuditEvent, Invoice, StageApproval
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
    """Pending invoices, oldest first (the user's own are shown but cannot be approved). An
    ad-hoc invoice carries `adhoc_facts`: everything its approval sends besides the lines."""
    invoices = list(
        Invoice.objects.filter(status__in=workflow.INBOX_STATUSES)
        .select_related("submitted_by")
        .prefetch_related("stage_approvals")
        .defer("lines")
        .order_by("submitted_at", "id")[:limit]
    )
    for invoice in invoices:
        invoice.adhoc_facts = adhoc_facts(invoice.adhoc_request)
    return invoices


# --- invoice page ---------------------------------------------------------------------------
def invoice_for_page(pk: int) -> Invoice | None:
    return (
        Invoice.objects.select_related("submitted_by", "decided_by", "previous", "corrects")
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
    field_changes: list[str] = []
    prior = by_version.get(invoice.version - 1)
    if prior is not None:
        changes_since_previous = diff_lines(prior.lines, invoice.lines)
        field_changes = adhoc_changes(prior.adhoc_request, invoice.adhoc_request)
    events = list(
        AuditEvent.objects.filter(invoice__lineage=invoice.lineage)
        .select_related("invoice")
        .order_by("seq")
    )
    is_submitter = invoice.submitted_by_id == user.pk
    invoice.has_next_version = any(v.previous_id == invoice.pk for v in versions)
    stages = list(
        StageApproval.objects.filter(invoice=invoice).select_related("approver", "on_behalf_of")
    )
    invoice._prefetched_objects_cache = {
        **getattr(invoice, "_prefetched_objects_cache", {}),
        "stage_approvals": stages,
    }
    actions = workflow.allowed_actions(invoice, user)
    return {
        "invoice": invoice,
        "versions": versions,
        "changes_since_previous": changes_since_previous,
        "field_changes": field_changes,
        "adhoc_facts": adhoc_facts(invoice.adhoc_request),
        "prior": prior,
        "events": events,
        "is_submitter": is_submitter,
        "actions": actions,
        # A manager looking at their own pending submission is told why nothing is offered.
        "own_submission_notice": user.has_perm(roles.APPROVE)
        and is_submitter
        and invoice.status in workflow.ACTIONS["approve"].sources,
        "approve_form": ApproveForm(initial={"content_hash": invoice.content_hash}),
        "reject_form": RejectForm(),
        "panels": extensions.panels_for(invoice, user),
        "correction": correction_context(invoice),
        "stage_approvals": stages,
        "standing_in_for": workflow.speaks_for(user)[1:],
    }


def correction_context(invoice: Invoice) -> dict | None:
    """A correction's page: what it corrects and what approval sends. An invoice's page: its
    corrections and balance (one query either way)."""
    if invoice.is_correction:
        original = invoice.corrects
        return {
            "original": original,
            "standing": services.standing(original),
            "sends": upstream_effect(invoice, original),
        }
    if invoice.status in (S.APPROVED, S.VOIDED):
        return {"standing": services.standing(invoice)}
    return None


def upstream_effect(correction: Invoice, original: Invoice) -> str:
    """What approving a correction writes to the billing backend, in a sentence."""
    amount = money.format_money(correction.total_minor, correction.currency)
    target = f"invoice {original.upstream_number or original.upstream_id}"
    if correction.kind == Invoice.Kind.CREDIT_NOTE:
        return f"A credit note of {amount} on {target}."
    if original.kind == Invoice.Kind.ADHOC:
        return f"A void of {target} (irreversible; refused by the backend once it is paid)."
    void = f"a void of {target}, which frees its billing cycle for a new invoice"
    if correction.total_minor:
        return f"A credit note of {amount} (what is left of it), then {void}."
    return f"{void[0].upper()}{void[1:]}."


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


WAITING_SHOWN = 10


def waiting_on(user):
    """Pending invoices `user` may approve now, oldest first: not their own or those of whom
    they stand in for, and not those of which they (or whom they stand in for) approved an
    earlier stage (the same rules as workflow.ACTIONS["approve"], as one query)."""
    people = [p.pk for p in workflow.speaks_for(user)]
    return (
        Invoice.objects.filter(status__in=workflow.ACTIONS["approve"].sources)
        .exclude(submitted_by__in=people)
        .exclude(stage_approvals__approver__in=people)
        .exclude(stage_approvals__on_behalf_of__in=people)
        .order_by("submitted_at", "id")
    )


def _with_age(invoices) -> list[Invoice]:
    """Each invoice with how long it has waited, and whether reminders and escalation are due."""
    now = timezone.now()
    remind = timedelta(hours=settings.APPROVAL_REMIND_AFTER_HOURS)
    escalate = timedelta(hours=settings.APPROVAL_ESCALATE_AFTER_HOURS)
    rows = list(invoices)
    for invoice in rows:
        waited = now - invoice.submitted_at
        invoice.waited_hours = int(waited.total_seconds() // 3600)
        invoice.overdue = (
            "escalated" if waited >= escalate else "reminded" if waited >= remind else ""
        )
    return rows


def home_dashboard(user) -> dict:
    counts, counted_at = _status_counts()
    status_counts = [(value, label, counts.get(value, 0)) for value, label in S.choices]
    context: dict = {"status_counts": status_counts, "counted_at": counted_at}
    pending = Invoice.objects.filter(status=S.PENDING)
    if user.has_perm(roles.APPROVE):
        mine = waiting_on(user)
        context["waiting_for_me"] = mine.count()
        context["waiting_items"] = _with_age(
            mine.select_related("submitted_by").defer(*LIST_DEFERRED)[:WAITING_SHOWN]
        )
        context["remind_after_hours"] = settings.APPROVAL_REMIND_AFTER_HOURS
        context["escalate_after_hours"] = settings.APPROVAL_ESCALATE_AFTER_HOURS
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


# --- history and audit log (keyset pages, see invoices.keyset) ----------------------------------
def user_choices() -> list[tuple[int, str]]:
    """(id, username) of every account, for the submitter / approver / actor selects."""
    return list(get_user_model().objects.order_by("username").values_list("pk", "username"))


def history_queryset(user=None) -> QuerySet:
    """Every local invoice with what a history row shows (the line snapshots stay behind)."""
    queryset = Invoice.objects.select_related("submitted_by", "decided_by").defer(
        "lines", "adhoc_request", "failure_message"
    )
    # For the row's actions (workflow.allowed_actions): "revise" and "reissue" need to know of a
    # newer version, "correct" of a void in progress.
    return queryset.annotate(
        has_next_version=Exists(Invoice.objects.filter(previous_id=OuterRef("pk"))),
        has_live_void=Exists(
            Invoice.objects.filter(
                corrects_id=OuterRef("pk"),
                kind=Invoice.Kind.VOID,
                status__in=workflow.LIVE_STATUSES,
            )
        ),
    )


def history_page(form: HistoryFilterForm, *, user, after: str = "", before: str = "", size=None):
    page = keyset_page(
        form.filter(history_queryset(user)),
        time_field="submitted_at",
        id_field="id",
        after=after,
        before=before,
        size=size or PAGE_SIZE,
        avoid_time_index=form.avoid_time_index,
    )
    for invoice in page.rows:
        invoice.actions = workflow.allowed_actions(invoice, user)
    return page


def audit_page(form: AuditFilterForm, *, after: str = "", before: str = "", size=None):
    return keyset_page(
        form.filter(AuditEvent.objects.all()),
        time_field="at",
        id_field="seq",
        after=after,
        before=before,
        size=size or PAGE_SIZE,
    )


# --- contract coverage -----------------------------------------------------------------------
#: A due cycle is a gap when nothing live holds it: never invoiced, or only closed invoices.
GAP_STATES = frozenset({"not_invoiced", *workflow.CLOSED_STATUSES})


@dataclass(frozen=True)
class CoverageRow:
    row: CycleRow
    due: bool  # the bill-for date is in the past
    gap: bool  # due, and nothing live holds it (never invoiced, or only rejected/withdrawn)

    @property
    def cycle(self) -> BillingCycle:
        return self.row.cycle


@dataclass(frozen=True)
class Coverage:
    rows: list[CoverageRow]
    counts: dict[str, int]
    gaps: int


def coverage(*, backend: str, contract: Contract, cycles, now: datetime | None = None):
    """Every fetched cycle with its local state; due cycles that nothing live holds are gaps."""
    now = now or timezone.now()
    rows = []
    counts: dict[str, int] = {}
    for row in cycle_rows(backend=backend, contract=contract, cycles=cycles):
        due = row.cycle.bill_for < now
        gap = due and row.state in GAP_STATES
        rows.append(CoverageRow(row, due, gap))
        counts[row.state_label] = counts.get(row.state_label, 0) + 1
    return Coverage(rows, counts, sum(r.gap for r in rows))
