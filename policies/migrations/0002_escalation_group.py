from django.db import migrations

GROUP = "Billing escalations"


def create(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name=GROUP)


def remove(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP, user__isnull=True).delete()


class Migration(migrations.Migration):
    """The group escalations go to (APPROVAL_ESCALATION_GROUP's default): add people to it in
    the admin."""

    dependencies = [("policies", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(create, remove)]
