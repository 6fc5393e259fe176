"""Reminders and escalation for invoices waiting too long for approval.

The sweep (PoliciesConfig.sweep) owes a reminder to an invoice pending longer than
APPROVAL_REMIND_AFTER_HOURS and an escalation to one pending longer than
APPROVAL_ESCALATE_AFTER_HOURS: one row each (policies.Reminder), sent by a task that marks it
sent. A reminder goes to the people who may approve it now (managers other than the submitter
and earlier-stage approvers, and whoever stands in for an absent one); an escalation goes to the
members of the group APPROVAL_ESCALATION_GROUP.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mass_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from invoices import money, roles, workflow
from invoices.models import Invoice
from invoices.notifications import MAX_ATTEMPTS, retry_due

from .delegation import standing_in_for
from .models import Absence, Reminder

log = logging.getLogger(__name__)


def thresholds() -> dict[int, timedelta]:
    return {
        Reminder.Level.REMINDER: timedelta(hours=settings.APPROVAL_REMIND_AFTER_HOURS),
        Reminder.Level.ESCALATION: timedelta(hours=settings.APPROVAL_ESCALATE_AFTER_HOURS),
    }


def owe(*, now: datetime | None = None) -> list[int]:
    """Write the reminders now owed (once each) and return the ids to send now: the new ones,
    and those a lost task or a failed send left unsent that are due again (`retry_due`)."""
    now = now or timezone.now()
    waiting = workflow.ACTIONS["approve"].sources
    new = []
    for level, after in thresholds().items():
        due = Invoice.objects.filter(status__in=waiting, submitted_at__lte=now - after).exclude(
            pk__in=Reminder.objects.filter(level=level).values("invoice_id")
        )
        for invoice_id in due.values_list("pk", flat=True)[:500]:
            try:
                with transaction.atomic():
                    new.append(Reminder.objects.create(invoice_id=invoice_id, level=level).pk)
            except IntegrityError:
                pass  # another sweep owed it a moment ago
    again = Reminder.objects.filter(
        retry_due(now), sent_at__isnull=True, invoice__status__in=waiting
    ).exclude(pk__in=new)
    return new + list(again.order_by("pk").values_list("pk", flat=True)[:500])


def deliver(reminder_id: int) -> str:
    """Send one reminder if it is still owed and the invoice still waits. Safe to run twice."""
    with transaction.atomic():
        reminder = (
            Reminder.objects.select_for_update(of=("self",))
            .select_related("invoice__submitted_by")
            .filter(pk=reminder_id)
            .first()
        )
        if reminder is None or reminder.sent_at is not None:
            return "nothing owed"
        invoice = reminder.invoice
        if invoice.status not in workflow.ACTIONS["approve"].sources:
            return "decided meanwhile"
        if reminder.attempts >= MAX_ATTEMPTS:
            return "given up"
        reminder.attempts += 1
        recipients = (
            escalation_recipients()
            if reminder.level == Reminder.Level.ESCALATION
            else possible_approvers(invoice)
        )
        emails = sorted({user.email for user in recipients if user.email})
        if not emails:
            reminder.last_error = "nobody to tell (no e-mail addresses)"
            reminder.save(update_fields=["attempts", "last_error"])
            return "nobody to tell"
        try:
            send_mass_mail([_message(reminder, emails)], fail_silently=False)
        except Exception as exc:  # the mail server's problem: recorded, retried by the sweep
            log.warning("reminder %s could not be sent: %s", reminder.pk, exc)
            reminder.last_error = str(exc)[:500]
            reminder.save(update_fields=["attempts", "last_error"])
            return "failed"
        reminder.sent_at = timezone.now()
        reminder.recipients = emails
        reminder.last_error = ""
        reminder.save(update_fields=["attempts", "last_error", "sent_at", "recipients"])
    return "sent"


def possible_approvers(invoice: Invoice) -> list:
    """Who may approve `invoice` now: those the workflow table allows, and whoever stands in for
    an absent one of them."""
    managers = list(roles.holders(roles.APPROVE).order_by("pk"))
    today = timezone.now().date()
    delegates = [
        absence.delegate
        for absence in Absence.objects.filter(
            cancelled_at__isnull=True, starts_on__lte=today, ends_on__gte=today
        ).select_related("delegate")
    ]
    people = {user.pk: user for user in [*managers, *delegates]}
    return [
        user
        for user in people.values()
        if "approve" in workflow.allowed_actions(invoice, user)
        and (user.has_perm(roles.APPROVE) or standing_in_for(user))
    ]


def escalation_recipients() -> list:
    User = get_user_model()
    return list(
        User.objects.filter(is_active=True, groups__name=settings.APPROVAL_ESCALATION_GROUP)
    )


def _message(reminder: Reminder, emails: list[str]):
    invoice = reminder.invoice
    age = timezone.now() - invoice.submitted_at
    hours = int(age.total_seconds() // 3600)
    what = invoice.contract_name or invoice.customer_name
    total = money.format_money(invoice.total_minor, invoice.currency)
    url = settings.SITE_URL.rstrip("/") + reverse("invoices:detail", args=[invoice.pk])
    if reminder.level == Reminder.Level.ESCALATION:
        subject = f"Escalation: invoice #{invoice.pk} waiting {hours} h for approval"
        lead = (
            f"Invoice #{invoice.pk} ({what}, {total}) has waited {hours} hours for approval, "
            f"longer than {settings.APPROVAL_ESCALATE_AFTER_HOURS} hours."
        )
    else:
        subject = f"Reminder: invoice #{invoice.pk} is waiting for your approval"
        lead = f"Invoice #{invoice.pk} ({what}, {total}) has waited {hours} hours for approval."
    body = f"{lead}\n\nSubmitted by {invoice.submitted_by.get_username()}.\nReview it: {url}\n"
    return (subject, body, settings.DEFAULT_FROM_EMAIL, emails)
