"""Tests that guard the critical rules, each written so that it fails when the rule's one line is
broken (see the report of issue 17 for the defect each one was seen failing on):

- a cycle is held by every live invoice (submitting, pending, approving, approved, failed);
- approve / reject / retry refuse a person without the role before the invoice is looked up;
- four eyes on retry, for a manager who is also a clerk;
- the drift check compares the draft's total, not only its lines;
- the clean-up of a superseded draft never deletes the newer version's draft;
- second, independent tests for drift on approve, the services' role check, and "intent
  before the backend call" on approve and on submit.

The audit trail's and the CSV exports' rules are in test_rules_audit.py.
"""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from invoices import roles, selectors, services
from invoices.backends.base import BackendUnavailable
from invoices.models import AuditEvent, Invoice

from .conftest import JUNE, MAY
from .fake_backend import line

pytestmark = pytest.mark.django_db
S = Invoice.Status


def submitted(clerk, c=MAY, **kw) -> Invoice:
    return services.invoice_submit_cycle(
        actor=clerk,
        contract_id="c-1",
        cycle_key=c.key,
        cycle_fp=services.cycle_fingerprint(c),
        **kw,
    ).invoice


def approve(actor, invoice):
    return services.invoice_approve(
        actor=actor, invoice_id=invoice.pk, seen_hash=invoice.content_hash
    )


def failed(fake, clerk, manager, c=MAY) -> Invoice:
    invoice = submitted(clerk, c)
    fake.fail("approve_draft", BackendUnavailable("down"))
    with pytest.raises(services.UpstreamFailed):
        approve(manager, invoice)
    return Invoice.objects.get(pk=invoice.pk)


# --- every live status holds its cycle ---------------------------------------------------------
def _held_by(status, fake, clerk, manager) -> Invoice:
    if status == S.FAILED:
        return failed(fake, clerk, manager)
    if status == S.APPROVED:
        return approve(manager, submitted(clerk))
    invoice = submitted(clerk)
    if status == S.APPROVING:  # an approval in flight (the upstream call under way)
        Invoice.objects.filter(pk=invoice.pk).update(status=S.APPROVING)
    return Invoice.objects.get(pk=invoice.pk)


@pytest.mark.parametrize("status", [S.PENDING, S.APPROVING, S.APPROVED, S.FAILED])
def test_a_cycle_held_by_a_live_invoice_cannot_be_submitted_again(
    status, fake, clerk, clerk2, manager
):
    holder = _held_by(status, fake, clerk, manager)
    generated = fake.calls["generate_draft"]
    with pytest.raises(services.CycleAlreadyInvoiced) as caught:
        submitted(clerk2)
    assert caught.value.invoice == holder  # the clerk is pointed to the invoice holding it
    assert fake.calls["generate_draft"] == generated  # nothing generated upstream
    assert Invoice.objects.count() == 1


@pytest.mark.parametrize("status", [S.PENDING, S.APPROVING, S.APPROVED, S.FAILED])
def test_the_clerk_page_links_to_the_live_invoice_instead_of_offering_the_cycle(
    status, fake, client_for, clerk, clerk2, manager
):
    holder = _held_by(status, fake, clerk, manager)
    fake.calls.clear()
    query = f"?contract=c-1&cycle={MAY.key}"
    html = client_for(clerk2).get(reverse("invoices:new_cycle") + query).content.decode()
    assert f"open invoice #{holder.pk}" in html
    assert "Submit for approval" not in html
    assert fake.calls["preview_cycle"] == 0  # a held cycle is not even previewed


@pytest.mark.parametrize("status", [S.SUBMITTING, S.PENDING, S.APPROVING, S.APPROVED, S.FAILED])
def test_the_database_refuses_a_second_live_invoice_for_a_cycle_in_every_live_status(
    status, fake, clerk
):
    from django.db import IntegrityError

    invoice = submitted(clerk)
    Invoice.objects.filter(pk=invoice.pk).update(status=status)
    copy = {
        f.attname: getattr(invoice, f.attname)
        for f in Invoice._meta.concrete_fields
        if f.attname not in ("id", "lineage", "previous_id", "status")
    }
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.create(**copy, status=S.PENDING)


