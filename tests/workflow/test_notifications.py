"""Notification e-mails go through the task queue from an outbox row: sent once, never by the web
process, a failed send recorded and retried by the sweep, nothing owed for a rolled-back change."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from invoices import notifications, services
from invoices.models import Invoice, Notification
from invoices.sweep import run_sweep

from .conftest import MAY

pytestmark = pytest.mark.django_db
DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["email"]}}


def submit(clerk) -> Invoice:
    return services.invoice_submit_cycle(
        actor=clerk,
        contract_id="c-1",
        cycle_key=MAY.key,
        cycle_fp=services.cycle_fingerprint(MAY),
        preview_total_minor=None,
    ).invoice


def test_a_submission_owes_one_notification_and_the_task_sends_it_once(
    fake, clerk, manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invoice = submit(clerk)
    note = Notification.objects.get(invoice=invoice)
    assert note.kind == Notification.Kind.SUBMITTED
    assert note.sent_at is not None and note.attempts == 1
    assert [m.to for m in mail.outbox] == [["manager@example.com"]]
    # The queue delivered the task again: nothing more is sent.
    assert notifications.deliver(note.pk) == "nothing owed"
    assert len(mail.outbox) == 1


def test_nothing_is_owed_for_a_change_that_rolled_back(fake, clerk, manager):
    invoice = submit(clerk)
    Notification.objects.all().delete()
    with pytest.raises(RuntimeError), transaction.atomic():
        notifications.on_submitted(invoice)
        raise RuntimeError("the change failed")
    assert not Notification.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_notifications_are_owed_only_inside_the_changes_transaction(fake, clerk):
    invoice = submit(clerk)
    with pytest.raises(RuntimeError, match="inside the transaction"):
        notifications.on_submitted(invoice)


def test_a_failed_send_is_recorded_and_the_sweep_sends_it_later(
    fake, clerk, manager, settings, django_capture_on_commit_callbacks, monkeypatch
):
    def down(*args, **kwargs):
        raise ConnectionRefusedError("mail server refused the connection")

    monkeypatch.setattr(notifications, "send_mass_mail", down)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = submit(clerk)
    note = Notification.objects.get(invoice=invoice)
    assert note.sent_at is None
    assert note.attempts == 1
    assert "refused" in note.last_error
    monkeypatch.undo()
    # Too young for the sweep: left alone. Tried once, it waits twice the retry time.
    step = settings.NOTIFICATION_RETRY_MINUTES
    for minutes in (0, step + 1):
        Notification.objects.filter(pk=note.pk).update(
            created_at=timezone.now() - timedelta(minutes=minutes)
        )
        run_sweep(older_than=timedelta(seconds=60))
        assert Notification.objects.get(pk=note.pk).sent_at is None
    Notification.objects.filter(pk=note.pk).update(
        created_at=timezone.now() - timedelta(minutes=2 * step + 1)
    )
    report = run_sweep(older_than=timedelta(seconds=60))
    assert "notifications: 1 unsent re-enqueued" in report.lines
    note.refresh_from_db()
    assert note.sent_at is not None and note.attempts == 2
    assert [m.to for m in mail.outbox] == [["manager@example.com"]]


def test_a_mail_server_that_stays_down_is_tried_later_and_later_then_given_up(
    fake, clerk, manager, settings, django_capture_on_commit_callbacks, monkeypatch
):
    def down(*args, **kwargs):
        raise ConnectionRefusedError("mail server refused the connection")

    monkeypatch.setattr(notifications, "send_mass_mail", down)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = submit(clerk)
    note = Notification.objects.get(invoice=invoice)
    created = note.created_at
    step = timedelta(minutes=settings.NOTIFICATION_RETRY_MINUTES)
    for tried in range(1, notifications.MAX_ATTEMPTS):
        assert note.attempts == tried
        due_at = created + step * 2**tried
        assert notifications.owed(now=due_at - timedelta(seconds=1)) == []
        assert notifications.owed(now=due_at) == [note.pk]
        assert notifications.deliver(note.pk) == "failed"
        note.refresh_from_db()
    assert note.attempts == notifications.MAX_ATTEMPTS
    assert notifications.owed(now=created + step * 2**20) == []  # given up
    assert notifications.deliver(note.pk) == "given up"
    assert "refused" in note.last_error


def test_a_decision_tells_the_clerk_once(fake, clerk, manager, django_capture_on_commit_callbacks):
    invoice = submit(clerk)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.invoice_reject(actor=manager, invoice_id=invoice.pk, reason="Wrong seats")
    assert [m.to for m in mail.outbox] == [["clerk@example.com"]]
    assert "Wrong seats" in mail.outbox[0].body
    assert Notification.objects.get(invoice=invoice, kind=Notification.Kind.REJECTED).sent_at


@pytest.mark.django_db(transaction=True)
def test_with_the_database_backend_a_worker_sends_it(fake, clerk, manager, settings):
    settings.TASKS = DB_TASKS
    invoice = submit(clerk)  # committed: the task row is written after commit
    task = DBTaskResult.objects.get()
    assert task.queue_name == "email"
    assert task.args_kwargs["args"] == [Notification.objects.get(invoice=invoice).pk]
    assert mail.outbox == []  # the web process sent nothing
    call_command("db_worker", "--batch", "--queue-name", "*", "--no-startup-delay", "--no-reload")
    assert [m.to for m in mail.outbox] == [["manager@example.com"]]
    assert Notification.objects.get(invoice=invoice).sent_at is not None
