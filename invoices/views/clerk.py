"""Clerk pages: a contract's billing cycle into an invoice, my invoices, revising.

New invoice is one URL in three steps: search (`?q=`), a contract and its cycles as the backend
lists them (`?contract=`), the preview of one cycle (`&cycle=`). With htmx only the part that
changed is swapped; every step is a real URL and works without JavaScript.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import retarget

from .. import backend_cache, money, roles, selectors, services, workflow
from ..backends import cycle_backend
from ..backends.base import BackendError
from ..forms import ContractSearchForm, SubmitCycleForm
from ..models import Invoice
from .common import done, problem_for, template_for

PAGE_SIZE = 20


# --- clerk: new cycle invoice ---------------------------------------------------------------
@require_GET
@permission_required(roles.SUBMIT, raise_exception=True)
@vary_on_headers("HX-Request", "HX-Target", "HX-History-Restore-Request")
def new_cycle(request):
    """Step 1 (search), 2 (?contract=: the contract and its cycles), 3 (&cycle=: the preview)."""
    template = "invoices/new_cycle.html"
    search = ContractSearchForm(request.GET)
    searchable = search.is_valid()
    q = search.cleaned_data["q"] if searchable else request.GET.get("q", "")
    contract_id = request.GET.get("contract", "").strip()
    cycle_key = request.GET.get("cycle", "").strip()
    context = {"q": q, "search_form": search}
    status = 200

    # A new version of a rejected invoice (?previous=) or of a voided one (?reissue=).
    for param, action in (("previous", "revise"), ("reissue", "reissue")):
        raw = request.GET.get(param, "")
        source = None
        if raw.isascii() and raw.isdigit() and len(raw) <= 18:
            source = Invoice.objects.filter(pk=int(raw), kind=Invoice.Kind.CYCLE).first()
        if source is not None and action in workflow.allowed_actions(source, request.user):
            context.update(
                previous=source,
                previous_id=source.pk,
                previous_param=param,
                reissue=action == "reissue",
            )

    htmx = request.htmx
    target = htmx.target if htmx and not htmx.history_restore_request else None
    # The contract list is asked of the backend only where it is shown: not when htmx swaps
    # the contract or the preview part in.
    if target == "contract-results" or (target is None and (q or not contract_id)):
        if not searchable:  # a message where the results go, never "everything" instead
            context["search_problem"], status = search.problem(), 400
        else:
            try:
                context["results"] = cycle_backend().search_contracts(
                    query=q, cursor=search.cleaned_data["cursor"] or None, limit=PAGE_SIZE
                )
            except BackendError as exc:
                context["search_problem"], status = problem_for(exc)
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
        context["workspace_problem"], status = problem_for(exc)
        return status
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
        context["preview_problem"], status = problem_for(exc)
        return status
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
    reissue = bool(data.get("reissue")) and previous is not None
    context = {
        "q": "",
        "search_form": ContractSearchForm(),
        "previous_id": previous.pk if previous else None,
        "previous_param": "reissue" if reissue else "previous",
        "reissue": reissue,
    }
    try:
        result = services.invoice_submit_cycle(
            actor=request.user,
            contract_id=data["contract"],
            cycle_key=data["cycle"],
            cycle_fp=data["cycle_fp"],
            confirm_empty=data.get("confirm_empty", False),
            previous=previous,
            reissue=reissue,
        )
    except services.StaleCycle as exc:
        # The service fetched the fresh list: show it (from the cache) with what happened.
        _workspace(context, data["contract"], "", refresh=False)
        context["workspace_notice"] = exc.message
        response = render(
            request, template_for(request, template, "workspace"), context, status=409
        )
        return retarget(response, "#workspace") if request.htmx else response
    except (services.ServiceError, BackendError) as exc:
        problem, status = problem_for(exc)
        problem.update(invoice=getattr(exc, "invoice", None), retry=isinstance(exc, BackendError))
        _workspace(context, data["contract"], data["cycle"], refresh=False)
        context["submit_problem"] = problem
        if isinstance(exc, services.NeedsConfirmation):
            context["needs_confirmation"] = True
        response = render(
            request, template_for(request, template, "preview"), context, status=status
        )
        return retarget(response, "#preview") if request.htmx else response
    invoice = result.invoice
    text = f"Invoice submitted for approval ({invoice.cycle_name})."
    if result.preview_differs:
        text += " Note: the backend's draft total differs from the preview; the manager sees both."
    return done(request, reverse("invoices:detail", args=[invoice.pk]), text)


# --- clerk: my invoices ---------------------------------------------------------------------
@require_GET
@permission_required(roles.SUBMIT, raise_exception=True)
def mine(request):
    return render(request, "invoices/mine.html", selectors.my_invoices(request.user))


@require_GET
@permission_required(roles.SUBMIT, raise_exception=True)
def revise(request, pk: int):
    """Start a new version of a rejected invoice, prefilled from it."""
    invoice = get_object_or_404(Invoice, pk=pk)
    refusal = workflow.refusal("revise", invoice, request.user)
    if refusal is not None:
        messages.error(request, refusal.message)
        return redirect("invoices:detail", pk=pk)
    if invoice.kind == Invoice.Kind.ADHOC:
        return redirect(reverse("invoices:new_adhoc") + "?" + urlencode({"previous": pk}))
    query = {"contract": invoice.contract_id, "cycle": invoice.cycle_bill_for_date, "previous": pk}
    return redirect(reverse("invoices:new_cycle") + "?" + urlencode(query))
