"""Clerk pages for correcting an approved invoice: the correction request (a credit note of some
lines or of the whole remaining balance, a void, or credit and re-issue), and re-issuing a
voided invoice as a new, linked submission.

Nothing here goes upstream: a correction waits for a manager's approval on its own invoice page
(`decisions`), like any submission.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods

from .. import roles, selectors, services, workflow
from ..backends.base import BackendError
from ..forms.corrections import CorrectionForm
from ..models import Invoice
from .common import done, problem_for

TEMPLATE = "invoices/correct.html"


def _refused(request, invoice: Invoice, action: str):
    """A refusal of the workflow table: 403 for one's role; otherwise back to the invoice page
    with the reason (a GET), or the reason with 409 (a POST: nothing was requested)."""
    refusal = workflow.refusal(action, invoice, request.user)
    if refusal is None:
        return None
    if refusal.not_allowed:
        raise PermissionDenied(refusal.message)
    if request.method == "POST":
        context = {"invoice": invoice, "refused": {"message": refusal.message}}
        return render(request, TEMPLATE, context, status=409)
    messages.error(request, refusal.message)
    return redirect("invoices:detail", pk=invoice.pk)


@require_http_methods(["GET", "POST"])
@permission_required(roles.SUBMIT, raise_exception=True)
def request_correction(request, pk: int):
    invoice = get_object_or_404(Invoice.objects.select_related("submitted_by"), pk=pk)
    refused = _refused(request, invoice, "correct")
    if refused is not None:
        return refused
    standing = selectors.named(services.standing(invoice))
    form = CorrectionForm(request.POST or None, invoice=invoice, standing=standing)
    context = {
        "invoice": invoice,
        "standing": standing,
        "form": form,
        "page_correction": {"standing": standing},
    }
    if request.method == "GET":
        return render(request, TEMPLATE, context)
    if not form.is_valid():
        return render(request, TEMPLATE, context, status=422)
    asked = form.asked()
    lines = None
    if asked.lines is not None:
        lines = [services.CreditLine(index, minor) for index, minor in asked.lines]
    try:
        correction = services.invoice_request_correction(
            actor=request.user,
            invoice_id=invoice.pk,
            kind=asked.kind,
            reason_code=form.cleaned_data["reason_code"],
            reason_text=form.cleaned_data["reason_text"],
            lines=lines,
            reissue=asked.reissue,
        )
    except (services.ServiceError, BackendError) as exc:
        context["problem"], status = problem_for(exc)
        return render(request, TEMPLATE, context, status=status)
    text = (
        f"{correction.get_kind_display()} requested. Nothing is sent to the billing backend "
        "until another manager approves it."
    )
    return done(request, reverse("invoices:detail", args=[correction.pk]), text)


@require_GET
@permission_required(roles.SUBMIT, raise_exception=True)
def reissue(request, pk: int):
    """Re-issue a voided invoice: the new-invoice page, pre-filled from it; submitting there
    makes the next version of it."""
    invoice = get_object_or_404(Invoice, pk=pk)
    refused = _refused(request, invoice, "reissue")
    if refused is not None:
        return refused
    if invoice.kind == Invoice.Kind.ADHOC:
        return redirect(reverse("invoices:new_adhoc") + "?" + urlencode({"reissue": pk}))
    query = {"contract": invoice.contract_id, "cycle": invoice.cycle_bill_for_date, "reissue": pk}
    return redirect(reverse("invoices:new_cycle") + "?" + urlencode(query))
