"""Stored invoice documents are append-only in the database too, whoever writes.

As for audit events (invoices 0002): PostgreSQL refuses UPDATE and DELETE with a trigger;
SQLite refuses UPDATE (Django's test flush deletes rows on SQLite, and PostgreSQL's uses
TRUNCATE, which row triggers do not see). `manage.py verify_documents` detects what a database
administrator changes anyway.
"""

from django.db import migrations

PG_GUARD = """
CREATE OR REPLACE FUNCTION documents_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'stored invoice documents are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER documents_invoicedocument_no_update BEFORE UPDATE OR DELETE
  ON documents_invoicedocument FOR EACH ROW EXECUTE FUNCTION documents_append_only();
"""
PG_UNGUARD = """
DROP TRIGGER IF EXISTS documents_invoicedocument_no_update ON documents_invoicedocument;
DROP FUNCTION IF EXISTS documents_append_only();
"""
SQLITE_GUARD = """
CREATE TRIGGER documents_invoicedocument_no_update BEFORE UPDATE ON documents_invoicedocument
BEGIN SELECT RAISE(ABORT, 'stored invoice documents are append-only'); END;
"""
SQLITE_UNGUARD = "DROP TRIGGER IF EXISTS documents_invoicedocument_no_update;"


def add_guard(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_GUARD)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_GUARD)


def remove_guard(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_UNGUARD)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_UNGUARD)


class Migration(migrations.Migration):
    dependencies = [("documents", "0001_initial")]

    operations = [migrations.RunPython(add_guard, remove_guard)]