# --- decisions: the role is checked before anything is looked up ----------------------------------
@pytest.mark.parametrize("who", ["clerk", "auditor", "outsider"])
@pytest.mark.parametrize("action", ["approve", "reject", "retry"])
def test_a_decision_without_the_role_is_refused_before_the_invoice_is_looked_up(
    who, action, request, fake, client_for, clerk, manager
):
    invoice = failed(fake, clerk, manager) if action == "retry" else submitted(clerk)
    fake.calls.clear()
    client = client_for(request.getfixturevalue(who))
    data = {"content_hash": invoice.content_hash, "reason": "Not for me to decide"}
    # An invoice that does not exist is refused the same way: nothing was looked up.
    missing = client.post(reverse(f"invoices:{action}", args=[invoice.pk + 1000]), data)
    assert missing.status_code == 403
    with CaptureQueriesContext(connection) as queries:
        response = client.post(reverse(f"invoices:{action}", args=[invoice.pk]), data)
    assert response.status_code == 403
    assert not [q for q in queries.captured_queries if "invoices_invoice" in q["sql"]]
    assert fake.calls == {}  # no backend call
    assert Invoice.objects.get(pk=invoice.pk).status == invoice.status


@pytest.mark.parametrize("who", ["clerk2", "auditor", "outsider"])
def test_the_services_refuse_a_decision_without_the_role(who, request, fake, clerk, manager):
    person = request.getfixturevalue(who)
    pending = submitted(clerk)
    broken = failed(fake, clerk, manager, JUNE)
    fake.calls.clear()
    refused = {
        "approve invoices": lambda: approve(person, pending),
        "reject invoices": lambda: services.invoice_reject(
            actor=person, invoice_id=pending.pk, reason="No"
        ),
        "approve invoices (retry)": lambda: services.invoice_retry(
            actor=person, invoice_id=broken.pk
        ),
    }
    for what, call in refused.items():
        with pytest.raises(services.NotAllowed) as caught:
            call()
        assert caught.value.message == f"Your role does not allow you to {what.split(' (')[0]}."
    assert [i.status for i in Invoice.objects.order_by("pk")] == [S.PENDING, S.FAILED]
    assert fake.calls == {}  # nothing asked of, or sent to, the backend
    assert not AuditEvent.objects.filter(actor=person).exists()
    # ... and no page offers them the decision.
    for invoice in Invoice.objects.all():
        assert (
            not {"approve", "reject", "retry"} & selectors.invoice_page(invoice, person)["actions"]
        )


@pytest.mark.parametrize("who", ["manager", "auditor", "outsider"])
def test_the_services_refuse_submissions_without_the_role(who, request, fake):
    from tests.engine.factories import adhoc_world

    from .test_workflow_table import adhoc_request

    person = request.getfixturevalue(who)
    with pytest.raises(services.NotAllowed) as caught:
        submitted(person)
    assert caught.value.message == "Your role does not allow you to submit invoices."
    with pytest.raises(services.NotAllowed):
        services.invoice_submit_adhoc(
            actor=person, request=adhoc_request(adhoc_world()), customer_name="Northwind"
        )
    assert not Invoice.objects.exists()
    assert fake.calls == {}  # not even the cycle list was asked for
    assert not AuditEvent.objects.exists()


# --- four eyes on retry ---------------------------------------------------------------------------
@pytest.fixture
def manager_clerk(manager, django_user_model):
    """A manager who is also in the clerks' group (allowed to submit and to approve)."""
    manager.groups.add(Group.objects.get(name=roles.CLERKS))
    return django_user_model.objects.get(pk=manager.pk)


def test_a_manager_who_submitted_cannot_retry_their_own_failed_approval(
    fake, manager_clerk, manager2, client_for
):
    invoice = failed(fake, manager_clerk, manager2)  # manager2 approved; the backend failed
    assert invoice.submitted_by == manager_clerk
    with pytest.raises(services.NotAllowed, match="another manager must"):
        services.invoice_retry(actor=manager_clerk, invoice_id=invoice.pk)
    assert "retry" not in selectors.invoice_page(invoice, manager_clerk)["actions"]
    response = client_for(manager_clerk).post(reverse("invoices:retry", args=[invoice.pk]))
    assert response.status_code == 403
    assert fake.calls["approve_draft"] == 1  # only manager2's failed attempt
    assert Invoice.objects.get().status == S.FAILED
    # Another manager may.
    assert services.invoice_retry(actor=manager2, invoice_id=invoice.pk).status == S.APPROVED


