"""Thin views: validate with a form, call a service or selector, render or redirect.

One template serves a full page and its htmx fragments (`page.html#fragment` when htmx asks for
one part). Every step has a real URL and works without JavaScript.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect, retarget

from . import backend_cache, money, roles, selectors, services
from .backends import cycle_backend
from .backends.base import (
    BackendError,
    BackendMisconfigured,
    BackendUnavailable,
    OutcomeUnknown,
)
from .forms import ApproveForm, ContractSearchForm, RejectForm, SubmitCycleForm
from .models import Invoice

PAGE_SIZE = 20


def permission_denied(request, exception=None):
    return render(request, "403.html", status=403)


def home(request):
    return render(request, "invoices/home.html", selectors.home_dashboard(request.user))


def backend_problem(exc: BackendError) -> dict:
    """How a backend failure is shown inline: a sentence, and whether trying again may help."""
    if isinstance(exc, BackendMisconfigured):
        hint = "An administrator must fix the backend settings; trying again will not help."
    elif isinstance(exc, OutcomeUnknown):
        hint = (
            "The billing backend may or may not have received it, and nothing was recorded here. "
            "Trying again is safe: the backend keeps one draft per billing cycle."
        )
    elif isinstance(exc, BackendUnavailable):
        hint = "The billing backend did not answer in time. Nothing was changed; try again."
    else:
        hint = "The billing backend refused the request."
    retryable = exc.retryable or isinstance(exc, OutcomeUnknown)
    return {"message": exc.message, "hint": hint, "retryable": retryable}


def _fragment(request, template: str, fragment: str) -> str:
    """The whole page, or only `fragment` when htmx asks for that part of it (not when it
    restores a page from history: then it needs all of it)."""
    htmx = request.htmx
    if htmx and not htmx.boosted and not htmx.history_restore_request:
        return f"{template}#{fragment}"
    return template


# --- clerk: new cycle invoice ---------------------------------------------------------------
@require_GET
@permission_required(roles.SUBMIT, raise_exception=True)
@vary_on_headers("HX-Request", "HX-Target", "HX-History-Restore-Request")
def new_cycle(request):
    """Step 1 (search), 2 (?contract=: the contract and its cycles), 3 (&cycle=: the preview)."""
    template = "invoices/new_cycle.html"
    search = ContractSearchForm(request.GET)
    search.is_valid()
    q = search.cleaned_data.get("q", "")
    contract_id = request.GET.get("contract", "").strip()
    cycle_key = request.GET.get("cycle", "").strip()
    context = {"q": q, "search_form": search}
    status = 200

    previous_id = request.GET.get("previous", "")
    if previous_id.isdigit():
        previous = Invoice.objects.filter(pk=int(previous_id), kind=Invoice.Kind.CYCLE).first()
        if previous is not None and previous.status == Invoice.Status.REJECTED:
            context.update(previous=previous, previous_id=previous.pk)

    htmx = request.htmx
    target = htmx.target if htmx and not htmx.history_restore_request else None
    # The contract list is asked of the backend only where it is shown: not when htmx swaps
    # the contract or the preview part in.
    if target == "contract-results" or (target is None and (q or not contract_id)):
        try:
            context["results"] = cycle_backend().search_contracts(
                query=q, cursor=search.cleaned_data.get("cursor") or None, limit=PAGE_SIZE
            )
        except BackendError as exc:
            context["search_problem"] = backend_problem(exc)
            status = 503
        if target == "contract-results":
            return render(request, f"{template}#results", context, status=status)

    if contract_id:
        refresh = request.GET.get("refresh") == "1"
        status = _workspace(context, contract_id, cycle_key, refresh=refresh) or status
        if target == "preview":
            return render(request, f"{template}#preview", context, status=status)
        if target == "workspace":
            return render(request, f"{template}#workspace", context, status=status)
    return render(request, template, context, status=status)


def _workspace(context: dict, contract_id: str, cycle_key: str, *, refresh: bool) -> int | None:
    """Fill the contract / cycles / preview part of the page; returns an error status or None."""
    context["contract_id"] = contract_id
    try:
        contract, cycles, fetched = backend_cache.contract_and_cycles(contract_id, refresh=refresh)
    except BackendError as exc:
        context["workspace_problem"] = backend_problem(exc)
        return 404 if getattr(exc, "status", None) == 404 else 503
    context.update(
        contract=contract,
        cycles_fetched=fetched,
        cycle_rows=selectors.cycle_rows(
            backend=cycle_backend().name, contract=contract, cycles=cycles
        ),
    )
    if not cycle_key:
        return None
    cycle = next((c for c in cycles if c.key == cycle_key), None)
    if cycle is None:
        context["preview_problem"] = {
            "message": "That billing cycle is not in the backend's current list for this "
            "contract. Choose one of the cycles listed.",
            "hint": "",
            "retryable": False,
        }
        return 404
    row = next(r for r in context["cycle_rows"] if r.cycle.key == cycle_key)
    context.update(cycle=cycle, cycle_row=row, cycle_fp=services.cycle_fingerprint(cycle))
    if row.live is not None:
        return None  # the page links to the live invoice instead of offering a submission
    try:
        preview = cycle_backend().preview_cycle(contract, cycle)
    except BackendError as exc:
        context["preview_problem"] = backend_problem(exc)
        return 503
    try:
        preview_total_minor = money.to_minor(preview.total, preview.currency)
    except money.MoneyError as exc:
        context["preview_problem"] = {"message": str(exc), "hint": "", "retryable": False}
        return 502
    context.update(
        preview=preview,
        preview_total_minor=preview_total_minor,
        needs_confirmation=services.needs_empty_confirmation(preview.lines, preview_total_minor),
    )
    return None


@require_POST
@permission_required(roles.SUBMIT, raise_exception=True)
def submit_cycle(request):
    template = "invoices/new_cycle.html"
    form = SubmitCycleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That submission was incomplete; choose the cycle again.")
        return redirect("invoices:new_cycle")
    data = form.cleaned_data
    previous = None
    if data.get("previous"):
        previous = get_object_or_404(Invoice, pk=data["previous"])
    # Every answer below re-renders the workspace, whose links and form keep the revision.
    context = {
        "q": "",
        "search_form": ContractSearchForm(),
        "previous_id": previous.pk if previous else None,
    }
    try:
        result = services.invoice_submit_cycle(
            actor=request.user,
            contract_id=data["contract"],
            cycle_key=data["cycle"],
            cycle_fp=data["cycle_fp"],
            preview_total_minor=data.get("preview_total_minor"),
            confirm_empty=data.get("confirm_empty", False),
            previous=previous,
        )
    except services.StaleCycle as exc:
        _workspace(context, data["contract"], "", refresh=False)
        context["workspace_notice"] = exc.message
        response = render(request, _fragment(request, template, "workspace"), context, status=409)
        return retarget(response, "#workspace") if request.htmx else response
    except services.CycleAlreadyInvoiced as exc:
        _workspace(context, data["contract"], data["cycle"], refresh=False)
        context["submit_problem"] = {"message": exc.message, "invoice": exc.invoice}
        status = 409
    except services.NeedsConfirmation as exc:
        _workspace(context, data["contract"], data["cycle"], refresh=False)
        context["submit_problem"] = {"message": exc.message}
        context["needs_confirmation"] = True
        status = 422
    except services.UpstreamFailed as exc:
        _workspace(context, data["contract"], data["cycle"], refresh=False)
        context["submit_problem"] = {"message": exc.message}
        status = 503
    except services.ServiceError as exc:
        _workspace(context, data["contract"], data["cycle"], refresh=False)
        context["submit_problem"] = {"message": exc.message}
        status = 409
    except BackendError as exc:
        _workspace(context, data["contract"], data["cycle"], refresh=False)
        context["submit_problem"] = {**backend_problem(exc), "retry": True}
        status = 503
    else:
        invoice = result.invoice
        text = f"Invoice submitted for approval ({invoice.cycle_name})."
        if result.preview_differs:
            text += (
                " Note: the backend's draft total differs from the preview; the manager sees both."
            )
        messages.success(request, text)
        url = reverse("invoices:detail", args=[invoice.pk])
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    response = render(request, _fragment(request, template, "preview"), context, status=status)
    return retarget(response, "#preview") if request.htmx else response


# --- clerk: my invoices ---------------------------------------------------------------------
@require_GET
@permission_required(roles.SUBMIT, raise_exception=True)
def mine(request):
    return render(request, "invoices/mine.html", selectors.my_invoices(request.user))


# --- manager: approvals ---------------------------------------------------------------------
@require_GET
@permission_required(roles.APPROVE, raise_exception=True)
def inbox(request):
    return render(
        request, "invoices/inbox.html", {"invoices": selectors.approval_inbox(request.user)}
    )


# --- everyone who reads history: the invoice page -------------------------------------------
def _can_read(user, invoice: Invoice) -> bool:
    return user.has_perm(roles.HISTORY) or invoice.submitted_by_id == user.pk


@require_GET
def detail(request, pk: int):
    invoice = selectors.invoice_for_page(pk)
    if invoice is None:
        raise Http404("No such invoice")
    if not _can_read(request.user, invoice):
        raise PermissionDenied
    return render(request, "invoices/detail.html", selectors.invoice_page(invoice, request.user))


def _detail_with_problem(request, pk: int, problem: dict, *, status: int, **extra):
    invoice = selectors.invoice_for_page(pk)
    context = selectors.invoice_page(invoice, request.user)
    context.update(problem=problem, **extra)
    return render(request, "invoices/detail.html", context, status=status)


def _done(request, pk: int, text: str):
    messages.success(request, text)
    url = reverse("invoices:detail", args=[pk])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _decide(request, pk: int, action, done: str):
    """Run a decision service and show its outcome on the invoice page: a refusal or a backend
    failure inline with the status that says what it was, success as a message."""
    try:
        action()
    except services.NotAllowed as exc:
        return _detail_with_problem(request, pk, {"message": exc.message}, status=403)
    except services.DraftDrifted as exc:
        return _detail_with_problem(
            request, pk, {"message": exc.message}, status=409, drift=exc.changes
        )
    except services.UpstreamFailed as exc:
        return _detail_with_problem(request, pk, {"message": exc.message}, status=502)
    except services.ServiceError as exc:
        return _detail_with_problem(request, pk, {"message": exc.message}, status=409)
    except BackendError as exc:
        return _detail_with_problem(request, pk, backend_problem(exc), status=503)
    return _done(request, pk, done)


@require_POST
@permission_required(roles.APPROVE, raise_exception=True)
def approve(request, pk: int):
    get_object_or_404(Invoice, pk=pk)
    form = ApproveForm(request.POST)
    if not form.is_valid():
        return _detail_with_problem(
            request, pk, {"message": "The approval form was incomplete; try again."}, status=400
        )
    return _decide(
        request,
        pk,
        lambda: services.invoice_approve(
            actor=request.user, invoice_id=pk, seen_hash=form.cleaned_data["content_hash"]
        ),
        "Invoice approved and sent to the billing backend.",
    )


@require_POST
@permission_required(roles.APPROVE, raise_exception=True)
def retry(request, pk: int):
    get_object_or_404(Invoice, pk=pk)
    return _decide(
        request,
        pk,
        lambda: services.invoice_retry(actor=request.user, invoice_id=pk),
        "Invoice approved and sent to the billing backend.",
    )


@require_POST
@permission_required(roles.APPROVE, raise_exception=True)
def reject(request, pk: int):
    get_object_or_404(Invoice, pk=pk)
    form = RejectForm(request.POST)
    if not form.is_valid():
        return _detail_with_problem(
            request, pk, {"message": "A rejection needs a reason."}, status=422, reject_form=form
        )
    return _decide(
        request,
        pk,
        lambda: services.invoice_reject(
            actor=request.user, invoice_id=pk, reason=form.cleaned_data["reason"]
        ),
        "Invoice rejected; the clerk has been told why.",
    )


@require_POST
@permission_required(roles.SUBMIT, raise_exception=True)
def withdraw(request, pk: int):
    get_object_or_404(Invoice, pk=pk)
    return _decide(
        request,
        pk,
        lambda: services.invoice_withdraw(actor=request.user, invoice_id=pk),
        "Invoice withdrawn.",
    )


@require_GET
@permission_required(roles.SUBMIT, raise_exception=True)
def revise(request, pk: int):
    """Start a new version of a rejected invoice, prefilled from it."""
    invoice = get_object_or_404(Invoice, pk=pk)
    if invoice.status != Invoice.Status.REJECTED:
        messages.error(request, "Only a rejected invoice can be revised.")
        return redirect("invoices:detail", pk=pk)
    if invoice.kind == Invoice.Kind.ADHOC:
        return redirect(reverse("invoices:new_adhoc") + "?" + urlencode({"previous": pk}))
    query = {"contract": invoice.contract_id, "cycle": invoice.cycle_bill_for_date, "previous": pk}
    return redirect(reverse("invoices:new_cycle") + "?" + urlencode(query))
