"""Bill runs in the auditors' read-only window (the same rules as invoices' admin)."""

from django.contrib import admin

from invoices.admin import ReadOnlyAdmin

from .models import BatchApproval, BatchApprovalItem, BillRun, BillRunItem


class _ReadOnly(ReadOnlyAdmin):
    actions = []
    show_full_result_count = False


@admin.register(BillRun)
class BillRunAdmin(_ReadOnly):
    list_display = ("id", "status", "through", "currency", "backend", "created_by", "created_at",
                    "launched_by", "launched_at", "finished_at")  # fmt: skip
    list_filter = ("status", "backend", "created_at")
    list_select_related = ("created_by", "launched_by")
    ordering = ("-id",)


@admin.register(BillRunItem)
class BillRunItemAdmin(_ReadOnly):
    list_display = ("id", "run", "status", "contract_name", "customer_name", "cycle_name",
                    "cycle_bill_for_date", "attempts", "invoice", "message")  # fmt: skip
    list_filter = ("status",)
    search_fields = ("contract_name", "customer_name", "contract_id", "=run__id")
    list_select_related = ("run",)
    raw_id_fields = ("run", "invoice")
    ordering = ("-id",)


@admin.register(BatchApproval)
class BatchApprovalAdmin(_ReadOnly):
    list_display = ("id", "run", "status", "created_by", "created_at", "finished_at")
    list_select_related = ("run", "created_by")
    ordering = ("-id",)


@admin.register(BatchApprovalItem)
class BatchApprovalItemAdmin(_ReadOnly):
    list_display = ("id", "batch", "invoice", "status", "message")
    list_filter = ("status",)
    raw_id_fields = ("batch", "invoice")
    ordering = ("-id",)
