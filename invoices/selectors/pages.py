"""The invoice page and the home page."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Min, Q
from django.utils import timezone

from .. import extensions, money, presenters, roles, services, workflow
from ..adhoc import adhoc_changes, adhoc_facts
from ..forms import ApproveForm, RejectForm
from ..models import AuditEvent, Invoice, StageApproval
from ..snapshots import diff_lines
from .lists import AUDIT_ROW_FIELDS, list_rows, not_revised, people_names, user_choices

S = Invoice.Status


# --- invoice page ---------------------------------------------------------------------------
def invoice_for_page(pk: int) -> Invoice | None:
    """The invoice alone: invoice_page names its people and loads what it corrects only for a
    correction (a join per person and a second invoice row cost more than the page's queries)."""
    return next(iter(Invoice.objects.filter(pk=pk).order_by()[:1]), None)


def name_people(invoices) -> None:
    """Sets `submitter_name` and `decider_name` (or "") on each invoice: from the accounts the
    process keeps (user_choices), asking the database only for anyone missing from them."""
    names = people_names(invoices, dict(user_choices()))
    for invoice in invoices:
        invoice.submitter_name = names.get(invoice.submitted_by_id, "")
        invoice.decider_name = names.get(invoice.decided_by_id, "")


def _family(invoice: Invoice) -> tuple[list[Invoice], Invoice, list[Invoice]]:
    """(the invoice's versions in order, the invoice whose corrections its page shows: itself,
    or the one it corrects, and that one's corrections): one query."""
    subject_id = invoice.corrects_id or invoice.pk
    rows = list(
        Invoice.objects.filter(
            Q(lineage=invoice.lineage) | Q(pk=subject_id) | Q(corrects_id=subject_id)
        ).order_by()
    )
    versions = sorted((r for r in rows if r.lineage == invoice.lineage), key=lambda r: r.version)
    subject = invoice if subject_id == invoice.pk else next(r for r in rows if r.pk == subject_id)
    corrections = [r for r in rows if r.corrects_id == subject_id]
    return versions, subject, corrections


def invoice_page(invoice: Invoice, user) -> dict:
    versions, subject, corrections = _family(invoice)
    by_version = {v.version: v for v in versions}
    name_people([invoice, *versions])
    changes_since_previous = None
    field_changes: list[str] = []
    prior = by_version.get(invoice.version - 1)
    if prior is not None:
        changes_since_previous = diff_lines(prior.lines, invoice.lines)
        field_changes = adhoc_changes(prior.adhoc_request, invoice.adhoc_request)
    # Every event of every version (the versions are the lineage), each with its version.
    version_of = {v.pk: v.version for v in versions}
    events = list(
        AuditEvent.objects.filter(invoice_id__in=version_of).only(*AUDIT_ROW_FIELDS).order_by("seq")
    )
    for event in events:
        event.version = version_of[event.invoice_id]
        event.at_iso, event.at_text = presenters.utc_iso(event.at), presenters.utc_seconds(event.at)
    for version in versions:
        version.submitted_text = presenters.utc_minutes(version.submitted_at)
    is_submitter = invoice.submitted_by_id == user.pk
    invoice.has_next_version = any(v.previous_id == invoice.pk for v in versions)
    # Stages are recorded only for an invoice that needs more than one approval.
    stages = (
        list(
            StageApproval.objects.filter(invoice=invoice).select_related("approver", "on_behalf_of")
        )
        if invoice.stages_required > 1
        else []
    )
    invoice._prefetched_objects_cache = {
        **getattr(invoice, "_prefetched_objects_cache", {}),
        "stage_approvals": stages,
    }
    actions = workflow.allowed_actions(invoice, user)
    return {
        "invoice": invoice,
        "versions": versions,
        "changes_since_previous": changes_since_previous,
        "field_changes": field_changes,
        "adhoc_facts": adhoc_facts(invoice.adhoc_request),
        "prior": prior,
        "events": events,
        "actions": actions,
        # A manager looking at their own pending submission is told why nothing is offered.
        "own_submission_notice": user.has_perm(roles.APPROVE)
        and is_submitter
        and invoice.status in workflow.ACTIONS["approve"].sources,
        "approve_form": ApproveForm(initial={"content_hash": invoice.content_hash}),
        "reject_form": RejectForm(),
        "panels": extensions.panels_for(invoice, user),
        "correction": correction_context(invoice, subject, corrections),
        "stage_approvals": stages,
        "standing_in_for": workflow.speaks_for(user)[1:],
    }


def correction_context(invoice: Invoice, subject: Invoice, corrections) -> dict | None:
    """A correction's page: what it corrects (`subject`) and what approval sends. An invoice's
    page (`subject` is the invoice): its corrections and balance. `corrections`: the subject's
    (see _family)."""
    if invoice.is_correction:
        return {
            "original": subject,
            "standing": named(services.standing(subject, corrections=corrections)),
            "sends": upstream_effect(invoice, subject),
        }
    if invoice.status in workflow.ISSUED_STATUSES:
        return {"standing": named(services.standing(invoice, corrections=corrections))}
    return None


def named(standing):
    """`standing` (services.Standing) with its corrections' people named (name_people)."""
    name_people(standing.corrections)
    return standing


def upstream_effect(correction: Invoice, original: Invoice) -> str:
    """What approving a correction writes to the billing backend, in a sentence."""
    amount = money.format_money(correction.total_minor, correction.currency)
    target = f"invoice {original.upstream_number or original.upstream_id}"
    if correction.kind == Invoice.Kind.CREDIT_NOTE:
        return f"A credit note of {amount} on {target}."
    if original.kind == Invoice.Kind.ADHOC:
        return f"A void of {target} (irreversible; refused by the backend once it is paid)."
    void = f"a void of {target}, which frees its billing cycle for a new invoice"
    if correction.total_minor:
        return f"A credit note of {amount} (what is left of it), then {void}."
    return f"{void[0].upper()}{void[1:]}."


# --- home -----------------------------------------------------------------------------------
STATUS_COUNTS_SECONDS = 30


def _status_counts() -> tuple[dict[str, int], datetime]:
    """Invoices by status (and "sent back", rejected and not yet revised). Counting a million
    rows takes a few hundred milliseconds, so the figures are shared by everyone for half a
    minute (the page says when they were counted)."""

    def count():
        rows = Invoice.objects.values_list("status").annotate(n=Count("id"))
        counts = dict(rows.values_list("status", "n"))
        counts["sent_back"] = Invoice.objects.filter(not_revised(), status=S.REJECTED).count()
        return counts, timezone.now()

    return cache.get_or_set("home:status-counts", count, STATUS_COUNTS_SECONDS)


WAITING_SHOWN = 10


def waiting_on(user):
    """Pending invoices `user` may approve now, oldest first: not their own or those of whom
    they stand in for, and not those of which they (or whom they stand in for) approved an
    earlier stage (the same rules as workflow.ACTIONS["approve"], as one query)."""
    people = [p.pk for p in workflow.speaks_for(user)]
    return (
        Invoice.objects.filter(status__in=workflow.ACTIONS["approve"].sources)
        .exclude(submitted_by__in=people)
        .exclude(stage_approvals__approver__in=people)
        .exclude(stage_approvals__on_behalf_of__in=people)
        .order_by("submitted_at", "id")
    )


def _overdue(submitted_at, now) -> str:
    """Whether reminders and escalation are due for an invoice waiting since `submitted_at`."""
    waited = now - submitted_at
    if waited >= timedelta(hours=settings.APPROVAL_ESCALATE_AFTER_HOURS):
        return "escalated"
    if waited >= timedelta(hours=settings.APPROVAL_REMIND_AFTER_HOURS):
        return "reminded"
    return ""


def home_dashboard(user) -> dict:
    counts, counted_at = _status_counts()
    status_counts = [(value, label, counts.get(value, 0)) for value, label in S.choices]
    context: dict = {"status_counts": status_counts, "counted_at": counted_at}
    pending = Invoice.objects.filter(status=S.PENDING)
    if user.has_perm(roles.APPROVE):
        mine = waiting_on(user)
        context["waiting_for_me"] = mine.count()
        rows = list_rows(mine)[:WAITING_SHOWN]
        now = timezone.now()
        context["waiting_items"] = [
            (row, _overdue(invoice.submitted_at, now))
            for row, invoice in zip(
                presenters.InvoicePresenter(viewer=user, with_age=True).rows(rows),
                rows,
                strict=True,
            )
        ]
        context["remind_after_hours"] = settings.APPROVAL_REMIND_AFTER_HOURS
        context["escalate_after_hours"] = settings.APPROVAL_ESCALATE_AFTER_HOURS
        context["failed_count"] = Invoice.objects.filter(status=S.FAILED).count()
    if user.has_perm(roles.SUBMIT):
        mine = Invoice.objects.filter(submitted_by=user)
        sent_back = mine.filter(not_revised(), status=S.REJECTED)
        context["sent_back"] = presenters.InvoicePresenter(viewer=user).rows(
            list_rows(sent_back.order_by("-decided_at"))[:10]
        )
        context["my_pending"] = mine.filter(status=S.PENDING).count()
    oldest = pending.aggregate(oldest=Min("submitted_at"))["oldest"]
    context["oldest_pending_at"] = oldest
    context["is_clerk"] = user.has_perm(roles.SUBMIT)
    context["is_manager"] = user.has_perm(roles.APPROVE)
    context["sent_back_total"] = counts["sent_back"]
    return context
