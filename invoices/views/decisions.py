"""The approvals inbox and the invoice page with its actions: approve, retry, reject (managers)
and withdraw (the submitter).

The four actions are one view: each is a row of `DECISIONS` (its form, its service call, what
success says), its permission comes from the workflow table and is checked before the invoice
is even looked up, and every refusal or backend failure is shown inline on the invoice page
with the status `common.problem_for` gives it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from .. import roles, selectors, services, workflow
from ..backends.base import BackendError
from ..forms import ApproveForm, RejectForm
from ..models import Invoice
from .common import done, problem_for


# --- manager: approvals -------------------------------------------------------------------------
@require_GET
@permission_required(roles.APPROVE, raise_exception=True)
def inbox(request):
    return render(
        request, "invoices/inbox.html", {"invoices": selectors.approval_inbox(request.user)}
    )


# --- everyone who reads history, and the submitter: the invoice page ---------------------------
@require_GET
def detail(request, pk: int):
    invoice = selectors.invoice_for_page(pk)
    if invoice is None:
        raise Http404("No such invoice")
    if not workflow.may_read(request.user, invoice):
        raise PermissionDenied
    return render(request, "invoices/detail.html", selectors.invoice_page(invoice, request.user))


def _page_with_problem(request, pk: int, problem: dict, *, status: int, **extra):
    context = selectors.invoice_page(selectors.invoice_for_page(pk), request.user)
    context.update(problem=problem, **extra)
    return render(request, "invoices/detail.html", context, status=status)


# --- the actions --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Decision:
    form: type[forms.Form] | None
    invalid: str  # shown when the form does not validate (status 400, or 422 for a reason)
    invalid_status: int
    call: Callable[..., Invoice]  # (actor, pk, cleaned data) -> the invoice
    done: str | Callable[[Invoice], str]  # what success says (of the invoice it left)


DECISIONS: dict[str, Decision] = {
    "approve": Decision(
        ApproveForm,
        "The approval form was incomplete; try again.",
        400,
        lambda actor, pk, data: services.invoice_approve(
            actor=actor, invoice_id=pk, seen_hash=data["content_hash"]
        ),
        lambda invoice: (
            "Invoice approved and sent to the billing backend."
            if invoice.status != Invoice.Status.PENDING
            else f"Your approval is recorded (stage {invoice.stages_done} of "
            f"{invoice.stages_required}). Another manager approves the last stage, which sends "
            "it to the billing backend."
        ),
    ),
    "retry": Decision(
        None,
        "",
        400,
        lambda actor, pk, data: services.invoice_retry(actor=actor, invoice_id=pk),
        "Invoice approved and sent to the billing backend.",
    ),
    "reject": Decision(
        RejectForm,
        "A rejection needs a reason.",
        422,
        lambda actor, pk, data: services.invoice_reject(
            actor=actor, invoice_id=pk, reason=data["reason"], seen_hash=data.get("content_hash")
        ),
        "Invoice rejected; the clerk has been told why.",
    ),
    "withdraw": Decision(
        None,
        "",
        400,
        lambda actor, pk, data: services.invoice_withdraw(actor=actor, invoice_id=pk),
        "Invoice withdrawn.",
    ),
}


@require_POST
def decide(request, pk: int, action: str):
    """One of DECISIONS on invoice `pk`: refused with 403 before anything is looked up if the
    person's role does not carry the action's permission (workflow.ACTIONS)."""
    if not request.user.has_perm(workflow.ACTIONS[action].permission):
        raise PermissionDenied
    if not Invoice.objects.filter(pk=pk).exists():
        raise Http404("No such invoice")
    decision = DECISIONS[action]
    data: dict = {}
    if decision.form is not None:
        form = decision.form(request.POST)
        if not form.is_valid():
            extra = {"reject_form": form} if action == "reject" else {}
            return _page_with_problem(
                request, pk, {"message": decision.invalid}, status=decision.invalid_status, **extra
            )
        data = form.cleaned_data
    try:
        invoice = decision.call(request.user, pk, data)
    except (services.ServiceError, BackendError) as exc:
        problem, status = problem_for(exc)
        drift = getattr(exc, "changes", None)
        return _page_with_problem(request, pk, problem, status=status, drift=drift)
    text = decision.done(invoice) if callable(decision.done) else decision.done
    return done(request, reverse("invoices:detail", args=[pk]), text)
