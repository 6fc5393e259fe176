from datetime import timedelta

from django.db import migrations
from django.db.models import F


def forwards(apps, schema_editor):
    """Ad-hoc invoices (and corrections of them, which copy the period) stored the last day of
    their period as `period_end`; every other invoice stores the window's exclusive end. Make
    them alike: the day after the last day, at midnight UTC."""
    Invoice = apps.get_model("invoices", "Invoice")
    adhoc = Invoice.objects.filter(kind="adhoc", period_end__isnull=False)
    corrections = Invoice.objects.filter(corrects__kind="adhoc", period_end__isnull=False)
    ids = list(adhoc.values_list("pk", flat=True)) + list(corrections.values_list("pk", flat=True))
    Invoice.objects.filter(pk__in=ids).update(period_end=F("period_end") + timedelta(days=1))


def backwards(apps, schema_editor):
    Invoice = apps.get_model("invoices", "Invoice")
    adhoc = Invoice.objects.filter(kind="adhoc", period_end__isnull=False)
    corrections = Invoice.objects.filter(corrects__kind="adhoc", period_end__isnull=False)
    ids = list(adhoc.values_list("pk", flat=True)) + list(corrections.values_list("pk", flat=True))
    Invoice.objects.filter(pk__in=ids).update(period_end=F("period_end") - timedelta(days=1))


class Migration(migrations.Migration):
    dependencies = [("invoices", "0011_invoice_run_id")]

    operations = [migrations.RunPython(forwards, backwards)]
