"""billing_admin.db: PostgreSQL timestamps read by Python's ISO parser equal Django's own."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import DataError, connection
from django.db.backends.postgresql.psycopg_any import BaseTzLoader

from .helpers import needs_postgres

pytestmark = [pytest.mark.postgres, needs_postgres, pytest.mark.django_db]

VALUES = [
    "2026-11-29 14:29:54.16337+00",
    "2026-11-29 14:29:54+00",
    "2026-03-29 01:30:00.000001+00",
    "2000-02-29 23:59:59.999999+05:30",  # another offset: the same instant, in UTC
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59+00",
]


def _read(sql_values: list[str]) -> list[datetime]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT v::timestamptz FROM unnest(%s::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n",
            [sql_values],
        )
        return [row[0] for row in cursor.fetchall()]


def _loader():
    connection.ensure_connection()
    return connection.connection.adapters.get_loader(
        connection.connection.adapters.types["timestamptz"].oid, 0
    )


def test_the_connection_reads_timestamps_with_the_iso_loader():
    loader = _loader()
    assert loader.__name__ == "IsoTimestamptzLoader"
    assert issubclass(loader, BaseTzLoader) and loader.timezone is connection.timezone


def test_values_equal_djangos_own_loader():
    ours = _read(VALUES)
    plain = type("DjangoLoader", (BaseTzLoader,), {"timezone": connection.timezone})
    connection.connection.adapters.register_loader("timestamptz", plain)
    try:
        theirs = _read(VALUES)
    finally:
        connection.close()  # the next connection gets ours again
    assert ours == theirs
    assert all(value.tzinfo is UTC for value in ours)
    assert ours[0] == datetime(2026, 11, 29, 14, 29, 54, 163370, tzinfo=UTC)
    offset = datetime(2000, 2, 29, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=5.5)))
    assert ours[3] == offset


def test_iso_values_never_reach_djangos_loader(monkeypatch):
    calls = []
    original = BaseTzLoader.load
    monkeypatch.setattr(
        BaseTzLoader, "load", lambda self, data: calls.append(1) or original(self, data)
    )
    assert len(_read(VALUES)) == len(VALUES)
    assert calls == []
    with pytest.raises(DataError):
        _read(["0044-03-15 12:00:00+00 BC"])
    assert calls == [1]  # the one value ISO cannot read


def test_what_iso_cannot_read_goes_to_djangos_loader():
    # A BC date is not ISO 8601: Django's loader (psycopg's parser) gets it, and refuses it
    # as it always has.
    with pytest.raises(DataError, match="BC"):
        _read(["0044-03-15 12:00:00+00 BC"])
