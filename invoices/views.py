"""Thin views: validate with a form, call a service or selector, render or redirect."""

from django.shortcuts import render


def permission_denied(request, exception=None):
    return render(request, "403.html", status=403)


def home(request):
    return render(request, "invoices/home.html", {})
