"""Clerk pages: plan a run (a dry run in the background), launch it, watch it, retry its failed
items, cancel it. The run page is one URL for every state of a run; htmx polls its progress part
every 2 s (and reloads the page once the run's state changes), and without JavaScript the page
refreshes itself while the run is moving."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.decorators import permission_required
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRefresh

from invoices import roles, services
from invoices.backends.base import BackendError
from invoices.views.common import done, problem_for, wants_fragment

from .. import selectors
from ..forms import PlanForm, default_through
from ..services import billrun_cancel, billrun_launch, billrun_plan, billrun_retry_failed
from ..states import ACTIVE_RUN_STATES, RUN_STEPS, ItemState, RunState
from .common import require_reader, run_or_404

R = RunState


@require_GET
def run_list(request):
    require_reader(request.user)
    return render(request, "billruns/list.html", {"runs": selectors.runs_list()})


@require_GET
@permission_required(roles.SUBMIT, raise_exception=True)
def new_run(request):
    form = PlanForm(initial={"through": default_through()})
    return render(request, "billruns/new.html", {"form": form})


@require_POST
@permission_required(roles.SUBMIT, raise_exception=True)
def plan(request):
    form = PlanForm(request.POST)
    if not form.is_valid():
        return render(request, "billruns/new.html", {"form": form}, status=422)
    try:
        run = billrun_plan(actor=request.user, filters=form.filters())
    except (services.ServiceError, BackendError) as exc:
        problem, status = problem_for(exc)
        return render(request, "billruns/new.html", {"form": form, "problem": problem}, status)
    return done(
        request,
        reverse("billruns:run", args=[run.pk]),
        f"Planning bill run #{run.pk}: the dry run is being prepared.",
    )


def _run_context(run, user) -> dict:
    may_act = user.has_perm(roles.SUBMIT)
    context = {
        "run": run,
        # What the run's state allows (its steps), for a clerk: launch or discard a plan,
        # cancel a run.
        "may_launch": may_act and run.status in RUN_STEPS["launch"].sources,
        "may_cancel": may_act and run.status in RUN_STEPS["cancel"].sources,
        "may_review": user.has_perm(roles.APPROVE),
        "may_history": user.has_perm(roles.HISTORY),
        "moving": run.status == R.PLANNING
        or (run.status in ACTIVE_RUN_STATES and run.finished_at is None),
    }
    if run.status in (R.PLANNED, R.CANCELLED) and run.launched_at is None:
        exceptions = run.plan.get("exceptions", [])
        groups = selectors.plan_groups(run)
        context.update(
            groups=groups,
            plan_items=selectors.plan_items(run),
            plan_count=sum(g.count for g in groups),
            exceptions=exceptions[: selectors.LISTED * 4],
            exceptions_count=len(exceptions),
        )
    elif run.launched_at is not None:
        progress = selectors.progress(run)
        failed = progress.count(ItemState.FAILED)
        context.update(
            progress=progress,
            progress_failed=failed,
            progress_skipped=progress.count(ItemState.SKIPPED),
            progress_submitted=progress.count(ItemState.SUBMITTED),
            retryable=may_act and failed and run.status in RUN_STEPS["retry"].sources,
            groups=selectors.submitted_groups(run),
            failed=selectors.items_in(run, ItemState.FAILED) if failed else [],
            skipped=selectors.items_in(run, ItemState.SKIPPED)
            if progress.count(ItemState.SKIPPED)
            else [],
            waiting=selectors.items_in(run, ItemState.PENDING, limit=10)
            if progress.count(ItemState.PENDING)
            else [],
        )
    return context


@require_GET
@vary_on_headers("HX-Request", "HX-Target", "HX-History-Restore-Request")
def run_page(request, pk: int):
    require_reader(request.user)
    run = run_or_404(pk)
    if wants_fragment(request):
        # The page polls its progress part; once the run's state changed, it reloads whole
        # (the actions and the lists depend on the state).
        seen = request.GET.get("seen", "")
        if seen != run.status or (seen in ACTIVE_RUN_STATES and run.finished_at):
            return HttpResponseClientRefresh()
        context = {"run": run, "moving": True}
        if run.launched_at is not None:
            context["progress"] = selectors.progress(run)
        return render(request, "billruns/run.html#live", context)
    return render(request, "billruns/run.html", _run_context(run, request.user))


def _act(request, pk: int, call: Callable, text: Callable[[object], str]):
    """A clerk's action on a run: the run page with a message, or with the refusal inline."""
    run_or_404(pk)
    try:
        result = call(actor=request.user, run_id=pk)
    except (services.ServiceError, BackendError) as exc:
        problem, status = problem_for(exc)
        context = _run_context(run_or_404(pk), request.user)
        context["problem"] = problem
        return render(request, "billruns/run.html", context, status=status)
    return done(request, reverse("billruns:run", args=[pk]), text(result))


@require_POST
@permission_required(roles.SUBMIT, raise_exception=True)
def launch(request, pk: int):
    return _act(
        request,
        pk,
        billrun_launch,
        lambda run: f"Bill run #{run.pk} launched: the workers are submitting its invoices.",
    )


@require_POST
@permission_required(roles.SUBMIT, raise_exception=True)
def cancel(request, pk: int):
    return _act(
        request,
        pk,
        billrun_cancel,
        lambda run: f"Bill run #{run.pk} cancelled: nothing new starts; items in progress finish.",
    )


@require_POST
@permission_required(roles.SUBMIT, raise_exception=True)
def retry_failed(request, pk: int):
    return _act(
        request,
        pk,
        billrun_retry_failed,
        lambda count: f"{count} failed item(s) queued again.",
    )
