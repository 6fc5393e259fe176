"""`manage.py backend_check`: show the billing-backend configuration and try each capability.

Prints the active configuration for contract-cycle invoicing (BILLING_BACKEND) and ad-hoc
invoicing (ADHOC_BACKEND) with secrets masked, makes one read-only call per capability through
the adapter's `check()`, prints a verdict per capability and exits non-zero if any failed.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from invoices.backends import adhoc_backend, cycle_backend, reset_backends
from invoices.backends.base import BackendError, CheckResult
from invoices.backends.replies import mask_secret

CAPABILITIES = (
    ("contract cycles", "BILLING_BACKEND", cycle_backend),
    ("ad-hoc invoices", "ADHOC_BACKEND", adhoc_backend),
)


def configuration() -> list[tuple[str, str]]:
    """(setting, shown value) for everything that decides how the backends are reached."""
    rows = [
        ("BILLING_BACKEND", settings.BILLING_BACKEND),
        ("ADHOC_BACKEND", settings.ADHOC_BACKEND),
    ]
    if settings.BILLING_BACKEND == "zenskar":
        rows += [
            ("ZENSKAR_BASE_URL", settings.ZENSKAR_BASE_URL),
            ("ZENSKAR_ORGANISATION", settings.ZENSKAR_ORGANISATION or "(not set)"),
            ("ZENSKAR_API_KEY", mask_secret(settings.ZENSKAR_API_KEY)),
        ]
    if settings.ADHOC_BACKEND == "rebillia":
        rows += [
            ("REBILLIA_BASE_URL", settings.REBILLIA_BASE_URL),
            ("REBILLIA_API_KEY", mask_secret(settings.REBILLIA_API_KEY)),
        ]
    rows += [
        ("BACKEND_CONNECT_TIMEOUT", f"{settings.BACKEND_CONNECT_TIMEOUT} s"),
        ("BACKEND_READ_TIMEOUT", f"{settings.BACKEND_READ_TIMEOUT} s"),
        ("BACKEND_READ_RETRIES", str(settings.BACKEND_READ_RETRIES)),
    ]
    return rows


def run_check(capability: str, setting: str, getter) -> CheckResult:
    choice = getattr(settings, setting)
    try:
        backend = getter()
        result = backend.check()
    except BackendError as exc:
        return CheckResult(capability, False, f"{choice}: {exc.message}")
    except Exception as exc:  # an adapter bug must still give a verdict, not a traceback
        detail = f"{choice}: unexpected {type(exc).__name__}: {exc}"
        return CheckResult(capability, False, _redact(detail))
    return result


def _redact(text: str) -> str:
    for secret in (settings.ZENSKAR_API_KEY, settings.REBILLIA_API_KEY):
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


class Command(BaseCommand):
    help = (
        "Show the billing-backend configuration (secrets masked), make one read-only call per "
        "capability and exit non-zero if any failed."
    )

    def handle(self, *args, **options):
        reset_backends()  # build the adapters from the settings as they are now
        self.stdout.write("Configuration:")
        width = max(len(name) for name, _ in configuration())
        for name, value in configuration():
            self.stdout.write(f"  {name.ljust(width)}  {value}")
        self.stdout.write("")
        failed = []
        for capability, setting, getter in CAPABILITIES:
            result = run_check(capability, setting, getter)
            verdict = "OK" if result.ok else "FAILED"
            style = self.style.SUCCESS if result.ok else self.style.ERROR
            self.stdout.write(style(f"{capability} ({getattr(settings, setting)}): {verdict}"))
            self.stdout.write(f"  {result.detail}")
            if not result.ok:
                failed.append(capability)
        if failed:
            raise CommandError(f"backend check failed for: {', '.join(failed)}")
        self.stdout.write(self.style.SUCCESS("All backends answered."))
