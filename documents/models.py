"""The PDF of an approved invoice: rendered once from the approved snapshot, stored unchanged,
its SHA-256 in the audit chain.

Stored in the database (a bytea / BLOB column), not on a filesystem: the document, its hash and
the audit event naming that hash are written in one transaction, so there is never a file
without its event or an event without its file; every app server and worker sees it without a
shared volume; and a database backup holds the documents together with the audit chain that
vouches for them. An invoice PDF is tens of kilobytes.

Append-only: the model refuses to save an existing row, and a database trigger refuses updates
(and, on PostgreSQL, deletes) whoever tries. `manage.py verify_documents` recomputes each hash.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q


class InvoiceDocument(models.Model):
    """The original PDF of one issued invoice (see ISSUED_STATUSES). Later renderings (copies)
    are not stored."""

    invoice = models.OneToOneField(
        "invoices.Invoice", on_delete=models.PROTECT, related_name="document"
    )
    number = models.CharField(max_length=64, blank=True, help_text="The number printed on it.")
    sha256 = models.CharField("SHA-256", max_length=64)
    size = models.PositiveIntegerField(help_text="Bytes.")
    content = models.BinaryField()
    rendered_at = models.DateTimeField()
    renderer = models.CharField(max_length=100, help_text="Renderer and template versions.")
    # The `document.rendered` event that put the hash into the audit chain.
    audit_event = models.OneToOneField(
        "invoices.AuditEvent", on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-rendered_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(size__gt=0), name="document_not_empty"),
        ]

    def __str__(self) -> str:
        return f"PDF of invoice {self.invoice_id} ({self.number or 'no number'})"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ValidationError("A stored invoice document is never changed.")
        super().save(*args, **kwargs)

    @property
    def filename(self) -> str:
        return document_filename(self.number, self.invoice_id)


def document_filename(number: str, invoice_id: int, *, suffix: str = "") -> str:
    """A safe file name: the document number's letters, digits and dashes, else the id."""
    safe = "".join(c for c in number if c.isascii() and (c.isalnum() or c in "-_."))
    return f"{safe or f'invoice-{invoice_id}'}{suffix}.pdf"
