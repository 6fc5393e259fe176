"""History, audit log, their CSV exports, and contract coverage: read-only pages.

Thin views over the selectors (keyset pages) and exports. The filters are a GET form, so the
filtered view is the URL; htmx replaces only the results part (and pushes the URL), and
everything works without it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.decorators import permission_required
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode
from django.views.decorators.http import require_GET
from django_htmx.http import push_url

from .. import backend_cache, exports, roles, selectors
from ..backends import cycle_backend
from ..backends.base import BackendError
from ..forms import AuditFilterForm, HistoryFilterForm
from ..forms.filters import COMMON_CURRENCIES
from ..keyset import PAGE_SIZE
from .common import problem_for, wants_fragment


@dataclass(frozen=True)
class Column:
    label: str
    css: str = ""
    hidden: bool = False  # a header for screen readers only


@dataclass(frozen=True)
class ListSpec:
    """What differs between the history and the audit log in their shared results template
    (templates/invoices/_list_results.html)."""

    heading: str
    heading_id: str
    singular: str
    plural: str
    empty: str
    columns: tuple[Column, ...]
    rows_template: str
    url_name: str
    pager_label: str
    newer: str
    older: str
    target: str
    export_name: str
    export_note: str


HISTORY_LIST = ListSpec(
    heading="Invoices",
    heading_id="results-h",
    singular="invoice",
    plural="invoices",
    empty="No invoice has been submitted yet.",
    columns=(
        Column("Invoice"),
        Column("Kind"),
        Column("Contract"),
        Column("Customer"),
        Column("Cycle / period"),
        Column("Total", "num"),
        Column("Status"),
        Column("Submitted (UTC)"),
        Column("Decided by"),
        Column("Actions", hidden=True),
    ),
    rows_template="invoices/_history_rows.html",
    url_name="invoices:history",
    pager_label="Invoice pages",
    newer="Newer invoices",
    older="Older invoices",
    target="#history-results",
    export_name="invoices:history_export",
    export_note="totals in major units with the currency code, times in UTC.",
)
AUDIT_LIST = ListSpec(
    heading="Events",
    heading_id="audit-results-h",
    singular="event",
    plural="events",
    empty="No event has been recorded yet.",
    columns=(
        Column("When (UTC)"),
        Column("Event"),
        Column("Actor"),
        Column("Action"),
        Column("Invoice"),
        Column("Status change"),
        Column("Reason"),
        Column("Origin"),
    ),
    rows_template="invoices/_audit_rows.html",
    url_name="invoices:audit",
    pager_label="Audit log pages",
    newer="Newer events",
    older="Older events",
    target="#audit-results",
    export_name="invoices:audit_export",
    export_note="with its hashes, times in UTC.",
)


def _list_page(request, template: str, form, page_of, spec: ListSpec, extra: dict):
    """The shared shape of the history and audit pages."""
    page = None
    if form.is_valid():
        page = page_of(
            form,
            after=request.GET.get("after", ""),
            before=request.GET.get("before", ""),
            size=PAGE_SIZE,
        )
    query = urlencode(form.query_items())
    context = {
        "form": form,
        "page": page,
        "query": query,
        "export_url": reverse(spec.export_name) + (f"?{query}" if query else ""),
        "list": spec,
        **extra,
    }
    fragment = wants_fragment(request)
    response = render(
        request,
        f"{template}#results" if fragment else template,
        {**context, "fragment": fragment},
        status=200 if page is not None else 422,
    )
    if fragment:
        # The address bar shows the canonical filtered view (no empty parameters).
        cursor = [(k, request.GET[k]) for k in ("after", "before") if request.GET.get(k)]
        push_url(response, request.path + "?" + urlencode(form.query_items() + cursor))
    patch_vary_headers(response, ("HX-Request", "HX-History-Restore-Request"))
    return response


def _stamp() -> str:
    return timezone.now().strftime("%Y%m%dT%H%M%SZ")


# --- invoice history -------------------------------------------------------------------------
@require_GET
@permission_required(roles.HISTORY, raise_exception=True)
def history_list(request):
    form = HistoryFilterForm(request.GET, users=selectors.user_choices())
    user = request.user
    return _history_page(request, form, lambda f, **kw: selectors.history_page(f, user=user, **kw))


def _history_page(request, form, page_of):
    extra = {"currencies": COMMON_CURRENCIES}  # the currency field's suggestions
    return _list_page(request, "invoices/history.html", form, page_of, HISTORY_LIST, extra)


@require_GET
@permission_required(roles.HISTORY, raise_exception=True)
def history_export(request):
    form = HistoryFilterForm(request.GET, users=selectors.user_choices())
    if not form.is_valid():
        return _history_page(request, form, None)  # the page, with what is wrong
    return exports.csv_response(
        f"invoice-history-{_stamp()}.csv",
        exports.HISTORY_CSV_HEADER,
        exports.history_csv_rows(form),
    )


# --- audit log -------------------------------------------------------------------------------
@require_GET
@permission_required(roles.AUDIT, raise_exception=True)
def audit_log(request):
    form = AuditFilterForm(request.GET, users=selectors.user_choices())
    return _list_page(
        request, "invoices/audit_log.html", form, selectors.audit_page, AUDIT_LIST, {}
    )


@require_GET
@permission_required(roles.AUDIT, raise_exception=True)
def audit_export(request):
    form = AuditFilterForm(request.GET, users=selectors.user_choices())
    if not form.is_valid():
        return _list_page(request, "invoices/audit_log.html", form, None, AUDIT_LIST, {})
    return exports.csv_response(
        f"audit-log-{_stamp()}.csv", exports.AUDIT_CSV_HEADER, exports.audit_csv_rows(form)
    )


# --- contract coverage -----------------------------------------------------------------------
@require_GET
@permission_required(roles.HISTORY, raise_exception=True)
def coverage(request, contract_id: str):
    refresh = request.GET.get("refresh") == "1"
    context = {
        "contract_id": contract_id,
        "can_submit": request.user.has_perm(roles.SUBMIT),
        "history_url": reverse("invoices:history") + "?" + urlencode({"contract": contract_id}),
    }
    try:
        backend_name = cycle_backend().name
        contract, cycles, fetched = backend_cache.contract_and_cycles(contract_id, refresh=refresh)
    except BackendError as exc:
        context["problem"], status = problem_for(exc)
        return render(request, "invoices/coverage.html", context, status=status)
    context.update(
        contract=contract,
        fetched=fetched,
        coverage=selectors.coverage(backend=backend_name, contract=contract, cycles=cycles),
        new_cycle_url=reverse("invoices:new_cycle"),
    )
    return render(request, "invoices/coverage.html", context)
