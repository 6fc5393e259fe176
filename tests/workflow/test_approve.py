"""Manager decisions: four eyes, stale hash, drift, backend failures, reject, withdraw, revise."""

import pytest
from django.core import mail

from invoices import selectors, services
from invoices.audit import audit_verify
from invoices.backends.base import (
    AlreadyInvoicedUpstream,
    BackendRejected,
    BackendUnavailable,
    OutcomeUnknown,
)
from invoices.models import AuditEvent, Invoice
from invoices.services import decide

from .conftest import MAY
from .fake_backend import line

pytestmark = pytest.mark.django_db
S = Invoice.Status


def submitted(clerk) -> Invoice:
    return services.invoice_submit_cycle(
        actor=clerk,
        contract_id="c-1",
        cycle_key=MAY.key,
        cycle_fp=services.cycle_fingerprint(MAY),
        preview_total_minor=15000,
    ).invoice


def approve(actor, invoice, seen_hash=None):
    return services.invoice_approve(
        actor=actor, invoice_id=invoice.pk, seen_hash=seen_hash or invoice.content_hash
    )


def test_approve_sends_it_upstream_and_records_who(fake, clerk, manager):
    invoice = approve(manager, submitted(clerk))
    assert invoice.status == S.APPROVED
    assert invoice.decided_by == manager
    assert fake.drafts[invoice.upstream_id].status == "approved"
    assert fake.calls["approve_draft"] == 1
    actions = list(
        AuditEvent.objects.filter(invoice=invoice).order_by("seq").values_list("action", flat=True)
    )
    assert actions == ["invoice.submitted", "invoice.approval_started", "invoice.approved"]
    assert audit_verify().ok


def test_approve_refuses_own_submission_even_for_a_manager_who_submits(
    fake, manager, django_user_model
):
    from django.contrib.auth.models import Group

    manager.groups.add(Group.objects.get(name="Billing clerks"))
    manager = django_user_model.objects.get(pk=manager.pk)  # fresh permission cache
    invoice = submitted(manager)
    with pytest.raises(services.NotAllowed, match="another manager"):
        approve(manager, invoice)
    assert fake.calls["approve_draft"] == 0


def test_approve_refuses_own_submission_for_superusers(fake, superuser, manager):
    invoice = submitted(superuser)
    with pytest.raises(services.NotAllowed):
        approve(superuser, invoice)
    assert approve(manager, invoice).status == S.APPROVED


def test_clerks_and_auditors_cannot_approve(fake, clerk, clerk2, auditor):
    invoice = submitted(clerk)
    for person in (clerk2, auditor):
        with pytest.raises(services.NotAllowed):
            approve(person, invoice)
    assert Invoice.objects.get().status == S.PENDING


def test_approve_refuses_a_stale_hash(fake, clerk, manager):
    invoice = submitted(clerk)
    with pytest.raises(services.StaleSnapshot):
        approve(manager, invoice, seen_hash="0" * 64)
    assert fake.calls["approve_draft"] == 0


def test_approve_refuses_what_is_not_pending(fake, clerk, manager, manager2):
    invoice = approve(manager, submitted(clerk))
    with pytest.raises(services.InvalidTransition):
        approve(manager2, invoice)
    assert fake.calls["approve_draft"] == 1


def test_approve_refuses_a_drifted_draft_with_a_line_level_diff(fake, clerk, manager):
    invoice = submitted(clerk)
    fake.change_lines(invoice.upstream_id, (line("Hosting", "120.00"), line("Backup", "5.00")))
    with pytest.raises(services.DraftDrifted) as caught:
        approve(manager, invoice)
    described = [c.describe() for c in caught.value.changes]
    assert any(d.startswith("Changed: Hosting") and "100.00 → 120.00" in d for d in described)
    assert "Removed: Support (50.00)" in described
    assert "Added: Backup (5.00)" in described
    assert Invoice.objects.get().status == S.PENDING
    assert fake.calls["approve_draft"] == 0
    assert AuditEvent.objects.filter(action="invoice.approval_refused").exists()


