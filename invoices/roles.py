"""Roles are Django groups with custom permissions, created by migration 0002 (which holds
the group -> permission mapping)."""

CLERKS = "Billing clerks"
MANAGERS = "Billing managers"
AUDITORS = "Auditors"

SUBMIT = "invoices.submit_invoice"
APPROVE = "invoices.approve_invoice"
HISTORY = "invoices.view_history"
AUDIT = "invoices.view_audit"


def holders(perm: str):
    """The active users who hold `perm` (through a group, directly, or as superusers): one
    query, for the e-mails that go to a role (managers) rather than to a person."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    codename = perm.split(".", 1)[1]
    held = Q(groups__permissions__codename=codename) | Q(user_permissions__codename=codename)
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(held | Q(is_superuser=True))
        .distinct()
    )
