"""The auditors' read-only window: invoices and audit events, for everyone read-only."""

from django.contrib import admin
from django.utils import timezone

from . import exports, money, roles
from .exports import csv_response
from .models import AuditEvent, Invoice


class ReadOnlyAdmin(admin.ModelAdmin):
    """No add, change or delete — not even for superusers. The records change only through the
    application's services, and the audit trail never changes."""

    actions = ["export_csv"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and (
            request.user.is_superuser or request.user.has_perm(roles.AUDIT)
        )

    def has_module_permission(self, request):
        # Listed on the admin's index for whoever may read it (auditors hold no permission of
        # the apps built on invoices: bill runs, approval policies).
        return self.has_view_permission(request)

    def has_export_permission(self, request):
        return request.user.has_perm(roles.AUDIT)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description="Export selected as CSV", permissions=["export"])
    def export_csv(self, request, queryset):
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        return csv_response(
            f"{self.model._meta.model_name}-{stamp}.csv",
            self.csv_header,
            self.csv_rows(queryset),
        )


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "kind",
        "status",
        "contract_name",
        "customer_name",
        "cycle_name",
        "currency",
        "total_display",
        "submitted_by",
        "submitted_at",
        "decided_by",
    )
    list_filter = ("status", "kind", "backend", "currency", "submitted_at")
    search_fields = ("contract_name", "customer_name", "upstream_number", "upstream_id", "=id")
    list_select_related = ("submitted_by", "decided_by")
    date_hierarchy = "submitted_at"
    ordering = ("-submitted_at", "-id")
    show_full_result_count = False

    csv_header = exports.HISTORY_CSV_HEADER

    @admin.display(description="Total", ordering="total_minor")
    def total_display(self, obj):
        return money.format_money(obj.total_minor, obj.currency)

    def csv_rows(self, queryset):
        return exports.invoice_csv_rows(queryset.order_by("id"))


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("seq", "at", "actor_username", "action", "invoice", "from_status",
                    "to_status", "reason", "ip", "request_id")  # fmt: skip
    list_filter = ("action", "at")
    search_fields = ("actor_username", "action", "reason", "request_id", "=invoice__id")
    ordering = ("-seq",)
    date_hierarchy = "at"
    show_full_result_count = False

    csv_header = exports.AUDIT_CSV_HEADER

    def csv_rows(self, queryset):
        return exports.audit_event_csv_rows(queryset.order_by("seq"))
