"""Auditors may read (never change) the embedded engine's records in the admin too."""

from django.db import migrations


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("billing_engine")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    auditors = Group.objects.filter(name="Auditors").first()
    if auditors is not None:
        auditors.permissions.add(
            *Permission.objects.filter(
                content_type__app_label="billing_engine", codename__startswith="view_"
            )
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    auditors = Group.objects.filter(name="Auditors").first()
    if auditors is not None:
        auditors.permissions.remove(
            *auditors.permissions.filter(content_type__app_label="billing_engine")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("invoices", "0006_sent_back_index"),
        ("billing_engine", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
