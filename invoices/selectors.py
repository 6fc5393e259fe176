"""Read queries for pages. Each returns what a template needs in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
)
from django.utils import timezone

from . import extensions, money, presenters, roles, services, workflow
from .adhoc import adhoc_changes, adhoc_facts
from .backends import cycle_backend
from .backends.base import BackendError, BillingCycle, Contract
from .forms import ApproveForm, AuditFilterForm, HistoryFilterForm, RejectForm
from .keyset import PAGE_SIZE, keyset_page
from .models import AuditEvent, Invoice, StageApproval
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
def not_revised() -> Exists:
    """No newer version revises the invoice. (As NOT EXISTS, PostgreSQL walks a clerk's
    rejections newest first and stops at a page; the equivalent `next_version__isnull` outer
    join made it sort every rejection first: 580 ms against 1 ms on a million invoices.)"""
    return ~Exists(Invoice.objects.filter(previous_id=OuterRef("pk")))


def my_invoices(user, *, limit: int = 100) -> dict:
    """The clerk's rejected, unrevised invoices (newest decision first) and their latest
    submissions, as presenters.InvoiceRow."""
    mine = Invoice.objects.filter(submitted_by=user)
    rejected = mine.filter(not_revised(), status=S.REJECTED)
    needs_changes = list_rows(rejected.order_by("-decided_at"))[:limit]
    recent = list_rows(mine.order_by("-submitted_at", "-id"))[:limit]
    presenter = presenters.InvoicePresenter(viewer=user)
    return {
        "needs_changes": presenter.rows(needs_changes),
        "invoices": presenter.rows(recent),
        "limit": limit,
    }


# --- manager: inbox -------------------------------------------------------------------------
#: What the inbox shows besides a list row: the approval stage reached, what is unusual, what a
#: correction corrects, and (ad-hoc) what approval sends besides the lines.
INBOX_COLUMNS = ("corrects_id", "stages_required", "flags", "adhoc_request")


def approval_inbox(user, *, limit: int = 200) -> list[presenters.InvoiceRow]:
    """Pending invoices, oldest first (the user's own are shown but cannot be approved), each
    with its stage, flags and (ad-hoc) everything its approval sends besides the lines."""
    pending = Invoice.objects.filter(status__in=workflow.INBOX_STATUSES).annotate(
        stages_done=Count(
            "stage_approvals", filter=Q(stage_approvals__stage__lt=F("stages_required"))
        )
    )
    rows = list_rows(pending.order_by("submitted_at", "id"), extra=INBOX_COLUMNS)[:limit]
    return presenters.InvoicePresenter(viewer=user, with_age=True, inbox=True).rows(rows)


# --- invoice page ---------------------------------------------------------------------------
def invoice_for_page(pk: int) -> Invoice | None:
    # The page reads the versions (invoice_page), not `previous`: no second invoice row here.
    return (
        Invoice.objects.select_related("submitted_by", "decided_by", "corrects")
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
        # The page shows each event and its invoice's version, not the invoice's lines.
        .only(*AUDIT_ROW_FIELDS, "invoice__version")
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


def _overdue(submitted_at, now) -> str:
    """Whether reminders and escalation are due for an invoice waiting since `submitted_at`."""
    waited = now - submitted_at
    if waited >= timedelta(hours=settings.APPROVAL_ESCALATE_AFTER_HOURS):
        return "escalated"
    if waited >= timedelta(hours=settings.APPROVAL_REMIND_AFTER_HOURS):
        return "reminded"
    return ""


def home_dashboard(user) -> dict:
    counts, counted_at = _status_counts()
    status_counts = [(value, label, counts.get(value, 0)) for value, label in S.choices]
    context: dict = {"status_counts": status_counts, "counted_at": counted_at}
    pending = Invoice.objects.filter(status=S.PENDING)
    if user.has_perm(roles.APPROVE):
        mine = waiting_on(user)
        context["waiting_for_me"] = mine.count()
        rows = list_rows(mine)[:WAITING_SHOWN]
        now = timezone.now()
        context["waiting_items"] = [
            (row, _overdue(invoice.submitted_at, now))
            for row, invoice in zip(
                presenters.InvoicePresenter(viewer=user, with_age=True).rows(rows),
                rows,
                strict=True,
            )
        ]
        context["remind_after_hours"] = settings.APPROVAL_REMIND_AFTER_HOURS
        context["escalate_after_hours"] = settings.APPROVAL_ESCALATE_AFTER_HOURS
        context["failed_count"] = Invoice.objects.filter(status=S.FAILED).count()
    if user.has_perm(roles.SUBMIT):
        mine = Invoice.objects.filter(submitted_by=user)
        sent_back = mine.filter(not_revised(), status=S.REJECTED)
        context["sent_back"] = presenters.InvoicePresenter(viewer=user).rows(
            list_rows(sent_back.order_by("-decided_at"))[:10]
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


#: What an invoice list row shows (presenters.InvoiceRow) and workflow.allowed_actions reads.
#: Lists read these as plain named rows (values_list), not model instances: a page of 50 rows
#: costs about half as much to load.
LIST_COLUMNS = (
    "id",
    "kind",
    "backend",
    "status",
    "version",
    "contract_id",
    "contract_name",
    "customer_id",
    "customer_name",
    "cycle_name",
    "period_start",
    "period_end",
    "currency",
    "total_minor",
    "preview_total_minor",
    "upstream_number",
    "submitted_by_id",
    "submitted_at",
    "decided_by_id",
    "decided_at",
    "decision_reason",
    "failure_code",
    "corrects_id",
    "stages_required",
)
USERNAMES = ("submitted_by__username", "decided_by__username")


def list_rows(
    queryset: QuerySet,
    *,
    usernames: bool = True,
    next_version: bool = False,
    extra: tuple[str, ...] = (),
):
    """`queryset` of invoices as named rows of LIST_COLUMNS (and `extra` columns, annotations
    included); with `usernames`, the submitter's and decider's (joined); with `next_version`,
    `has_next_version` (whether a newer version exists: "revise" and "reissue" need it) and
    `has_live_void` (whether a void of it is in progress: "correct" needs it)."""
    columns = LIST_COLUMNS + extra + (USERNAMES if usernames else ())
    if "stages_done" in queryset.query.annotations:
        columns += ("stages_done",)
    if not next_version:
        return queryset.values_list(*columns, named=True)
    # An outer join on the unique previous_id, not EXISTS: PostgreSQL plans a subquery in the
    # select list for every row the filter could match, and below a few hundred thousand
    # invoices it then hashes every previous_id in the table to answer 50 rows (10 ms a page
    # at 100,000 invoices; 0.1 ms as a join).
    revised = ExpressionWrapper(Q(next_version__isnull=False), output_field=BooleanField())
    live_void = Exists(
        Invoice.objects.filter(
            corrects_id=OuterRef("pk"), kind=Invoice.Kind.VOID, status__in=workflow.LIVE_STATUSES
        )
    )
    return queryset.annotate(has_next_version=revised, has_live_void=live_void).values_list(
        *columns, "has_next_version", "has_live_void", named=True
    )


def history_queryset(user=None) -> QuerySet:
    """Every local invoice, as history rows (see list_rows). Without the user tables joined:
    a page's ids can then come from an index alone (keyset_page's avoid_time_index), and
    history_rows names the people from the accounts the filter form lists anyway."""
    return list_rows(Invoice.objects.all(), usernames=False, next_version=True)


def _coverage_backend() -> str | None:
    """The cycle backend whose contracts have a coverage page (None if it cannot be loaded)."""
    try:
        return cycle_backend().name
    except BackendError:
        return None


class _PagePermissions:
    """`user` as workflow.allowed_actions reads it (pk and has_perm), each permission asked
    once per page instead of once per row and action."""

    def __init__(self, user):
        self._user = user
        self.pk = user.pk
        self._answers: dict[str, bool] = {}

    def has_perm(self, perm: str) -> bool:
        answer = self._answers.get(perm)
        if answer is None:
            answer = self._answers[perm] = self._user.has_perm(perm)
        return answer

    def __getattr__(self, name: str):  # anything else the rules may read: the user's own
        return getattr(self._user, name)


def _usernames(invoices, known: dict[int, str] | None) -> dict[int, str]:
    """{user id: username} for the submitters and deciders of `invoices`: from `known` (the
    accounts a filter form listed), asking the database only for anyone missing from it."""
    names = dict(known or {})
    wanted = {i.submitted_by_id for i in invoices} | {i.decided_by_id for i in invoices}
    missing = wanted - names.keys() - {None}
    if missing:
        User = get_user_model()
        names.update(User.objects.filter(pk__in=missing).values_list("pk", "username"))
    return names


def history_rows(invoices, *, user, usernames: dict[int, str] | None = None):
    """History rows (presenters.InvoiceRow) for `user`: display values, and the actions the
    workflow allows them. `usernames`: {id: username} of accounts already loaded."""
    presenter = presenters.InvoicePresenter(
        viewer=user,
        coverage_backend=_coverage_backend(),
        usernames=_usernames(invoices, usernames),
    )
    reader = _PagePermissions(user)
    stages = _earlier_stage_people(invoices)
    actions = [
        workflow.allowed_actions(_WithStages(invoice, stages.get(invoice.id, frozenset())), reader)
        for invoice in invoices
    ]
    return presenter.rows(invoices, actions)


class _WithStages:
    """A list row as workflow.allowed_actions reads an invoice, with `earlier_stage_people`
    (Invoice's property) answered from one query for the whole page."""

    __slots__ = ("_row", "earlier_stage_people")

    def __init__(self, row, earlier: frozenset[int]):
        self._row = row
        self.earlier_stage_people = earlier

    def __getattr__(self, name: str):
        return getattr(self._row, name)


def _earlier_stage_people(invoices) -> dict[int, frozenset[int]]:
    """{invoice id: ids of who approved an earlier stage, and whom they stood in for} for the
    rows that need more than one approval (one query, none if no row does)."""
    multi = [i.id for i in invoices if i.stages_required > 1]
    if not multi:
        return {}
    found: dict[int, set[int]] = {pk: set() for pk in multi}
    rows = StageApproval.objects.filter(
        invoice_id__in=multi, stage__lt=F("invoice__stages_required")
    ).values_list("invoice_id", "approver_id", "on_behalf_of_id")
    for invoice_id, approver, principal in rows:
        found[invoice_id].update(p for p in (approver, principal) if p is not None)
    return {pk: frozenset(people) for pk, people in found.items()}


def history_page(form: HistoryFilterForm, *, user, after: str = "", before: str = "", size=None):
    """One keyset page of the filtered history; its rows are presenters.InvoiceRow."""
    page = keyset_page(
        form.filter(history_queryset(user)),
        time_field="submitted_at",
        id_field="id",
        after=after,
        before=before,
        size=size or PAGE_SIZE,
        avoid_time_index=form.avoid_time_index,
    )
    known = {pk: name for name, pk in form.user_ids.items()}
    return replace(page, rows=history_rows(page.rows, user=user, usernames=known))


#: The columns an audit log row shows (presenters.AuditRow).
AUDIT_ROW_FIELDS = (
    "seq",
    "at",
    "actor_username",
    "action",
    "invoice_id",
    "from_status",
    "to_status",
    "reason",
    "request_id",
    "ip",
)


def audit_page(form: AuditFilterForm, *, after: str = "", before: str = "", size=None):
    """One keyset page of the filtered audit log; its rows are presenters.AuditRow."""
    page = keyset_page(
        form.filter(AuditEvent.objects.only(*AUDIT_ROW_FIELDS)),
        time_field="at",
        id_field="seq",
        after=after,
        before=before,
        size=size or PAGE_SIZE,
    )
    return replace(page, rows=presenters.AuditPresenter().rows(page.rows))


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
