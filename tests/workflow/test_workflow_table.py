"""The workflow table is the truth: every transition has a service path that takes it (and a test
here that drives it), no service changes a status the table does not list, and what the pages
offer (`allowed_actions`) is exactly what the services accept."""

import ast
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from invoices import extensions, services, workflow
from invoices.backends.base import (
    AdhocInvoiceRequest,
    AdhocLine,
    BackendUnavailable,
    OutcomeUnknown,
)
from invoices.models import AuditEvent, Invoice
from invoices.services import records
from invoices.workflow import DROPPED, NEW, TRANSITIONS
from tests.engine.factories import adhoc_world

from .conftest import MAY

pytestmark = pytest.mark.django_db
S = Invoice.Status
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def taken(monkeypatch):
    """The names of the steps the services take (records is the one status writer)."""
    steps: list[str] = []
    for name in ("transition", "create", "drop"):
        real = getattr(records, name)

        def spy(invoice, step, *args, _real=real, **kwargs):
            steps.append(step)
            return _real(invoice, step, *args, **kwargs)

        monkeypatch.setattr(records, name, spy)
    real_check = records.check

    def check_spy(action, invoice, actor):
        real_check(action, invoice, actor)
        # An action that changes no status (revise) is taken when its check passes.
        start = workflow.ACTIONS[action].starts
        if workflow.TRANSITIONS[start].target == invoice.status:
            steps.append(start)

    monkeypatch.setattr(records, "check", check_spy)
    return steps


def submitted(clerk) -> Invoice:
    return services.invoice_submit_cycle(
        actor=clerk,
        contract_id="c-1",
        cycle_key=MAY.key,
        cycle_fp=services.cycle_fingerprint(MAY),
        preview_total_minor=None,
    ).invoice


def approve(manager, invoice):
    return services.invoice_approve(
        actor=manager, invoice_id=invoice.pk, seen_hash=invoice.content_hash
    )


def failed(fake, clerk, manager, error=None) -> Invoice:
    invoice = submitted(clerk)
    fake.fail("approve_draft", error or BackendUnavailable("down"))
    with pytest.raises(services.UpstreamFailed):
        approve(manager, invoice)
    return Invoice.objects.get(pk=invoice.pk)


def correction(clerk, invoice, kind="credit_note", **extra) -> Invoice:
    return services.invoice_request_correction(
        actor=clerk,
        invoice_id=invoice.pk,
        kind=kind,
        reason_code="pricing_error",
        reason_text="Hosting was billed at the old price",
        **extra,
    )


def voided(fake, clerk, manager, manager2) -> Invoice:
    """An approved invoice credited and voided: its cycle is free again."""
    invoice = approve(manager, submitted(clerk))
    approve(manager2, correction(clerk, invoice, "void", reissue=True))
    return Invoice.objects.get(pk=invoice.pk)


class Crash(BaseException):
    """The process dies mid-request (not an error any code handles)."""


def adhoc_request(world) -> AdhocInvoiceRequest:
    return AdhocInvoiceRequest(
        customer_id=str(world["customer"].account_number),
        currency_id=str(world["usd"].id),
        currency_code="USD",
        gateway_id=str(world["stripe"].id),
        payment_method_id=str(world["card"].id),
        date_from=date(2026, 7, 1),
        date_to=date(2026, 7, 31),
        date_due=date(2026, 8, 15),
        lines=(AdhocLine("Training day", 2, 4100),),
    )


# --- one scenario per transition: the service path that takes it -------------------------------
def _claim_and_record(fake, clerk, manager2, manager):
    return submitted(clerk), S.PENDING


def _abandon(fake, clerk, manager2, manager):
    fake.fail("generate_draft", BackendUnavailable("down"))
    with pytest.raises(BackendUnavailable):
        submitted(clerk)
    return None, DROPPED


def _adhoc(fake, clerk, manager2, manager):
    return services.invoice_submit_adhoc(
        actor=clerk, request=adhoc_request(adhoc_world()), customer_name="Northwind"
    ), S.PENDING


def _revise(fake, clerk, manager2, manager):
    rejected = services.invoice_reject(
        actor=manager, invoice_id=submitted(clerk).pk, reason="Wrong seats"
    )
    revision = services.invoice_submit_cycle(
        actor=clerk,
        contract_id="c-1",
        cycle_key=MAY.key,
        cycle_fp=services.cycle_fingerprint(MAY),
        preview_total_minor=None,
        previous=rejected,
    ).invoice
    assert revision.previous_id == rejected.pk
    return Invoice.objects.get(pk=rejected.pk), S.REJECTED


