"""What is unusual, computed once at submission against the last approved invoice of the same
contract: total change in percent, lines added or gone, quantity jumps, a zero total and a cycle
out of order; stored with the snapshot and shown on the invoice page and in the inbox."""

import pytest
from django.urls import reverse

from invoices import services
from invoices.backends.base import BackendUnavailable
from invoices.models import Invoice

from .conftest import JUNE, MAY
from .fake_backend import cycle, line

pytestmark = pytest.mark.django_db
APRIL = cycle("2026-04-01", "2026-05-01")


def submit(clerk, c) -> Invoice:
    return services.invoice_submit_cycle(
        actor=clerk,
        contract_id="c-1",
        cycle_key=c.key,
        cycle_fp=services.cycle_fingerprint(c),
        preview_total_minor=None,
        confirm_empty=True,
    ).invoice


def approved(clerk, manager, c) -> Invoice:
    invoice = submit(clerk, c)
    return services.invoice_approve(
        actor=manager, invoice_id=invoice.pk, seen_hash=invoice.content_hash
    )


def codes(invoice) -> list[str]:
    return [flag["code"] for flag in invoice.flags]


def test_an_invoice_like_the_last_one_has_no_flags(fake, clerk, manager):
    approved(clerk, manager, MAY)
    fake.lines[("c-1", JUNE.bill_for_date)] = fake.lines[("c-1", MAY.bill_for_date)]
    assert submit(clerk, JUNE).flags == []


def test_changes_against_the_last_approved_invoice_are_flagged(fake, clerk, manager):
    first = approved(clerk, manager, MAY)  # Hosting 100 + Support 50
    fake.lines[("c-1", JUNE.bill_for_date)] = (
        line("Hosting", "300.00", qty="3"),  # quantity 1 -> 3
        line("Storage", "20.00"),  # new
    )  # Support gone; total 150.00 -> 320.00
    invoice = submit(clerk, JUNE)
    assert codes(invoice) == ["total_change", "line_added", "line_gone", "quantity_jump"]
    texts = [flag["text"] for flag in invoice.flags]
    assert texts[0] == (
        f"Total +113% against the last approved invoice #{first.pk} ({MAY.name}) ($150.00)."
    )
    assert texts[1] == f"New line since #{first.pk} ({MAY.name}): Storage."
    assert texts[2] == f"Line gone since #{first.pk} ({MAY.name}): Support."
    assert texts[3] == "Quantity of Hosting: 1 → 3."
    # Stored once: the invoice page reads it, nothing is recomputed.
    assert Invoice.objects.get(pk=invoice.pk).flags == invoice.flags


def test_a_small_change_is_not_flagged(fake, clerk, manager, settings):
    settings.FLAG_TOTAL_CHANGE_PERCENT = 25
    approved(clerk, manager, MAY)
    fake.lines[("c-1", JUNE.bill_for_date)] = (line("Hosting", "110.00"), line("Support", "50.00"))
    assert submit(clerk, JUNE).flags == []  # +6.7 %


def test_a_zero_total_is_flagged(fake, clerk):
    fake.lines[("c-1", MAY.bill_for_date)] = (line("Hosting", "0.00"),)
    assert codes(submit(clerk, MAY)) == ["zero_total"]


def test_a_cycle_out_of_order_is_flagged(fake, clerk):
    fake.cycles["c-1"] = (APRIL, MAY, JUNE)
    fake.lines[("c-1", APRIL.bill_for_date)] = fake.lines[("c-1", MAY.bill_for_date)]
    invoice = submit(clerk, JUNE)  # April and May were never invoiced
    assert codes(invoice) == ["out_of_order"]
    assert invoice.flags[0]["text"] == f"2 earlier cycles never invoiced: {APRIL.name}, {MAY.name}."
    assert codes(submit(clerk, APRIL)) == []


def test_a_bill_run_submission_completed_by_reconcile_is_flagged_out_of_order_too(fake, clerk):
    fake.cycles["c-1"] = (APRIL, MAY, JUNE)
    fake.fail("get_draft", BackendUnavailable("down"))  # the draft cannot be read back
    fake.fail("delete_draft", BackendUnavailable("down"))
    with pytest.raises(services.UpstreamFailed):
        services.invoice_submit_cycle(
            actor=clerk,
            contract_id="c-1",
            cycle_key=JUNE.key,
            cycle_fp=services.cycle_fingerprint(JUNE),
            preview_total_minor=None,
            run_id=7,
        )
    intent = Invoice.objects.get(status=Invoice.Status.SUBMITTING)
    assert services.invoice_reconcile(invoice_id=intent.pk).after == Invoice.Status.PENDING
    assert codes(Invoice.objects.get(pk=intent.pk)) == ["out_of_order"]


def test_flags_show_on_the_invoice_page_and_in_the_inbox(
    fake, clerk, manager, client_for, django_assert_max_num_queries
):
    fake.cycles["c-1"] = (APRIL, MAY, JUNE)
    invoice = submit(clerk, JUNE)
    client = client_for(manager)
    page = client.get(reverse("invoices:detail", args=[invoice.pk])).content.decode()
    assert "2 earlier cycles never invoiced" in page
    submit(clerk, MAY)
    with django_assert_max_num_queries(8):
        inbox = client.get(reverse("invoices:inbox")).content.decode()
    assert inbox.count("earlier cycle") == 2
