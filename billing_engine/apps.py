from django.apps import AppConfig


class BillingEngineConfig(AppConfig):
    name = "billing_engine"
    verbose_name = "Embedded billing engine"
