"""Local records: every submitted invoice (history and approval status) and the audit trail.

Statuses change only in `invoices.services`, along `invoices.workflow`'s transition table.
Invariants the database can hold are constraints here: one live invoice per (backend, contract,
customer, bill-for date), four eyes on decisions, and an append-only, hash-chained audit trail.

A correction of an approved invoice (a credit note, or a void) is an `Invoice` row too, of its
own kind, naming the invoice it `corrects`: it has its own status, lines, total, content hash,
requester and decider, so approvals, four eyes, history, the audit trail and reconcile all apply
to it unchanged. That live corrections never credit more than an invoice's total is held by
`services.corrections` under a lock on the corrected invoice (one row cannot check a sum).
"""

import hashlib
import json
import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper

from . import workflow
from .expressions import BillingMonth  # migration 0014 names it here


class Invoice(models.Model):
    class Kind(models.TextChoices):
        CYCLE = "cycle", "Contract cycle"
        ADHOC = "adhoc", "Ad-hoc"
        CREDIT_NOTE = "credit_note", "Credit note"
        VOID = "void", "Void"

    class CorrectionReason(models.TextChoices):
        PRICING_ERROR = "pricing_error", "Pricing error"
        QUANTITY_ERROR = "quantity_error", "Quantity error"
        DUPLICATE = "duplicate", "Duplicate invoice"
        GOODWILL = "goodwill", "Goodwill"
        CUSTOMER_DISPUTE = "customer_dispute", "Customer dispute"
        OTHER = "other", "Other"

    CorrectionStep = workflow.CorrectionStep

    # Statuses, and which of them are "live" (hold their cycle), are named once: in the
    # workflow table.
    Status = workflow.Status
    LIVE_STATUSES = workflow.LIVE_STATUSES

    kind = models.CharField(max_length=16, choices=Kind.choices)
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
    # ... and parsed, for constraints, filters and sorting. Ad-hoc invoices: their period. The
    # period is the half-open window [period_start, period_end), for every kind: an ad-hoc
    # invoice billed "2026-07-01 to 2026-07-31" (days included) ends 2026-08-01T00:00Z.
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

    # Corrections (kind credit_note or void): the approved invoice corrected, and why. A credit
    # note's lines are the credited amounts of the corrected invoice's lines ("line": its
    # index); a void's lines and total are what it credits before voiding (a contract-cycle
    # invoice is voided at a zero balance). `upstream_id` / `upstream_number` name the credit
    # note made upstream. `correction_step` records which of a void's two writes is done.
    corrects = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrections"
    )
    reason_code = models.CharField(
        max_length=20, blank=True, choices=CorrectionReason.choices, default=""
    )
    reason_text = models.TextField(blank=True, default="")
    reissue = models.BooleanField(
        default=False, help_text="A void asked for in order to re-issue the invoice."
    )
    correction_step = models.CharField(
        max_length=16, blank=True, choices=CorrectionStep.choices, default=""
    )
    # Decided at submission by the approval policy (invoices.extensions.approval_policy): how
    # many approvals it needs, and which rule said so and why (shown on its page).
    stages_required = models.PositiveSmallIntegerField(default=1)
    policy = models.JSONField(default=dict, blank=True)
    # What is unusual about it (invoices.flags), computed once at submission: a list of
    # {"code": ..., "text": ...}.
    flags = models.JSONField(default=list, blank=True)
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
                condition=~Q(kind="cycle") | Q(bill_for__isnull=False),
                name="cycle_invoice_has_bill_for",
            ),
            models.CheckConstraint(condition=Q(total_minor__gte=0), name="total_not_negative"),
            models.CheckConstraint(
                condition=(
                    Q(kind__in=["cycle", "adhoc"], corrects__isnull=True, reason_code="")
                    | (
                        Q(kind__in=list(workflow.CORRECTION_KINDS), corrects__isnull=False)
                        & ~Q(reason_code="")
                    )
                ),
                name="correction_names_its_invoice_and_reason",
            ),
            models.CheckConstraint(
                condition=~Q(kind="credit_note") | Q(total_minor__gt=0),
                name="credit_note_is_positive",
            ),
            models.UniqueConstraint(
                fields=["corrects"],
                condition=Q(kind="void") & Q(status__in=[str(s) for s in workflow.LIVE_STATUSES]),
                name="one_live_void_per_invoice",
                violation_error_message="This invoice already has a void in progress.",
            ),
            models.CheckConstraint(
                condition=Q(stages_required__gte=1) & Q(stages_required__lte=2),
                name="one_or_two_approval_stages",
            ),
        ]
        indexes = [
            models.Index(fields=["-submitted_at", "-id"], name="inv_submitted_idx"),
            models.Index(fields=["status", "-submitted_at", "-id"], name="inv_status_idx"),
            models.Index(fields=["contract_id", "bill_for"], name="inv_contract_cycle_idx"),
            models.Index(fields=["lineage", "version"], name="inv_lineage_idx"),
            # History filters with keyset pagination on (submitted_at, id).
            models.Index(fields=["customer_id", "-submitted_at", "-id"], name="inv_customer_idx"),
            models.Index(fields=["submitted_by", "-submitted_at", "-id"], name="inv_submitter_idx"),
            # A currency (with or without a total range): rare ones are a few % of the table.
            models.Index(fields=["currency", "-submitted_at", "-id"], name="inv_currency_idx"),
            # A whole invoice number searched for (HistoryFilterForm.filter): an exact match.
            models.Index(Upper("upstream_number"), name="inv_number_idx"),
            # A name search (invoices.search): the invoices of each name found, newest first.
            models.Index(
                fields=["customer_name", "-submitted_at", "-id"], name="inv_customer_name_idx"
            ),
            models.Index(
                fields=["contract_name", "-submitted_at", "-id"], name="inv_contract_name_idx"
            ),
            # "Approved by": the filter asks for approved invoices of that manager.
            models.Index(
                fields=["decided_by", "-submitted_at", "-id"],
                condition=Q(status="approved"),
                name="inv_approver_idx",
            ),
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
            # "Billing date in one month" (HistoryFilterForm.filter): that month, newest first.
            models.Index(
                BillingMonth(),
                F("submitted_at").desc(),
                F("id").desc(),
                name="inv_billing_month_idx",
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
    def is_correction(self) -> bool:
        return workflow.is_correction(self)

    @property
    def approval_outcome_unknown(self) -> bool:
        return workflow.outcome_unknown(self)

    @property
    def earlier_stage_people(self) -> frozenset[int]:
        """Ids of who approved a stage before the last one (and whom they stood in for): none
        of them may approve a later stage. One query, cached; none for one-stage invoices."""
        if self.stages_required < 2:
            return frozenset()
        cached = getattr(self, "_earlier_stage_people", None)
        if cached is None:
            # .all(): uses prefetch_related("stage_approvals") where a list page did one.
            cached = frozenset(
                pk
                for approval in self.stage_approvals.all()
                if approval.stage < self.stages_required
                for pk in (approval.approver_id, approval.on_behalf_of_id)
                if pk is not None
            )
            self._earlier_stage_people = cached
        return cached

    @property
    def stages_done(self) -> int:
        """Approval stages recorded before the last one (see StageApproval)."""
        if self.stages_required < 2:
            return 0
        return sum(1 for a in self.stage_approvals.all() if a.stage < self.stages_required)

    @property
    def preview_differs(self) -> bool:
        return self.preview_total_minor is not None and self.preview_total_minor != self.total_minor


class StageApproval(models.Model):
    """One approval stage of an invoice that needs more than one (an approval policy). The last
    stage is the approval that goes to the backend (Invoice.decided_by); earlier ones are kept
    here, each naming the content hash its approver saw."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="stage_approvals")
    stage = models.PositiveSmallIntegerField()
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    content_hash = models.CharField(max_length=64)
    at = models.DateTimeField()

    class Meta:
        ordering = ["invoice", "stage"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "stage"], name="one_approval_per_stage"),
            models.UniqueConstraint(
                fields=["invoice", "approver"], name="each_stage_a_different_approver"
            ),
        ]

    def __str__(self) -> str:
        return f"stage {self.stage} of invoice {self.invoice_id} by {self.approver_id}"


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


class SearchName(models.Model):
    """Each customer and contract name an invoice carries, once, for invoices.search. Written
    by triggers on invoices_invoice (migration 0015), whoever writes the invoice."""

    field = models.CharField(max_length=16)  # "customer_name" or "contract_name"
    name = models.CharField(max_length=255)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["field", "name"], name="one_search_name")]

    def __str__(self) -> str:
        return f"{self.field}: {self.name}"


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