# --- drift: lines and total -----------------------------------------------------------------------
def test_a_draft_whose_total_changed_upstream_is_not_approved(fake, clerk, manager):
    from decimal import Decimal

    invoice = submitted(clerk)
    fake.drafts[invoice.upstream_id].discounted = Decimal("135.00")  # a document-level discount
    with pytest.raises(services.DraftDrifted):
        approve(manager, invoice)
    assert fake.calls["approve_draft"] == 0
    assert fake.drafts[invoice.upstream_id].status == "draft"
    assert Invoice.objects.get().status == S.PENDING
    assert AuditEvent.objects.filter(action="invoice.approval_refused").exists()


def test_retrying_a_draft_whose_total_changed_upstream_does_not_approve_it(fake, clerk, manager):
    from decimal import Decimal

    invoice = failed(fake, clerk, manager)
    fake.drafts[invoice.upstream_id].discounted = Decimal("135.00")
    with pytest.raises(services.DraftDrifted):
        services.invoice_retry(actor=manager, invoice_id=invoice.pk)
    assert fake.calls["approve_draft"] == 1  # the first, failed attempt only
    assert Invoice.objects.get().status == S.PENDING


def test_approving_a_drifted_draft_from_the_page_explains_and_approves_nothing(
    fake, clerk, manager, client_for
):
    invoice = submitted(clerk)
    fake.change_lines(invoice.upstream_id, (line("Hosting", "100.00"), line("Support", "65.00")))
    response = client_for(manager).post(
        reverse("invoices:approve", args=[invoice.pk]), {"content_hash": invoice.content_hash}
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "changed since it was submitted" in html
    assert "Changed: Support" in html and "50.00 → 65.00" in html
    assert fake.calls["approve_draft"] == 0
    assert Invoice.objects.get().status == S.PENDING


# --- clean-up of a superseded draft ---------------------------------------------------------------
def test_cleaning_up_a_superseded_draft_never_deletes_the_new_versions_draft(fake, clerk, manager):
    fake.keep_draft_ids = True  # regenerating a cycle keeps its draft's id, as upstream does
    first = submitted(clerk)
    fake.fail("delete_draft", BackendUnavailable("down"))
    rejected = services.invoice_reject(actor=manager, invoice_id=first.pk, reason="Seats")
    assert rejected.upstream_cleanup_pending
    second = submitted(clerk, previous=rejected)
    assert second.upstream_id == first.upstream_id  # the same draft, now the revision's
    result = services.invoice_reconcile(invoice_id=first.pk)
    assert result.detail == "upstream draft deleted"  # nothing of ours left to delete
    assert second.upstream_id in fake.drafts
    assert fake.calls["delete_draft"] == 1  # only the failed attempt at rejection time
    assert approve(manager, Invoice.objects.get(pk=second.pk)).status == S.APPROVED


def test_on_the_engine_reconcile_leaves_the_revisions_draft_alone(clerk, manager, monkeypatch):
    from billing_engine import api
    from invoices import backend_cache
    from invoices.backends.embedded import EmbeddedCycleBackend
    from tests.engine.factories import worked_example_contract

    contract_id = str(worked_example_contract().pk)
    cycles, _ = backend_cache.billing_cycles(contract_id)
    june = next(c for c in cycles if c.bill_for_date == "2026-06-28T00:00:00Z")

    def submit(previous=None):
        return services.invoice_submit_cycle(
            actor=clerk,
            contract_id=contract_id,
            cycle_key=june.key,
            cycle_fp=services.cycle_fingerprint(june),
            previous=previous,
        ).invoice

    first = submit()

    def down(self, invoice_id):
        raise BackendUnavailable("the engine's database cannot answer")

    monkeypatch.setattr(EmbeddedCycleBackend, "delete_draft", down)
    rejected = services.invoice_reject(actor=manager, invoice_id=first.pk, reason="Seats")
    monkeypatch.undo()
    second = submit(previous=rejected)
    assert second.upstream_id == first.upstream_id
    services.invoice_reconcile(invoice_id=first.pk)
    assert api.get_invoice(second.upstream_id).status == "draft"
    assert Invoice.objects.get(pk=first.pk).upstream_cleanup_pending is False


def test_a_clean_up_finished_by_reconcile_is_audited_for_the_manager_who_rejected(
    fake, clerk, manager
):
    invoice = submitted(clerk)
    fake.fail("delete_draft", BackendUnavailable("down"))
    services.invoice_reject(actor=manager, invoice_id=invoice.pk, reason="typo")
    services.invoice_reconcile(invoice_id=invoice.pk)  # as the sweep runs it: no actor
    event = AuditEvent.objects.get(action="invoice.draft_deleted")
    assert event.actor == manager and event.actor_username == "manager"
    assert event.data["finished_by"] == "reconcile"
    assert invoice.upstream_id not in fake.drafts


def test_a_clean_up_finished_by_reconcile_is_audited_for_the_clerk_who_withdrew(fake, clerk):
    from invoices.sweep import run_sweep

    invoice = submitted(clerk)
    fake.fail("delete_draft", BackendUnavailable("down"))
    services.invoice_withdraw(actor=clerk, invoice_id=invoice.pk)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Invoice.objects.filter(pk=invoice.pk).update(updated_at=an_hour_ago)
    run_sweep()  # the periodic sweep: no person behind it
    event = AuditEvent.objects.get(action="invoice.draft_deleted")
    assert event.actor == clerk


# --- intent before the backend call (second, independent tests) -----------------------------------
def _seen_at_the_call(fake, method: str, invoice_pk=None) -> dict:
    """Hooks the fake's `method` to record, at the moment of the upstream call, whether a
    database transaction is open and what the database (committed) holds."""
    seen: dict = {}
    real = getattr(fake, method)

    def spy(*args, **kwargs):
        seen["in_transaction"] = connection.in_atomic_block
        rows = (
            Invoice.objects.all() if invoice_pk is None else Invoice.objects.filter(pk=invoice_pk)
        )
        seen["statuses"] = list(rows.values_list("status", flat=True))
        seen["events"] = list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))
        return real(*args, **kwargs)

    setattr(fake, method, spy)
    return seen


