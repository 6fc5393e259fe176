"""A stand-in's pages cost what anyone's do: whom they stand in for is asked once a request
(cached on the user), however many rows the page shows and the workflow asks about."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from invoices import services
from invoices.models import Invoice
from policies import services as absences
from policies.models import ApprovalRule
from tests.helpers import count_queries
from tests.workflow.fake_backend import cycle, line

pytestmark = pytest.mark.django_db


def submit(clerk, cycles):
    for c in cycles:
        services.invoice_submit_cycle(
            actor=clerk,
            contract_id="c-1",
            cycle_key=c.key,
            cycle_fp=services.cycle_fingerprint(c),
            preview_total_minor=None,
        )


def costs(client_for, person, pages) -> dict[str, tuple[int, int]]:
    """{page: (queries, queries of the absences table)} for `person`, each a new request."""
    found = {}
    for page in pages:
        client = client_for(type(person).objects.get(pk=person.pk))
        with count_queries() as q:
            assert client.get(page).status_code == 200, page
        asked = sum('"policies_absence"' in x["sql"] for x in q.captured_queries)
        found[page] = (len(q), asked)
    return found


@pytest.mark.parametrize("stand_in", ["deputy", "manager2"])
def test_a_stand_ins_pages_ask_whom_they_stand_in_for_once_whatever_the_rows(
    client_for, fake, clerk, manager, manager2, manager3, deputy, stand_in
):
    ApprovalRule.objects.create(name="Twice", stages=2)
    cycles = tuple(
        cycle(f"2000-{month:02}-01", f"{2000 + month // 12}-{month % 12 + 1:02}-01")
        for month in range(1, 13)
    )
    fake.add_contract("c-1", cycles=cycles, lines=(line("Hosting", "1.00"),))
    submit(clerk, cycles[:2])
    first = Invoice.objects.order_by("pk").first()
    services.invoice_approve(actor=manager3, invoice_id=first.pk, seen_hash=first.content_hash)
    person = {"deputy": deputy, "manager2": manager2}[stand_in]
    today = timezone.now().date()
    absences.absence_record(
        manager=manager, delegate=person, starts_on=today, ends_on=today + timedelta(days=1)
    )
    pages = (
        reverse("invoices:inbox"),
        reverse("invoices:history"),
        reverse("invoices:detail", args=[first.pk]),
        reverse("home"),
    )
    costs(client_for, person, pages)  # warm: who stands in today is shared for a minute
    few = costs(client_for, person, pages)
    submit(clerk, cycles[2:])
    many = costs(client_for, person, pages)
    assert many == few
    assert all(asked <= 1 for _, asked in many.values()), many
