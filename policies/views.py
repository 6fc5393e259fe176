"""Managers record when they are away and who stands in for them."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from invoices import services
from invoices.views.common import problem_for

from . import services as absences
from .delegation import approves_in_own_right
from .forms import AbsenceForm
from .models import Absence


def _manager(request):
    """Absences are a manager's own: standing in for someone does not let one record one."""
    if not approves_in_own_right(request.user):
        raise PermissionDenied
    return request.user


@require_http_methods(["GET", "POST"])
def absences_page(request):
    manager = _manager(request)
    form = AbsenceForm(request.POST or None, manager=manager)
    status = 200
    problem = None
    if request.method == "POST":
        if form.is_valid():
            try:
                absences.absence_record(manager=manager, **form.cleaned_data)
            except services.ServiceError as exc:
                problem, status = problem_for(exc)
            else:
                messages.success(request, "Absence recorded.")
                return redirect("policies:absences")
        else:
            status = 422
    today = timezone.now().date()
    context = {
        "form": form,
        "problem": problem,
        "absences": Absence.objects.filter(manager=manager).select_related("delegate")[:50],
        "covering": Absence.objects.filter(
            delegate=manager, cancelled_at__isnull=True, ends_on__gte=today
        ).select_related("manager")[:50],
        "today": today,
    }
    return render(request, "policies/absences.html", context, status=status)


@require_POST
def cancel_absence(request, pk: int):
    manager = _manager(request)
    try:
        absences.absence_cancel(manager=manager, absence_id=pk)
    except services.ServiceError as exc:
        messages.error(request, problem_for(exc)[0]["message"])
    else:
        messages.success(request, "Absence cancelled.")
    return redirect(reverse("policies:absences"))
