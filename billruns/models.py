"""Bill runs: a clerk's plan of every due cycle, frozen into items that workers submit through the
same service as the clerk flow; and managers' batch approvals of a run's invoices.

States and the steps between them are named in `billruns.states`. Items are claimed with a lease
(`billruns.leases`): a worker that dies loses it, and the sweep (or any other worker) takes the
item back once the lease expires.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from invoices.backends.base import BillingCycle
from invoices.models import Invoice

from .states import ApprovalState, BatchState, ItemState, RunState


class BillRun(models.Model):
    State = RunState

    status = models.CharField(max_length=12, choices=RunState.choices, default=RunState.PLANNING)
    backend = models.CharField(max_length=32)
    preview_exact = models.BooleanField(default=True)  # totals exact (embedded) or estimates
    # The plan's filters.
    through = models.DateField(help_text="Every cycle billed on or before this date.")
    currency = models.CharField(max_length=3, blank=True)
    customer = models.CharField(max_length=255, blank=True)
    contract_statuses = models.JSONField(default=list)
    # What planning found besides the items: exceptions skipped and why, and counts.
    plan = models.JSONField(default=dict, blank=True)
    # Planning's progress: what it is doing, and how far it got (contracts).
    plan_stage = models.CharField(max_length=64, blank=True)
    plan_done = models.PositiveIntegerField(default=0)
    plan_total = models.PositiveIntegerField(null=True, blank=True)
    failure_message = models.TextField(blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bill_runs_planned"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    planned_at = models.DateTimeField(null=True, blank=True)
    # The clerk who launched it: every invoice of the run is submitted in their name.
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bill_runs_launched",
    )
    launched_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # No new claims before this (a backend outage or a 429's Retry-After slows the whole run).
    backoff_until = models.DateTimeField(null=True, blank=True)
    # Last sign of life of a worker (planning or working); the sweep restarts a silent run.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The one summary e-mail (an outbox: owed when the run finishes, sent by a task).
    summary_owed = models.BooleanField(default=False)
    summary_sent_at = models.DateTimeField(null=True, blank=True)
    summary_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="billrun_status_idx")]

    def __str__(self) -> str:
        return f"Bill run #{self.pk} ({self.get_status_display()})"


class LeasedItem(models.Model):
    """What a worker claims: a lease (token and expiry), attempts, the next attempt's time."""

    message = models.TextField(blank=True)  # why it was skipped/refused, or the backend's message
    attempts = models.PositiveSmallIntegerField(default=0)  # retryable failures so far
    claims = models.PositiveSmallIntegerField(default=0)  # times a worker took it
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class BillRunItem(LeasedItem):
    """One due cycle of a run, frozen at planning with the backend's values verbatim."""

    State = ItemState

    run = models.ForeignKey(BillRun, on_delete=models.PROTECT, related_name="items")
    status = models.CharField(max_length=12, choices=ItemState.choices, default=ItemState.PLANNED)
    contract_id = models.CharField(max_length=64)
    contract_name = models.CharField(max_length=255, blank=True)
    customer_id = models.CharField(max_length=64)
    customer_name = models.CharField(max_length=255, blank=True)
    currency = models.CharField(max_length=3)
    cycle_name = models.CharField(max_length=255)
    cycle_start_date = models.CharField(max_length=64)
    cycle_end_date = models.CharField(max_length=64)
    cycle_bill_for_date = models.CharField(max_length=64)
    cycle_start_day = models.PositiveSmallIntegerField()
    bill_for = models.DateTimeField()  # parsed, for matching and ordering
    preview_total_minor = models.BigIntegerField(null=True, blank=True)
    # The invoice it submitted, or the live invoice that holds its cycle (skipped).
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "contract_id", "customer_id", "bill_for"],
                name="billrun_item_one_per_cycle",
            )
        ]
        indexes = [
            # Claims: a run's due pending items (and expired leases), oldest first.
            models.Index(
                fields=["run", "status", "next_attempt_at"], name="billrun_item_claim_idx"
            ),
            models.Index(
                fields=["lease_expires_at"],
                condition=Q(status="claimed"),
                name="billrun_item_lease_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract_name} {self.cycle_name} ({self.get_status_display()})"

    @property
    def cycle(self) -> BillingCycle:
        """The cycle exactly as the backend listed it when the run was planned."""
        return BillingCycle(
            name=self.cycle_name,
            start_date=self.cycle_start_date,
            end_date=self.cycle_end_date,
            bill_for_date=self.cycle_bill_for_date,
            billing_cycle_start_day=self.cycle_start_day,
        )


class BatchApproval(models.Model):
    """A manager's "Approve selected" on a run's invoices, worked in the background."""

    State = BatchState

    run = models.ForeignKey(BillRun, on_delete=models.PROTECT, related_name="batches")
    status = models.CharField(max_length=12, choices=BatchState.choices, default=BatchState.RUNNING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    backoff_until = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    summary_owed = models.BooleanField(default=False)
    summary_sent_at = models.DateTimeField(null=True, blank=True)
    summary_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Batch approval #{self.pk} of bill run #{self.run_id}"


class BatchApprovalItem(LeasedItem):
    """One invoice of a batch approval, with the content hash the manager saw."""

    State = ApprovalState

    batch = models.ForeignKey(BatchApproval, on_delete=models.PROTECT, related_name="items")
    status = models.CharField(
        max_length=12, choices=ApprovalState.choices, default=ApprovalState.PENDING
    )
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="+")
    seen_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "invoice"], name="batch_item_one_per_invoice")
        ]
        indexes = [
            models.Index(
                fields=["batch", "status", "next_attempt_at"], name="batch_item_claim_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"Invoice #{self.invoice_id} in batch #{self.batch_id} ({self.status})"