def _approve(fake, clerk, manager2, manager):
    return approve(manager, submitted(clerk)), S.APPROVED


def two_stage_policy(invoice):
    return extensions.PolicyDecision(2, "Rule #1 “Everything twice”", "A test policy.")


def _approve_stage(fake, clerk, manager2, manager):
    real, extensions.approval_policy = extensions.approval_policy, two_stage_policy
    try:
        invoice = submitted(clerk)
    finally:
        extensions.approval_policy = real
    assert invoice.stages_required == 2
    first = approve(manager, invoice)
    assert first.stage_approvals.get().approver == manager
    assert fake.calls["approve_draft"] == 0  # nothing upstream before the last stage
    return first, S.PENDING


def _approve_fails(fake, clerk, manager2, manager):
    return failed(fake, clerk, manager), S.FAILED


def _retry(fake, clerk, manager2, manager):
    invoice = failed(fake, clerk, manager)
    return services.invoice_retry(actor=manager2, invoice_id=invoice.pk), S.APPROVED


def _reject(fake, clerk, manager2, manager):
    invoice = submitted(clerk)
    return services.invoice_reject(actor=manager, invoice_id=invoice.pk, reason="No"), S.REJECTED


def _withdraw(fake, clerk, manager2, manager):
    invoice = submitted(clerk)
    return services.invoice_withdraw(actor=clerk, invoice_id=invoice.pk), S.WITHDRAWN


def _settle_approved(fake, clerk, manager2, manager):
    invoice = failed(fake, clerk, manager, OutcomeUnknown("reply lost"))
    fake.drafts[invoice.upstream_id].status = "approved"  # it did go through
    services.invoice_reconcile(invoice_id=invoice.pk)
    return Invoice.objects.get(pk=invoice.pk), S.APPROVED


def _settle_not_approved(fake, clerk, manager2, manager):
    invoice = failed(fake, clerk, manager, OutcomeUnknown("reply lost"))
    services.invoice_reconcile(invoice_id=invoice.pk)
    return Invoice.objects.get(pk=invoice.pk), S.PENDING


def _settle_gone(fake, clerk, manager2, manager):
    invoice = failed(fake, clerk, manager)
    del fake.drafts[invoice.upstream_id]
    services.invoice_reconcile(invoice_id=invoice.pk)
    return Invoice.objects.get(pk=invoice.pk), S.FAILED


def _correct(fake, clerk, manager2, manager):
    invoice = approve(manager, submitted(clerk))
    return correction(clerk, invoice), S.PENDING


def _correct_apply(fake, clerk, manager2, manager):
    invoice = voided(fake, clerk, manager, manager2)
    assert invoice.status == S.VOIDED
    return invoice, S.VOIDED


def _reissue(fake, clerk, manager2, manager):
    invoice = voided(fake, clerk, manager, manager2)
    reissued = services.invoice_submit_cycle(
        actor=clerk,
        contract_id="c-1",
        cycle_key=MAY.key,
        cycle_fp=services.cycle_fingerprint(MAY),
        preview_total_minor=None,
        previous=invoice,
        reissue=True,
    ).invoice
    assert (reissued.previous_id, reissued.status) == (invoice.pk, S.PENDING)
    return Invoice.objects.get(pk=invoice.pk), S.VOIDED


def _settle_unclear(fake, clerk, manager2, manager):
    invoice = approve(manager, submitted(clerk))
    credit = correction(clerk, invoice)
    fake.after_effect["credit_note"] = Crash()  # credited upstream, then the process died
    with pytest.raises(Crash):
        approve(manager2, credit)
    assert Invoice.objects.get(pk=credit.pk).status == S.APPROVING
    fake.drafts[invoice.upstream_id].credits.append(Decimal("1.00"))  # and someone else's
    services.invoice_reconcile(invoice_id=credit.pk)
    return Invoice.objects.get(pk=credit.pk), S.FAILED


