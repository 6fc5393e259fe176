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


def _as_model_backend_sees(user):
    backend = ModelBackend()
    fresh = _fresh(user)
    return (
        backend.get_user_permissions(fresh),
        backend.get_group_permissions(fresh),
        backend.get_all_permissions(fresh),
    )


def _as_roles_backend_sees(user):
    backend = RolesBackend()
    fresh = _fresh(user)
    return (
        backend.get_user_permissions(fresh),
        backend.get_group_permissions(fresh),
        backend.get_all_permissions(fresh),
    )


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
    from django.contrib.contenttypes.models import ContentType

    # App labels come from ContentType's per-process cache, filled by the process's first
    # requests (one query each for a content type it has not seen).
    for content_type in ContentType.objects.all():
        ContentType.objects.get_for_id(content_type.pk)
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
