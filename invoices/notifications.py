"""E-mail notifications: managers on a submission, the clerk on a decision.

A bill run's invoices are the exception: the run sends one summary when it finishes, and a
batch approval one summary when it is done (billruns, which approves with `notify=False`),
instead of one e-mail per invoice; a rejection, or an approval on the invoice's own page, still
tells the clerk.

An outbox: `on_submitted` / `on_decided` write a `Notification` row in the transaction of the
change (nothing is owed for a change that rolled back) and enqueue the `send_notification` task
after commit, so the web process never talks to a mail server. The task builds the e-mail from
our tables and marks the row sent; the sweep re-enqueues rows a lost task left unsent. A failed
send is recorded on the row and retried by the sweep (`retry_due`: the app's one rule for its
outboxes), never raised into the request: the invoice and its audit trail are the record, e-mail
is a courtesy.
"""

import logging
from datetime import datetime, timedelta
from functools import reduce
from operator import or_

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from . import roles
from .models import Invoice, Notification

log = logging.getLogger(__name__)
#: How many times an e-mail is tried before it is given up (the row keeps its last error).
MAX_ATTEMPTS = 8


def retry_due(now: datetime, *, since: str = "created_at", attempts: str = "attempts") -> Q:
    """The unsent outbox rows the sweep tries (again) now: tried `n` times, and owed (`since`)
    at least NOTIFICATION_RETRY_MINUTES × 2^n ago. So a lost task's e-mail goes after 5 minutes,
    and a mail server that is down is tried after 10, 20, 40 ... minutes (with the default), for
    about ten hours in all, rather than once a sweep until the attempts run out. One rule for
    every outbox: these notifications, approval reminders (policies) and run summaries
    (billruns)."""
    return reduce(
        or_,
        (Q(**{attempts: n, f"{since}__lte": now - retry_after(n)}) for n in range(MAX_ATTEMPTS)),
    )


def retry_after(attempts: int) -> timedelta:
    """How long the rule waits after `attempts` tries: NOTIFICATION_RETRY_MINUTES × 2^attempts
    (also what the sweep waits before rendering again a PDF whose rendering failed)."""
    return timedelta(minutes=settings.NOTIFICATION_RETRY_MINUTES) * 2**attempts


def on_submitted(invoice: Invoice) -> None:
    if invoice.run_id is not None:
        return  # a bill run's invoices: the run sends one summary instead (billruns)
    _owe(invoice, Notification.Kind.SUBMITTED)


def on_decided(invoice: Invoice) -> None:
    kind = {
        Invoice.Status.APPROVED: Notification.Kind.APPROVED,
        Invoice.Status.REJECTED: Notification.Kind.REJECTED,
    }.get(invoice.status)
    if kind is not None:
        _owe(invoice, kind)


def _owe(invoice: Invoice, kind: str) -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("notifications are owed inside the transaction of the change")
    note, created = Notification.objects.get_or_create(invoice=invoice, kind=kind)
    if created:
        enqueue_after_commit(note.pk)


def enqueue_after_commit(notification_id: int) -> None:
    transaction.on_commit(lambda: enqueue_now(notification_id))


def enqueue_now(notification_id: int) -> None:
    from .tasks import send_notification

    send_notification.enqueue(notification_id)


# --- the task's work ----------------------------------------------------------------------------
def deliver(notification_id: int) -> str:
    """Send one notification if it is still owed. Safe to run twice."""
    with transaction.atomic():
        note = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("invoice__submitted_by", "invoice__decided_by")
            .filter(pk=notification_id)
            .first()
        )
        if note is None or note.sent_at is not None:
            return "nothing owed"
        if note.attempts >= MAX_ATTEMPTS:
            return "given up"
        note.attempts += 1
        messages = _messages(note)
        try:
            if messages:
                send_mass_mail(messages, fail_silently=False)
        except Exception as exc:  # the mail server's problem, recorded and retried by the sweep
            log.warning("notification %s could not be sent: %s", note.pk, exc)
            note.last_error = str(exc)[:500]
            note.save(update_fields=["attempts", "last_error"])
            return "failed"
        note.sent_at = timezone.now()
        note.last_error = ""
        note.save(update_fields=["attempts", "last_error", "sent_at"])
    return "sent" if messages else "no recipients"


def owed(*, now: datetime | None = None) -> list[int]:
    """Notifications a lost task or a failed send left unsent, due again (for the sweep)."""
    due = retry_due(now or timezone.now())
    return list(
        Notification.objects.filter(due, sent_at__isnull=True).values_list("pk", flat=True)[:500]
    )


def _messages(note: Notification) -> list[tuple[str, str, str, list[str]]]:
    invoice = note.invoice
    if note.kind == Notification.Kind.SUBMITTED:
        subject = f"Invoice waiting for approval: {_describe(invoice)}"
        body = (
            f"{invoice.submitted_by.get_username()} submitted an invoice for approval.\n\n"
            f"{_describe(invoice)}\n\nReview it: {_invoice_url(invoice)}\n"
        )
        recipients = _managers_emails(invoice.submitted_by_id)
    else:
        decision = note.get_kind_display().lower()
        subject = f"Your invoice was {decision}: {_describe(invoice)}"
        lines = [f"{_describe(invoice)}", f"Decision: {decision}"]
        if invoice.decided_by_id:
            lines.append(f"By: {invoice.decided_by.get_username()}")
        if invoice.decision_reason and note.kind == Notification.Kind.REJECTED:
            lines.append(f"Reason: {invoice.decision_reason}")
        body = "\n".join(lines) + f"\n\nOpen it: {_invoice_url(invoice)}\n"
        email = invoice.submitted_by.email
        recipients = [email] if email else []
    if not recipients:
        return []
    return [(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)]


def _invoice_url(invoice) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("invoices:detail", args=[invoice.pk])


def _describe(invoice) -> str:
    from .money import format_money

    what = invoice.contract_name or invoice.customer_name
    period = f" ({invoice.cycle_name})" if invoice.cycle_name else ""
    if invoice.corrects_id:  # a correction: say what it is, and of which invoice
        what = f"{invoice.get_kind_display()} of invoice #{invoice.corrects_id}, {what}"
    return f"{what}{period}: {format_money(invoice.total_minor, invoice.currency)}"


def _managers_emails(exclude_user_id: int) -> list[str]:
    managers = roles.holders(roles.APPROVE).exclude(pk=exclude_user_id).exclude(email="")
    return sorted(set(managers.values_list("email", flat=True)))
