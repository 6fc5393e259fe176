"""History, audit log, exports and contract coverage pages."""

from django.urls import path

from . import views_history

urlpatterns: list = [
    path("history/", views_history.history_list, name="history"),
    path("history/export.csv", views_history.history_export, name="history_export"),
    path("audit/", views_history.audit_log, name="audit"),
    path("audit/export.csv", views_history.audit_export, name="audit_export"),
    path("contracts/<path:contract_id>/coverage", views_history.coverage, name="coverage"),
]