def test_approve_when_the_draft_vanished_explains(fake, clerk, manager):
    invoice = submitted(clerk)
    del fake.drafts[invoice.upstream_id]
    with pytest.raises(services.UpstreamFailed, match="no longer has"):
        approve(manager, invoice)
    assert Invoice.objects.get().status == S.PENDING


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (BackendUnavailable("The backend timed out."), "backend_error"),
        (BackendRejected("Refused", status=400), "backend_error"),
        (OutcomeUnknown("reply lost"), "outcome_unknown"),
    ],
)
def test_backend_failure_on_approve_becomes_failed_with_the_message(
    fake, clerk, manager, error, code
):
    invoice = submitted(clerk)
    fake.fail("approve_draft", error)
    with pytest.raises(services.UpstreamFailed) as caught:
        approve(manager, invoice)
    failed = Invoice.objects.get()
    assert failed.status == S.FAILED
    assert failed.failure_code == code
    assert error.message in failed.failure_message
    assert caught.value.invoice.status == S.FAILED
    event = AuditEvent.objects.filter(invoice=failed).latest("seq")
    assert (event.action, event.from_status, event.to_status) == (
        "invoice.approval_failed",
        "approving",
        "failed",
    )


def test_already_invoiced_upstream_on_approve_is_recorded_as_such(fake, clerk, manager):
    invoice = submitted(clerk)
    fake.fail("approve_draft", AlreadyInvoicedUpstream("InvoiceAlreadyGenerated"))
    with pytest.raises(services.UpstreamFailed, match="already has an approved invoice"):
        approve(manager, invoice)
    failed = Invoice.objects.get()
    assert failed.failure_code == "already_invoiced"
    with pytest.raises(services.InvalidTransition, match="Reject"):
        services.invoice_retry(actor=manager, invoice_id=failed.pk)


def test_retry_asks_first_and_never_approves_twice(fake, clerk, manager):
    invoice = submitted(clerk)
    # The approval went through upstream but its reply was lost.
    fake.after_effect["approve_draft"] = BackendUnavailable("read timeout")
    with pytest.raises(services.UpstreamFailed):
        approve(manager, invoice)
    assert Invoice.objects.get().status == S.FAILED
    settled = services.invoice_retry(actor=manager, invoice_id=invoice.pk)
    assert settled.status == S.APPROVED
    assert fake.calls["approve_draft"] == 1


def test_retry_approves_again_when_the_backend_did_not(fake, clerk, manager):
    invoice = submitted(clerk)
    fake.fail("approve_draft", BackendUnavailable("connection refused"))
    with pytest.raises(services.UpstreamFailed):
        approve(manager, invoice)
    settled = services.invoice_retry(actor=manager, invoice_id=invoice.pk)
    assert settled.status == S.APPROVED
    assert fake.calls["approve_draft"] == 2


def test_retry_refuses_a_draft_that_drifted_since_the_failed_approval(fake, clerk, manager):
    invoice = submitted(clerk)
    fake.fail("approve_draft", BackendUnavailable("connection refused"))
    with pytest.raises(services.UpstreamFailed):
        approve(manager, invoice)
    fake.change_lines(invoice.upstream_id, (line("Hosting", "120.00"),))
    with pytest.raises(services.DraftDrifted):
        services.invoice_retry(actor=manager, invoice_id=invoice.pk)
    assert fake.calls["approve_draft"] == 1  # only the first, failed attempt
    assert AuditEvent.objects.filter(action="invoice.approval_refused").exists()
    # Known not to be approved, it is back in the inbox, where it can be rejected.
    back = Invoice.objects.get()
    assert (back.status, back.failure_code) == (S.PENDING, "")
    rejected = services.invoice_reject(actor=manager, invoice_id=back.pk, reason="Drifted")
    assert rejected.status == S.REJECTED


