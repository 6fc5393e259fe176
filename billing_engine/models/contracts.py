"""Contract-cycle billing (Zenskar-like): contracts, phases, products, pricings, the engine
invoices generated per billing cycle and their lines, and the gapless number sequences.

UUID keys, like the upstream's. The customer is `catalogue.Customer`.
"""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from billing_rules.cycles import CADENCE_MONTHS

from .catalogue import Customer, iso4217


class Contract(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        EXPIRED = "expired", "Expired"
        DISPUTED = "disputed", "Disputed"

    class Cadence(models.TextChoices):
        MONTHLY = "P1M", "Monthly"
        QUARTERLY = "P3M", "Quarterly"
        HALF_YEARLY = "P6M", "Half-yearly"
        YEARLY = "P1Y", "Yearly"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="contracts")
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    currency = models.CharField(max_length=3, validators=[iso4217])
    start_date = models.DateField()
    end_date = models.DateField(
        null=True, blank=True, help_text="Exclusive: the first day no longer covered. Empty: open."
    )
    cadence = models.CharField(max_length=3, choices=Cadence.choices, default=Cadence.MONTHLY)
    billing_cycle_start_day = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(31)],
        help_text="Anchor day of each cycle, clamped to short months (31 → Feb 28).",
    )
    in_advance = models.BooleanField(
        default=True, help_text="Bill at the start of each cycle (otherwise at its end)."
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gt=F("start_date")),
                name="contract_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(billing_cycle_start_day__gte=1, billing_cycle_start_day__lte=31),
                name="contract_anchor_day_range",
            ),
            models.CheckConstraint(
                condition=Q(cadence__in=list(CADENCE_MONTHS)), name="contract_cadence_known"
            ),
        ]
        indexes = [models.Index(fields=["customer", "name"])]

    def __str__(self) -> str:
        return self.name


class Phase(models.Model):
    class Type(models.TextChoices):
        ACTIVE = "active", "Active"
        TRIAL = "trial", "Trial (no charge)"
        PAUSE = "pause", "Pause (not billed)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="phases")
    name = models.CharField(max_length=120)
    phase_type = models.CharField(max_length=6, choices=Type.choices, default=Type.ACTIVE)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True, help_text="Exclusive. Empty: open.")

    class Meta:
        ordering = ["contract", "start_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gt=F("start_date")),
                name="phase_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.contract} · {self.name}"


class Product(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    sku = models.CharField("SKU", max_length=64, unique=True)
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["name", "sku"]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


def validate_tiers(value) -> None:
    """Tiers are `[{"up_to": int | null, "unit_amount_minor": int}, ...]`, bounds increasing,
    only the last one unbounded: the shape billing_rules.rating accepts."""
    if not isinstance(value, list):
        raise ValidationError("Tiers must be a list.")
    previous = 0
    for index, tier in enumerate(value):
        if not isinstance(tier, dict) or set(tier) != {"up_to", "unit_amount_minor"}:
            raise ValidationError('Each tier is {"up_to": n or null, "unit_amount_minor": n}.')
        up_to, amount = tier["up_to"], tier["unit_amount_minor"]
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise ValidationError("A tier's unit_amount_minor is a whole number of minor units.")
        if up_to is None:
            if index != len(value) - 1:
                raise ValidationError("Only the last tier may be unbounded (up_to null).")
            continue
        if isinstance(up_to, bool) or not isinstance(up_to, int) or up_to <= previous:
            raise ValidationError("Tier bounds must be whole numbers that increase.")
        previous = up_to


class Pricing(models.Model):
    class Type(models.TextChoices):
        FLAT_FEE = "flat_fee", "Flat fee"
        PER_UNIT = "per_unit", "Per unit"
        TIERED = "tiered", "Tiered (graduated)"
        VOLUME = "volume", "Volume"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="pricings")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="pricings")
    pricing_type = models.CharField(max_length=8, choices=Type.choices)
    unit_amount_minor = models.BigIntegerField(
        default=0, help_text="Minor units (cents); the flat fee, or the price of one unit."
    )
    quantity = models.DecimalField(max_digits=18, decimal_places=4, default=1)
    unit = models.CharField(max_length=32, blank=True, help_text="e.g. seat, GB, licence")
    tiers = models.JSONField(default=list, blank=True, validators=[validate_tiers])
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True, help_text="Exclusive. Empty: open.")

    class Meta:
        ordering = ["phase", "start_date", "product__name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gt=F("start_date")),
                name="pricing_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(unit_amount_minor__gte=0), name="pricing_amount_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=0), name="pricing_quantity_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product.name} · {self.get_pricing_type_display()}"

    def clean(self) -> None:
        """What billing_rules.rating would refuse at invoice time is refused here instead."""
        super().clean()
        if self.pricing_type not in (self.Type.TIERED, self.Type.VOLUME):
            return
        if not self.tiers:
            raise ValidationError({"tiers": "Tiered and volume pricings need tiers."})
        if not isinstance(self.tiers, list) or not isinstance(self.tiers[-1], dict):
            return  # the field's validator reports the shape
        last = self.tiers[-1].get("up_to")
        if isinstance(last, int) and self.quantity is not None and self.quantity > last:
            raise ValidationError(
                {"quantity": f"Above the last tier's bound ({last}); add an unbounded tier."}
            )


