"""The seed's database side: the `bench-*` users, and one transaction per batch that reserves
invoice ids, holds the audit chain's head row and writes the rows (COPY on PostgreSQL,
`bulk_create` elsewhere). Used by `bench/seed_history.py`.
"""

from __future__ import annotations

import json
import random

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.db.models import JSONField
from django.utils import timezone

from bench._seed_plan import SeedError, Slot
from bench._seed_rows import Chain, RowMaker
from invoices import roles
from invoices.models import AuditChainHead, AuditEvent, Invoice


def seed_users(rng: random.Random) -> dict:
    """12 clerks, 8 managers and an auditor, `bench-*`, with unusable passwords (made once):
    {"clerks": [(pk, username, ip), ...], "managers": [...]}."""
    User = get_user_model()
    groups = {
        name: Group.objects.get(name=name)
        for name in (roles.CLERKS, roles.MANAGERS, roles.AUDITORS)
    }
    made: dict[str, list] = {"clerks": [], "managers": []}
    wanted = [(f"bench-clerk-{i:02}", roles.CLERKS, "clerks") for i in range(1, 13)]
    wanted += [(f"bench-manager-{i:02}", roles.MANAGERS, "managers") for i in range(1, 9)]
    wanted += [("bench-auditor", roles.AUDITORS, None)]
    for username, group, bucket in wanted:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"email": f"{username}@example.com", "first_name": username.title()},
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        user.groups.add(groups[group])
        if bucket:
            n = len(made[bucket]) + 1
            ip = f"10.{20 if bucket == 'clerks' else 30}.{n}.{rng.randrange(2, 250)}"
            made[bucket].append((user.pk, user.get_username(), ip))
    return made


def write_batch(rows: RowMaker, batch: list[Slot], users: dict) -> tuple[int, int]:
    """Write the slots' invoices and audit events in one transaction: (invoices, events)."""
    vendor = connection.vendor
    count = sum(slot.versions for slot in batch)
    with transaction.atomic():
        if vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        ids = iter(_reserve_ids(count))
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
        chain = Chain(head.seq, head.hash, rows.rng)
        invoices: list[dict] = []
        for slot in batch:
            rows.slot_rows(slot, ids, users, invoices, chain)
        _insert(invoices, chain.events)
        head.seq, head.hash = chain.seq, chain.hash
        head.save(update_fields=["seq", "hash"])
    return len(invoices), len(chain.events)


def analyze() -> None:
    """Fresh planner statistics for the tables just filled."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE invoices_invoice")
            cursor.execute("ANALYZE invoices_auditevent")
            # Filled by the invoices' triggers: without statistics the planner takes it for
            # empty and scans it rather than use its trigram index (10 ms a name search).
            cursor.execute("ANALYZE invoices_searchname")
    elif connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _reserve_ids(count: int) -> list[int]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence('invoices_invoice', 'id')) "
                "FROM generate_series(1, %s)",
                [count],
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM invoices_invoice")
        first = cursor.fetchone()[0] + 1
        return list(range(first, first + count))


def _insert(invoices: list[dict], events: list[dict]) -> None:
    invoice_columns = _columns(Invoice, invoices[0], skip=())
    event_columns = _columns(AuditEvent, events[0], skip=("id",)) if events else []
    if connection.vendor == "postgresql":
        _copy(Invoice, invoice_columns, invoices)
        if events:
            _copy(AuditEvent, event_columns, events)
        return
    Invoice.objects.bulk_create(
        [
            Invoice(**{name: row.get(name, default) for name, default, _j in invoice_columns})
            for row in invoices
        ],
        batch_size=500,
    )
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(**{name: e.get(name, default) for name, default, _j in event_columns})
            for e in events
        ],
        batch_size=500,
    )


def _copy(model, columns, rows: list[dict]) -> None:
    table = model._meta.db_table
    names = ", ".join(
        connection.ops.quote_name(model._meta.get_field(n).column) for n, _d, _j in columns
    )
    dumps = json.dumps
    with connection.cursor() as cursor:
        raw = getattr(cursor, "cursor", cursor)
        with raw.copy(f"COPY {connection.ops.quote_name(table)} ({names}) FROM STDIN") as copy:
            for row in rows:
                values = []
                for name, default, is_json in columns:
                    value = row.get(name, default)
                    if is_json and value is not None:
                        value = dumps(value)
                    values.append(value)
                copy.write_row(values)


def _columns(model, sample: dict, *, skip) -> list[tuple[str, object, bool]]:
    """(attname, default, is_json) for every concrete column; fields the seed does not set
    (added later by someone else) get their model default, so the seed keeps working."""
    columns = []
    for f in model._meta.concrete_fields:
        if f.attname in skip or f.name in skip:
            continue
        if f.attname in sample:
            default = None
        elif f.has_default():
            default = f.get_default()
        elif f.null:
            default = None
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            default = timezone.now()
        else:
            raise SeedError(f"the seed does not know how to fill {model.__name__}.{f.name}")
        columns.append((f.attname, default, isinstance(f, JSONField)))
    return columns
