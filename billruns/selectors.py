"""Read queries for the bill-run pages, each in a fixed number of queries whatever the number of
items: counts and totals are aggregates, lists are capped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Q, Sum, prefetch_related_objects
from django.utils import timezone

from invoices import workflow
from invoices.models import Invoice

from .models import BatchApproval, BatchApprovalItem, BillRun, BillRunItem
from .planning import Group
from .states import APPROVAL_DONE, ITEM_DONE, ApprovalState, ItemState, RunState

LISTED = 50  # failed / skipped items shown on the run page (the rest are counted)
REVIEW_PAGE = 100
THROUGHPUT_WINDOW = timedelta(minutes=1)


def runs_list(limit: int = 50) -> list[BillRun]:
    return list(
        BillRun.objects.select_related("created_by", "launched_by")
        .annotate(
            items_total=Count("items"),
            items_submitted=Count("items", filter=Q(items__status=ItemState.SUBMITTED)),
            items_failed=Count("items", filter=Q(items__status=ItemState.FAILED)),
        )
        .order_by("-created_at", "-id")[:limit]
    )


def run_for_page(pk: int) -> BillRun | None:
    return (
        BillRun.objects.select_related("created_by", "launched_by", "cancelled_by")
        .filter(pk=pk)
        .first()
    )


@dataclass(frozen=True)
class StateCount:
    state: str
    label: str
    count: int


@dataclass(frozen=True)
class Progress:
    total: int
    done: int
    counts: list[StateCount]
    per_minute: float | None  # items settled per minute, lately
    seconds_left: float | None

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100

    def count(self, state: str) -> int:
        return next((c.count for c in self.counts if c.state == state), 0)


def by_state(states) -> dict[str, Count]:
    """Aggregates counting items in each of `states` (an item state enum), for one query."""
    return {state: Count("pk", filter=Q(status=state)) for state in states.values}


def progress(run: BillRun) -> Progress:
    """Counts per item state, throughput over the last minute and the time left (2 queries)."""
    now = timezone.now()
    since = max(run.launched_at or now, now - THROUGHPUT_WINDOW)
    found = BillRunItem.objects.filter(run=run).aggregate(
        total=Count("pk"),
        recent=Count("pk", filter=Q(finished_at__gte=since, status__in=ITEM_DONE)),
        **by_state(ItemState),
    )
    counts = [StateCount(s, ItemState(s).label, found[s]) for s in ItemState.values if found[s]]
    done = sum(found[s] for s in ITEM_DONE)
    elapsed = (now - since).total_seconds()
    per_minute = None
    seconds_left = None
    if run.status == RunState.RUNNING and elapsed >= 5 and found["recent"]:
        per_minute = found["recent"] * 60 / elapsed
        seconds_left = (found["total"] - done) * 60 / per_minute
    elif run.finished_at and run.launched_at and done:
        per_minute = done * 60 / max(1.0, (run.finished_at - run.launched_at).total_seconds())
    return Progress(found["total"], done, counts, per_minute, seconds_left)


def plan_groups(run: BillRun) -> list[Group]:
    """The plan by currency: cycles and their preview totals (1 query)."""
    rows = (
        BillRunItem.objects.filter(run=run)
        .exclude(status=ItemState.CANCELLED)
        .values_list("currency")
        .annotate(n=Count("pk"), total=Sum("preview_total_minor"))
        .order_by("currency")
    )
    return [Group(currency, n, total or 0) for currency, n, total in rows]


def submitted_groups(run: BillRun) -> list[Group]:
    """What the run submitted, by currency, at the drafts' real totals (1 query)."""
    rows = (
        BillRunItem.objects.filter(run=run, status=ItemState.SUBMITTED)
        .values_list("currency")
        .annotate(n=Count("pk"), total=Sum("invoice__total_minor"))
        .order_by("currency")
    )
    return [Group(currency, n, total or 0) for currency, n, total in rows]


def items_in(run: BillRun, state: str, limit: int = LISTED) -> list[BillRunItem]:
    return list(
        BillRunItem.objects.filter(run=run, status=state)
        .select_related("invoice")
        .order_by("id")[:limit]
    )


def plan_items(run: BillRun, limit: int = 200) -> list[BillRunItem]:
    return list(BillRunItem.objects.filter(run=run).order_by("currency", "id")[:limit])


# --- managers: review ---------------------------------------------------------------------------
def review_page(run: BillRun, user, *, page: int = 1) -> dict:
    """The run's invoices, a page at a time in the order the run made them (a page keeps its
    rows while approvals change their states), with what the manager may do with each and why
    not (the workflow's own rules: no query per row)."""
    invoices = Invoice.objects.filter(run_id=run.pk)
    approvable = workflow.ACTIONS["approve"].sources
    waiting = Q(status__in=approvable)
    totals = (
        invoices.filter(waiting)
        .values_list("currency")
        .annotate(n=Count("pk"), total=Sum("total_minor"))
        .order_by("currency")
    )
    groups = [Group(currency, n, total or 0) for currency, n, total in totals]
    total = invoices.count()
    start = (page - 1) * REVIEW_PAGE
    rows = list(invoices.select_related("submitted_by").order_by("id")[start : start + REVIEW_PAGE])
    # Who approved an earlier stage (the approve rule asks): one query for the page, if any.
    prefetch_related_objects([i for i in rows if i.stages_required > 1], "stage_approvals")
    for invoice in rows:  # the approve rule alone: no guard of another action runs a query
        refused = workflow.refusal("approve", invoice, user)
        invoice.may_approve = refused is None
        # Why a waiting invoice has no checkbox (one's own submission, an earlier stage ...).
        invoice.why_not = refused.message if refused and invoice.status in approvable else ""
    return {
        "invoices": rows,
        "total": total,
        "waiting": sum(g.count for g in groups),
        "waiting_groups": groups,
        "page": page,
        "pages": max(1, -(-total // REVIEW_PAGE)),
        "batches": list(
            BatchApproval.objects.filter(run=run)
            .select_related("created_by")
            .annotate(
                n=Count("items"),
                approved=Count("items", filter=Q(items__status=ApprovalState.APPROVED)),
            )
            .order_by("-created_at")[:10]
        ),
    }


def batch_page(batch: BatchApproval) -> dict:
    items = BatchApprovalItem.objects.filter(batch=batch)
    found = items.aggregate(total=Count("pk"), **by_state(ApprovalState))
    counts = [
        StateCount(s, ApprovalState(s).label, found[s]) for s in ApprovalState.values if found[s]
    ]
    done = sum(found[s] for s in APPROVAL_DONE)
    return {
        "batch": batch,
        "total": found["total"],
        "done": done,
        "percent": round(100 * done / found["total"]) if found["total"] else 100,
        "counts": counts,
        "outcomes": list(
            items.exclude(status=ApprovalState.APPROVED)
            .select_related("invoice")
            .order_by("id")[:LISTED]
        ),
    }
