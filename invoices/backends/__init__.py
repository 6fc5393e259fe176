"""Choosing the adapters: BILLING_BACKEND (contract cycles) and ADHOC_BACKEND (ad-hoc invoices).

One adapter instance per process and capability (each HTTP adapter holds one pooled client).
"""

from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from .base import AdhocBackend, BackendMisconfigured, CycleBackend

CYCLE_BACKENDS = {
    "embedded": "invoices.backends.embedded.EmbeddedCycleBackend",
    "zenskar": "invoices.backends.zenskar.ZenskarBackend",
}
ADHOC_BACKENDS = {
    "embedded": "invoices.backends.embedded.EmbeddedAdhocBackend",
    "rebillia": "invoices.backends.rebillia.RebilliaBackend",
}


def _load(kind: str, choice: str, registry: dict[str, str]):
    try:
        path = registry[choice]
    except KeyError:
        raise BackendMisconfigured(
            f"{kind}={choice!r} is not a known backend; choose one of: {', '.join(registry)}."
        ) from None
    return import_string(path).from_settings(settings)


@cache
def cycle_backend() -> CycleBackend:
    return _load("BILLING_BACKEND", settings.BILLING_BACKEND, CYCLE_BACKENDS)


@cache
def adhoc_backend() -> AdhocBackend:
    return _load("ADHOC_BACKEND", settings.ADHOC_BACKEND, ADHOC_BACKENDS)


def reset_backends() -> None:
    """Forget the adapter instances (tests that change settings; never needed in production)."""
    for getter in (cycle_backend, adhoc_backend):
        if getter.cache_info().currsize:
            backend = getter()
            close = getattr(backend, "close", None)
            if close:
                close()
        getter.cache_clear()


@receiver(setting_changed, dispatch_uid="reset_billing_backends")
def _on_setting_changed(setting, **kwargs):
    if setting.startswith(("BILLING_", "ADHOC_", "ZENSKAR_", "REBILLIA_", "BACKEND_")):
        reset_backends()
