"""Managers approve a selection of a run's invoices in the background, each exactly as the
invoice page would: four eyes, the content hash they saw, the draft's drift check."""

import pytest
from django.core import mail

from billruns import batch as batches
from billruns.batch import Selection, batch_approve_start
from billruns.models import BatchApproval
from billruns.states import ApprovalState, BatchState
from invoices import services as invoice_services
from invoices.backends.base import BackendUnavailable
from invoices.models import AuditEvent, Invoice, Notification
from policies.models import ApprovalRule
from tests.workflow.fake_backend import line

from .conftest import launched

pytestmark = pytest.mark.django_db
A = ApprovalState


def select(invoices, **hashes) -> list[Selection]:
    return [Selection(i.pk, hashes.get(f"h{i.pk}", i.content_hash)) for i in invoices]


def approve(manager, run, selections, django_capture_on_commit_callbacks) -> BatchApproval:
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_approve_start(actor=manager, run_id=run.pk, selections=selections)
    batch.refresh_from_db()
    return batch


def outcomes(batch) -> dict[int, tuple[str, str]]:
    return {i.invoice_id: (i.status, i.message) for i in batch.items.all()}


def test_approve_selected_approves_each_invoice_with_the_hash_shown(
    world, clerk, manager, django_capture_on_commit_callbacks
):
    run = launched(clerk, django_capture_on_commit_callbacks)
    invoices = list(Invoice.objects.filter(run_id=run.pk).order_by("pk"))
    mail.outbox.clear()
    batch = approve(manager, run, select(invoices[:3]), django_capture_on_commit_callbacks)
    assert batch.status == BatchState.FINISHED
    assert set(outcomes(batch).values()) == {(A.APPROVED, "")}
    statuses = dict(Invoice.objects.values_list("pk", "status"))
    assert [statuses[i.pk] for i in invoices] == ["approved"] * 3 + ["pending_approval"]
    assert world.calls["approve_draft"] == 3  # one upstream call per invoice
    for invoice in invoices[:3]:
        event = AuditEvent.objects.get(invoice=invoice, action="invoice.approved")
        assert event.actor == manager and event.data["run"] == run.pk
    assert AuditEvent.objects.get(action="billrun.batch_approval_finished").data["items"] == {
        "approved": 3
    }
    # One summary for the batch; no e-mail per approved invoice.
    assert not Notification.objects.exists()
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == ["clerk@example.com", "manager@example.com"]
    assert "Approved: 3" in mail.outbox[0].body


def test_approve_selected_records_a_stage_when_a_policy_asks_for_two_approvals(
    world, clerk, manager, django_capture_on_commit_callbacks
):
    ApprovalRule.objects.create(name="Everything twice", stages=2)
    run = launched(clerk, django_capture_on_commit_callbacks)
    invoices = list(Invoice.objects.filter(run_id=run.pk).order_by("pk"))
    mail.outbox.clear()
    batch = approve(manager, run, select(invoices[:2]), django_capture_on_commit_callbacks)
    assert batch.status == BatchState.FINISHED
    for status, message in outcomes(batch).values():
        assert status == A.STAGED
        assert message.startswith("Stage 1 of 2 approved; another manager approves")
    assert set(Invoice.objects.values_list("status", flat=True)) == {Invoice.Status.PENDING}
    assert world.calls["approve_draft"] == 0  # nothing goes upstream before the last stage
    finished = AuditEvent.objects.get(action="billrun.batch_approval_finished")
    assert finished.data["items"] == {"staged": 2}
    assert len(mail.outbox) == 1
    assert "Approved: 0" in mail.outbox[0].body
    assert "Stage approved, another approval needed: 2" in mail.outbox[0].body


def test_approve_selected_refuses_the_managers_own_submissions(
    world, superuser, django_capture_on_commit_callbacks
):
    run = launched(superuser, django_capture_on_commit_callbacks)  # a superuser launched it
    invoices = list(Invoice.objects.filter(run_id=run.pk))
    batch = approve(superuser, run, select(invoices), django_capture_on_commit_callbacks)
    for status, message in outcomes(batch).values():
        assert status == A.REFUSED
        assert "You submitted this invoice" in message
    assert not Invoice.objects.filter(status=Invoice.Status.APPROVED).exists()
    assert world.calls["approve_draft"] == 0


def test_approve_selected_refuses_a_stale_hash(
    world, clerk, manager, django_capture_on_commit_callbacks
):
    run = launched(clerk, django_capture_on_commit_callbacks)
    stale, fresh = list(Invoice.objects.filter(run_id=run.pk).order_by("pk"))[:2]
    selections = [Selection(stale.pk, "0" * 64), Selection(fresh.pk, fresh.content_hash)]
    batch = approve(manager, run, selections, django_capture_on_commit_callbacks)
    found = outcomes(batch)
    assert found[stale.pk][0] == A.REFUSED and "changed after you opened it" in found[stale.pk][1]
    assert found[fresh.pk] == (A.APPROVED, "")
    assert Invoice.objects.get(pk=stale.pk).status == Invoice.Status.PENDING


