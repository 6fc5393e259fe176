"""billing_admin.auth.RolesBackend: Django's ModelBackend answers, in one query per request."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission

from billing_admin.auth import RolesBackend, role_names
from invoices import roles

pytestmark = pytest.mark.django_db


def _fresh(user):
    """The user as the next request loads it: no permission cache yet."""
    return get_user_model().objects.get(pk=user.pk)


def _as_seen_by(backend, user):
    """(own, through groups, all) permissions of `user` as `backend` answers a fresh request."""
    fresh = _fresh(user)
    return (
        backend.get_user_permissions(fresh),
        backend.get_group_permissions(fresh),
        backend.get_all_permissions(fresh),
    )


def _as_model_backend_sees(user):
    return _as_seen_by(ModelBackend(), user)


def _as_roles_backend_sees(user):
    return _as_seen_by(RolesBackend(), user)


@pytest.fixture
def mixed(django_user_model, clerk):
    """A clerk who is also an auditor, holds one permission directly, and is in an empty group."""
    clerk.groups.add(Group.objects.get(name=roles.AUDITORS), Group.objects.create(name="Empty"))
    clerk.user_permissions.add(Permission.objects.get(codename="approve_invoice"))
    return clerk


def test_the_same_permissions_as_djangos_model_backend(mixed, manager, outsider, superuser):
    for user in (mixed, manager, outsider, superuser):
        assert _as_roles_backend_sees(user) == _as_model_backend_sees(user), user.username
    user_perms, group_perms, _all = _as_roles_backend_sees(mixed)
    assert user_perms == {roles.APPROVE}
    assert {roles.SUBMIT, roles.AUDIT} <= group_perms
    assert roles.APPROVE not in group_perms


def test_permissions_and_roles_in_one_query(mixed, django_assert_num_queries):
    import billing_admin.auth

    billing_admin.auth._APP_LABELS.clear()  # a new process: app labels read once, then kept
    first = _fresh(mixed)
    with django_assert_num_queries(2):
        assert first.has_perm(roles.SUBMIT)
    user = _fresh(mixed)
    with django_assert_num_queries(1):
        assert user.has_perm(roles.SUBMIT)
        assert user.has_perm(roles.APPROVE)
        assert not user.has_perm("invoices.no_such_permission")
        assert role_names(user) == ("Auditors", roles.CLERKS, "Empty")


def test_role_names_without_permissions_asked_first(mixed, django_assert_num_queries):
    user = _fresh(mixed)
    with django_assert_num_queries(1):
        assert role_names(user) == ("Auditors", roles.CLERKS, "Empty")


def test_inactive_people_hold_nothing(clerk):
    clerk.is_active = False
    clerk.save()
    assert _as_roles_backend_sees(clerk) == (set(), set(), set())
    assert not _fresh(clerk).has_perm(roles.SUBMIT)


def test_a_role_taken_away_applies_to_the_next_request(client, clerk):
    client.force_login(clerk)
    assert client.get("/invoices/new/").status_code == 200
    clerk.groups.clear()
    assert client.get("/invoices/new/").status_code == 403


def test_the_header_names_the_readers_roles(client, mixed):
    client.force_login(mixed)
    page = client.get("/").content.decode()
    assert "Signed in as <strong>clerk</strong> (Auditors, Billing clerks, Empty)" in page


def test_the_header_of_someone_without_a_role(client, outsider):
    client.force_login(outsider)
    page = client.get("/").content.decode()
    assert "Signed in as <strong>outsider</strong></span>" in page


def test_sign_in_and_sessions_stay_with_djangos_model_backend(client, clerk, monkeypatch):
    """Sessions name the backend that signed their person in; every session from before
    RolesBackend names ModelBackend, and so do new ones. A wrong password is checked once."""
    from django.contrib.auth import BACKEND_SESSION_KEY

    checks = []
    original = type(clerk).check_password
    monkeypatch.setattr(
        type(clerk), "check_password", lambda self, raw: checks.append(1) or original(self, raw)
    )
    from django.urls import reverse

    wrong = client.post(reverse("login"), {"username": "clerk", "password": "wrong"})
    assert wrong.status_code == 200 and len(checks) == 1
    right = client.post(reverse("login"), {"username": "clerk", "password": "pw-clerk"})
    assert right.status_code == 302
    assert client.session[BACKEND_SESSION_KEY] == "django.contrib.auth.backends.ModelBackend"
    assert client.get("/invoices/new/").status_code == 200


def test_a_session_from_before_the_roles_backend_stays_signed_in(client, clerk):
    from django.contrib.auth import BACKEND_SESSION_KEY

    client.force_login(clerk, backend="django.contrib.auth.backends.ModelBackend")
    assert client.session[BACKEND_SESSION_KEY] == "django.contrib.auth.backends.ModelBackend"
    assert client.get("/invoices/new/").status_code == 200


def test_role_names_are_read_only_where_a_page_shows_them(client, superuser):
    """A superuser's permissions come from ModelBackend (every permission), so their roles
    cost a query of their own: only on pages whose header shows them."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    superuser.groups.add(Group.objects.get(name=roles.AUDITORS))
    client.force_login(superuser)
    for url in ("/admin/", "/"):
        client.get(url)
    with CaptureQueriesContext(connection) as admin:
        assert client.get("/admin/").status_code == 200
    roles_query = 'FROM "auth_group" INNER JOIN "auth_user_groups"'
    assert not [q for q in admin.captured_queries if roles_query in q["sql"]]
    assert "(Auditors)" in client.get("/").content.decode()
