"""The audit trail: chained, append-only, and tampering is detected."""

import itertools
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from invoices import services
from invoices.audit import audit_verify
from invoices.models import AuditChainHead, AuditEvent

from .conftest import MAY

pytestmark = pytest.mark.django_db


def flow(clerk, manager):
    invoice = services.invoice_submit_cycle(
        actor=clerk,
        contract_id="c-1",
        cycle_key=MAY.key,
        cycle_fp=services.cycle_fingerprint(MAY),
        preview_total_minor=15000,
    ).invoice
    services.invoice_reject(actor=manager, invoice_id=invoice.pk, reason="wrong")
    return invoice


def test_events_are_chained_by_hash(fake, clerk, manager):
    flow(clerk, manager)
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash == "0" * 64
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
    head = AuditChainHead.objects.get()
    assert (head.seq, head.hash) == (events[-1].seq, events[-1].hash)
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert f"{len(events)} event(s) verified" in out.getvalue()


def test_the_database_refuses_to_update_an_audit_event(fake, clerk, manager):
    flow(clerk, manager)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(seq=1).update(reason="nothing to see")


def _without_guard(sql_update: str) -> None:
    """A database administrator bypassing the append-only trigger."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A superuser session can switch user triggers off for itself.
            cursor.execute("SET session_replication_role = replica")
            cursor.execute(sql_update)
            cursor.execute("SET session_replication_role = DEFAULT")
        else:
            cursor.execute("DROP TRIGGER invoices_auditevent_no_update")
            cursor.execute(sql_update)


def test_an_edited_audit_row_is_detected_by_verify_audit(fake, clerk, manager):
    flow(clerk, manager)
    _without_guard("UPDATE invoices_auditevent SET reason = 'fine' WHERE seq = 2")
    report = audit_verify()
    assert not report.ok
    assert report.first_broken_seq == 2
    assert "changed after it was written" in report.problem
    with pytest.raises(CommandError, match="BROKEN at event #2"):
        call_command("verify_audit")


def test_a_deleted_audit_row_is_detected(fake, clerk, manager):
    flow(clerk, manager)
    _without_guard("DELETE FROM invoices_auditevent WHERE seq = 2")
    report = audit_verify()
    assert report.first_broken_seq == 2
    assert "missing" in report.problem


def test_removing_the_last_events_is_detected(fake, clerk, manager):
    flow(clerk, manager)
    last = AuditEvent.objects.order_by("-seq").first().seq
    _without_guard(f"DELETE FROM invoices_auditevent WHERE seq = {last}")  # noqa: S608
    report = audit_verify()
    assert not report.ok
    assert "removed" in report.problem


def test_sign_in_and_out_are_audited(client, clerk):
    client.post(reverse("login"), {"username": "clerk", "password": "wrong"})
    client.post(reverse("login"), {"username": "clerk", "password": "pw-clerk"})
    client.post(reverse("logout"))
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.action for e in events] == [
        "auth.sign_in_failed",
        "auth.signed_in",
        "auth.signed_out",
    ]
    assert events[0].data == {"username": "clerk"}
    assert events[1].actor == clerk
    assert events[1].ip == "127.0.0.1"
    assert len(events[1].request_id) == 32
    assert audit_verify().ok
