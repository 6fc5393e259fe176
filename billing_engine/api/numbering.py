"""Invoice numbers: gapless series kept in the database, and how they are written.

Engine invoices take their gapless `INV-` number on approval; drafts carry a provisional
`DRAFT-` one. Ad-hoc invoices take an `AH-` number from their own series when posted, and
credit notes a `CN-` number from theirs.
"""

from __future__ import annotations

import uuid

from ..models import NumberSequence


def next_number(series: str) -> int:
    """The next gapless number of a series. Call inside the transaction that uses it: the row
    stays locked until commit, so a rollback gives the number back."""
    NumberSequence.objects.get_or_create(name=series)
    sequence = NumberSequence.objects.select_for_update().get(name=series)
    sequence.last_value += 1
    sequence.save(update_fields=["last_value"])
    return sequence.last_value


def draft_number(invoice_id: uuid.UUID) -> str:
    return f"DRAFT-{invoice_id.hex[:12].upper()}"


def approved_number(value: int) -> str:
    return f"INV-{value:06d}"


def credit_note_number(value: int) -> str:
    return f"CN-{value:06d}"
