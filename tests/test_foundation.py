"""Foundation: sign-in everywhere, roles, CSRF, security headers, deploy checks, throttling."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = {"login", "healthz"}


def _all_url_names(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin":
                continue
            ns = f"{prefix}{entry.namespace}:" if entry.namespace else prefix
            yield from _all_url_names(entry, ns)
        elif isinstance(entry, URLPattern) and entry.name:
            yield prefix + entry.name, entry


def _url_for(name, pattern):
    kwargs = {k: "1" for k in pattern.pattern.regex.groupindex}
    return reverse(name, kwargs=kwargs)


APP_URLS = sorted(
    (name, _url_for(name, pattern)) for name, pattern in _all_url_names() if name not in PUBLIC
)


def test_there_are_app_urls_to_check():
    assert len(APP_URLS) >= 2


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "url"), APP_URLS)
def test_anonymous_is_sent_to_sign_in(client, name, url):
    response = client.get(url)
    assert response.status_code == 302, name
    assert response.url.startswith(reverse("login") + "?next=")


@pytest.mark.django_db
def test_admin_requires_sign_in(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "login" in response.url


@pytest.mark.django_db
def test_healthz_answers_without_sign_in(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.django_db
def test_sign_in_page_is_the_projects_own(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b"Billing Admin" in response.content
    assert b'autocomplete="current-password"' in response.content


@pytest.mark.django_db
def test_sign_in_and_out(client, clerk):
    response = client.post(reverse("login"), {"username": "clerk", "password": "pw-clerk"})
    assert response.status_code == 302
    assert response.url == reverse("home")
    assert client.get(reverse("home")).status_code == 200
    # Sign-out is a POST; a GET is refused.
    assert client.get(reverse("logout")).status_code == 405
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("home")).status_code == 302


@pytest.mark.django_db
def test_wrong_password_shows_an_error_not_a_crash(client, clerk):
    response = client.post(reverse("login"), {"username": "clerk", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


@pytest.mark.django_db
def test_failed_sign_ins_are_throttled(client, clerk, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "clerk", "password": "wrong"})
    # Even the right password is refused during the cool-off.
    response = client.post(reverse("login"), {"username": "clerk", "password": "pw-clerk"})
    assert response.status_code == 429
    assert b"Too many failed sign-ins" in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_throttle_is_per_account(client, clerk, clerk2, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "clerk", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "clerk2", "password": "pw-clerk2"})
    assert response.status_code == 302


@pytest.mark.django_db
def test_post_without_csrf_token_is_refused(clerk):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clerk)
    assert client.post(reverse("logout")).status_code == 403


@pytest.mark.django_db
def test_htmx_post_without_csrf_token_is_refused(clerk):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clerk)
    response = client.post(reverse("logout"), headers={"HX-Request": "true"})
    assert response.status_code == 403
    assert b"This form has expired" in response.content


@pytest.mark.django_db
def test_htmx_post_with_csrf_header_is_accepted(clerk):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clerk)
    page = client.get(reverse("home"))
    token = page.context["csrf_token"]
    # base.html sends the token in the X-CSRFToken header on every htmx request.
    assert f'"X-CSRFToken": "{token}"'.encode() in page.content
    response = client.post(
        reverse("logout"), headers={"HX-Request": "true", "X-CSRFToken": str(token)}
    )
    assert response.status_code == 302


@pytest.mark.django_db
def test_pages_carry_a_strict_content_security_policy(client, clerk):
    client.force_login(clerk)
    response = client.get(reverse("home"))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert b"<script>" not in response.content  # no inline script anywhere
    assert response["X-Request-ID"]
    assert response["X-Frame-Options"] == "DENY"


def _run_manage(*args, env_overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env.update(env_overrides)
    env["DJANGO_SETTINGS_MODULE"] = "billing_admin.settings"
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION_ENV = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "x7Qp-3mZr9LwT2vKc8YhN5bJd4FgS6aUe1oIiRtXyWqEsDfGhJkLzXcVbNm0PoAs",
    "DJANGO_ALLOWED_HOSTS": "billing.example.com",
}


def test_check_deploy_is_clean_with_production_settings():
    result = _run_manage(
        "check", "--deploy", "--fail-level", "WARNING", env_overrides=PRODUCTION_ENV
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("command", ["check", "migrate", "runserver"])
def test_missing_secret_key_with_debug_off_is_a_clear_startup_error(command):
    env = {**PRODUCTION_ENV, "DJANGO_SECRET_KEY": ""}
    result = _run_manage(command, env_overrides=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_a_bare_checkout_can_check_for_missing_migrations():
    """Debug off, no key, no hosts (set empty so that a local .env cannot fill them in)."""
    bare = {"DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": "", "DJANGO_ALLOWED_HOSTS": ""}
    result = _run_manage("makemigrations", "--check", "--dry-run", env_overrides=bare)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout


def test_missing_allowed_hosts_with_debug_off_is_a_clear_startup_error():
    env = {**PRODUCTION_ENV, "DJANGO_ALLOWED_HOSTS": ""}
    result = _run_manage("check", env_overrides=env)
    assert result.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS is empty" in result.stderr


@pytest.mark.django_db
def test_seed_demo_refuses_with_debug_off():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="refuses to run with DJANGO_DEBUG off"):
        call_command("seed_demo")


@pytest.mark.django_db
def test_migrations_are_committed():
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db
def test_seed_demo_creates_users_data_and_a_history_and_is_idempotent(settings):
    from io import StringIO

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from billing_engine.models import Contract
    from invoices.audit import audit_verify
    from invoices.models import AuditEvent, Invoice

    settings.DEBUG = True

    def run():
        out = StringIO()
        call_command("seed_demo", stdout=out)
        return out.getvalue()

    first = run()
    assert "clerk2" in first and "billing-demo" in first
    users = set(get_user_model().objects.values_list("username", flat=True))
    assert {"clerk", "clerk2", "manager", "manager2", "auditor", "admin", "deputy"} <= users
    assert not get_user_model().objects.get(username="deputy").groups.exists()
    assert "USD invoices of 5,000.00 or more need two approvals" in first
    assert get_user_model().objects.get(username="admin").is_superuser
    assert get_user_model().objects.get(username="clerk").check_password("billing-demo")
    assert Contract.objects.count() >= 120
    statuses = set(Invoice.objects.values_list("status", flat=True))
    assert {"pending_approval", "approved", "rejected"} <= statuses
    before = (
        Contract.objects.count(),
        list(Invoice.objects.order_by("id").values_list("id", "status", "content_hash")),
        AuditEvent.objects.count(),
    )
    second = run()
    assert "already there" in second
    after = (
        Contract.objects.count(),
        list(Invoice.objects.order_by("id").values_list("id", "status", "content_hash")),
        AuditEvent.objects.count(),
    )
    assert before == after
    assert audit_verify().ok


@pytest.mark.django_db
def test_a_database_outage_is_a_clear_503_not_a_crash(clerk, monkeypatch):
    from django.db import OperationalError

    from invoices import selectors

    client = Client(raise_request_exception=False)
    client.force_login(clerk)

    def down(*args, **kwargs):
        raise OperationalError("connection to server failed: the database system is shutting down")

    monkeypatch.setattr(selectors, "my_invoices", down)
    response = client.get(reverse("invoices:mine"))
    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    assert b"cannot reach its database" in response.content


@pytest.mark.django_db
def test_an_unexpected_error_is_the_plain_500_page(clerk, monkeypatch):
    from invoices import selectors

    client = Client(raise_request_exception=False)
    client.force_login(clerk)
    monkeypatch.setattr(selectors, "my_invoices", lambda *a, **k: 1 / 0)
    response = client.get(reverse("invoices:mine"))
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content


NAV_BY_ROLE = {
    "clerk": {"Home", "New invoice", "New ad-hoc invoice", "My invoices", "Bill runs", "History"},
    "manager": {"Home", "Approvals", "Absences", "Bill runs", "History"},
    "auditor": {"Home", "Bill runs", "History", "Audit log", "Invoice PDFs", "Admin"},
    "outsider": {"Home"},
    "superuser": {
        "Home",
        "New invoice",
        "New ad-hoc invoice",
        "My invoices",
        "Approvals",
        "Absences",
        "Bill runs",
        "History",
        "Audit log",
        "Invoice PDFs",
        "Admin",
    },
}


@pytest.mark.django_db
@pytest.mark.parametrize("who", sorted(NAV_BY_ROLE))
def test_each_role_sees_the_navigation_of_what_it_may_do(client, request, who):
    import re

    client.force_login(request.getfixturevalue(who))
    html = client.get(reverse("home")).content.decode()
    nav = html[html.index('<nav aria-label="Main">') : html.index("</nav>")]
    labels = set(re.findall(r">([^<>]+)</a>", nav))
    assert labels == NAV_BY_ROLE[who]


# Pages each role may open (GET); every other app page answers 403 for that role.
ALLOWED_PAGES = {
    "clerk": {
        "invoices:new_cycle",
        "invoices:new_adhoc",
        "invoices:mine",
        "invoices:history",
        "billruns:list",
        "billruns:new",
    },
    "manager": {"invoices:inbox", "invoices:history", "billruns:list", "policies:absences"},
    "auditor": {
        "billruns:list",
        "invoices:history",
        "invoices:audit",
        "invoices:history_export",
        "invoices:audit_export",
        "documents:index",
        "documents:zip",
    },
    "outsider": set(),
}
GET_PAGES = [
    "invoices:new_cycle",
    "invoices:new_adhoc",
    "invoices:mine",
    "invoices:inbox",
    "invoices:history",
    "invoices:history_export",
    "invoices:audit",
    "invoices:audit_export",
    "documents:index",
    "documents:zip",
    "policies:absences",
    "billruns:list",
    "billruns:new",
]


@pytest.mark.django_db
@pytest.mark.parametrize("who", sorted(ALLOWED_PAGES))
def test_a_page_outside_ones_role_answers_403(client, request, who):
    client.force_login(request.getfixturevalue(who))
    allowed = ALLOWED_PAGES[who] | (
        {"invoices:history_export"} if "invoices:history" in ALLOWED_PAGES[who] else set()
    )
    for name in GET_PAGES:
        status = client.get(reverse(name)).status_code
        assert status == (200 if name in allowed else 403), (who, name, status)
