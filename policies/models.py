"""Approval policies: rules that decide how many approvals an invoice needs, absences with a
delegate who stands in, and the reminders and escalations sent about invoices waiting too long.

Rules are kept in the database and edited by superusers in the admin (every change audited);
the first active rule that matches, in the admin's order, decides. Absences are recorded by the
managers themselves (policies.views).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from invoices import money
from invoices.models import Invoice


class ApprovalRule(models.Model):
    """If an invoice matches every condition set here, it needs `stages` approvals. A condition
    left empty matches everything."""

    order = models.PositiveIntegerField(
        default=100, help_text="Rules are tried from the lowest number up; the first match wins."
    )
    name = models.CharField(max_length=120, help_text="What the rule is for, as people read it.")
    active = models.BooleanField(default=True)
    kind = models.CharField(
        max_length=16,
        blank=True,
        choices=[("", "Any kind of document"), *Invoice.Kind.choices],
        help_text="The kind of document (empty: any).",
    )
    currency = models.CharField(
        max_length=3,
        blank=True,
        help_text="ISO code, e.g. USD (empty: any). Required with an amount threshold.",
    )
    threshold = models.DecimalField(
        max_digits=20,
        decimal_places=3,
        null=True,
        blank=True,
        help_text="Applies when the total is at least this much, in the currency's major units "
        "(41.50 USD, 98000 JPY).",
    )
    customer_id = models.CharField(
        max_length=64, blank=True, help_text="The billing backend's customer id (empty: any)."
    )
    stages = models.PositiveSmallIntegerField(
        choices=[(1, "One approval"), (2, "Two approvals by different people")], default=2
    )

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(threshold__isnull=True) | ~Q(currency=""),
                name="policy_threshold_needs_currency",
            ),
            models.CheckConstraint(
                condition=Q(stages__gte=1) & Q(stages__lte=2), name="policy_one_or_two_stages"
            ),
            models.CheckConstraint(
                condition=Q(threshold__isnull=True) | Q(threshold__gte=0),
                name="policy_threshold_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.order} {self.name}"

    def clean(self):
        self.currency = (self.currency or "").strip().upper()
        if self.threshold is not None:
            if not self.currency:
                raise ValidationError({"currency": "Name the currency the threshold is in."})
            try:
                self.threshold_minor()
            except money.MoneyError as exc:
                raise ValidationError({"threshold": str(exc)}) from None
        elif self.currency:
            try:
                money.exponent(self.currency)
            except money.MoneyError as exc:
                raise ValidationError({"currency": str(exc)}) from None

    def threshold_minor(self) -> int | None:
        """The threshold in minor units (an error if it has more decimals than the currency)."""
        if self.threshold is None:
            return None
        text = format(Decimal(self.threshold).normalize(), "f")
        return money.parse_amount(text, self.currency)


class Absence(models.Model):
    """A manager away from `starts_on` to `ends_on` (both days included, UTC): `delegate` sees
    their approvals and may decide, audited as "delegate for manager"."""

    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="absences"
    )
    delegate = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="standing_in"
    )
    starts_on = models.DateField()
    ends_on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(delegate=F("manager")), name="absence_delegate_is_someone_else"
            ),
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")), name="absence_ends_after_it_starts"
            ),
        ]
        indexes = [models.Index(fields=["delegate", "starts_on", "ends_on"], name="absence_idx")]

    def __str__(self) -> str:
        return f"{self.manager} away {self.starts_on}–{self.ends_on}, {self.delegate} stands in"


class Reminder(models.Model):
    """A reminder (level 1) or escalation (level 2) owed about an invoice waiting for approval:
    written once by the sweep, sent by a task that marks it sent (so each goes out once)."""

    class Level(models.IntegerChoices):
        REMINDER = 1, "Reminder"
        ESCALATION = 2, "Escalation"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="+")
    level = models.PositiveSmallIntegerField(choices=Level.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    recipients = models.JSONField(default=list, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["invoice", "level"], name="one_reminder_per_level")
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()} for invoice {self.invoice_id}"
