from django.urls import path

from .views import adhoc, clerk, corrections, decisions, history

app_name = "invoices"

urlpatterns = [
    # Clerks
    path("invoices/new/", clerk.new_cycle, name="new_cycle"),
    path("invoices/new/submit", clerk.submit_cycle, name="submit_cycle"),
    path("invoices/adhoc/new/", adhoc.new_adhoc, name="new_adhoc"),
    path("invoices/mine/", clerk.mine, name="mine"),
    path("invoices/<int:pk>/revise", clerk.revise, name="revise"),
    path("invoices/<int:pk>/correct", corrections.request_correction, name="correct"),
    path("invoices/<int:pk>/reissue", corrections.reissue, name="reissue"),
    # Managers (and the submitter's withdraw): the invoice page and its actions
    path("approvals/", decisions.inbox, name="inbox"),
    path("invoices/<int:pk>/", decisions.detail, name="detail"),
    *(
        path(f"invoices/<int:pk>/{action}", decisions.decide, {"action": action}, name=action)
        for action in decisions.DECISIONS
    ),
    # Everyone who reads history
    path("history/", history.history_list, name="history"),
    path("history/export.csv", history.history_export, name="history_export"),
    path("audit/", history.audit_log, name="audit"),
    path("audit/export.csv", history.audit_export, name="audit_export"),
    path("contracts/<path:contract_id>/coverage", history.coverage, name="coverage"),
]
