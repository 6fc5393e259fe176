"""Shared fixtures: personas, a browser that is Debian's Chromium, and the CI skip guard."""

import importlib
import os
import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from invoices import roles

# Playwright's sync API runs an event loop in the test thread; Django's ORM would refuse to run
# there. Tests only: the application itself never sets this.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with empty caches (cycle lists, throttle, country look-ups, the
    process's list of accounts)."""
    from django.core.cache import caches

    for kept in caches.all(initialized_only=True):
        kept.clear()
    yield
    for kept in caches.all(initialized_only=True):
        kept.clear()


# --- personas -------------------------------------------------------------------------------
def _ensure_roles():
    """Transactional tests (live_server) flush the tables, groups included: recreate them with
    the very function the data migration runs."""
    if Group.objects.filter(name=roles.CLERKS).exists():
        return
    from django.apps import apps

    migration = importlib.import_module("invoices.migrations.0002_roles_and_audit_guards")
    migration.create_roles(apps, None)


def _make_user(django_user_model, username, group=None, **extra):
    _ensure_roles()
    user = django_user_model.objects.create_user(
        username=username,
        password="pw-" + username,
        email=f"{username}@example.com",
        first_name=username.capitalize(),
        **extra,
    )
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def clerk(django_user_model):
    return _make_user(django_user_model, "clerk", roles.CLERKS)


@pytest.fixture
def clerk2(django_user_model):
    return _make_user(django_user_model, "clerk2", roles.CLERKS)


@pytest.fixture
def manager(django_user_model):
    return _make_user(django_user_model, "manager", roles.MANAGERS)


@pytest.fixture
def manager2(django_user_model):
    return _make_user(django_user_model, "manager2", roles.MANAGERS)


@pytest.fixture
def auditor(django_user_model):
    return _make_user(django_user_model, "auditor", roles.AUDITORS)


@pytest.fixture
def outsider(django_user_model):
    """Signed in, but in no group."""
    return _make_user(django_user_model, "outsider")


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser(
        username="root", password="pw-root", email="root@example.com"
    )


@pytest.fixture
def client_for(client):
    """client_for(user) -> a test client signed in as that user."""

    def _client_for(user):
        client.force_login(user)
        return client

    return _client_for


# --- browser --------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
        )
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture
def artifacts(request):
    """A folder for this test's screenshots (kept as CI artifacts)."""
    folder = ARTIFACTS / "screenshots" / request.node.name.replace("/", "_")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# --- CI guard -------------------------------------------------------------------------------
_skipped: list[tuple[str, str]] = []
_ran_browser = []


def pytest_runtest_logreport(report):
    if report.skipped:
        reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
        _skipped.append((report.nodeid, reason))
    elif report.when == "call" and "browser" in report.keywords:
        _ran_browser.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    """With BILLING_CI_STRICT=1, a skipped browser or PostgreSQL test fails the run.

    On SQLite, tests marked `postgres` skip (they need real row locks); everything else must run.
    """
    if os.environ.get("BILLING_CI_STRICT") != "1":
        return
    from django.db import connection

    allowed = "needs PostgreSQL" if connection.vendor == "sqlite" else None
    bad = [(node, why) for node, why in _skipped if not (allowed and allowed in why)]
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    if bad:
        for node, why in bad:
            tr.write_line(f"CI: skipped test not allowed: {node}: {why}", red=True)
        session.exitstatus = 1
    if not _ran_browser and not session.config.option.keyword:
        tr.write_line("CI: no browser test ran", red=True)
        session.exitstatus = 1
    if os.environ.get("BILLING_CI_EXPECT_DB") and connection.vendor != os.environ.get(
        "BILLING_CI_EXPECT_DB"
    ):
        tr.write_line(
            f"CI: expected the {os.environ['BILLING_CI_EXPECT_DB']} database, "
            f"ran on {connection.vendor}",
            red=True,
        )
        session.exitstatus = 1
