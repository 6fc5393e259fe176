"""Crash safety of corrections: wherever the process dies around an upstream write, `manage.py
reconcile` (or a manager's Retry) settles it by reading the backend back, and never sends a
credit note twice. And ad-hoc voids, on the embedded engine."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from billing_engine import api
from billing_engine.models import AdhocInvoice
from invoices import services, workflow
from invoices.backends.base import BackendUnavailable, OutcomeUnknown
from invoices.models import AuditEvent, Invoice

from .test_corrections import HOSTING, approve, ask, submitted
from .test_workflow_table import Crash

pytestmark = pytest.mark.django_db
S = Invoice.Status
K = Invoice.Kind
CreditLine = services.CreditLine


def reconcile() -> str:
    out = StringIO()
    call_command("reconcile", "--older-than", "0", stdout=out)
    return out.getvalue()


@pytest.fixture
def approved(fake, clerk, manager) -> Invoice:
    return approve(manager, submitted(clerk))


def credits(fake, invoice) -> list[Decimal]:
    return fake.drafts[invoice.upstream_id].credits


def dies_in(approver, correction) -> Invoice:
    with pytest.raises(Crash):
        approve(approver, correction)
    correction.refresh_from_db()
    assert correction.status == S.APPROVING  # the intent survived the crash
    return correction


# --- credit notes --------------------------------------------------------------------------------
def test_a_crash_after_the_credit_note_was_made_is_settled_without_sending_it_again(
    fake, approved, clerk, manager2
):
    note = ask(clerk, approved, lines=[CreditLine(HOSTING, 2500)])
    fake.after_effect["credit_note"] = Crash()
    dies_in(manager2, note)
    assert "approving -> approved" in reconcile()
    note.refresh_from_db()
    assert (note.status, note.decided_by) == (S.APPROVED, manager2)
    assert credits(fake, approved) == [Decimal("25.00")]
    assert fake.calls["credit_note"] == 1
    assert services.standing(approved).balance_minor == 15000 - 2500
    assert "0 record(s) looked at" in reconcile()  # safe to repeat


def test_a_crash_before_the_credit_note_was_sent_returns_it_to_the_inbox(
    fake, approved, clerk, manager2
):
    note = ask(clerk, approved, lines=[CreditLine(HOSTING, 2500)])
    fake.fail("credit_note", Crash())
    dies_in(manager2, note)
    assert "approving -> pending_approval" in reconcile()
    note.refresh_from_db()
    assert note.status == S.PENDING and credits(fake, approved) == []
    assert approve(manager2, note).status == S.APPROVED
    assert credits(fake, approved) == [Decimal("25.00")]


def test_a_lost_credit_note_reply_blocks_rejection_until_retry_looks(
    fake, approved, clerk, manager, manager2
):
    note = ask(clerk, approved, lines=[CreditLine(HOSTING, 2500)])
    fake.after_effect["credit_note"] = OutcomeUnknown("reply lost")
    with pytest.raises(services.UpstreamFailed):
        approve(manager2, note)
    note.refresh_from_db()
    assert (note.status, note.failure_code) == (S.FAILED, "outcome_unknown")
    assert "reject" not in workflow.allowed_actions(note, manager)
    settled = services.invoice_retry(actor=manager, invoice_id=note.pk)
    assert settled.status == S.APPROVED
    assert fake.calls["credit_note"] == 1 and credits(fake, approved) == [Decimal("25.00")]


def test_a_balance_that_tells_nothing_needs_a_person(fake, approved, clerk, manager, manager2):
    note = ask(clerk, approved, lines=[CreditLine(HOSTING, 2500)])
    fake.after_effect["credit_note"] = Crash()
    dies_in(manager2, note)
    credits(fake, approved).append(Decimal("3.00"))  # someone else's credit in between
    assert "needs a person: unclear upstream" in reconcile()
    note.refresh_from_db()
    assert (note.status, note.failure_code) == (S.FAILED, "unclear_upstream")
    with pytest.raises(services.UpstreamFailed, match="does not tell"):
        services.invoice_retry(actor=manager, invoice_id=note.pk)
    assert fake.calls["credit_note"] == 1  # nothing was sent again
    assert "reject" in workflow.allowed_actions(note, manager)


# --- voids: two writes, each recorded ------------------------------------------------------------
def test_a_crash_between_the_credit_and_the_void_goes_on_with_the_void(
    fake, approved, clerk, manager2
):
    void = ask(clerk, approved, K.VOID, reissue=True)
    fake.after_effect["credit_note"] = Crash()  # credited upstream, step not recorded yet
    dies_in(manager2, void)
    assert void.correction_step == ""
    output = reconcile()
    assert "credited earlier; void sent now" in output
    void.refresh_from_db()
    assert (void.status, void.correction_step) == (S.APPROVED, "credited")
    assert credits(fake, approved) == [Decimal("150.00")] and fake.calls["credit_note"] == 1
    assert fake.drafts[approved.upstream_id].status == "void"
    assert Invoice.objects.get(pk=approved.pk).status == S.VOIDED
    assert AuditEvent.objects.filter(invoice=void, action="correction.credited").exists()


def test_a_crash_during_the_void_after_the_recorded_credit_sends_only_the_void(
    fake, approved, clerk, manager2
):
    void = ask(clerk, approved, K.VOID, reissue=True)
    fake.fail("void_invoice", Crash())
    dies_in(manager2, void)
    assert void.correction_step == "credited"
    reconcile()
    void.refresh_from_db()
    assert void.status == S.APPROVED
    assert fake.calls["credit_note"] == 1 and fake.calls["void_invoice"] == 2
    assert Invoice.objects.get(pk=approved.pk).status == S.VOIDED


def test_a_crash_after_the_void_was_made_is_settled_by_looking(fake, approved, clerk, manager2):
    void = ask(clerk, approved, K.VOID, reissue=True)
    fake.after_effect["void_invoice"] = Crash()
    dies_in(manager2, void)
    assert "approving -> approved" in reconcile()
    assert Invoice.objects.get(pk=void.pk).status == S.APPROVED
    assert Invoice.objects.get(pk=approved.pk).status == S.VOIDED
    assert (fake.calls["credit_note"], fake.calls["void_invoice"]) == (1, 1)


def test_reconcile_leaves_a_failed_half_done_void_to_a_managers_retry(
    fake, approved, clerk, manager, manager2
):
    void = ask(clerk, approved, K.VOID)
    fake.fail("void_invoice", OutcomeUnknown("reply lost"))
    with pytest.raises(services.UpstreamFailed):
        approve(manager2, void)
    assert "credited upstream, Retry sends the void" in reconcile()
    assert Invoice.objects.get(pk=void.pk).status == S.FAILED
    assert services.invoice_retry(actor=manager, invoice_id=void.pk).status == S.APPROVED
    assert fake.calls["credit_note"] == 1


def test_a_half_done_void_cannot_be_rejected_or_withdrawn_only_retried(
    fake, approved, clerk, manager, manager2
):
    void = ask(clerk, approved, K.VOID)
    fake.fail("void_invoice", BackendUnavailable("Zenskar could not be reached"))
    with pytest.raises(services.UpstreamFailed):
        approve(manager2, void)
    void.refresh_from_db()
    assert (void.status, void.failure_code, void.correction_step) == (
        S.FAILED,
        "backend_error",
        "credited",
    )
    assert not {"reject", "withdraw"} & workflow.allowed_actions(void, manager)
    assert not {"reject", "withdraw"} & workflow.allowed_actions(void, clerk)
    with pytest.raises(services.InvalidTransition, match="credit note is already made"):
        services.invoice_reject(actor=manager, invoice_id=void.pk, reason="Changed my mind")
    with pytest.raises(services.InvalidTransition, match="credit note is already made"):
        services.invoice_withdraw(actor=clerk, invoice_id=void.pk)
    assert services.invoice_retry(actor=manager, invoice_id=void.pk).status == S.APPROVED
    assert Invoice.objects.get(pk=approved.pk).status == S.VOIDED
    assert fake.calls["credit_note"] == 1


# --- ad-hoc invoices: void (Rebillia semantics on the embedded engine) ---------------------------
def test_an_adhoc_void_is_approved_applied_and_reissued(adhoc_approved, clerk, manager2):
    void = ask(clerk, adhoc_approved, K.VOID, reissue=True, reason_code="duplicate")
    assert (void.total_minor, len(void.lines)) == (8200, 1)
    approve(manager2, void)
    assert AdhocInvoice.objects.get(pk=adhoc_approved.upstream_id).status == "voided"
    original = Invoice.objects.get(pk=adhoc_approved.pk)
    assert original.status == S.VOIDED
    assert "reissue" in workflow.allowed_actions(original, clerk)
    from invoices.adhoc import adhoc_request_from_json

    again = services.invoice_submit_adhoc(
        actor=clerk,
        request=adhoc_request_from_json(original.adhoc_request),
        customer_name="Northwind",
        previous=original,
        reissue=True,
    )
    assert (again.previous_id, again.version, again.status) == (original.pk, 2, S.PENDING)


def test_an_adhoc_invoice_has_no_credit_notes(adhoc_approved, clerk):
    with pytest.raises(services.CorrectionRefused, match="no credit notes"):
        ask(clerk, adhoc_approved)


@pytest.mark.parametrize("paid", [1, 8200])
def test_a_paid_adhoc_invoice_is_not_voided_and_nothing_is_requested(adhoc_approved, clerk, paid):
    api.record_adhoc_payment(adhoc_approved.upstream_id, amount_minor=paid)
    with pytest.raises(services.CorrectionRefused, match=r"paid invoice .* cannot be voided"):
        ask(clerk, adhoc_approved, K.VOID)
    assert Invoice.objects.count() == 1


def test_an_adhoc_invoice_paid_after_the_request_fails_the_approval_clearly(
    adhoc_approved, clerk, manager, manager2
):
    void = ask(clerk, adhoc_approved, K.VOID)
    api.record_adhoc_payment(adhoc_approved.upstream_id, amount_minor=100)
    with pytest.raises(services.UpstreamFailed, match="paid invoice cannot be voided"):
        approve(manager2, void)
    void.refresh_from_db()
    assert (void.status, void.failure_code) == (S.FAILED, "refused_upstream")
    assert "retry" not in workflow.allowed_actions(void, manager)
    assert "needs a person: refused upstream" in reconcile()
    assert Invoice.objects.get(pk=adhoc_approved.pk).status == S.APPROVED
