from django.contrib.admin.apps import AdminConfig


class BillingAdminConfig(AdminConfig):
    default_site = "billing_admin.admin_site.BillingAdminSite"

    def ready(self):
        super().ready()
        from . import db

        db.connect()  # PostgreSQL timestamps read by Python's C ISO parser
