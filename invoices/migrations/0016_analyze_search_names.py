"""Planner statistics for the search names 0015 back-filled.

Without them PostgreSQL takes the table for empty and reads all of it rather than use its
trigram index (10 ms a history search at 30,000 names, instead of under one) until autovacuum
gets round to it, which on a busy database or right after a large load can take many minutes.
"""

from django.db import migrations


def analyze(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ANALYZE invoices_searchname")


class Migration(migrations.Migration):
    dependencies = [("invoices", "0015_search_names")]

    operations = [migrations.RunPython(analyze, migrations.RunPython.noop, elidable=True)]
