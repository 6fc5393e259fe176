"""Local records: every submitted invoice (history and approval status) and the audit trail.

Statuses change only in `invoices.services`, along `invoices.workflow`'s transition table.
Invariants the database can hold are constraints here: one live invoice per (backend, contract,
customer, bill-for date), four eyes on decisions, and an append-only, hash-chained audit trail.
"""

import hashlib
import json
import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from . import workflow


class Invoice(models.Model):
    class Kind(models.TextChoices):
        CYCLE = "cycle", "Contract cycle"
        ADHOC = "adhoc", "Ad-hoc"

    # Statuses, and which of them are "live" (hold their cycle), are named once: in the
    # workflow table.
    Status = workflow.Status
    LIVE_STATUSES = workflow.LIVE_STATUSES

    kind = models.CharField(max_length=8, choices=Kind.choices)
    backend = models.CharField(max_length=32)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)

    # Versions: a rejected invoice is revised by a new submission; all versions share a lineage.
    lineage = models.UUIDField(default=uuid.uuid4, editable=False)
    version = models.PositiveIntegerField(default=1)
    previous = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="next_version"
    )

    contract_id = models.CharField(max_length=64, blank=True)
    contract_name = models.CharField(max_length=255, blank=True)
    customer_id = models.CharField(max_length=64)
    customer_name = models.CharField(max_length=255, blank=True)

    # The billing cycle exactly as the backend listed it (strings kept verbatim) ...
    cycle_name = models.CharField(max_length=255, blank=True)
    cycle_start_date = models.CharField(max_length=64, blank=True)
    cycle_end_date = models.CharField(max_length=64, blank=True)
    cycle_bill_for_date = models.CharField(max_length=64, blank=True)
    cycle_start_day = models.PositiveSmallIntegerField(null=True, blank=True)
    # ... and parsed, for constraints, filters and sorting. Ad-hoc invoices: their period.
    bill_for = models.DateTimeField(null=True, blank=True)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)

    currency = models.CharField(max_length=3)
    total_minor = models.BigIntegerField()
    preview_total_minor = models.BigIntegerField(null=True, blank=True)
    preview_exact = models.BooleanField(default=True)
    # The line snapshot: a list of dicts with decimal values as strings (see services).
    lines = models.JSONField(default=list)
    content_hash = models.CharField(max_length=64)
    # Ad-hoc invoices: what will be sent to the backend on approval (nothing is sent before).
    adhoc_request = models.JSONField(null=True, blank=True)

    # A form's one-time token: a double click or a re-sent POST finds the same submission.
    submission_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    upstream_id = models.CharField(max_length=64, blank=True)
    upstream_number = models.CharField(max_length=64, blank=True)

    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="submitted_invoices"
    )
    submitted_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="decided_invoices",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    failure_message = models.TextField(blank=True)
    failure_code = models.CharField(max_length=40, blank=True)
    # A rejected or withdrawn cycle invoice whose upstream draft still has to be deleted.
    upstream_cleanup_pending = models.BooleanField(default=False)
    # The bill run that submitted it (an id in the billruns app, which invoices never imports;
    # null for a clerk's own submission). Its audit events name the run; history filters by it.
    run_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        permissions = [
            ("submit_invoice", "Can prepare and submit invoices for approval"),
            ("approve_invoice", "Can approve or reject submitted invoices"),
            ("view_history", "Can read invoice history"),
            ("view_audit", "Can read the audit trail and export it"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["backend", "contract_id", "customer_id", "bill_for"],
                condition=Q(kind="cycle") & Q(status__in=[str(s) for s in workflow.LIVE_STATUSES]),
                name="one_live_invoice_per_cycle",
                violation_error_message="This billing cycle already has a live invoice.",
            ),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("submitted_by")),
                name="four_eyes_decider_is_not_submitter",
            ),
            models.CheckConstraint(
                condition=Q(kind="adhoc") | Q(bill_for__isnull=False),
                name="cycle_invoice_has_bill_for",
            ),
            models.CheckConstraint(condition=Q(total_minor__gte=0), name="total_not_negative"),
        ]
        indexes = [
            models.Index(fields=["-submitted_at", "-id"], name="inv_submitted_idx"),
            models.Index(fields=["status", "-submitted_at", "-id"], name="inv_status_idx"),
            models.Index(fields=["contract_id", "bill_for"], name="inv_contract_cycle_idx"),
            models.Index(fields=["lineage", "version"], name="inv_lineage_idx"),
            # History filters with keyset pagination on (submitted_at, id).
            models.Index(fields=["customer_id", "-submitted_at", "-id"], name="inv_customer_idx"),
            models.Index(fields=["submitted_by", "-submitted_at", "-id"], name="inv_submitter_idx"),
            # The history's "billing date" (bill-for date of a cycle, period start of an ad-hoc),
            # covering what its newest-first sort reads, so PostgreSQL sorts from the index alone.
            models.Index(
                models.Func(F("bill_for"), F("period_start"), function="COALESCE"),
                F("submitted_at"),
                F("id"),
                F("bill_for"),
                F("period_start"),
                name="inv_billing_sort_idx",
            ),
            # A clerk's "needs changes": their rejected invoices, latest decision first.
            models.Index(
                fields=["submitted_by", "-decided_at"],
                condition=Q(status="rejected"),
                name="inv_sent_back_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Invoice {self.pk} ({self.get_status_display()})"

    @property
    def is_live(self) -> bool:
        return self.status in workflow.LIVE_STATUSES

    @property
    def approval_outcome_unknown(self) -> bool:
        return workflow.outcome_unknown(self)

    @property
    def preview_differs(self) -> bool:
        return self.preview_total_minor is not None and self.preview_total_minor != self.total_minor


class AuditChainHead(models.Model):
    """The single row every audit write locks: it serialises the chain and remembers its end."""

    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"audit chain head #{self.seq}"


class AuditEvent(models.Model):
    """Append-only. Each event carries the hash of the one before it (see `compute_hash`)."""

    seq = models.BigIntegerField(unique=True)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64)
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    reason = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-seq"]
        indexes = [
            models.Index(fields=["invoice", "seq"], name="audit_invoice_idx"),
            models.Index(fields=["-at", "-seq"], name="audit_at_idx"),
            # Audit log filters with keyset pagination on (at, seq).
            models.Index(fields=["actor_username", "-at", "-seq"], name="audit_actor_idx"),
            models.Index(fields=["action", "-at", "-seq"], name="audit_action_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} by {self.actor_username or 'system'}"

    def hashed_payload(self) -> dict:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor_id": self.actor_id,
            "actor_username": self.actor_username,
            "action": self.action,
            "invoice_id": self.invoice_id,
            "from_status": self.from_status,
            "to_status": self.to_status,
            "reason": self.reason,
            "request_id": self.request_id,
            "ip": self.ip,
            "data": self.data,
        }

    def compute_hash(self) -> str:
        return chain_hash(self.prev_hash, self.hashed_payload())


def chain_hash(prev_hash: str, payload: dict) -> str:
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


class Notification(models.Model):
    """An e-mail owed to people about an invoice (the outbox): written in the transaction of the
    change it announces, sent by a background task, which marks it sent. A lost task is found
    again by the sweep (unsent rows older than a few minutes), and a task delivered twice finds
    the row already sent, so each notification goes out once (at least once, if a worker dies
    between sending and marking)."""

    class Kind(models.TextChoices):
        SUBMITTED = "submitted", "Waiting for approval"
        APPROVED = "decided:approved", "Approved"
        REJECTED = "decided:rejected", "Rejected"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="notifications")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["invoice", "kind"], name="one_notification_per_kind")
        ]
        indexes = [
            models.Index(
                fields=["created_at"], condition=Q(sent_at__isnull=True), name="notify_unsent_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for invoice {self.invoice_id}"
