"""Display values for list rows, built once in Python so templates loop over plain values.

A list page shows the same few things on every row: a link to the invoice, an amount in its
currency, dates, a status label, an action link. Resolved in a template, each of them costs a
URL resolution, a Babel call, a date format and dozens of variable look-ups per row; here each
row is a small frozen object of finished strings, built by a presenter that keeps what is the
same for the whole page (URL prefixes, labels, the coverage backend) and caches what repeats
(billing periods). The templates only print the values (Django still escapes them).

What a person reads is exactly what the templates showed before (tests/history/test_presenters.py
checks the strings): money through `money.format_money`, times in UTC as "YYYY-MM-DD HH:MM",
periods through `invoice_tags.period`, the status and kind labels of the models' choices.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from django.urls import reverse

from . import money
from .adhoc import adhoc_facts
from .models import Invoice
from .templatetags.invoice_tags import age, period

MISSING = "\u2014"  # what an empty cell shows
NO_INBOX_EXTRAS = {"stage": "", "flags": (), "facts": None}
#: The actions a list row offers a link for (InvoicePresenter.action_of).
ROW_ACTIONS = ("approve", "revise")
STATUS_LABELS: dict[str, str] = dict(Invoice.Status.choices)
KIND_LABELS: dict[str, str] = dict(Invoice.Kind.choices)

# A value no real argument takes: reversed once, then replaced by each row's value.
_MARKER = "9081726354"
# What django.urls.reverse leaves unquoted in a path (RFC 3986 sub-delimiters and "/~:@").
_SAFE_IN_PATH = "!$&'()*+,;=/~:@"


def url_maker(name: str) -> Callable[[object], str]:
    """`reverse(name, args=[value])` for many values at the cost of one `reverse`: the URL is
    resolved once with a marker argument, and each value is quoted into its place as reverse
    does it."""
    prefix, suffix = reverse(name, args=[_MARKER]).split(_MARKER)

    def make(value) -> str:
        if type(value) is int:  # ids: nothing to quote
            return f"{prefix}{value}{suffix}"
        return f"{prefix}{quote(str(value), safe=_SAFE_IN_PATH)}{suffix}"

    return make


def utc_minutes(moment: datetime | None) -> str:
    """ "2026-03-01 12:05" (UTC), as the templates' `date:"Y-m-d H:i"`."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def utc_seconds(moment: datetime | None) -> str:
    """ "2026-03-01 12:05:09" (UTC), as `date:"Y-m-d H:i:s"`."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def utc_iso(moment: datetime | None) -> str:
    """ISO 8601 in UTC for `<time datetime=...>`, as `date:'c'`."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).isoformat()


def money_text(minor: int | None, currency: str | None) -> str:
    """The `money` filter's text: an amount in its currency, or an em dash when missing."""
    if minor is None or minor == "" or not currency:
        return MISSING
    return money.format_money(minor, currency)


class Row:
    """Base of the row objects. Django's templates try `row["name"]` before `row.name`; rows
    answer that first try instead of raising (one exception per value per row otherwise)."""

    __slots__ = ()

    def __getitem__(self, name: str):
        return getattr(self, name)


@dataclass(frozen=True, slots=True)
class Link(Row):
    text: str
    url: str


# --- invoice lists ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class InvoiceRow(Row):
    """One invoice in a list (history, approvals, my invoices, home)."""

    pk: int
    number: str  # "#123"
    url: str
    version: str  # "v2" for a revision, "" for a first version
    upstream_number: str
    kind: str
    kind_label: str
    backend: str
    contract: str  # the history's contract cell: the name (or id, when linked), or an em dash
    coverage_url: str  # the contract's billing coverage, when it is on the current backend
    contract_name: str
    customer: str  # the customer's name, or its id
    customer_name: str
    subject: str  # what the invoice is for: the contract's name, or the customer's
    cycle_name: str
    period: str  # the cycle's name, or the billed period
    total: str
    zero_total: bool
    preview_differs: bool  # the generated draft's total is not the preview's
    status: str
    status_label: str
    submitted_iso: str
    submitted: str  # UTC, to the minute
    age: str  # how long ago it was submitted (only when the presenter is asked for it)
    submitter: str
    own: bool  # submitted by the person looking at the list
    decider: str  # who decided, or an em dash
    decision_reason: str
    action: Link | None  # what the row offers the reader (from workflow.allowed_actions)
    revise_url: str  # where a rejected invoice is revised (lists of rejections link it)
    corrects: str  # a correction's "Credit note of #12", or ""
    # The approvals inbox only (empty elsewhere):
    stage: str  # "1 of 2": the approval stage it waits for
    flags: tuple[str, ...]  # what is unusual about it (invoices.flags)
    facts: object  # an ad-hoc invoice's adhoc_facts: what approval sends besides the lines


