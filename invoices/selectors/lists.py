"""Invoice lists (my invoices, the approvals inbox, history) and the audit log: named rows of
the columns a row shows, turned into display rows by invoices.presenters, in a fixed number of
queries whatever the number of rows."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db import transaction
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
)

from .. import presenters, workflow
from ..backends import cycle_backend
from ..backends.base import BackendError
from ..forms import AuditFilterForm, HistoryFilterForm
from ..keyset import PAGE_SIZE, keyset_page
from ..models import AuditEvent, Invoice, StageApproval

S = Invoice.Status


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
    # The oldest `limit` first, from the status index alone, then their rows and stages: counting
    # stages over every pending invoice before picking the oldest made PostgreSQL group and
    # sort all of them (6,600 pending in a million invoices: 29 ms; this way 3 ms).
    oldest = (
        Invoice.objects.filter(status__in=workflow.INBOX_STATUSES)
        .order_by("submitted_at", "id")
        .values("pk")[:limit]
    )
    pending = Invoice.objects.filter(pk__in=oldest).annotate(
        stages_done=Count(
            "stage_approvals", filter=Q(stage_approvals__stage__lt=F("stages_required"))
        )
    )
    rows = list_rows(pending.order_by("submitted_at", "id"), extra=INBOX_COLUMNS)
    return presenters.InvoicePresenter(viewer=user, with_age=True, inbox=True).rows(rows)


# --- history and audit log (keyset pages, see invoices.keyset) ----------------------------------
#: How long a process keeps the list of accounts (user_choices): an account added or renamed
#: shows in the filters of the process that saved it at once, in the others within this time.
#: (Rows whose people are missing from the list are named from the database: people_names.)
ACCOUNTS_SECONDS = 30
_ACCOUNTS_KEY = "invoices:accounts"


def user_choices() -> list[tuple[int, str]]:
    """(id, username) of every account, for the submitter / approver / actor selects: one
    query per process every ACCOUNTS_SECONDS, not one per page."""
    kept = caches["process"]
    accounts = kept.get(_ACCOUNTS_KEY)
    if accounts is None:
        User = get_user_model()
        accounts = list(User.objects.order_by("username").values_list("pk", "username"))
        kept.set(_ACCOUNTS_KEY, accounts, ACCOUNTS_SECONDS)
    return accounts


def forget_accounts(**_signal) -> None:
    """An account was saved or deleted: this process reads the list again, now and once the
    change is committed (another thread of this process may read the list in between, and
    would keep the rows from before the change)."""
    caches["process"].delete(_ACCOUNTS_KEY)
    transaction.on_commit(lambda: caches["process"].delete(_ACCOUNTS_KEY))


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
    return queryset.annotate(has_next_version=_REVISED, has_live_void=_LIVE_VOID).values_list(
        *columns, "has_next_version", "has_live_void", named=True
    )


# Built once: Django copies an expression where a query uses it, and building these two (the
# subquery's filters resolved) cost 0.15 ms of every history page.
#: An outer join on the unique previous_id, not EXISTS: PostgreSQL plans a subquery in the
#: select list for every row the filter could match, and below a few hundred thousand invoices
#: it then hashes every previous_id in the table to answer 50 rows (10 ms a page at 100,000
#: invoices; 0.1 ms as a join).
_REVISED = ExpressionWrapper(Q(next_version__isnull=False), output_field=BooleanField())
_LIVE_VOID = Exists(
    Invoice.objects.filter(
        corrects_id=OuterRef("pk"), kind=Invoice.Kind.VOID, status__in=workflow.LIVE_STATUSES
    )
)


def history_queryset() -> QuerySet:
    """Every local invoice, as history rows (see list_rows). Without the user tables joined:
    a page's ids can then come from an index alone (keyset_page's avoid_time_index), and
    history_rows names the people from the accounts the filter form lists anyway."""
    return _history_rows().all()


@cache
def _history_rows() -> QuerySet:
    # Built once per process and copied for each page (never evaluated itself): building it,
    # its annotations resolved, cost 0.4 ms of every history page.
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


def people_names(invoices, known: dict[int, str] | None) -> dict[int, str]:
    """{user id: username} for the submitters and deciders of `invoices`: from `known` (the
    accounts a filter form listed), asking the database only for anyone missing from it."""
    names = dict(known or {})
    wanted = {i.submitted_by_id for i in invoices} | {i.decided_by_id for i in invoices}
    missing = wanted - names.keys() - {None}
    if missing:
        User = get_user_model()
        names.update(User.objects.filter(pk__in=missing).values_list("pk", "username"))
    return names


def history_rows(invoices, *, user, known_names: dict[int, str] | None = None):
    """History rows (presenters.InvoiceRow) for `user`: display values, and the actions the
    workflow allows them. `known_names`: {id: username} of accounts already loaded."""
    presenter = presenters.InvoicePresenter(
        viewer=user,
        coverage_backend=_coverage_backend(),
        usernames=people_names(invoices, known_names),
    )
    reader = _PagePermissions(user)
    stages = _earlier_stage_people(invoices)
    actions = [
        workflow.allowed_actions(
            _WithStages(invoice, stages.get(invoice.id, frozenset())),
            reader,
            among=presenters.ROW_ACTIONS,
        )
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
    search = form.search
    union = search.union if search is not None else None
    page = _history_keyset_page(form, union, after=after, before=before, size=size or PAGE_SIZE)
    if union is not None and not page.rows and search.many_names():
        # Too many names for a union (invoices.search): the one substring condition instead.
        page = _history_keyset_page(form, None, after=after, before=before, size=size or PAGE_SIZE)
    known = {pk: name for name, pk in form.user_ids.items()}
    return replace(page, rows=history_rows(page.rows, user=user, known_names=known))


def _history_keyset_page(form: HistoryFilterForm, union, **position):
    if union is not None or form.avoid_time_index:
        # The page's ids are found among the filtered invoices alone; its rows are read by id.
        find_in = form.filter(Invoice.objects.all(), with_search=union is None)
        rows = history_queryset()
    else:
        rows, find_in = form.filter(history_queryset()), None
    return keyset_page(
        rows,
        time_field="submitted_at",
        id_field="id",
        avoid_time_index=form.avoid_time_index,
        union=union,
        find_in=find_in,
        **position,
    )


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