def test_approve_selected_refuses_a_draft_that_drifted_upstream(
    world, clerk, manager, django_capture_on_commit_callbacks
):
    run = launched(clerk, django_capture_on_commit_callbacks, currency="EUR")
    invoice = Invoice.objects.filter(run_id=run.pk).first()
    world.change_lines(invoice.upstream_id, (line("Support", "95.00"),))
    batch = approve(manager, run, select([invoice]), django_capture_on_commit_callbacks)
    status, message = outcomes(batch)[invoice.pk]
    assert status == A.REFUSED and "changed since it was submitted" in message
    assert "95.00" in message


def test_a_backend_failure_is_recorded_per_invoice(
    world, clerk, manager, settings, django_capture_on_commit_callbacks
):
    settings.BILLRUN_BACKOFF_SECONDS = 0.01
    run = launched(clerk, django_capture_on_commit_callbacks, currency="EUR")
    first, second = Invoice.objects.filter(run_id=run.pk).order_by("pk")
    world.fail("get_draft", BackendUnavailable("Zenskar could not be reached"))  # retried
    world.fail("approve_draft", BackendUnavailable("Zenskar is unavailable (HTTP 503)"))
    batch = approve(manager, run, select([first, second]), django_capture_on_commit_callbacks)
    # The first invoice's draft read failed (nothing recorded yet): it waited and was retried.
    # The next approval call failed upstream: that invoice is failed, and says why.
    retried = batch.items.get(invoice=first)
    assert retried.attempts == 1
    found = sorted(outcomes(batch).values())
    assert found[0] == (A.APPROVED, "")
    assert found[1][0] == A.FAILED and "HTTP 503" in found[1][1]
    statuses = sorted(Invoice.objects.filter(run_id=run.pk).values_list("status", flat=True))
    assert statuses == [Invoice.Status.APPROVED, Invoice.Status.FAILED]


def test_a_repeated_delivery_finds_the_invoice_approved_by_this_batch(
    world, clerk, manager, django_capture_on_commit_callbacks
):
    run = launched(clerk, django_capture_on_commit_callbacks, currency="EUR")
    invoice = Invoice.objects.filter(run_id=run.pk).first()
    with django_capture_on_commit_callbacks(execute=False):
        batch = batch_approve_start(actor=manager, run_id=run.pk, selections=select([invoice]))
    invoice_services.invoice_approve(
        actor=manager, invoice_id=invoice.pk, seen_hash=invoice.content_hash
    )  # the worker died after approving, before recording it
    item = batches._claim(batch.pk)
    batches.process_approval(item, BatchApproval.objects.get(pk=batch.pk))
    item.refresh_from_db()
    assert item.status == A.APPROVED


def test_only_managers_approve_and_only_invoices_of_the_run(
    world, clerk, manager, django_capture_on_commit_callbacks
):
    run = launched(clerk, django_capture_on_commit_callbacks, currency="EUR")
    invoice = Invoice.objects.filter(run_id=run.pk).first()
    with pytest.raises(invoice_services.NotAllowed):
        batch_approve_start(actor=clerk, run_id=run.pk, selections=select([invoice]))
    other = launched(clerk, django_capture_on_commit_callbacks, currency="USD")
    with pytest.raises(invoice_services.InvalidTransition, match="not invoices of this bill run"):
        batch_approve_start(actor=manager, run_id=other.pk, selections=select([invoice]))
    with pytest.raises(invoice_services.InvalidTransition, match="at least one"):
        batch_approve_start(actor=manager, run_id=run.pk, selections=[])
    assert not BatchApproval.objects.exists()


def test_a_rejected_run_invoice_still_tells_the_clerk_why(
    world, clerk, manager, django_capture_on_commit_callbacks
):
    run = launched(clerk, django_capture_on_commit_callbacks, currency="EUR")
    invoice = Invoice.objects.filter(run_id=run.pk).first()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        invoice_services.invoice_reject(
            actor=manager, invoice_id=invoice.pk, reason="Wrong support tier"
        )
    assert Notification.objects.get(invoice=invoice).kind == Notification.Kind.REJECTED
    assert [m.to for m in mail.outbox] == [["clerk@example.com"]]
    assert "Wrong support tier" in mail.outbox[0].body


def test_a_run_invoice_approved_on_its_own_page_tells_the_clerk(
    world, clerk, manager, django_capture_on_commit_callbacks
):
    run = launched(clerk, django_capture_on_commit_callbacks, currency="EUR")
    invoice = Invoice.objects.filter(run_id=run.pk).first()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        invoice_services.invoice_approve(
            actor=manager, invoice_id=invoice.pk, seen_hash=invoice.content_hash
        )
    assert Notification.objects.get(invoice=invoice).kind == Notification.Kind.APPROVED
    assert [m.to for m in mail.outbox] == [["clerk@example.com"]]