class InvoicePresenter:
    """Builds InvoiceRows for one page, for the person `viewer` (None: nobody in particular).

    Rows are selectors.list_rows rows. `usernames` ({user id: username}) names submitters and
    deciders when the rows do not carry their usernames; `coverage_backend` is the cycle backend
    whose contracts have a coverage page (rows of other backends name their contract without a
    link); `with_age` fills InvoiceRow.age.
    """

    def __init__(
        self,
        *,
        viewer=None,
        usernames: dict[int, str] | None = None,
        coverage_backend: str | None = None,
        with_age: bool = False,
        inbox: bool = False,
    ):
        self.viewer_id = getattr(viewer, "pk", None)
        self.usernames = usernames
        self.coverage_backend = coverage_backend
        self.with_age = with_age
        self.inbox = inbox  # rows carry presenters' INBOX extras (selectors.INBOX_COLUMNS)
        self.detail_url = url_maker("invoices:detail")
        self.revise_url = url_maker("invoices:revise")
        self.coverage_url = url_maker("invoices:coverage")
        self._periods: dict[tuple, str] = {}

    def period_of(self, invoice) -> str:
        if invoice.cycle_name:
            return invoice.cycle_name
        key = (invoice.period_start, invoice.period_end)
        text = self._periods.get(key)
        if text is None:
            text = self._periods[key] = period(*key)
        return text

    def action_of(self, pk: int, url: str, actions) -> Link | None:  # (of ROW_ACTIONS)
        """The row's one action link: review what the reader may approve, or revise what they
        may revise (`actions`: workflow.allowed_actions for the reader)."""
        if "approve" in actions:
            return Link("Review", url)
        if "revise" in actions:
            return Link("Revise", self.revise_url(pk))
        return None

    def people(self, invoice) -> tuple[str, str | None]:
        """(submitter, decider or None) of a row, by username."""
        if self.usernames is None:
            return invoice.submitted_by__username, invoice.decided_by__username
        names = self.usernames
        decider = invoice.decided_by_id
        return names[invoice.submitted_by_id], names[decider] if decider is not None else None

    def row(self, invoice, actions=()) -> InvoiceRow:
        """`invoice`: a row of selectors.list_rows (attribute access)."""
        pk = invoice.id
        submitter, decider = self.people(invoice)
        url = self.detail_url(pk)
        kind, status, total = invoice.kind, invoice.status, invoice.total_minor
        contract_name = invoice.contract_name
        coverage_url = ""
        if (
            invoice.contract_id
            and kind == Invoice.Kind.CYCLE
            and invoice.backend == self.coverage_backend
        ):
            coverage_url = self.coverage_url(invoice.contract_id)
            contract = contract_name or invoice.contract_id
        else:
            contract = contract_name or MISSING
        preview = invoice.preview_total_minor
        corrects = invoice.corrects_id
        return InvoiceRow(
            pk=pk,
            number=f"#{pk}",
            url=url,
            version=f"v{invoice.version}" if invoice.version > 1 else "",
            upstream_number=invoice.upstream_number,
            kind=kind,
            kind_label=KIND_LABELS.get(kind, kind),
            backend=invoice.backend,
            contract=contract,
            coverage_url=coverage_url,
            contract_name=contract_name,
            customer=invoice.customer_name or invoice.customer_id,
            customer_name=invoice.customer_name,
            subject=contract_name or invoice.customer_name,
            cycle_name=invoice.cycle_name,
            period=self.period_of(invoice),
            total=money_text(total, invoice.currency),
            zero_total=total == 0 and corrects is None,
            preview_differs=preview is not None and preview != total,
            status=status,
            status_label=STATUS_LABELS.get(status, status),
            submitted_iso=utc_iso(invoice.submitted_at),
            submitted=utc_minutes(invoice.submitted_at),
            age=age(invoice.submitted_at) if self.with_age else "",
            submitter=submitter,
            own=self.viewer_id is not None and invoice.submitted_by_id == self.viewer_id,
            decider=decider or MISSING,
            decision_reason=invoice.decision_reason,
            action=self.action_of(pk, url, actions),
            revise_url=self.revise_url(pk),
            corrects=f"{KIND_LABELS.get(kind, kind)} of #{corrects}" if corrects else "",
            **(self.inbox_extras(invoice) if self.inbox else NO_INBOX_EXTRAS),
        )

    def inbox_extras(self, invoice) -> dict:
        required = invoice.stages_required
        return {
            "stage": f"{invoice.stages_done + 1} of {required}" if required > 1 else "1 of 1",
            # (A zero total has its own badge on every row, from the total itself.)
            "flags": tuple(
                flag["text"] for flag in invoice.flags or () if flag["code"] != "zero_total"
            ),
            "facts": adhoc_facts(invoice.adhoc_request)
            if invoice.kind == Invoice.Kind.ADHOC
            else None,
        }

    def rows(self, invoices: Iterable, actions: Iterable | None = None) -> list[InvoiceRow]:
        """Rows of `invoices`; `actions`, if given, holds each one's allowed actions in order."""
        if actions is None:
            return [self.row(invoice) for invoice in invoices]
        return [
            self.row(invoice, allowed) for invoice, allowed in zip(invoices, actions, strict=True)
        ]


# --- the audit log ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AuditRow(Row):
    seq: str  # "#123"
    at_iso: str
    at: str  # UTC, to the second
    actor: str  # "system" for events without a person
    action: str
    invoice: Link | None
    change: str  # "pending_approval → approved", "new → pending_approval", or an em dash
    reason: str
    ip: str
    request_id: str


class AuditPresenter:
    def __init__(self):
        self.detail_url = url_maker("invoices:detail")

    def row(self, event) -> AuditRow:
        invoice_id = event.invoice_id
        if event.from_status or event.to_status:
            change = f"{event.from_status or 'new'} → {event.to_status or MISSING}"
        else:
            change = MISSING
        return AuditRow(
            seq=f"#{event.seq}",
            at_iso=utc_iso(event.at),
            at=utc_seconds(event.at),
            actor=event.actor_username or "system",
            action=event.action,
            invoice=Link(f"#{invoice_id}", self.detail_url(invoice_id)) if invoice_id else None,
            change=change,
            reason=event.reason or MISSING,
            ip=str(event.ip) if event.ip else "",
            request_id=event.request_id,
        )

    def rows(self, events: Iterable) -> list[AuditRow]:
        return [self.row(event) for event in events]