def test_an_unknown_outcome_whose_draft_drifted_can_be_rejected_after_retry(fake, clerk, manager):
    invoice = submitted(clerk)
    fake.fail("approve_draft", OutcomeUnknown("reply lost"))
    with pytest.raises(services.UpstreamFailed):
        approve(manager, invoice)
    fake.change_lines(invoice.upstream_id, (line("Hosting", "120.00"),))
    with pytest.raises(services.DraftDrifted):
        services.invoice_retry(actor=manager, invoice_id=invoice.pk)
    # Retry learned it was not approved, so reject (refused while unknown) is possible now.
    rejected = services.invoice_reject(actor=manager, invoice_id=invoice.pk, reason="Drifted")
    assert rejected.status == S.REJECTED
    assert invoice.upstream_id not in fake.drafts


def test_an_approval_that_may_have_gone_through_is_neither_rejected_nor_withdrawn(
    fake, clerk, manager, manager2
):
    invoice = submitted(clerk)
    fake.fail("approve_draft", OutcomeUnknown("reply lost"))
    with pytest.raises(services.UpstreamFailed):
        approve(manager, invoice)
    for refused in (
        lambda: services.invoice_reject(actor=manager2, invoice_id=invoice.pk, reason="Wrong"),
        lambda: services.invoice_withdraw(actor=clerk, invoice_id=invoice.pk),
    ):
        with pytest.raises(services.InvalidTransition, match="settle it first with Retry"):
            refused()
    failed = Invoice.objects.get()
    assert failed.status == S.FAILED
    assert invoice.upstream_id in fake.drafts  # nothing taken back
    # Neither action is offered; Retry (which asks the backend first) is.
    page = selectors.invoice_page(failed, manager2)
    assert page["actions"] == {"retry"}
    assert "withdraw" not in selectors.invoice_page(failed, clerk)["actions"]


def test_an_approval_recorded_after_a_racing_rejection_leaves_no_draft_to_delete(
    fake, clerk, manager
):
    invoice = submitted(clerk)
    Invoice.objects.filter(pk=invoice.pk).update(status=S.APPROVING, upstream_cleanup_pending=True)
    remote = fake.approve_draft(invoice.upstream_id)
    approved = decide.record_approved(invoice, manager, remote, step="settle.approved")
    assert approved.status == S.APPROVED
    assert approved.upstream_cleanup_pending is False
    assert services.invoice_cleanup_upstream(invoice_id=invoice.pk) is True
    assert invoice.upstream_id in fake.drafts


def test_retry_is_four_eyes_too(fake, clerk, manager):
    invoice = submitted(clerk)
    fake.fail("approve_draft", BackendUnavailable("down"))
    with pytest.raises(services.UpstreamFailed):
        approve(manager, invoice)
    with pytest.raises(services.NotAllowed):
        services.invoice_retry(actor=clerk, invoice_id=invoice.pk)


def test_reject_needs_a_reason_deletes_the_draft_and_tells_the_clerk(
    fake, clerk, manager, django_capture_on_commit_callbacks
):
    invoice = submitted(clerk)
    with pytest.raises(services.ServiceError, match="reason"):
        services.invoice_reject(actor=manager, invoice_id=invoice.pk, reason="   ")
    with django_capture_on_commit_callbacks(execute=True):
        rejected = services.invoice_reject(
            actor=manager, invoice_id=invoice.pk, reason="Wrong seat count"
        )
    assert rejected.status == S.REJECTED
    assert rejected.decision_reason == "Wrong seat count"
    assert invoice.upstream_id not in fake.drafts
    assert not rejected.upstream_cleanup_pending
    assert mail.outbox[-1].to == ["clerk@example.com"]
    assert "Wrong seat count" in mail.outbox[-1].body


def test_reject_is_four_eyes(fake, clerk, superuser):
    invoice = submitted(superuser)
    with pytest.raises(services.NotAllowed):
        services.invoice_reject(actor=superuser, invoice_id=invoice.pk, reason="nope")


