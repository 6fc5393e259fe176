from django.urls import path

from . import views, views_adhoc

app_name = "invoices"

urlpatterns = [
    path("invoices/new/", views.new_cycle, name="new_cycle"),
    path("invoices/new/submit", views.submit_cycle, name="submit_cycle"),
    path("invoices/adhoc/new/", views_adhoc.new_adhoc, name="new_adhoc"),
    path("invoices/mine/", views.mine, name="mine"),
    path("approvals/", views.inbox, name="inbox"),
    path("invoices/<int:pk>/", views.detail, name="detail"),
    path("invoices/<int:pk>/approve", views.approve, name="approve"),
    path("invoices/<int:pk>/retry", views.retry, name="retry"),
    path("invoices/<int:pk>/reject", views.reject, name="reject"),
    path("invoices/<int:pk>/withdraw", views.withdraw, name="withdraw"),
    path("invoices/<int:pk>/revise", views.revise, name="revise"),
]

from .urls_history import urlpatterns as history_urlpatterns  # noqa: E402

urlpatterns += history_urlpatterns
