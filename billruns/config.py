"""The bill-run settings as the code reads them."""

from django.conf import settings


def concurrency(backend_name: str) -> int:
    """Backend calls one worker makes at once for `backend_name` (BILLRUN_CONCURRENCY)."""
    table = settings.BILLRUN_CONCURRENCY
    return max(1, int(table.get(backend_name, table.get("*", 2))))


def workers_per_run() -> int:
    return settings.BILLRUN_WORKERS_PER_RUN
