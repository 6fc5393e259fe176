"""Django's ModelBackend, reading a person's permissions and role names in one query.

Every signed-in page asks what its reader may do (the navigation, the page's own permission,
the rows' actions) and shows the reader's roles in its header. Django's ModelBackend answers
the first with two queries (permissions held directly, permissions held through groups), and
the header costs a third (`user.groups`). This backend reads all three in one UNION ALL query,
per request as before (nothing is kept between requests, so a role taken away applies to the
next request), and fills the same per-user caches ModelBackend fills, so everything else
(has_perm, get_all_permissions, the admin) works unchanged. Superusers are left to
ModelBackend (every permission).
"""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db.models import CharField, Value


def _load(user_obj) -> None:
    """Fill `user_obj`'s permission caches (those of ModelBackend) and its role names."""
    through_groups = Group.objects.filter(user=user_obj).values_list(
        "name", "permissions__content_type__app_label", "permissions__codename"
    )
    direct = Permission.objects.filter(user=user_obj).values_list(
        Value(None, output_field=CharField()), "content_type__app_label", "codename"
    )
    names, from_groups, own = set(), set(), set()
    for group, app_label, codename in through_groups.order_by().union(direct.order_by(), all=True):
        if group is not None:
            names.add(group)
        if codename is not None:
            (from_groups if group is not None else own).add(f"{app_label}.{codename}")
    user_obj._user_perm_cache = own
    user_obj._group_perm_cache = from_groups
    user_obj._role_names = tuple(sorted(names))


class RolesBackend(ModelBackend):
    """ModelBackend with one query per request for a person's permissions and roles."""

    def _get_permissions(self, user_obj, obj, from_name):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if user_obj.is_superuser:
            return super()._get_permissions(user_obj, obj, from_name)
        cache_name = f"_{from_name}_perm_cache"
        if not hasattr(user_obj, cache_name):
            _load(user_obj)
        return getattr(user_obj, cache_name)


def role_names(user) -> tuple[str, ...]:
    """The names of `user`'s groups (their roles), sorted: from the query that read their
    permissions when it ran (RolesBackend), otherwise one query of their own."""
    if not getattr(user, "is_authenticated", False):
        return ()
    names = getattr(user, "_role_names", None)
    if names is None:
        names = tuple(user.groups.order_by("name").values_list("name", flat=True))
        user._role_names = names
    return names
