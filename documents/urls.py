from django.urls import path

from . import views

app_name = "documents"

urlpatterns = [
    # Whoever may read the invoice
    path("invoices/<int:pk>/document.pdf", views.download, name="download"),
    path("invoices/<int:pk>/document-copy.pdf", views.copy, name="copy"),
    path("invoices/<int:pk>/document-panel", views.panel, name="panel"),
    # Auditors
    path("documents/", views.index, name="index"),
    path("documents/invoice-pdfs.zip", views.zip_export, name="zip"),
]
