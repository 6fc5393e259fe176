"""What every part of the demo shares: its fixed ids and dates, and the bulk writer `_Sync`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from django.db import models

NAMESPACE = uuid.UUID("6f1d3c2e-8b4a-5e7f-9a0b-1c2d3e4f5a6b")
# "Today" for the demo's statuses (expired, paused, draft); the data does not move with the clock.
REFERENCE = date(2026, 6, 15)
# Cycles billed before this date are approved on a share of the contracts.
APPROVED_BEFORE = date(2026, 4, 1)


def demo_id(*parts: object) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, ":".join(str(part) for part in parts))


@dataclass
class _Sync:
    """Create-or-update rows by primary key in bulk, touching only rows that differ."""

    model: type[models.Model]
    rows: list[dict]

    def run(self) -> None:
        if not self.rows:
            return
        existing = self.model.objects.in_bulk([row["id"] for row in self.rows])
        create, update, changed_fields = [], [], set()
        for row in self.rows:
            current = existing.get(row["id"])
            if current is None:
                create.append(self.model(**row))
                continue
            differs = [
                key
                for key, value in row.items()
                if key != "id" and getattr(current, _attname(self.model, key)) != _raw(value)
            ]
            if differs:
                for key in differs:
                    setattr(current, key, row[key])
                update.append(current)
                changed_fields.update(differs)
        if create:
            self.model.objects.bulk_create(create, batch_size=500)
        if update:
            self.model.objects.bulk_update(update, sorted(changed_fields), batch_size=500)


def _attname(model: type[models.Model], key: str) -> str:
    field = model._meta.get_field(key)
    return field.attname


def _raw(value):
    return value.pk if isinstance(value, models.Model) else value
