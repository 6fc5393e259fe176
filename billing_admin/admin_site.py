from django.contrib import admin


class BillingAdminSite(admin.AdminSite):
    site_header = "Billing Admin — audit"
    site_title = "Billing Admin"
    index_title = "Records"

    def has_permission(self, request):
        """Staff, and auditors (the admin is their read-only window) may enter."""
        user = request.user
        return user.is_active and (user.is_staff or user.has_perm("invoices.view_audit"))