def _settle_drop_intent(fake, clerk, manager2, manager):
    fake.fail("get_draft", BackendUnavailable("down"))
    fake.fail("delete_draft", BackendUnavailable("down"))
    with pytest.raises(services.UpstreamFailed):
        submitted(clerk)
    intent = Invoice.objects.get(status=S.SUBMITTING)
    services.invoice_reconcile(invoice_id=intent.pk)
    return None, DROPPED


def _settle_complete(fake, clerk, manager2, manager):
    # A bill run's submission interrupted after the draft was generated (its id kept): reconcile
    # reads the draft back and queues it for approval instead of taking it back.
    fake.fail("get_draft", BackendUnavailable("down"))
    fake.fail("delete_draft", BackendUnavailable("down"))
    with pytest.raises(services.UpstreamFailed):
        services.invoice_submit_cycle(
            actor=clerk,
            contract_id="c-1",
            cycle_key=MAY.key,
            cycle_fp=services.cycle_fingerprint(MAY),
            preview_total_minor=None,
            run_id=7,
        )
    intent = Invoice.objects.get(status=S.SUBMITTING)
    services.invoice_reconcile(invoice_id=intent.pk)
    assert fake.calls["generate_draft"] == 1
    return Invoice.objects.get(pk=intent.pk), S.PENDING


SCENARIOS = {
    "submit.claim": _claim_and_record,
    "submit.record": _claim_and_record,
    "submit.abandon": _abandon,
    "submit_adhoc.record": _adhoc,
    "revise.start": _revise,
    "approve.stage": _approve_stage,
    "approve.start": _approve,
    "approve.succeed": _approve,
    "approve.fail": _approve_fails,
    "retry.start": _retry,
    "reject.record": _reject,
    "withdraw.record": _withdraw,
    "settle.approved": _settle_approved,
    "settle.not_approved": _settle_not_approved,
    "settle.gone": _settle_gone,
    "settle.drop_intent": _settle_drop_intent,
    "settle.unclear": _settle_unclear,
    "correct.start": _correct,
    "correct.record": _correct,
    "correct.apply": _correct_apply,
    "reissue.start": _reissue,
    "settle.complete": _settle_complete,
}


def test_every_transition_has_a_scenario():
    assert set(SCENARIOS) == set(TRANSITIONS)


@pytest.mark.parametrize("name", sorted(TRANSITIONS))
def test_a_service_takes_each_transition(name, fake, clerk, manager, manager2, taken):
    rule = TRANSITIONS[name]
    invoice, expected = SCENARIOS[name](fake, clerk, manager2, manager)
    assert name in taken, f"no service took {name}; it took {taken}"
    if rule.target == DROPPED:
        assert not Invoice.objects.filter(status=S.SUBMITTING).exists()
        assert AuditEvent.objects.filter(action=rule.audit, invoice=None).exists()
    elif name == taken[-1]:
        assert invoice.status == rule.target == expected
    for step in taken:
        assert step in TRANSITIONS
    _every_event_is_an_edge_of_the_table()


def _every_event_is_an_edge_of_the_table():
    edges = {
        (t.audit, source, t.target)
        for t in TRANSITIONS.values()
        if t.audit
        for source in t.sources
        if t.target != DROPPED
    }
    for event in AuditEvent.objects.exclude(to_status=""):
        edge = (event.action, event.from_status, event.to_status)
        assert edge in edges, f"event #{event.seq} changed a status outside the table: {edge}"


def test_an_unknown_step_raises(fake, clerk):
    invoice = submitted(clerk)
    with pytest.raises(workflow.UnknownTransition):
        records.transition(invoice, "approve.instantly", actor=clerk)


def test_a_step_from_the_wrong_status_is_refused_and_changes_nothing(fake, clerk):
    invoice = submitted(clerk)
    with pytest.raises(services.InvalidTransition):
        records.transition(invoice, "approve.succeed", actor=clerk)  # pending, not approving
    assert Invoice.objects.get(pk=invoice.pk).status == S.PENDING


# --- what the pages offer is what the services accept ------------------------------------------
def _in_status(fake, clerk, manager, status: str, manager2=None) -> Invoice:
    if status == S.FAILED:
        return failed(fake, clerk, manager)
    if status == S.VOIDED:
        return voided(fake, clerk, manager, manager2)
    invoice = submitted(clerk)
    if status == S.REJECTED:
        return services.invoice_reject(actor=manager, invoice_id=invoice.pk, reason="No")
    if status == S.WITHDRAWN:
        return services.invoice_withdraw(actor=clerk, invoice_id=invoice.pk)
    if status == S.APPROVED:
        return approve(manager, invoice)
    if status in (S.SUBMITTING, S.APPROVING):  # in flight: only reachable mid-request
        Invoice.objects.filter(pk=invoice.pk).update(status=status)
    return Invoice.objects.get(pk=invoice.pk)


