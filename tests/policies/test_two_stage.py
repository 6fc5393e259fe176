"""Two approval stages: each a different person, neither the submitter, each naming the content
hash seen; the backend is called only when the last stage approves."""

import pytest
from django.urls import reverse

from invoices import selectors, services
from invoices.audit import audit_verify
from invoices.backends.base import BackendUnavailable, OutcomeUnknown
from invoices.models import AuditEvent, Invoice, StageApproval
from policies.models import ApprovalRule

from .conftest import JUNE, MAY

pytestmark = pytest.mark.django_db
S = Invoice.Status


@pytest.fixture
def twice():
    return ApprovalRule.objects.create(name="Everything twice", stages=2)


def submitted(clerk, cycle=MAY) -> Invoice:
    return services.invoice_submit_cycle(
        actor=clerk,
        contract_id="c-1",
        cycle_key=cycle.key,
        cycle_fp=services.cycle_fingerprint(cycle),
        preview_total_minor=None,
    ).invoice


def approve(actor, invoice):
    return services.invoice_approve(
        actor=actor, invoice_id=invoice.pk, seen_hash=invoice.content_hash
    )


def test_two_different_managers_approve_and_only_the_last_calls_the_backend(
    twice, fake, clerk, manager, manager2
):
    invoice = submitted(clerk)
    first = approve(manager, invoice)
    assert first.status == S.PENDING
    assert fake.calls["approve_draft"] == 0 and fake.calls["get_draft"] == 1  # the read-back
    done = approve(manager2, invoice)
    assert done.status == S.APPROVED
    assert fake.calls["approve_draft"] == 1
    assert done.decided_by == manager2
    stages = list(StageApproval.objects.filter(invoice=invoice).values_list("stage", "approver"))
    assert stages == [(1, manager.pk), (2, manager2.pk)]
    events = AuditEvent.objects.filter(invoice=invoice).order_by("seq")
    assert [e.action for e in events] == [
        "invoice.submitted",
        "invoice.stage_approved",
        "invoice.approval_started",
        "invoice.approved",
    ]
    assert events[1].data == {"content_hash": invoice.content_hash, "stage": 1, "of": 2}
    assert events[2].data["content_hash"] == invoice.content_hash
    assert audit_verify().ok


def test_the_same_person_cannot_approve_both_stages(twice, fake, clerk, manager):
    invoice = submitted(clerk)
    approve(manager, invoice)
    with pytest.raises(services.InvalidTransition, match="earlier stage"):
        approve(manager, invoice)
    assert "approve" not in selectors.invoice_page(Invoice.objects.get(), manager)["actions"]
    assert fake.calls["approve_draft"] == 0


def test_the_submitter_approves_no_stage_even_as_a_manager(
    twice, fake, manager, manager2, django_user_model
):
    from django.contrib.auth.models import Group

    manager.groups.add(Group.objects.get(name="Billing clerks"))
    manager = django_user_model.objects.get(pk=manager.pk)
    invoice = submitted(manager)
    with pytest.raises(services.NotAllowed):
        approve(manager, invoice)
    approve(manager2, invoice)
    with pytest.raises(services.NotAllowed):
        approve(manager, invoice)


def test_a_stage_approves_only_the_version_its_manager_saw(twice, fake, clerk, manager):
    invoice = submitted(clerk)
    with pytest.raises(services.StaleSnapshot):
        services.invoice_approve(actor=manager, invoice_id=invoice.pk, seen_hash="0" * 64)
    assert not StageApproval.objects.exists()


def test_a_failed_last_stage_that_did_not_go_through_keeps_the_first_stage(
    twice, fake, clerk, manager, manager2, manager3
):
    invoice = submitted(clerk)
    approve(manager, invoice)
    fake.fail("approve_draft", OutcomeUnknown("reply lost"))
    with pytest.raises(services.UpstreamFailed):
        approve(manager2, invoice)
    services.invoice_reconcile(invoice_id=invoice.pk)  # not approved upstream: pending again
    invoice.refresh_from_db()
    assert invoice.status == S.PENDING
    assert list(StageApproval.objects.values_list("stage", "approver")) == [(1, manager.pk)]
    # The last stage is still open to anyone but the first stage's approver.
    assert approve(manager3, invoice).status == S.APPROVED


