"""Crash safety: whatever point a request dies at, `manage.py reconcile` settles it."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from invoices import services
from invoices.backends.base import BackendUnavailable
from invoices.models import AuditEvent, Invoice
from invoices.services import decide, submit

from .conftest import MAY

pytestmark = pytest.mark.django_db
S = Invoice.Status


class Crash(BaseException):
    """The process dying: not an Exception, so no handler in the app catches it."""


def _interrupted_submission(clerk, monkeypatch) -> Invoice:
    """A submission whose request died after its draft was generated: the intent it left."""

    def die(*args, **kwargs):
        raise Crash

    monkeypatch.setattr(submit, "snapshot_lines", die)
    with pytest.raises(Crash):
        submitted(clerk)
    monkeypatch.undo()
    return Invoice.objects.get()


def submitted(clerk) -> Invoice:
    return services.invoice_submit_cycle(
        actor=clerk,
        contract_id="c-1",
        cycle_key=MAY.key,
        cycle_fp=services.cycle_fingerprint(MAY),
        preview_total_minor=15000,
    ).invoice


def reconcile() -> str:
    out = StringIO()
    call_command("reconcile", "--older-than", "0", stdout=out)
    return out.getvalue()


def test_crash_between_upstream_approval_and_local_commit_is_settled_once(
    fake, clerk, manager, monkeypatch
):
    invoice = submitted(clerk)

    def die(*args, **kwargs):
        raise Crash

    monkeypatch.setattr(decide, "record_approved", die)
    with pytest.raises(Crash):
        services.invoice_approve(
            actor=manager, invoice_id=invoice.pk, seen_hash=invoice.content_hash
        )
    monkeypatch.undo()
    assert Invoice.objects.get().status == S.APPROVING  # the intent survived the crash
    assert fake.drafts[invoice.upstream_id].status == "approved"

    output = reconcile()
    assert "approving -> approved" in output
    settled = Invoice.objects.get()
    assert settled.status == S.APPROVED
    assert settled.decided_by == manager
    assert fake.calls["approve_draft"] == 1  # nothing doubled
    # Running it again changes nothing.
    assert "0 record(s) looked at" in reconcile()
    assert Invoice.objects.get().status == S.APPROVED
    assert AuditEvent.objects.filter(action="invoice.reconciled").count() == 1


def test_crash_before_the_upstream_call_returns_the_invoice_to_the_inbox(
    fake, clerk, manager, monkeypatch
):
    invoice = submitted(clerk)

    def die(**kwargs):
        raise Crash

    monkeypatch.setattr(decide, "_send_approval", die)
    with pytest.raises(Crash):
        services.invoice_approve(
            actor=manager, invoice_id=invoice.pk, seen_hash=invoice.content_hash
        )
    monkeypatch.undo()
    assert Invoice.objects.get().status == S.APPROVING
    assert "approving -> pending_approval" in reconcile()
    back = Invoice.objects.get()
    assert back.status == S.PENDING
    assert back.decided_by is None
    assert fake.calls["approve_draft"] == 0
    # A manager can approve it again, and it is approved exactly once.
    services.invoice_approve(actor=manager, invoice_id=back.pk, seen_hash=back.content_hash)
    assert fake.calls["approve_draft"] == 1


def test_crash_during_submission_leaves_an_intent_that_reconcile_drops(fake, clerk, monkeypatch):
    _interrupted_submission(clerk, monkeypatch)
    assert Invoice.objects.get().status == S.SUBMITTING
    assert "submitting -> dropped" in reconcile()
    assert not Invoice.objects.exists()
    # The cycle can be submitted again; generation replaced the orphan draft, so one draft.
    submitted(clerk)
    assert len(fake.drafts) == 1


def test_an_intent_settled_elsewhere_after_it_was_listed_does_not_stop_the_sweep(
    fake, clerk, manager, monkeypatch
):
    intent = _interrupted_submission(clerk, monkeypatch)
    listed = list(services.invoices_to_reconcile(older_than=timedelta(0)))
    assert listed == [intent.pk]
    services.invoice_reconcile(invoice_id=intent.pk)  # another worker drops it meanwhile
    result = services.invoice_reconcile(invoice_id=intent.pk)  # then this sweep gets to it
    assert (result.after, result.detail) == ("dropped", "settled meanwhile")


def test_failed_approval_that_went_through_is_settled_as_approved(fake, clerk, manager):
    invoice = submitted(clerk)
    fake.after_effect["approve_draft"] = BackendUnavailable("read timeout")
    with pytest.raises(services.UpstreamFailed):
        services.invoice_approve(
            actor=manager, invoice_id=invoice.pk, seen_hash=invoice.content_hash
        )
    assert "failed -> approved" in reconcile()
    assert fake.calls["approve_draft"] == 1


def test_reconcile_leaves_records_in_flight_alone(fake, clerk, manager, monkeypatch):
    invoice = submitted(clerk)
    monkeypatch.setattr(decide, "_send_approval", lambda **kw: kw["invoice"])
    services.invoice_approve(actor=manager, invoice_id=invoice.pk, seen_hash=invoice.content_hash)
    out = StringIO()
    call_command("reconcile", stdout=out)  # default: only records older than 60 s
    assert "0 record(s) looked at" in out.getvalue()
    assert Invoice.objects.get().status == S.APPROVING


def test_reconcile_waits_as_long_as_the_sweep_does(fake, clerk, manager, settings, monkeypatch):
    invoice = submitted(clerk)
    monkeypatch.setattr(decide, "_send_approval", lambda **kw: kw["invoice"])
    services.invoice_approve(actor=manager, invoice_id=invoice.pk, seen_hash=invoice.content_hash)
    settings.SWEEP_OLDER_THAN_SECONDS = 0
    out = StringIO()
    call_command("reconcile", stdout=out)
    assert "1 record(s) looked at" in out.getvalue()


def test_a_slow_generation_does_not_make_the_submission_look_abandoned(fake, clerk, monkeypatch):
    generate, get_draft = fake.generate_draft, fake.get_draft
    listed = []

    def slow_generate(*args, **kwargs):  # the call takes two minutes
        past = timezone.now() - timedelta(minutes=2)
        Invoice.objects.filter(status=S.SUBMITTING).update(updated_at=past)
        return generate(*args, **kwargs)

    def reading_back(draft_id):  # meanwhile a sweep looks for abandoned records
        listed.append(list(services.invoices_to_reconcile(older_than=timedelta(seconds=60))))
        return get_draft(draft_id)

    monkeypatch.setattr(fake, "generate_draft", slow_generate)
    monkeypatch.setattr(fake, "get_draft", reading_back)
    assert submitted(clerk).status == S.PENDING
    assert listed == [[]]  # the draft's id was recorded just now: still in flight


def test_reconcile_when_the_backend_is_down_tries_again_later(fake, clerk, manager):
    invoice = submitted(clerk)
    fake.fail("approve_draft", BackendUnavailable("down"))
    with pytest.raises(services.UpstreamFailed):
        services.invoice_approve(
            actor=manager, invoice_id=invoice.pk, seen_hash=invoice.content_hash
        )
    fake.fail("get_draft", BackendUnavailable("still down"))
    assert "backend unavailable" in reconcile()
    assert Invoice.objects.get().status == S.FAILED
    assert "failed -> pending_approval" in reconcile()


def test_a_draft_generated_before_a_crash_is_taken_back_by_reconcile(fake, clerk, monkeypatch):
    intent = _interrupted_submission(clerk, monkeypatch)
    assert intent.upstream_id in fake.drafts  # the id was recorded as soon as it existed
    output = reconcile()
    assert f"its draft {intent.upstream_id} was taken back" in output
    assert fake.drafts == {}
    assert not Invoice.objects.exists()


def test_an_interrupted_submission_whose_draft_was_approved_elsewhere_needs_a_person(
    fake, clerk, monkeypatch
):
    intent = _interrupted_submission(clerk, monkeypatch)
    fake.drafts[intent.upstream_id].status = "approved"  # someone approved it in the vendor's UI
    output = reconcile()
    assert "needs a person" in output
    assert Invoice.objects.get().status == S.SUBMITTING  # it still holds the cycle
    assert fake.drafts[intent.upstream_id].status == "approved"
