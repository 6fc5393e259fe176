from django.urls import path

from .views import clerk, manager

app_name = "billruns"

urlpatterns = [
    # Clerks (and everyone who reads runs: the list and a run's page)
    path("billruns/", clerk.run_list, name="list"),
    path("billruns/new/", clerk.new_run, name="new"),
    path("billruns/plan", clerk.plan, name="plan"),
    path("billruns/<int:pk>/", clerk.run_page, name="run"),
    path("billruns/<int:pk>/launch", clerk.launch, name="launch"),
    path("billruns/<int:pk>/cancel", clerk.cancel, name="cancel"),
    path("billruns/<int:pk>/retry", clerk.retry_failed, name="retry"),
    # Managers
    path("billruns/<int:pk>/review", manager.review, name="review"),
    path("billruns/<int:pk>/review/approve", manager.approve_selected, name="approve_selected"),
    path("billruns/batches/<int:pk>/", manager.batch_page, name="batch"),
]
