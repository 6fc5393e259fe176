"""Read side of the history pages: filter forms, keyset pages, CSV rows and contract coverage.

Every list here is ordered newest first and paged by *keyset*: a page is "the next N rows after
this (time, id)", never "skip N rows", so a page deep in a million rows costs what the first one
costs (one index range scan), and invoices that arrive meanwhile never shift the page you are on.
A cursor is an opaque token in the URL (`?after=...` or `?before=...`); the filters live in the
URL too, so the filtered view is bookmarkable and the CSV export is exactly what the page shows
(all of its pages).

Indexes that keep these queries index-driven are declared on the models (see Invoice.Meta and
AuditEvent.Meta) and, for substring search on PostgreSQL, created by migration 0004 (pg_trgm GIN
indexes on UPPER(name), which is what Django's `icontains` compares).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import DateTimeField, Exists, F, Func, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import money, roles
from .backends import ADHOC_BACKENDS, CYCLE_BACKENDS
from .backends.base import BillingCycle, Contract
from .models import AuditEvent, Invoice
from .selectors import CycleRow, cycle_rows

S = Invoice.Status
PAGE_SIZE = 50
#: Shortest substring searched for: PostgreSQL's trigram indexes need three characters.
MIN_SEARCH = 3
#: Invoices are submitted within days of their billing date; see HistoryFilterForm.avoid_time_index.
RECENT_DAYS = 45
COMMON_CURRENCIES = ("USD", "EUR", "GBP", "JPY", "KWD", "CHF", "CAD", "AUD")
SYSTEM_ACTOR = "(system)"

#: Audit actions the services and sign-in signals write (the action filter offers these; any
#: other well-formed action name from a bookmarked URL is accepted too).
AUDIT_ACTIONS = (
    "invoice.submitted",
    "invoice.submit_failed",
    "invoice.approval_started",
    "invoice.approved",
    "invoice.approval_refused",
    "invoice.approval_failed",
    "invoice.approval_retried",
    "invoice.reconciled",
    "invoice.rejected",
    "invoice.withdrawn",
    "invoice.draft_deleted",
    "auth.signed_in",
    "auth.signed_out",
    "auth.sign_in_failed",
)


# --- cursors ---------------------------------------------------------------------------------
def encode_cursor(moment: datetime, pk: int) -> str:
    """An opaque, URL-safe token for the position (moment, pk)."""
    text = f"{moment.astimezone(UTC).isoformat()}|{pk}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[datetime, int] | None:
    """The position a token names, or None for anything that is not one of ours."""
    if not token or len(token) > 120:
        return None
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        moment_text, pk_text = text.split("|")
        moment = datetime.fromisoformat(moment_text)
        pk = int(pk_text)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return None
    if moment.tzinfo is None or pk < 0:
        return None
    return moment.astimezone(UTC), pk


@dataclass(frozen=True)
class KeysetPage:
    rows: list
    next_cursor: str | None
    previous_cursor: str | None
    size: int

    @property
    def is_first(self) -> bool:
        return self.previous_cursor is None


def keyset_page(
    queryset: QuerySet,
    *,
    time_field: str,
    id_field: str,
    after: str = "",
    before: str = "",
    size: int = PAGE_SIZE,
    avoid_time_index: bool = False,
) -> KeysetPage:
    """One page of `queryset`, newest first by (time_field, id_field), from a cursor.

    The position test is written as `t <= t0 AND (t < t0 OR id < id0)`: its first half bounds an
    index range scan on (time, id) on every database, the second only drops ties at the edge.
    An unreadable cursor shows the first page.

    `avoid_time_index` is for filters whose matches all lie far down the (time, id) index (see
    HistoryFilterForm.avoid_time_index): walking it newest first would pass every newer row
    before finding one. The page's ids are then found through the filter's own index and sorted
    (on PostgreSQL by an expression equal to the time, which the planner cannot read from the
    (time, id) index; with inv_billing_sort_idx that is an index-only scan), and its rows are
    fetched by id. The rows and their order are the same either way.
    """
    t, i = time_field, id_field
    sort_t = _Unindexed(F(t)) if avoid_time_index and connection.vendor == "postgresql" else F(t)

    def fetch(narrowed: QuerySet, newest_first: bool) -> list:
        order = (sort_t.desc(), F(i).desc()) if newest_first else (sort_t.asc(), F(i).asc())
        narrowed = narrowed.order_by(*order)
        if not avoid_time_index:
            return list(narrowed[: size + 1])
        ids = list(narrowed.values_list(i, flat=True)[: size + 1])
        found = {getattr(row, i): row for row in queryset.filter(**{f"{i}__in": ids})}
        return [found[pk] for pk in ids]

    position = decode_cursor(after) if after else None
    if position is not None:
        t0, i0 = position
        rows = fetch(
            queryset.filter(
                Q(**{f"{t}__lte": t0}) & (Q(**{f"{t}__lt": t0}) | Q(**{f"{i}__lt": i0}))
            ),
            newest_first=True,
        )
        more = len(rows) > size
        rows = rows[:size]
        return KeysetPage(
            rows,
            _cursor(rows[-1], t, i) if more else None,
            _cursor(rows[0], t, i) if rows else None,
            size,
        )
    position = decode_cursor(before) if before else None
    if position is not None:
        t0, i0 = position
        rows = fetch(
            queryset.filter(
                Q(**{f"{t}__gte": t0}) & (Q(**{f"{t}__gt": t0}) | Q(**{f"{i}__gt": i0}))
            ),
            newest_first=False,
        )
        more = len(rows) > size
        rows = rows[:size]
        rows.reverse()
        if more:
            return KeysetPage(rows, _cursor(rows[-1], t, i), _cursor(rows[0], t, i), size)
        if len(rows) == size:  # exactly the first page
            return KeysetPage(rows, _cursor(rows[-1], t, i), None, size)
        # Fewer rows than a page before the cursor: that is the start; show a full first page.
    rows = fetch(queryset, newest_first=True)
    more = len(rows) > size
    rows = rows[:size]
    return KeysetPage(rows, _cursor(rows[-1], t, i) if more else None, None, size)


class _Unindexed(Func):
    """A timestamp column as `(col + INTERVAL '0 seconds')`: same value, no index order."""

    template = "(%(expressions)s + INTERVAL '0 seconds')"
    output_field = DateTimeField()


def _cursor(row, time_field: str, id_field: str) -> str:
    return encode_cursor(getattr(row, time_field), getattr(row, id_field))


# --- shared form pieces ----------------------------------------------------------------------
def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _date_field(label: str, help_text: str = "") -> forms.DateField:
    return forms.DateField(
        required=False,
        label=label,
        help_text=help_text,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": "Enter a date as YYYY-MM-DD."},
    )


def user_choices() -> list[tuple[int, str]]:
    """(id, username) of every account, for the submitter / approver / actor selects."""
    return list(get_user_model().objects.order_by("username").values_list("pk", "username"))


class _FilterForm(forms.Form):
    """Shared behaviour: range checks and the query string of the filters. (Django marks failing
    inputs with aria-invalid and points aria-describedby at their help text and errors.)"""

    date_ranges: tuple[tuple[str, str], ...] = ()

    def __init__(self, data=None, *, users: list[tuple[int, str]] = (), **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(data, **kwargs)
        self.user_ids = {name: pk for pk, name in users}
        for field in self.fields.values():
            if isinstance(field.widget, forms.TextInput | forms.DateInput):
                field.widget.attrs.setdefault("autocomplete", "off")

    def _check_ranges(self, cleaned: dict) -> None:
        for low, high in self.date_ranges:
            if cleaned.get(low) and cleaned.get(high) and cleaned[low] > cleaned[high]:
                self.add_error(high, "The end date must be on or after the start date.")

    def query_items(self) -> list[tuple[str, str]]:
        """The non-empty filters as (name, value) pairs, in field order (for links)."""
        if not self.is_bound:
            return []
        items = []
        for name in self.fields:
            value = self.data.get(name, "")
            if isinstance(value, str):
                value = value.strip()
            if value:
                items.append((name, str(value)))
        return items

    @property
    def active(self) -> bool:
        return bool(self.query_items())


# --- invoice history -------------------------------------------------------------------------
class HistoryFilterForm(_FilterForm):
    q = forms.CharField(
        required=False,
        max_length=100,
        label="Search",
        help_text=(
            "Part of a contract or customer name or of an invoice number (3 characters or "
            "more), or a local id (#123)."
        ),
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *S.choices])
    kind = forms.ChoiceField(required=False, choices=[("", "Any kind"), *Invoice.Kind.choices])
    backend = forms.ChoiceField(
        required=False,
        label="Backend",
        choices=[("", "Any backend")]
        + [(name, name.capitalize()) for name in sorted({*CYCLE_BACKENDS, *ADHOC_BACKENDS})],
    )
    contract = forms.CharField(required=False, max_length=64, label="Contract id")
    customer = forms.CharField(
        required=False,
        max_length=255,
        label="Customer",
        help_text="Its exact id, or part of its name.",
    )
    submitter = forms.ChoiceField(required=False, label="Submitted by")
    approver = forms.ChoiceField(required=False, label="Approved by")
    currency = forms.CharField(
        required=False,
        max_length=3,
        label="Currency",
        help_text="ISO code; needed for totals.",
        widget=forms.TextInput(attrs={"list": "currency-codes", "size": 4}),
    )
    total_min = forms.CharField(
        required=False,
        max_length=32,
        label="Total from",
        help_text="In its units: 41.50 USD.",
        widget=forms.TextInput(),
    )
    total_max = forms.CharField(
        required=False, max_length=32, label="Total up to", widget=forms.TextInput()
    )
    submitted_from = _date_field("Submitted from")
    submitted_to = _date_field("Submitted up to")
    billed_from = _date_field(
        "Billing date from",
        "Bill-for date; ad-hoc: period start.",
    )
    billed_to = _date_field("Billing date up to")

    date_ranges = (("submitted_from", "submitted_to"), ("billed_from", "billed_to"))

    def __init__(self, data=None, *, users=(), **kwargs):
        super().__init__(data, users=users, **kwargs)
        people = [(name, name) for _pk, name in users]
        self.fields["submitter"].choices = [("", "Anyone"), *people]
        self.fields["approver"].choices = [("", "Anyone"), *people]
        for name in ("total_min", "total_max"):
            self.fields[name].widget.attrs.update({"inputmode": "decimal", "size": 10})

    def clean_currency(self) -> str:
        code = self.cleaned_data["currency"].strip().upper()
        if code:
            try:
                money.exponent(code)
            except money.MoneyError as exc:
                raise forms.ValidationError(str(exc)) from None
        return code

    def clean_contract(self) -> str:
        return self.cleaned_data["contract"].strip()

    def clean_customer(self) -> str:
        value = self.cleaned_data["customer"].strip()
        if 0 < len(value) < MIN_SEARCH and not Invoice.objects.filter(customer_id=value).exists():
            raise forms.ValidationError(
                f"Type at least {MIN_SEARCH} characters of the name, or the exact customer id."
            )
        return value

    def clean_q(self) -> str:
        text = self.cleaned_data["q"].strip()
        if 0 < len(text) < MIN_SEARCH and not text.removeprefix("#").isdigit():
            raise forms.ValidationError(
                f"Type at least {MIN_SEARCH} characters, or an invoice id such as #12."
            )
        return text

    def clean(self):
        cleaned = super().clean()
        self._check_ranges(cleaned)
        currency = cleaned.get("currency")
        for name in ("total_min", "total_max"):
            text = (cleaned.get(name) or "").strip()
            cleaned[name] = None
            if not text:
                continue
            if not currency:
                if "currency" not in self.errors:
                    self.add_error(
                        name,
                        "Choose a currency to filter by total: totals are typed in that "
                        "currency's own units (41.50 USD, 98000 JPY).",
                    )
                continue
            try:
                cleaned[name] = money.parse_amount(text, currency)
            except money.MoneyError as exc:
                self.add_error(name, str(exc))
        low, high = cleaned.get("total_min"), cleaned.get("total_max")
        if low is not None and high is not None and low > high:
            self.add_error("total_max", "The upper total must not be below the lower one.")
        return cleaned

    @property
    def avoid_time_index(self) -> bool:
        """True when every match was billed more than RECENT_DAYS ago (a billing-date range that
        ends before then): those invoices were submitted long ago too, so newest-first through
        the submitted-at index would skip every newer invoice before finding one. Then the
        billing-date index finds them and they are sorted (see keyset_page)."""
        end = self.cleaned_data.get("billed_to")
        return bool(end) and end < timezone.now().date() - timedelta(days=RECENT_DAYS)

    def filter(self, queryset: QuerySet) -> QuerySet:
        """`queryset` narrowed by the (valid) filters."""
        data = self.cleaned_data
        for field in ("status", "kind", "backend", "currency"):
            if data.get(field):
                queryset = queryset.filter(**{field: data[field]})
        if data.get("contract"):
            queryset = queryset.filter(contract_id=data["contract"])
        if data.get("customer"):
            # An exact customer id wins; otherwise part of a name. (One indexed look-up, and
            # each branch then has a plain, index-driven plan; an OR of both has neither.)
            value = data["customer"]
            if Invoice.objects.filter(customer_id=value).exists():
                queryset = queryset.filter(customer_id=value)
            else:
                queryset = queryset.filter(customer_name__icontains=value)
        if data.get("submitter"):
            queryset = queryset.filter(submitted_by_id=self.user_ids[data["submitter"]])
        if data.get("approver"):
            queryset = queryset.filter(
                decided_by_id=self.user_ids[data["approver"]], status=S.APPROVED
            )
        if data.get("total_min") is not None:
            queryset = queryset.filter(total_minor__gte=data["total_min"])
        if data.get("total_max") is not None:
            queryset = queryset.filter(total_minor__lte=data["total_max"])
        if data.get("submitted_from"):
            queryset = queryset.filter(submitted_at__gte=_day_start(data["submitted_from"]))
        if data.get("submitted_to"):
            end = _day_start(data["submitted_to"] + timedelta(days=1))
            queryset = queryset.filter(submitted_at__lt=end)
        if data.get("billed_from") or data.get("billed_to"):
            # Same expression as the inv_billing_date_idx index.
            queryset = queryset.alias(billing_date=Coalesce("bill_for", "period_start"))
            if data.get("billed_from"):
                queryset = queryset.filter(billing_date__gte=_day_start(data["billed_from"]))
            if data.get("billed_to"):
                end = _day_start(data["billed_to"] + timedelta(days=1))
                queryset = queryset.filter(billing_date__lt=end)
        if data.get("q"):
            queryset = queryset.filter(search_q(data["q"]))
        return queryset


def search_q(text: str) -> Q:
    """Free text: a substring (3 characters or more) of the contract name, customer name or
    invoice number, or the local id itself ("123"; "#123" is only the id)."""
    digits = text.removeprefix("#")
    by_id = Q(pk=int(digits)) if digits.isdigit() and len(digits) < 19 else None
    if len(text) < MIN_SEARCH or text.startswith("#"):
        return by_id  # "#12" or "12": an id (substrings this short would match half the table)
    condition = (
        Q(contract_name__icontains=text)
        | Q(customer_name__icontains=text)
        | Q(upstream_number__icontains=text)
    )
    return condition | by_id if by_id is not None else condition


def history_queryset(user=None) -> QuerySet:
    """Every local invoice with what a history row shows (the line snapshots stay behind)."""
    queryset = Invoice.objects.select_related("submitted_by", "decided_by").defer(
        "lines", "adhoc_request", "failure_message"
    )
    if user is not None and user.has_perm(roles.SUBMIT):
        # Clerks are offered "revise" on rejected invoices that have no newer version yet.
        queryset = queryset.annotate(
            has_next_version=Exists(Invoice.objects.filter(previous_id=OuterRef("pk")))
        )
    return queryset


def history_page(form: HistoryFilterForm, *, user, after: str = "", before: str = "", size=None):
    return keyset_page(
        form.filter(history_queryset(user)),
        time_field="submitted_at",
        id_field="id",
        after=after,
        before=before,
        size=size or PAGE_SIZE,
        avoid_time_index=form.avoid_time_index,
    )


# (CSV header, model field read for it): one list, so header and values cannot drift apart.
_HISTORY_CSV_COLUMNS = (
    ("id", "id"),
    ("version", "version"),
    ("previous_id", "previous_id"),
    ("kind", "kind"),
    ("backend", "backend"),
    ("status", "status"),
    ("contract_id", "contract_id"),
    ("contract_name", "contract_name"),
    ("customer_id", "customer_id"),
    ("customer_name", "customer_name"),
    ("cycle_name", "cycle_name"),
    ("bill_for", "bill_for"),
    ("period_start", "period_start"),
    ("period_end", "period_end"),
    ("currency", "currency"),
    ("total", "total_minor"),
    ("submitted_by", "submitted_by__username"),
    ("submitted_at", "submitted_at"),
    ("decided_by", "decided_by__username"),
    ("decided_at", "decided_at"),
    ("decision_reason", "decision_reason"),
    ("upstream_id", "upstream_id"),
    ("upstream_number", "upstream_number"),
    ("content_hash", "content_hash"),
)
HISTORY_CSV_HEADER = [header for header, _ in _HISTORY_CSV_COLUMNS]
_HISTORY_CSV_FIELDS = tuple(field for _, field in _HISTORY_CSV_COLUMNS)
_TOTAL = _HISTORY_CSV_FIELDS.index("total_minor")
_CURRENCY = _HISTORY_CSV_FIELDS.index("currency")


def invoice_csv_rows(queryset, *, chunk_size: int = 2000) -> Iterator[list]:
    """CSV rows (HISTORY_CSV_HEADER) of the invoices in `queryset`, in its order, streamed from
    a server-side cursor. Plain tuples (no model instances) keep it fast; totals in major units
    beside their currency code. Used by the history export and the admin's."""
    rows = queryset.values_list(*_HISTORY_CSV_FIELDS)
    # Inside a transaction, PostgreSQL's server-side cursor streams as rows are fetched; in
    # autocommit Django declares it WITH HOLD, which makes the server compute every row first.
    with transaction.atomic():
        for row in rows.iterator(chunk_size=chunk_size):
            row = list(row)
            row[_TOTAL] = money.to_major(row[_TOTAL], row[_CURRENCY])
            yield row


