"""Tests that guard the audit trail's rules, each written so that it fails when the rule's one
line is broken (issue 17): each event's hash covers the previous hash, verify_audit checks every
link, the trail is written only inside the transaction of the change, and CSV exports
neutralise every formula start (tab and carriage return included)."""

import csv
import io
import itertools

import pytest
from django.db import connection, transaction
from django.urls import reverse

from invoices import services
from invoices.audit import audit_record, audit_verify
from invoices.models import AuditChainHead, AuditEvent, Invoice, chain_hash

from .test_rules import submitted

pytestmark = pytest.mark.django_db


# --- the audit chain ------------------------------------------------------------------------------
def _flow(clerk, manager):
    invoice = submitted(clerk)
    services.invoice_reject(actor=manager, invoice_id=invoice.pk, reason="wrong")


def _bypassing_the_guard(*statements):
    """A database administrator editing rows past the append-only trigger."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS invoices_auditevent_no_update")
        for sql, params in statements:
            cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = DEFAULT")


def _rewritten(event: AuditEvent, reason: str) -> AuditEvent:
    """The event with another reason and a hash recomputed as the application computes it."""
    event.reason = reason
    event.hash = event.compute_hash()
    return event


def test_a_rewritten_event_with_a_recomputed_hash_breaks_the_next_link(fake, clerk, manager):
    _flow(clerk, manager)
    second = _rewritten(AuditEvent.objects.get(seq=2), "nothing to see")
    _bypassing_the_guard(
        ("UPDATE invoices_auditevent SET reason = %s, hash = %s WHERE seq = 2",
         [second.reason, second.hash]),
    )  # fmt: skip
    report = audit_verify()
    assert not report.ok
    assert report.first_broken_seq == 3
    assert "does not link to event #2" in report.problem


def test_relinking_the_next_event_is_caught_because_each_hash_covers_the_previous(
    fake, clerk, manager
):
    _flow(clerk, manager)
    second = _rewritten(AuditEvent.objects.get(seq=2), "nothing to see")
    _bypassing_the_guard(
        ("UPDATE invoices_auditevent SET reason = %s, hash = %s WHERE seq = 2",
         [second.reason, second.hash]),
        ("UPDATE invoices_auditevent SET prev_hash = %s WHERE seq = 3", [second.hash]),
    )  # fmt: skip
    report = audit_verify()
    assert not report.ok
    assert report.first_broken_seq == 3
    assert "changed after it was written" in report.problem


def test_each_events_hash_is_its_previous_hash_and_its_content_chained(fake, clerk, manager):
    _flow(clerk, manager)
    events = list(AuditEvent.objects.order_by("seq"))
    for before, event in itertools.pairwise(events):
        assert event.prev_hash == before.hash
        assert event.hash == chain_hash(before.hash, event.hashed_payload())
        # The same content after another event would have another hash.
        assert event.hash != chain_hash("f" * 64, event.hashed_payload())


def test_verify_audit_walks_every_link_not_only_the_content(fake, clerk, manager):
    _flow(clerk, manager)
    # A chain whose every row is self-consistent but whose links are wrong is broken.
    last = AuditEvent.objects.order_by("-seq").first()
    forged = _rewritten(AuditEvent.objects.get(seq=1), "forged")
    forged.prev_hash = "1" * 64
    forged.hash = forged.compute_hash()
    _bypassing_the_guard(
        ("UPDATE invoices_auditevent SET reason = %s, prev_hash = %s, hash = %s WHERE seq = 1",
         [forged.reason, forged.prev_hash, forged.hash]),
    )  # fmt: skip
    report = audit_verify()
    assert (report.ok, report.first_broken_seq) == (False, 1)
    assert last.seq > 1


@pytest.mark.django_db(transaction=True)
def test_the_audit_trail_is_written_only_inside_the_changes_transaction(fake, clerk):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit_record(actor=clerk, action="invoice.submitted")
    assert not AuditEvent.objects.exists()
    assert not AuditChainHead.objects.filter(seq__gt=0).exists()


@pytest.mark.django_db(transaction=True)
def test_a_change_that_rolls_back_leaves_no_audit_event(fake, clerk):
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        audit_record(actor=clerk, action="invoice.submitted")
        1 / 0  # noqa: B018
    assert not AuditEvent.objects.exists()
    assert audit_verify().ok


# --- CSV exports neutralise every formula start ---------------------------------------------------
STARTS = ["=", "+", "-", "@", "\t", "\r"]


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body, newline="")))


@pytest.mark.parametrize("start", STARTS, ids=repr)
def test_history_export_neutralises_tab_and_return_starts_too(
    fake, client_for, clerk, auditor, start
):
    invoice = submitted(clerk)
    Invoice.objects.filter(pk=invoice.pk).update(customer_name=f"{start}cmd|' /C calc'!A0")
    header, row = _csv(client_for(auditor).get(reverse("invoices:history_export")))
    assert dict(zip(header, row, strict=True))["customer_name"] == f"'{start}cmd|' /C calc'!A0"


@pytest.mark.parametrize("start", STARTS, ids=repr)
def test_audit_export_neutralises_tab_and_return_starts_too(
    fake, client_for, clerk, manager, auditor, start
):
    invoice = submitted(clerk)
    with transaction.atomic():  # a reason as typed (the service strips surrounding blanks)
        audit_record(
            actor=manager,
            action="invoice.rejected",
            invoice=invoice,
            reason=f"{start}HYPERLINK(evil)",
        )
    response = client_for(auditor).get(
        reverse("invoices:audit_export") + "?action=invoice.rejected"
    )
    header, row = _csv(response)
    assert dict(zip(header, row, strict=True))["reason"] == f"'{start}HYPERLINK(evil)"
