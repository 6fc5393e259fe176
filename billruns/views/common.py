"""What both groups of pages share: who may read runs, and the run page with a problem."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from invoices import roles

from .. import selectors

READERS = (roles.SUBMIT, roles.APPROVE, roles.HISTORY)


def may_read_runs(user) -> bool:
    return any(user.has_perm(perm) for perm in READERS)


def require_reader(user) -> None:
    if not may_read_runs(user):
        raise PermissionDenied


def run_or_404(pk: int):
    run = selectors.run_for_page(pk)
    if run is None:
        raise Http404("No such bill run")
    return run
