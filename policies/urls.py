from django.urls import path

from . import views

app_name = "policies"

urlpatterns = [
    path("approvals/absences/", views.absences_page, name="absences"),
    path("approvals/absences/<int:pk>/cancel", views.cancel_absence, name="cancel_absence"),
]