def history_csv_rows(form: HistoryFilterForm, *, chunk_size: int = 2000) -> Iterator[list]:
    """Every invoice of the filtered view, newest first."""
    queryset = form.filter(Invoice.objects.all()).order_by("-submitted_at", "-id")
    return invoice_csv_rows(queryset, chunk_size=chunk_size)


# --- audit log -------------------------------------------------------------------------------
class AuditFilterForm(_FilterForm):
    actor = forms.ChoiceField(required=False, label="Actor")
    action = forms.CharField(required=False, max_length=64, label="Action")
    invoice = forms.IntegerField(
        required=False,
        min_value=1,
        label="Invoice id",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "size": 8}),
        error_messages={"invalid": "Enter an invoice number, such as 123."},
    )
    date_from = _date_field("From")
    date_to = _date_field("Up to")

    date_ranges = (("date_from", "date_to"),)

    def __init__(self, data=None, *, users=(), **kwargs):
        super().__init__(data, users=users, **kwargs)
        self.fields["actor"].choices = [
            ("", "Anyone"),
            (SYSTEM_ACTOR, "The system"),
            *[(name, name) for _pk, name in users],
        ]
        action = (self.data.get("action") or "").strip() if self.is_bound else ""
        actions = list(AUDIT_ACTIONS)
        if action and action not in actions:
            actions.append(action)
        self.action_choices = [("", "Any action"), *[(a, a) for a in actions]]
        self.fields["action"].widget = forms.Select(choices=self.action_choices)

    def clean_action(self) -> str:
        action = self.cleaned_data["action"].strip()
        if action and not all(c.isalnum() or c in "._-" for c in action):
            raise forms.ValidationError("Choose an action from the list.")
        return action

    def clean(self):
        cleaned = super().clean()
        self._check_ranges(cleaned)
        return cleaned

    def filter(self, queryset: QuerySet) -> QuerySet:
        data = self.cleaned_data
        actor = data.get("actor")
        if actor == SYSTEM_ACTOR:
            queryset = queryset.filter(actor__isnull=True)
        elif actor:
            queryset = queryset.filter(actor_username=actor)
        if data.get("action"):
            queryset = queryset.filter(action=data["action"])
        if data.get("invoice"):
            queryset = queryset.filter(invoice_id=data["invoice"])
        if data.get("date_from"):
            queryset = queryset.filter(at__gte=_day_start(data["date_from"]))
        if data.get("date_to"):
            queryset = queryset.filter(at__lt=_day_start(data["date_to"] + timedelta(days=1)))
        return queryset


