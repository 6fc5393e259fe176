from invoices import roles


def navigation(request):
    """The navigation each role sees: only what the signed-in person may use."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = [("home", "Home")]
    if user.has_perm(roles.SUBMIT):
        items += [
            ("invoices:new_cycle", "New invoice"),
            ("invoices:new_adhoc", "New ad-hoc invoice"),
            ("invoices:mine", "My invoices"),
        ]
    if user.has_perm(roles.APPROVE):
        items.append(("invoices:inbox", "Approvals"))
    if any(user.has_perm(p) for p in (roles.SUBMIT, roles.APPROVE, roles.HISTORY)):
        items.append(("billruns:list", "Bill runs"))
    if user.has_perm(roles.HISTORY):
        items.append(("invoices:history", "History"))
    if user.has_perm(roles.AUDIT):
        items.append(("invoices:audit", "Audit log"))
    if user.is_staff or user.has_perm(roles.AUDIT):
        items.append(("admin:index", "Admin"))
    current = getattr(getattr(request, "resolver_match", None), "view_name", "")
    return {"nav_items": [(name, label, name == current) for name, label in items]}