SERVICE_CALLS = {
    "approve": lambda who, inv: services.invoice_approve(
        actor=who, invoice_id=inv.pk, seen_hash=inv.content_hash
    ),
    "retry": lambda who, inv: services.invoice_retry(actor=who, invoice_id=inv.pk),
    "reject": lambda who, inv: services.invoice_reject(actor=who, invoice_id=inv.pk, reason="No"),
    "withdraw": lambda who, inv: services.invoice_withdraw(actor=who, invoice_id=inv.pk),
    "revise": lambda who, inv: services.invoice_submit_cycle(
        actor=who,
        contract_id="c-1",
        cycle_key=MAY.key,
        cycle_fp=services.cycle_fingerprint(MAY),
        preview_total_minor=None,
        previous=inv,
    ),
    "correct": lambda who, inv: correction(who, inv),
    "reissue": lambda who, inv: services.invoice_submit_cycle(
        actor=who,
        contract_id="c-1",
        cycle_key=MAY.key,
        cycle_fp=services.cycle_fingerprint(MAY),
        preview_total_minor=None,
        previous=inv,
        reissue=True,
    ),
}


@pytest.mark.parametrize("status", list(workflow.STATUSES))
@pytest.mark.parametrize("action", sorted(workflow.ACTIONS))
@pytest.mark.parametrize("who", ["clerk", "clerk2", "manager", "auditor"])
def test_allowed_actions_are_exactly_what_the_services_accept(
    status, action, who, request, fake, clerk, manager, manager2
):
    person = request.getfixturevalue(who)
    invoice = _in_status(fake, clerk, manager, status, manager2)
    offered = action in workflow.allowed_actions(invoice, person)
    try:
        SERVICE_CALLS[action](person, invoice)
    except (services.NotAllowed, services.InvalidTransition) as exc:
        assert not offered, f"{action} offered to {who} on {status} but refused: {exc.message}"
    else:
        assert offered, f"{action} not offered to {who} on {status}, but the service did it"


def test_status_lists_derive_from_the_table():
    assert tuple(s for s, r in workflow.STATUSES.items() if r.live) == Invoice.LIVE_STATUSES
    constraint = next(
        c for c in Invoice._meta.constraints if c.name == "one_live_invoice_per_cycle"
    )
    assert dict(constraint.condition.children)["status__in"] == list(workflow.LIVE_STATUSES)
    assert set(workflow.CLOSED_STATUSES) == {S.REJECTED, S.WITHDRAWN, S.VOIDED}
    assert NEW not in workflow.STATUSES


# --- no code writes a status except through the table -------------------------------------------
WRITERS = {ROOT / "invoices" / "services" / "records.py"}


def _status_writes(tree: ast.AST):
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Attribute) and target.attr == "status":
                yield node.lineno
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("update", "create", "bulk_update", "update_or_create", "Invoice") and any(
                k.arg == "status" for k in node.keywords
            ):
                yield node.lineno
            if name == "setattr" and any(
                isinstance(a, ast.Constant) and a.value == "status" for a in node.args
            ):
                yield node.lineno


def _modules():
    """Every module of the app that can reach an Invoice: the backends never import the models
    (their `status` attributes are HTTP and vendor statuses), which is checked too."""
    for module in (ROOT / "invoices").rglob("*.py"):
        if "migrations" in module.parts:
            continue
        if "backends" in module.parts:
            assert "invoices.models" not in module.read_text(), module
            assert "from ..models" not in module.read_text(), module
            continue
        yield module


def test_only_records_writes_an_invoice_status():
    offenders = [
        f"{module.relative_to(ROOT)}:{line}"
        for module in _modules()
        if module not in WRITERS
        for line in _status_writes(ast.parse(module.read_text()))
    ]
    assert offenders == []


def test_the_status_write_check_catches_a_write():
    sneaky = "invoice.status = 'approved'\nInvoice.objects.filter(pk=1).update(status='x')\n"
    assert list(_status_writes(ast.parse(sneaky))) == [1, 2]
