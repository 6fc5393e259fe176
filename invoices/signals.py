"""Sign-in, sign-out and failed sign-ins go into the audit trail; a saved or deleted account
refreshes this process's list of accounts."""

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .audit import audit_record
from .selectors.lists import forget_accounts

# The filter forms' list of accounts, kept per process for seconds (selectors.user_choices).
post_save.connect(forget_accounts, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts_saved")
post_delete.connect(
    forget_accounts, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts_deleted"
)


@receiver(user_logged_in, dispatch_uid="audit_login")
def _audit_login(sender, request, user, **kwargs):
    with transaction.atomic():
        audit_record(actor=user, action="auth.signed_in")


@receiver(user_logged_out, dispatch_uid="audit_logout")
def _audit_logout(sender, request, user, **kwargs):
    if user is None:
        return
    with transaction.atomic():
        audit_record(actor=user, action="auth.signed_out")


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def _audit_login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:150]
    with transaction.atomic():
        audit_record(actor=None, action="auth.sign_in_failed", data={"username": username})
