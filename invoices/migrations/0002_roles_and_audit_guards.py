"""Roles as groups with permissions, the audit chain's head row, and append-only guards."""

from django.db import migrations

GROUP_PERMISSIONS = {
    "Billing clerks": ["submit_invoice", "view_history"],
    "Billing managers": ["approve_invoice", "view_history"],
    "Auditors": ["view_history", "view_audit", "view_invoice", "view_auditevent"],
}


def create_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations ran; the groups need them now.
    app_config = apps.get_app_config("invoices")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        perms = Permission.objects.filter(
            content_type__app_label="invoices", codename__in=codenames
        )
        group.permissions.add(*perms)

    AuditChainHead = apps.get_model("invoices", "AuditChainHead")
    AuditChainHead.objects.get_or_create(pk=1)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUP_PERMISSIONS).delete()


PG_GUARD = """
CREATE OR REPLACE FUNCTION invoices_audit_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit events are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER invoices_auditevent_no_update BEFORE UPDATE OR DELETE ON invoices_auditevent
  FOR EACH ROW EXECUTE FUNCTION invoices_audit_append_only();
"""
PG_UNGUARD = """
DROP TRIGGER IF EXISTS invoices_auditevent_no_update ON invoices_auditevent;
DROP FUNCTION IF EXISTS invoices_audit_append_only();
"""
# SQLite: updates are refused; deletes stay possible because Django's test flush uses DELETE
# (PostgreSQL's uses TRUNCATE, which row triggers do not see). verify_audit detects deletions.
SQLITE_GUARD = """
CREATE TRIGGER invoices_auditevent_no_update BEFORE UPDATE ON invoices_auditevent
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
"""
SQLITE_UNGUARD = "DROP TRIGGER IF EXISTS invoices_auditevent_no_update;"


def add_guards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_GUARD)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_GUARD)


def remove_guards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_UNGUARD)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_UNGUARD)


class Migration(migrations.Migration):
    dependencies = [
        ("invoices", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(create_roles, remove_roles),
        migrations.RunPython(add_guards, remove_guards),
    ]
