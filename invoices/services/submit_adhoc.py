"""Clerks submit ad-hoc invoices: recorded, never sent upstream before a manager approves them
(the vendor has no drafts). A form's one-time key makes a second POST of the same form find the
first submission instead of making another."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import extensions, notifications, roles
from ..adhoc import AdhocShown, adhoc_request_to_json, adhoc_snapshot_lines
from ..backends import adhoc_backend
from ..backends.base import AdhocInvoiceRequest
from ..models import Invoice
from ..snapshots import invoice_content_hash
from . import records
from .errors import InvalidTransition, ServiceError
from .submit import assess

S = Invoice.Status


SUBMISSION_KEY = re.compile(r"[0-9a-f]{32}")


def invoice_submit_adhoc(
    *,
    actor: AbstractBaseUser,
    request: AdhocInvoiceRequest,
    customer_name: str,
    previous: Invoice | None = None,
    submission_key: str | None = None,
    reissue: bool = False,
    shown: AdhocShown | None = None,
) -> Invoice:
    """Queue an ad-hoc invoice for approval. Nothing is sent upstream before approval.

    `submission_key` is the form's one-time token: sending the same form twice (a double click,
    a re-sent POST) returns the first submission instead of making a second one. It is kept per
    submitter, so someone else's key never finds (or blocks) another person's invoice. `shown`
    holds the names the request's ids stood for on the clerk's form (stored and hashed with it).
    With `previous`: a new version of a rejected invoice (a revision keeps its customer and
    currency), or (`reissue`) of a voided one."""
    records.require(actor, roles.SUBMIT, "submit invoices")
    if submission_key is not None and not SUBMISSION_KEY.fullmatch(submission_key):
        raise ServiceError("This form's one-time key is not valid; reload the form.")
    stored_key = f"{actor.pk}:{submission_key}" if submission_key else None
    if stored_key:
        existing = Invoice.objects.filter(submission_key=stored_key).first()
        if existing is not None:
            return existing
    action = "reissue" if reissue else "revise"
    records.check_revision(actor=actor, previous=previous, kind=Invoice.Kind.ADHOC, action=action)
    if (
        previous is not None
        and not reissue
        and (
            previous.customer_id != request.customer_id
            or previous.currency != request.currency_code
        )
    ):
        raise InvalidTransition("A revision must be for the same customer and currency.")
    backend = adhoc_backend()
    try:
        return _create_adhoc(actor, backend, request, customer_name, previous, stored_key, shown)
    except IntegrityError:
        existing = Invoice.objects.filter(submission_key=stored_key).first()
        if stored_key and existing is not None:
            return existing
        # Two clerks revising the same invoice at once: the other revision won.
        records.check_revision(
            actor=actor, previous=previous, kind=Invoice.Kind.ADHOC, action=action
        )
        raise


def _create_adhoc(actor, backend, request, customer_name, previous, stored_key, shown) -> Invoice:
    with transaction.atomic():
        invoice = Invoice(
            kind=Invoice.Kind.ADHOC,
            backend=backend.name,
            customer_id=request.customer_id,
            customer_name=customer_name,
            period_start=_midnight(request.date_from),
            # The form's days are included: the window ends at the next midnight.
            period_end=_midnight(request.date_to + timedelta(days=1)),
            currency=request.currency_code,
            total_minor=request.total_minor,
            preview_total_minor=request.total_minor,
            lines=adhoc_snapshot_lines(request),
            adhoc_request=adhoc_request_to_json(request, shown),
            submission_key=stored_key,
            submitted_by=actor,
            submitted_at=timezone.now(),
        )
        records.link_revision(invoice, previous)
        invoice.content_hash = invoice_content_hash(invoice)
        assess(invoice)
        records.create(
            invoice,
            "submit_adhoc.record",
            actor=actor,
            data={
                "total_minor": invoice.total_minor,
                "lines": len(request.lines),
                "content_hash": invoice.content_hash,
                "stages_required": invoice.stages_required,
                "policy": invoice.policy.get("rule", ""),
                "flags": [flag["code"] for flag in invoice.flags],
                "previous_id": previous.pk if previous else None,
            },
        )
        notifications.on_submitted(invoice)
        extensions.send_after_commit(extensions.invoice_submitted, invoice_id=invoice.pk)
    return invoice


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)
