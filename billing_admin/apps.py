from django.contrib.admin.apps import AdminConfig


class BillingAdminConfig(AdminConfig):
    default_site = "billing_admin.admin_site.BillingAdminSite"
