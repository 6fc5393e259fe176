"""Corrections of approved contract-cycle invoices (Zenskar-like): credit notes.

A credit note takes an amount off an approved invoice's balance; its gapless `CN-` number comes
from its own series. Credit notes never exceed what is left of the invoice (checked by
`billing_engine.api` under a lock on the invoice); a void is a status of the invoice itself.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from .contracts import EngineInvoice


class EngineCreditNote(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    invoice = models.ForeignKey(
        EngineInvoice, on_delete=models.PROTECT, related_name="credit_notes"
    )
    number = models.CharField(max_length=32, unique=True)
    amount_minor = models.BigIntegerField(help_text="Minor units taken off the invoice's balance.")
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["invoice", "created_at", "number"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_minor__gt=0), name="engine_credit_note_positive"
            )
        ]

    def __str__(self) -> str:
        return self.number