def test_reject_keeps_trying_to_delete_a_draft_the_backend_could_not_delete(fake, clerk, manager):
    invoice = submitted(clerk)
    fake.fail("delete_draft", BackendUnavailable("down"))
    rejected = services.invoice_reject(actor=manager, invoice_id=invoice.pk, reason="typo")
    assert rejected.status == S.REJECTED
    assert rejected.upstream_cleanup_pending
    assert invoice.upstream_id in fake.drafts
    result = services.invoice_reconcile(invoice_id=invoice.pk)
    assert result.detail == "upstream draft deleted"
    assert invoice.upstream_id not in fake.drafts


def test_only_the_submitter_withdraws(fake, clerk, clerk2, manager):
    invoice = submitted(clerk)
    for person in (clerk2, manager):
        with pytest.raises(services.NotAllowed):
            services.invoice_withdraw(actor=person, invoice_id=invoice.pk)
    withdrawn = services.invoice_withdraw(actor=clerk, invoice_id=invoice.pk)
    assert withdrawn.status == S.WITHDRAWN
    assert invoice.upstream_id not in fake.drafts
    # The cycle is free for a new submission.
    assert submitted(clerk).status == S.PENDING


def test_revise_creates_a_linked_new_version(fake, clerk, manager):
    first = submitted(clerk)
    services.invoice_reject(actor=manager, invoice_id=first.pk, reason="Seats are 30")
    fake.lines[("c-1", MAY.bill_for_date)] = (line("Hosting", "120.00"), line("Support", "50.00"))
    second = services.invoice_submit_cycle(
        actor=clerk,
        contract_id="c-1",
        cycle_key=MAY.key,
        cycle_fp=services.cycle_fingerprint(MAY),
        preview_total_minor=17000,
        previous=Invoice.objects.get(pk=first.pk),
    ).invoice
    assert second.previous_id == first.pk
    assert second.version == 2
    assert second.lineage == first.lineage
    assert second.total_minor == 17000
    with pytest.raises(services.InvalidTransition, match="already been revised"):
        services.invoice_submit_cycle(
            actor=clerk,
            contract_id="c-1",
            cycle_key=MAY.key,
            cycle_fp=services.cycle_fingerprint(MAY),
            preview_total_minor=17000,
            previous=Invoice.objects.get(pk=first.pk),
        )


def test_a_pending_invoice_cannot_be_revised(fake, clerk):
    first = submitted(clerk)
    with pytest.raises(services.InvalidTransition, match="rejected"):
        services.invoice_submit_cycle(
            actor=clerk,
            contract_id="c-1",
            cycle_key=MAY.key,
            cycle_fp=services.cycle_fingerprint(MAY),
            preview_total_minor=None,
            previous=first,
        )


def test_the_database_refuses_a_decision_by_the_submitter(fake, clerk):
    from django.db import IntegrityError, transaction

    invoice = submitted(clerk)
    invoice.decided_by = clerk
    with pytest.raises(IntegrityError), transaction.atomic():
        invoice.save()


def test_the_database_refuses_a_second_live_invoice_for_a_cycle(fake, clerk):
    from django.db import IntegrityError, transaction

    invoice = submitted(clerk)
    invoice.pk = None
    invoice.lineage = None
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.create(
            **{
                f.attname: getattr(invoice, f.attname)
                for f in Invoice._meta.concrete_fields
                if f.attname not in ("id", "lineage", "previous_id")
            }
        )


def test_approval_racing_a_rejection_is_told_it_was_rejected(fake, clerk, manager, manager2):
    invoice = submitted(clerk)
    real_get_draft = fake.get_draft

    def rejected_meanwhile(invoice_id):
        # manager2 rejects (deleting the draft) between manager's checks and the backend read.
        services.invoice_reject(actor=manager2, invoice_id=invoice.pk, reason="duplicate")
        return real_get_draft(invoice_id)

    fake.get_draft = rejected_meanwhile
    with pytest.raises(services.InvalidTransition, match="rejected"):
        approve(manager, invoice)
    assert Invoice.objects.get().status == S.REJECTED
    assert fake.calls["approve_draft"] == 0
