"""Absences recorded at the same moment on PostgreSQL: one stand-in is never recorded for two
absent managers on the same days."""

from datetime import timedelta

import pytest
from django.utils import timezone

from invoices import services
from policies import services as absences
from policies.models import Absence
from tests.helpers import needs_postgres
from tests.workflow.test_concurrency import run_together

pytestmark = [pytest.mark.postgres, needs_postgres, pytest.mark.django_db(transaction=True)]


def test_two_managers_choosing_the_same_stand_in_at_once_record_one_absence(
    manager, manager2, manager3, deputy
):
    today = timezone.now().date()

    def away(person):
        return lambda: absences.absence_record(
            manager=person, delegate=deputy, starts_on=today, ends_on=today + timedelta(days=2)
        )

    for _ in range(5):
        results = run_together(away(manager), away(manager2), away(manager3))
        recorded = [r for r in results if isinstance(r, Absence)]
        refused = [r for r in results if isinstance(r, services.ServiceError)]
        assert len(recorded) == 1 and len(refused) == 2, results
        assert all("already stands in for" in str(r) for r in refused), results
        assert Absence.objects.filter(cancelled_at__isnull=True).count() == 1
        absences.absence_cancel(manager=recorded[0].manager, absence_id=recorded[0].pk)
