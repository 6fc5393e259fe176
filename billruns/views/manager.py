"""Manager pages: a run's invoices for review (totals, the lines on demand), "Approve selected"
(each invoice with the content hash shown), and the batch approval's progress. Rejection stays
on each invoice's own page, with a reason."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRefresh

from invoices import roles, services
from invoices.backends.base import BackendError
from invoices.views.common import done, problem_for, wants_fragment

from .. import selectors
from ..batch import batch_approve_start
from ..forms import ApproveSelectedForm
from ..models import BatchApproval
from ..states import BatchState
from .common import run_or_404


def _page_number(request) -> int:
    text = request.GET.get("page", "1")
    return int(text) if text.isdigit() and 0 < int(text) < 100_000 else 1


def _review(request, run, *, problem=None, status=200):
    context = {"run": run, "problem": problem}
    context.update(selectors.review_page(run, request.user, page=_page_number(request)))
    return render(request, "billruns/review.html", context, status=status)


@require_GET
@permission_required(roles.APPROVE, raise_exception=True)
def review(request, pk: int):
    return _review(request, run_or_404(pk))


@require_POST
@permission_required(roles.APPROVE, raise_exception=True)
def approve_selected(request, pk: int):
    run = run_or_404(pk)
    form = ApproveSelectedForm(request.POST)
    if not form.is_valid():
        message = " ".join(form.non_field_errors())
        return _review(request, run, problem={"message": message}, status=422)
    try:
        batch = batch_approve_start(
            actor=request.user, run_id=run.pk, selections=form.cleaned_data["selections"]
        )
    except (services.ServiceError, BackendError) as exc:
        problem, status = problem_for(exc)
        return _review(request, run, problem=problem, status=status)
    count = len(form.cleaned_data["selections"])
    return done(
        request,
        reverse("billruns:batch", args=[batch.pk]),
        f"Approving {count} invoice(s) of bill run #{run.pk} in the background.",
    )


@require_GET
@permission_required(roles.APPROVE, raise_exception=True)
@vary_on_headers("HX-Request", "HX-Target", "HX-History-Restore-Request")
def batch_page(request, pk: int):
    batch = BatchApproval.objects.select_related("created_by", "run").filter(pk=pk).first()
    if batch is None:
        raise Http404("No such batch approval")
    moving = batch.status == BatchState.RUNNING
    if wants_fragment(request):
        if not moving:
            return HttpResponseClientRefresh()
        context = {"moving": True, **selectors.batch_page(batch)}
        return render(request, "billruns/batch.html#live", context)
    return render(request, "billruns/batch.html", {"moving": moving, **selectors.batch_page(batch)})
