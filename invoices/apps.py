from django.apps import AppConfig


class InvoicesConfig(AppConfig):
    name = "invoices"
    verbose_name = "Invoices and audit"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (sign-in/out audit)
