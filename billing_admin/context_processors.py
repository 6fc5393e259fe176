from functools import partial

from django.apps import apps

from billing_admin.auth import role_names
from invoices import roles


def navigation(request):
    """The navigation each role sees: only what the signed-in person may use."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "role_names": ()}
    items = [("home", "Home")]
    if user.has_perm(roles.SUBMIT):
        items += [
            ("invoices:new_cycle", "New invoice"),
            ("invoices:new_adhoc", "New ad-hoc invoice"),
            ("invoices:mine", "My invoices"),
        ]
    if user.has_perm(roles.APPROVE):
        items.append(("invoices:inbox", "Approvals"))
    if user.has_perm(roles.HISTORY):
        items.append(("invoices:history", "History"))
    if user.has_perm(roles.AUDIT):
        items.append(("invoices:audit", "Audit log"))
    # Apps built on invoices add their own pages (AppConfig.nav_items(user) -> [(url, label)]).
    for config in apps.get_app_configs():
        contribute = getattr(config, "nav_items", None)
        if callable(contribute):
            items += contribute(user)
    if user.is_staff or user.has_perm(roles.AUDIT):
        items.append(("admin:index", "Admin"))
    current = getattr(getattr(request, "resolver_match", None), "view_name", "")
    return {
        "nav_items": [(name, label, name == current) for name, label in items],
        # The header's "(roles)": read with the permissions above, no query of its own; for a
        # superuser, a query only where a page shows it (the template calls it).
        "role_names": partial(role_names, user),
    }