@pytest.mark.django_db(transaction=True)
def test_approve_commits_its_intent_before_the_upstream_write(fake, clerk, manager):
    invoice = submitted(clerk)
    seen = _seen_at_the_call(fake, "approve_draft", invoice.pk)
    approve(manager, invoice)
    assert seen["in_transaction"] is False  # committed: the write happens outside any transaction
    assert seen["statuses"] == [S.APPROVING]
    assert seen["events"][-1] == "invoice.approval_started"


@pytest.mark.django_db(transaction=True)
def test_submit_commits_its_claim_before_generating_upstream(fake, clerk):
    seen = _seen_at_the_call(fake, "generate_draft")
    submitted(clerk)
    assert seen["in_transaction"] is False
    assert seen["statuses"] == [S.SUBMITTING]  # the claim holds the cycle before the call


@pytest.mark.django_db(transaction=True)
def test_ad_hoc_approval_commits_its_intent_before_creating_upstream(clerk, manager, monkeypatch):
    from invoices.backends.embedded import EmbeddedAdhocBackend
    from tests.engine.factories import adhoc_world

    from .test_workflow_table import adhoc_request

    invoice = services.invoice_submit_adhoc(
        actor=clerk, request=adhoc_request(adhoc_world()), customer_name="Northwind"
    )
    seen: dict = {}
    real = EmbeddedAdhocBackend.create_invoice

    def spy(self, request, **kwargs):
        seen["in_transaction"] = connection.in_atomic_block
        seen["status"] = Invoice.objects.get(pk=invoice.pk).status
        return real(self, request, **kwargs)

    monkeypatch.setattr(EmbeddedAdhocBackend, "create_invoice", spy)
    approve(manager, invoice)
    assert seen == {"in_transaction": False, "status": S.APPROVING}
