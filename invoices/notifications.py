"""E-mail notifications: managers on a submission, the clerk on a decision.

Queued with `transaction.on_commit` (nothing is sent for a change that rolled back) and sent on
a background thread, so a slow mail server never blocks the request. A failed send is logged,
never raised: the invoice and its audit trail are the record, e-mail is a courtesy.
"""

import logging
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mass_mail
from django.db import transaction
from django.db.models import Q
from django.urls import reverse

from . import roles

log = logging.getLogger(__name__)
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notify")


def _invoice_url(invoice) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("invoices:detail", args=[invoice.pk])


def _describe(invoice) -> str:
    from .money import format_money

    what = invoice.contract_name or invoice.customer_name
    period = f" ({invoice.cycle_name})" if invoice.cycle_name else ""
    return f"{what}{period}: {format_money(invoice.total_minor, invoice.currency)}"


def _send(messages: list[tuple[str, str, str, list[str]]]) -> None:
    try:
        send_mass_mail(messages, fail_silently=False)
    except Exception:
        log.exception("notification e-mail could not be sent")


def _queue(messages) -> None:
    messages = [m for m in messages if m[3]]
    if not messages:
        return
    if settings.NOTIFY_ASYNC:
        transaction.on_commit(lambda: _executor.submit(_send, messages))
    else:
        transaction.on_commit(lambda: _send(messages))


def _managers_emails(exclude_user_id: int) -> list[str]:
    User = get_user_model()
    perm = roles.APPROVE.split(".", 1)[1]
    managers = (
        User.objects.filter(is_active=True)
        .filter(
            Q(groups__permissions__codename=perm)
            | Q(user_permissions__codename=perm)
            | Q(is_superuser=True)
        )
        .exclude(pk=exclude_user_id)
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )
    return sorted(set(managers))


def on_submitted(invoice) -> None:
    subject = f"Invoice waiting for approval: {_describe(invoice)}"
    body = (
        f"{invoice.submitted_by.get_username()} submitted an invoice for approval.\n\n"
        f"{_describe(invoice)}\n\nReview it: {_invoice_url(invoice)}\n"
    )
    recipients = _managers_emails(invoice.submitted_by_id)
    _queue([(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)])


def on_decided(invoice) -> None:
    decision = invoice.get_status_display().lower()
    subject = f"Your invoice was {decision}: {_describe(invoice)}"
    lines = [f"{_describe(invoice)}", f"Decision: {decision}"]
    if invoice.decided_by_id:
        lines.append(f"By: {invoice.decided_by.get_username()}")
    if invoice.decision_reason:
        lines.append(f"Reason: {invoice.decision_reason}")
    body = "\n".join(lines) + f"\n\nOpen it: {_invoice_url(invoice)}\n"
    email = invoice.submitted_by.email
    _queue([(subject, body, settings.DEFAULT_FROM_EMAIL, [email] if email else [])])
