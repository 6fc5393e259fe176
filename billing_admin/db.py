"""A faster reader of PostgreSQL timestamps (timestamptz) for Django on psycopg 3.

Django reads every timestamptz through psycopg's pure-Python parser and then swaps in its own
time zone (django.db.backends.postgresql.psycopg_any.BaseTzLoader). A history page reads 200 of
them (four per row) and the CSV export four per row: about 2.5 us each. PostgreSQL writes them
in ISO 8601 ("2026-11-29 14:29:54.16337+00", Django's connections keep the default DateStyle),
which Python's C `datetime.fromisoformat` reads in a fifth of the time. Anything it cannot read
(BC dates, infinity) goes to Django's own loader, so the values are the same
(tests/test_db_timestamps.py compares both).

Installed per new connection (connection_created, from BillingAdminConfig.ready). It stays a
subclass of Django's loader with the same `timezone`, so Django's per-cursor check of the
loader's time zone (DatabaseWrapper.create_cursor) keeps it.
"""

from __future__ import annotations

from datetime import datetime

from django.db.backends.signals import connection_created


def _loader_for(zone):
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader

    class IsoTimestamptzLoader(BaseTzLoader):
        timezone = zone

        def load(self, data):
            try:
                return datetime.fromisoformat(bytes(data).decode()).astimezone(zone)
            except ValueError:
                return super().load(data)

    return IsoTimestamptzLoader


def install(sender, connection, **kwargs) -> None:
    """connection_created: give a new PostgreSQL connection the faster timestamptz loader."""
    if connection.vendor != "postgresql" or connection.timezone is None:
        return
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    if not is_psycopg3:
        return
    connection.connection.adapters.register_loader("timestamptz", _loader_for(connection.timezone))


def connect() -> None:
    connection_created.connect(install, dispatch_uid="billing_admin.db.iso_timestamps")
