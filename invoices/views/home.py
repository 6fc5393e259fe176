"""The home page, per role, and the 403 page."""

from django.shortcuts import render

from .. import selectors


def home(request):
    return render(request, "invoices/home.html", selectors.home_dashboard(request.user))


def permission_denied(request, exception=None):
    return render(request, "403.html", status=403)
