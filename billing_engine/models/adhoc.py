"""Ad-hoc invoicing (Rebillia-like): posted ad-hoc invoices and their lines.

Integer keys, like the upstream's. Customers, currencies, gateways and payment methods come from
`catalogue`.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from .catalogue import CompanyCurrency, Customer, Gateway, PaymentMethod


class AdhocInvoice(models.Model):
    """A posted ad-hoc invoice: live from creation (the vendor has no drafts). Payments move it
    to `partialPaid` / `paid`; a void (irreversible) to `voided`, refused once paid in part."""

    class Status(models.TextChoices):
        POSTED = "posted", "Posted"
        PARTIAL_PAID = "partialPaid", "Partially paid"
        PAID = "paid", "Paid"
        VOIDED = "voided", "Voided"

    id = models.AutoField(primary_key=True)
    invoice_no = models.CharField(max_length=32, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.POSTED)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="adhoc_invoices")
    currency = models.ForeignKey(CompanyCurrency, on_delete=models.PROTECT, related_name="+")
    gateway = models.ForeignKey(Gateway, on_delete=models.PROTECT, related_name="+")
    payment_method = models.ForeignKey(PaymentMethod, on_delete=models.PROTECT, related_name="+")
    payment_type = models.CharField(max_length=32, blank=True)
    date_from = models.DateField()
    date_to = models.DateField()
    date_due = models.DateField()
    customer_email = models.CharField(max_length=45, blank=True)
    customer_name = models.CharField(max_length=45, blank=True)
    customer_phone = models.CharField(max_length=45, blank=True)
    billing_address = models.JSONField(null=True, blank=True)
    shipping_address = models.JSONField(null=True, blank=True)
    shipping_amount_minor = models.BigIntegerField(default=0)
    terms = models.CharField(max_length=200, blank=True)
    comments = models.CharField(max_length=200, blank=True)
    total_minor = models.BigIntegerField()
    amount_paid_minor = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    date_void = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["customer", "date_from", "date_to"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(date_to__gte=F("date_from")), name="adhoc_period_order"
            ),
            models.CheckConstraint(
                condition=Q(shipping_amount_minor__gte=0, total_minor__gte=0),
                name="adhoc_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(amount_paid_minor__gte=0, amount_paid_minor__lte=F("total_minor")),
                name="adhoc_paid_within_total",
            ),
            models.CheckConstraint(
                condition=Q(status="voided", date_void__isnull=False)
                | (~Q(status="voided") & Q(date_void__isnull=True)),
                name="adhoc_void_has_date",
            ),
        ]

    def __str__(self) -> str:
        return self.invoice_no


class AdhocInvoiceLine(models.Model):
    invoice = models.ForeignKey(AdhocInvoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    description = models.CharField(max_length=255)
    qty = models.PositiveIntegerField()
    amount_minor = models.BigIntegerField(help_text="Price of one unit, in minor units.")

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="adhoc_line_position"),
            models.CheckConstraint(
                condition=Q(qty__gte=1, amount_minor__gte=0), name="adhoc_line_values"
            ),
        ]

    def __str__(self) -> str:
        return self.description
