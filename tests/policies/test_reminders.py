"""Reminders and escalation (with a fixed clock): an invoice pending longer than the reminder time
reminds whoever may approve it, longer still it escalates to the named group; each is sent once;
both show on the home page as "waiting on me" with each item's age."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from invoices import services
from invoices.models import Invoice
from invoices.sweep import run_sweep
from policies import reminders
from policies import services as absences
from policies.models import Reminder

from .conftest import MAY

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(fake, clerk) -> Invoice:
    invoice = services.invoice_submit_cycle(
        actor=clerk,
        contract_id="c-1",
        cycle_key=MAY.key,
        cycle_fp=services.cycle_fingerprint(MAY),
        preview_total_minor=None,
    ).invoice
    mail.outbox.clear()
    return invoice


def at(invoice, hours: float):
    return invoice.submitted_at + timedelta(hours=hours)


def test_nothing_is_owed_before_the_reminder_time(pending, settings):
    assert reminders.owe(now=at(pending, settings.APPROVAL_REMIND_AFTER_HOURS - 0.1)) == []
    assert not Reminder.objects.exists()


def test_a_reminder_goes_to_who_may_approve_it_once(
    pending, settings, manager, manager2, deputy, clerk
):
    absences.absence_record(
        manager=manager2,
        delegate=deputy,
        starts_on=timezone.now().date(),
        ends_on=timezone.now().date(),
    )
    owed = reminders.owe(now=at(pending, settings.APPROVAL_REMIND_AFTER_HOURS))
    assert len(owed) == 1
    assert reminders.deliver(owed[0]) == "sent"
    assert reminders.deliver(owed[0]) == "nothing owed"  # delivered twice: sent once
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == [
        "deputy@example.com",
        "manager2@example.com",
        "manager@example.com",
    ]
    assert "waited" in mail.outbox[0].body
    # The sweep at the same time owes nothing new.
    assert reminders.owe(now=at(pending, settings.APPROVAL_REMIND_AFTER_HOURS)) == []


def test_a_reminder_the_mail_server_refused_is_tried_again_later_not_every_sweep(
    pending, settings, manager, monkeypatch
):
    def down(*args, **kwargs):
        raise ConnectionRefusedError("mail server refused the connection")

    now = at(pending, settings.APPROVAL_REMIND_AFTER_HOURS)
    owed = reminders.owe(now=now)
    monkeypatch.setattr(reminders, "send_mass_mail", down)
    assert reminders.deliver(owed[0]) == "failed"
    reminder = Reminder.objects.get()
    step = timedelta(minutes=settings.NOTIFICATION_RETRY_MINUTES)
    assert reminders.owe(now=reminder.created_at + timedelta(minutes=1)) == []  # the next sweep
    assert reminders.owe(now=reminder.created_at + 2 * step) == [reminder.pk]
    monkeypatch.undo()
    assert reminders.deliver(reminder.pk) == "sent"
    assert Reminder.objects.get().attempts == 2


def test_escalation_goes_to_the_named_group(pending, settings, manager, auditor):
    Group.objects.get(name=settings.APPROVAL_ESCALATION_GROUP).user_set.add(auditor)
    owed = reminders.owe(now=at(pending, settings.APPROVAL_ESCALATE_AFTER_HOURS))
    levels = dict(Reminder.objects.values_list("pk", "level"))
    assert sorted(levels[pk] for pk in owed) == [1, 2]
    for pk in owed:
        reminders.deliver(pk)
    escalation = next(m for m in mail.outbox if m.subject.startswith("Escalation"))
    assert escalation.to == ["auditor@example.com"]


def test_a_decided_invoice_is_not_reminded(pending, settings, manager):
    owed = reminders.owe(now=at(pending, settings.APPROVAL_REMIND_AFTER_HOURS))
    services.invoice_approve(actor=manager, invoice_id=pending.pk, seen_hash=pending.content_hash)
    mail.outbox.clear()
    assert reminders.deliver(owed[0]) == "decided meanwhile"
    assert mail.outbox == []


def test_the_sweep_sends_what_is_owed(
    pending, manager, settings, django_capture_on_commit_callbacks
):
    Invoice.objects.filter(pk=pending.pk).update(
        submitted_at=timezone.now() - timedelta(hours=settings.APPROVAL_REMIND_AFTER_HOURS + 1)
    )
    report = run_sweep()
    assert "policies: reminders: 1 to send" in report.lines
    assert Reminder.objects.get().sent_at is not None
    assert [m.to for m in mail.outbox] == [["manager@example.com"]]


def test_home_shows_what_waits_on_me_with_its_age(pending, settings, client_for, manager, clerk2):
    Invoice.objects.filter(pk=pending.pk).update(
        submitted_at=timezone.now() - timedelta(hours=settings.APPROVAL_ESCALATE_AFTER_HOURS + 2)
    )
    html = client_for(manager).get(reverse("home")).content.decode()
    assert "1</strong> invoice waiting on you" in html
    assert f'href="/invoices/{pending.pk}/"' in html
    assert "3 d 2 h" in html  # its age
    assert "Past escalation time" in html
    assert "a reminder goes out after 24 h, an escalation after 72 h" in html


def test_my_own_submission_does_not_wait_on_me(fake, manager, client_for, django_user_model):
    manager.groups.add(Group.objects.get(name="Billing clerks"))
    manager = django_user_model.objects.get(pk=manager.pk)
    services.invoice_submit_cycle(
        actor=manager,
        contract_id="c-1",
        cycle_key=MAY.key,
        cycle_fp=services.cycle_fingerprint(MAY),
        preview_total_minor=None,
    )
    html = client_for(manager).get(reverse("home")).content.decode()
    assert "0</strong> invoices waiting on you" in html
