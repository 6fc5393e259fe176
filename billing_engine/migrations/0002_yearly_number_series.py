"""Yearly number series (INV-2026-000123, CN-2026-000007), numbered at issue.

The counters of the old series are carried over as closed series named by their numbers'
prefix: "engine-invoice" (numbers INV-000001 ...) becomes "INV", "adhoc-invoice" (AH-000001 ...)
becomes "AH", each keeping its last value. Issued numbers never change, nothing takes from a
closed series again, and `manage.py verify_numbering` still checks that its numbers run without
a gap up to the carried-over counter. New numbers come from the yearly rows (INV-<year>, CN-<year>),
created on first use.
"""

from django.db import migrations, models

LEGACY = {"engine-invoice": "INV", "adhoc-invoice": "AH"}


def carry_over(apps, schema_editor):
    NumberSequence = apps.get_model("billing_engine", "NumberSequence")
    for old, new in LEGACY.items():
        row = NumberSequence.objects.filter(name=old).first()
        if row is None:
            continue
        NumberSequence.objects.create(name=new, series=new, year=None, last_value=row.last_value)
        row.delete()


def carry_back(apps, schema_editor):
    NumberSequence = apps.get_model("billing_engine", "NumberSequence")
    for old, new in LEGACY.items():
        row = NumberSequence.objects.filter(name=new, year=None).first()
        if row is None:
            continue
        NumberSequence.objects.create(name=old, last_value=row.last_value)
        row.delete()


class Migration(migrations.Migration):
    dependencies = [("billing_engine", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="numbersequence",
            name="series",
            field=models.CharField(blank=True, help_text="INV or CN (AH: closed).", max_length=8),
        ),
        migrations.AddField(
            model_name="numbersequence",
            name="year",
            field=models.PositiveSmallIntegerField(
                blank=True,
                help_text="Empty: a closed series from before yearly numbering.",
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="numbersequence",
            name="last_value",
            field=models.PositiveIntegerField(default=0, help_text="The last number taken."),
        ),
        migrations.RunPython(carry_over, carry_back),
    ]
