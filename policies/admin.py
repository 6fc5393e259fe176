"""Approval rules are edited by superusers here (every change audited); absences and reminders
are shown read-only to those who may read the audit trail."""

from decimal import Decimal

from django.contrib import admin
from django.db import transaction
from django.forms.models import model_to_dict

from invoices import roles
from invoices.admin import ReadOnlyAdmin
from invoices.audit import audit_record

from .models import Absence, ApprovalRule, Reminder


def _snapshot(rule: ApprovalRule) -> dict:
    data = model_to_dict(rule)
    # The column's own precision, whether read back or just typed.
    data["threshold"] = (
        None if rule.threshold is None else str(Decimal(rule.threshold).quantize(Decimal("0.001")))
    )
    return data


@admin.register(ApprovalRule)
class ApprovalRuleAdmin(admin.ModelAdmin):
    list_display = [
        "order",
        "name",
        "active",
        "kind",
        "currency",
        "threshold",
        "customer_id",
        "stages",
    ]
    list_display_links = ["name"]
    list_editable = ["order", "active"]
    ordering = ["order", "id"]
    fields = ["order", "name", "active", "kind", "currency", "threshold", "customer_id", "stages"]

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or request.user.has_perm(roles.AUDIT)

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):
        before = _snapshot(ApprovalRule.objects.get(pk=obj.pk)) if change else {}
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            after = _snapshot(obj)
            changed = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
            audit_record(
                actor=request.user,
                action="policy.rule_changed" if change else "policy.rule_added",
                data={"rule": obj.pk, "name": obj.name, "changes": changed},
            )

    def delete_model(self, request, obj):
        with transaction.atomic():
            audit_record(
                actor=request.user,
                action="policy.rule_deleted",
                data={"rule": obj.pk, "was": _snapshot(obj)},
            )
            super().delete_model(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # one at a time, each audited
        return actions


class ReadOnly(ReadOnlyAdmin):
    """The auditors' read-only window, as for invoices (no CSV export here)."""

    actions = []


@admin.register(Absence)
class AbsenceAdmin(ReadOnly):
    list_display = ["manager", "delegate", "starts_on", "ends_on", "cancelled_at", "created_at"]
    list_filter = ["starts_on"]


@admin.register(Reminder)
class ReminderAdmin(ReadOnly):
    list_display = ["invoice", "level", "created_at", "sent_at", "attempts", "last_error"]
    list_filter = ["level"]
