"""Helpers shared by test modules."""

import os
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

needs_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres", "pgsql")),
    reason="needs PostgreSQL (row locks and real concurrency); set DATABASE_URL",
)


@contextmanager
def count_queries():
    """with count_queries() as q: ...; len(q) is the number of SQL queries run."""
    with CaptureQueriesContext(connection) as ctx:
        yield ctx
