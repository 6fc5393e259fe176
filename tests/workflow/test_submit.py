"""Clerk submission of a contract-cycle invoice (services)."""

import pytest
from django.core import mail

from invoices import services
from invoices.audit import audit_verify
from invoices.backends.base import (
    AlreadyInvoicedUpstream,
    BackendRejected,
    BackendUnavailable,
    CycleNotMatched,
)
from invoices.models import AuditEvent, Invoice

from .conftest import JUNE, MAY
from .fake_backend import cycle, line

pytestmark = pytest.mark.django_db


def submit(actor, c=MAY, **kw):
    kw.setdefault("preview_total_minor", 15000)
    return services.invoice_submit_cycle(
        actor=actor,
        contract_id="c-1",
        cycle_key=c.key,
        cycle_fp=services.cycle_fingerprint(c),
        **kw,
    )


def test_submit_snapshots_the_drafts_real_lines_and_queues_for_approval(
    fake, clerk, manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = submit(clerk)
    invoice = result.invoice
    assert invoice.status == Invoice.Status.PENDING
    assert invoice.total_minor == 15000
    assert [ln["name"] for ln in invoice.lines] == ["Hosting", "Support"]
    assert [ln["amount_minor"] for ln in invoice.lines] == [10000, 5000]
    assert invoice.upstream_id in fake.drafts
    assert invoice.cycle_bill_for_date == MAY.bill_for_date  # verbatim
    assert invoice.cycle_start_date == MAY.start_date
    assert len(invoice.content_hash) == 64
    assert not result.preview_differs
    event = AuditEvent.objects.get(invoice=invoice)
    assert (event.action, event.from_status, event.to_status) == (
        "invoice.submitted",
        "submitting",
        "pending_approval",
    )
    assert event.actor == clerk
    assert fake.calls["generate_draft"] == 1
    # Managers hear about it (after commit); the submitter does not e-mail themselves.
    assert [m.to for m in mail.outbox] == [["manager@example.com"]]
    assert audit_verify().ok


def test_submit_flags_a_draft_total_that_differs_from_the_preview(fake, clerk):
    result = submit(clerk, preview_total_minor=14000)
    assert result.preview_differs
    assert result.invoice.preview_differs
    assert result.invoice.preview_total_minor == 14000


def test_submit_refuses_a_cycle_that_changed_since_it_was_shown(fake, clerk):
    shown = MAY
    fake.cycles["c-1"] = (cycle("2026-05-01", "2026-05-31"), JUNE)  # same bill_for, new end
    with pytest.raises(services.StaleCycle) as caught:
        services.invoice_submit_cycle(
            actor=clerk,
            contract_id="c-1",
            cycle_key=shown.key,
            cycle_fp=services.cycle_fingerprint(shown),
            preview_total_minor=None,
        )
    assert next(c.end_date for c in caught.value.fresh_cycles) == "2026-05-31T00:00:00Z"
    assert fake.calls["generate_draft"] == 0
    assert not Invoice.objects.exists()


def test_submit_refuses_a_cycle_that_vanished(fake, clerk):
    fake.cycles["c-1"] = (JUNE,)
    with pytest.raises(services.StaleCycle):
        submit(clerk)
    assert fake.calls["generate_draft"] == 0


def test_unmatched_generation_shows_the_fresh_list_and_leaves_nothing(fake, clerk):
    fake.fail("generate_draft", CycleNotMatched("matched no cycle"))
    with pytest.raises(services.StaleCycle) as caught:
        submit(clerk)
    assert caught.value.fresh_cycles == (MAY, JUNE)
    assert not Invoice.objects.exists()
    assert AuditEvent.objects.filter(action="invoice.submit_failed").count() == 1


def test_already_invoiced_upstream_is_reported_and_nothing_is_kept(fake, clerk):
    fake.fail("generate_draft", AlreadyInvoicedUpstream("InvoiceAlreadyGenerated..."))
    with pytest.raises(services.CycleAlreadyInvoiced) as caught:
        submit(clerk)
    assert "already has an approved invoice" in caught.value.message
    assert not Invoice.objects.exists()


@pytest.mark.parametrize(
    "error",
    [BackendUnavailable("timed out"), BackendRejected("bad", status=422)],
)
def test_backend_failure_on_generate_leaves_no_live_record(fake, clerk, error):
    fake.fail("generate_draft", error)
    with pytest.raises(type(error)):
        submit(clerk)
    assert not Invoice.objects.exists()
    # The cycle is free again: the next attempt goes through.
    assert submit(clerk).invoice.status == Invoice.Status.PENDING


def test_zero_total_needs_an_explicit_confirmation(fake, clerk):
    fake.lines[("c-1", MAY.bill_for_date)] = (line("Hosting", "0.00"),)
    with pytest.raises(services.NeedsConfirmation, match="totals zero"):
        submit(clerk, preview_total_minor=0)
    assert not Invoice.objects.exists()
    assert fake.drafts == {}  # the draft it generated was taken back
    invoice = submit(clerk, preview_total_minor=0, confirm_empty=True).invoice
    assert invoice.status == Invoice.Status.PENDING
    assert invoice.total_minor == 0


def test_no_lines_needs_an_explicit_confirmation(fake, clerk):
    fake.lines[("c-1", MAY.bill_for_date)] = ()
    with pytest.raises(services.NeedsConfirmation, match="no lines"):
        submit(clerk, preview_total_minor=0)


def test_second_submission_of_the_same_cycle_points_to_the_first(fake, clerk, clerk2):
    first = submit(clerk).invoice
    with pytest.raises(services.CycleAlreadyInvoiced) as caught:
        submit(clerk2)
    assert caught.value.invoice == first
    assert fake.calls["generate_draft"] == 1
    assert Invoice.objects.filter(status__in=Invoice.LIVE_STATUSES).count() == 1


def test_other_cycles_of_the_contract_stay_free(fake, clerk):
    submit(clerk)
    assert submit(clerk, JUNE).invoice.status == Invoice.Status.PENDING


def test_only_clerks_submit(fake, manager, auditor, outsider):
    for person in (manager, auditor, outsider):
        with pytest.raises(services.NotAllowed):
            submit(person)
    assert fake.calls["generate_draft"] == 0


def test_a_draft_that_cannot_be_read_back_is_taken_back_and_explained(fake, clerk):
    fake.fail("get_draft", BackendUnavailable("read timed out"))
    with pytest.raises(services.UpstreamFailed) as caught:
        submit(clerk)
    assert "could not be read back" in caught.value.message
    assert "Nothing was submitted" in caught.value.message
    assert fake.drafts == {}
    assert not Invoice.objects.exists()
    assert submit(clerk).invoice.status == Invoice.Status.PENDING


def test_a_draft_that_can_neither_be_read_nor_taken_back_is_kept_for_reconcile(fake, clerk):
    from django.core.management import call_command

    fake.fail("get_draft", BackendUnavailable("read timed out"))
    fake.fail("delete_draft", BackendUnavailable("connection refused"))
    with pytest.raises(services.UpstreamFailed, match="taken back automatically"):
        submit(clerk)
    intent = Invoice.objects.get()
    assert intent.status == Invoice.Status.SUBMITTING  # holds the cycle, knows its draft
    assert intent.upstream_id in fake.drafts
    call_command("reconcile", "--older-than", "0")
    assert fake.drafts == {}
    assert not Invoice.objects.exists()
    assert submit(clerk).invoice.status == Invoice.Status.PENDING


# --- two round trips: the cached cycle list, then the draft's own period --------------------
def _listed_on_the_clerks_page():
    from invoices import backend_cache

    backend_cache.contract_and_cycles("c-1")


def test_submit_checks_the_cycle_against_the_fresh_cached_list_without_listing_again(fake, clerk):
    _listed_on_the_clerks_page()
    fake.calls.clear()
    invoice = submit(clerk).invoice
    assert invoice.status == Invoice.Status.PENDING
    assert fake.calls == {"generate_draft": 1, "get_draft": 1}


def test_submit_lists_the_cycles_when_no_fresh_list_is_cached(fake, clerk):
    submit(clerk)
    assert fake.calls["list_billing_cycles"] == 1
    assert fake.calls["generate_draft"] == 1


def test_submit_lists_again_when_the_cached_list_lacks_the_cycle_as_shown(fake, clerk):
    _listed_on_the_clerks_page()  # this server's list: MAY ends on 06-01
    shorter = cycle("2026-05-01", "2026-05-31")  # the clerk saw a newer list (another server)
    fake.cycles["c-1"] = (shorter, JUNE)
    fake.lines[("c-1", shorter.bill_for_date)] = (line("Hosting", "100.00"),)
    fake.calls.clear()
    invoice = submit(clerk, shorter).invoice
    assert invoice.cycle_end_date == shorter.end_date
    assert fake.calls["list_billing_cycles"] == 1


def test_a_draft_for_another_period_is_taken_back_and_the_fresh_list_shown(fake, clerk):
    _listed_on_the_clerks_page()  # fresh for a minute: MAY is [05-01, 06-01)
    fake.cycles["c-1"] = (cycle("2026-05-01", "2026-05-31"), JUNE)  # amended a moment later
    with pytest.raises(services.StaleCycle, match="cycle list changed") as caught:
        submit(clerk)
    assert "2026-05-01 to 2026-05-31" in caught.value.message
    assert caught.value.fresh_cycles[0].end_date == "2026-05-31T00:00:00Z"
    assert fake.calls["generate_draft"] == 1 and fake.calls["delete_draft"] == 1
    assert fake.drafts == {}
    assert not Invoice.objects.exists()
    event = AuditEvent.objects.get(action="invoice.submit_failed")
    assert "not the chosen cycle" in event.reason


def test_a_draft_for_another_period_that_cannot_be_taken_back_is_left_to_reconcile(fake, clerk):
    from django.core.management import call_command

    _listed_on_the_clerks_page()
    fake.cycles["c-1"] = (cycle("2026-05-01", "2026-05-31"), JUNE)
    fake.fail("delete_draft", BackendUnavailable("connection refused"))
    with pytest.raises(services.StaleCycle, match="taken back automatically"):
        submit(clerk)
    intent = Invoice.objects.get()
    assert intent.status == Invoice.Status.SUBMITTING
    assert "not the chosen cycle" in intent.failure_message
    call_command("reconcile", "--older-than", "0")
    assert fake.drafts == {} and not Invoice.objects.exists()


def test_the_preview_total_is_computed_by_the_server(fake, clerk):
    invoice = services.invoice_submit_cycle(
        actor=clerk,
        contract_id="c-1",
        cycle_key=MAY.key,
        cycle_fp=services.cycle_fingerprint(MAY),
    ).invoice
    assert invoice.preview_total_minor == 15000
    assert not invoice.preview_differs
