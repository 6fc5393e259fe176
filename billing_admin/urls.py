from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from billing_admin.views import healthz
from invoices.views.home import home

urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(settings.ADMIN_URL_PREFIX, admin.site.urls),
    path("", include("invoices.urls")),
    path("", include("documents.urls")),
    path("", include("policies.urls")),
    path("", include("billruns.urls")),
]

handler403 = "invoices.views.home.permission_denied"
handler500 = "billing_admin.views.server_error"