class EngineInvoice(models.Model):
    """One invoice per (contract, customer, billing cycle). Drafts may be regenerated or
    deleted; approved invoices are final: corrected by credit notes (`EngineCreditNote`), and
    voided once credit notes bring their balance to zero. A void frees the cycle."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        APPROVED = "approved", "Approved"
        VOID = "void", "Void"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="invoices")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField(help_text="Exclusive.")
    bill_for = models.DateTimeField()
    billing_cycle_start_day = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    # Drafts carry a provisional number; the gapless one is taken on approval.
    number = models.CharField(max_length=32, unique=True)
    currency = models.CharField(max_length=3, validators=[iso4217])
    total_minor = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    generated_at = models.DateTimeField(help_text="When the lines were last (re)generated.")
    approved_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-bill_for", "contract", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "customer", "bill_for"],
                condition=Q(status="draft"),
                name="engine_one_draft_per_cycle",
            ),
            models.UniqueConstraint(
                fields=["contract", "customer", "bill_for"],
                condition=Q(status="approved"),
                name="engine_one_approved_per_cycle",
            ),
            models.CheckConstraint(
                condition=Q(period_end__gt=F("period_start")), name="engine_invoice_period"
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(approved_at__isnull=False),
                name="engine_invoice_approved_has_time",
            ),
            models.CheckConstraint(
                condition=Q(status="void", voided_at__isnull=False)
                | (~Q(status="void") & Q(voided_at__isnull=True)),
                name="engine_invoice_void_has_time",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def save(self, *args, **kwargs) -> None:
        """Refuse to rewrite an approved (or void) invoice, whatever the caller (admin, shell,
        API); `billing_engine.api` voids one with a guarded update, never through save()."""
        final = (self.Status.APPROVED, self.Status.VOID)
        if (
            not self._state.adding
            and EngineInvoice.objects.filter(pk=self.pk, status__in=final).exists()
        ):
            raise ValidationError("An approved invoice cannot be changed.")
        super().save(*args, **kwargs)


class EngineInvoiceLine(models.Model):
    invoice = models.ForeignKey(EngineInvoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    pricing_id = models.UUIDField(help_text="The pricing rated (kept even if it is later deleted).")
    product_name = models.CharField(max_length=200)
    sku = models.CharField(max_length=64)
    description = models.CharField(max_length=255, blank=True)
    phase_type = models.CharField(max_length=6)
    quantity = models.DecimalField(max_digits=18, decimal_places=4)
    unit = models.CharField(max_length=32, blank=True)
    # Effective unit price in minor units; may be fractional (tiered/volume, sub-cent prices).
    unit_amount_minor = models.DecimalField(max_digits=30, decimal_places=6)
    full_amount_minor = models.DecimalField(max_digits=30, decimal_places=6)
    amount_minor = models.BigIntegerField()
    service_start = models.DateTimeField()
    service_end = models.DateTimeField()
    covered_days = models.PositiveIntegerField()
    window_days = models.PositiveIntegerField()

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="engine_line_position")
        ]

    def __str__(self) -> str:
        return self.product_name

    @property
    def prorated(self) -> bool:
        return self.covered_days < self.window_days


class NumberSequence(models.Model):
    """Gapless document numbers: a row per series and year, locked while the next number is
    taken (see `billing_engine.api.numbering`). The name is the numbers' prefix: `INV-2026`
    numbers `INV-2026-000001`, `INV-2026-000002`, ... Rows without a year are closed series from
    before yearly numbering (`INV`, `AH`), kept for verification."""

    name = models.CharField(max_length=32, primary_key=True)
    series = models.CharField(max_length=8, blank=True, help_text="INV or CN (AH: closed).")
    year = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Empty: a closed series from before yearly numbering."
    )
    last_value = models.PositiveIntegerField(default=0, help_text="The last number taken.")

    def __str__(self) -> str:
        return f"{self.name}: {self.last_value}"