def test_retry_of_the_last_stage_is_refused_to_the_first_stages_approver(
    twice, fake, clerk, manager, manager2, manager3
):
    invoice = submitted(clerk)
    approve(manager, invoice)
    fake.fail("approve_draft", BackendUnavailable("down"))
    with pytest.raises(services.UpstreamFailed):
        approve(manager2, invoice)
    with pytest.raises(services.InvalidTransition, match="earlier stage"):
        services.invoice_retry(actor=manager, invoice_id=invoice.pk)
    retried = services.invoice_retry(actor=manager3, invoice_id=invoice.pk)
    assert retried.status == S.APPROVED
    assert StageApproval.objects.get(stage=2).approver == manager3


@pytest.mark.parametrize("decision", ["reject", "withdraw"])
def test_a_last_stage_that_failed_is_not_on_record_once_the_invoice_is_dropped(
    twice, fake, clerk, manager, manager2, manager3, decision
):
    invoice = submitted(clerk)
    approve(manager, invoice)
    fake.fail("approve_draft", BackendUnavailable("down"))
    with pytest.raises(services.UpstreamFailed):
        approve(manager2, invoice)
    assert StageApproval.objects.filter(stage=2).exists()  # written before the backend call
    if decision == "reject":
        services.invoice_reject(actor=manager3, invoice_id=invoice.pk, reason="Wrong tier")
    else:
        services.invoice_withdraw(actor=clerk, invoice_id=invoice.pk)
    assert list(StageApproval.objects.values_list("stage", "approver")) == [(1, manager.pk)]
    page = selectors.invoice_page(Invoice.objects.get(pk=invoice.pk), manager3)
    assert [a.stage for a in page["stage_approvals"]] == [1]  # the page says what stands
    assert audit_verify().ok


def test_one_stage_invoices_are_unchanged(fake, clerk, manager):
    invoice = submitted(clerk)
    assert invoice.stages_required == 1
    assert approve(manager, invoice).status == S.APPROVED
    assert not StageApproval.objects.exists()


def test_the_inbox_shows_the_stage_within_a_fixed_query_budget(
    twice, fake, clerk, manager, manager2, client_for, django_assert_max_num_queries
):
    a = submitted(clerk, MAY)
    submitted(clerk, JUNE)
    approve(manager, a)
    client = client_for(manager2)
    with django_assert_max_num_queries(8):
        html = client.get(reverse("invoices:inbox")).content.decode()
    assert html.count("2 of 2") == 1 and html.count("1 of 2") == 1


def test_the_invoice_page_says_which_rule_applied_and_who_approved_which_stage(
    twice, fake, clerk, manager, manager2, client_for
):
    invoice = submitted(clerk)
    approve(manager, invoice)
    html = client_for(manager2).get(reverse("invoices:detail", args=[invoice.pk])).content.decode()
    assert "Rule #100 “Everything twice”" in html
    assert "Stage 1 approved by manager" in html
    assert "Stage 2 of 2: waiting; this approval sends it to the billing backend" in html


def test_every_stage_approves_the_version_the_invoice_has(
    twice, fake, clerk, manager, manager2, client_for
):
    """A stage names the content hash its manager saw, which must be the invoice's (a stale one
    is refused, above), and an invoice's content never changes once it waits for approval: the
    page has no "different version" to point out."""
    invoice = submitted(clerk)
    approve(manager, invoice)
    approve(manager2, invoice)
    assert set(StageApproval.objects.values_list("content_hash", flat=True)) == {
        invoice.content_hash
    }
    # Only an edit of the database could make them differ; the page does not guess at one.
    StageApproval.objects.filter(stage=1).update(content_hash="0" * 64)
    html = client_for(manager2).get(reverse("invoices:detail", args=[invoice.pk])).content.decode()
    assert "Stage 1 approved by manager, " in html
    assert "different version" not in html


def test_a_rule_on_credit_notes_asks_two_approvals_of_them(fake, clerk, manager, manager2):
    from invoices.services.corrections import invoice_request_correction

    ApprovalRule.objects.create(name="Credit notes twice", kind="credit_note", stages=2)
    invoice = approve(manager, submitted(clerk))
    assert invoice.stages_required == 1  # the rule is about credit notes only
    note = invoice_request_correction(
        actor=clerk,
        invoice_id=invoice.pk,
        kind="credit_note",
        reason_code="goodwill",
        reason_text="Outage",
    )
    assert note.stages_required == 2
    assert approve(manager, note).status == S.PENDING  # stage 1: nothing upstream yet
    assert not fake.drafts[invoice.upstream_id].credits
    assert approve(manager2, note).status == S.APPROVED
    assert fake.drafts[invoice.upstream_id].credits