def audit_page(form: AuditFilterForm, *, after: str = "", before: str = "", size=None):
    return keyset_page(
        form.filter(AuditEvent.objects.all()),
        time_field="at",
        id_field="seq",
        after=after,
        before=before,
        size=size or PAGE_SIZE,
    )


_AUDIT_CSV_COLUMNS = (
    ("seq", "seq"),
    ("at", "at"),
    ("actor", "actor_username"),
    ("action", "action"),
    ("invoice_id", "invoice_id"),
    ("from_status", "from_status"),
    ("to_status", "to_status"),
    ("reason", "reason"),
    ("request_id", "request_id"),
    ("ip", "ip"),
    ("data", "data"),
    ("prev_hash", "prev_hash"),
    ("hash", "hash"),
)
AUDIT_CSV_HEADER = [header for header, _ in _AUDIT_CSV_COLUMNS]
_AUDIT_CSV_FIELDS = tuple(field for _, field in _AUDIT_CSV_COLUMNS)
_DATA = _AUDIT_CSV_FIELDS.index("data")


def audit_event_csv_rows(queryset, *, chunk_size: int = 2000) -> Iterator[list]:
    """CSV rows (AUDIT_CSV_HEADER) of the events in `queryset`, in its order, streamed."""
    rows = queryset.values_list(*_AUDIT_CSV_FIELDS)
    with transaction.atomic():  # a streaming cursor, as for invoices (see above)
        for row in rows.iterator(chunk_size=chunk_size):
            row = list(row)
            row[_DATA] = json.dumps(row[_DATA], sort_keys=True)
            yield row


def audit_csv_rows(form: AuditFilterForm, *, chunk_size: int = 2000) -> Iterator[list]:
    """Every event of the filtered view, newest first."""
    queryset = form.filter(AuditEvent.objects.all()).order_by("-at", "-seq")
    return audit_event_csv_rows(queryset, chunk_size=chunk_size)


# --- contract coverage -----------------------------------------------------------------------
GAP_STATES = frozenset({"not_invoiced", S.REJECTED, S.WITHDRAWN})


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
