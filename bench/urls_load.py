"""The project's URLs plus `/bench/bare`: one indexed query and a tiny response, without sign-in.

It runs through the whole middleware stack (sessions, CSRF, auth, CSP, request log), so the ratio
of a page's latency to this one's shows what the page itself costs on top of the framework.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET

from billing_admin.urls import handler403, handler500
from billing_admin.urls import urlpatterns as project_urlpatterns


@require_GET
@login_not_required
def bare(request):
    """One query on a unique index (auth_user.username), then a few bytes of text."""
    user = get_user_model().objects.filter(username="bench_bare").only("pk").first()
    return HttpResponse(f"ok {user.pk if user else 0}\n", content_type="text/plain")


urlpatterns = [path("bench/bare", bare, name="bench_bare"), *project_urlpatterns]

__all__ = ["handler403", "handler500", "urlpatterns"]
