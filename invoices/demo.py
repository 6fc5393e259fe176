"""Demo history: a few invoices taken through the real workflow (submit, approve, reject), so a
fresh `make run` shows an approvals inbox, history and a clerk's "needs changes".

Runs only on an empty local history (idempotent) and only through the services and the backend
port, exactly as people would.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.test.utils import override_settings
from django.utils import timezone

from . import services
from .backends import cycle_backend
from .backends.base import BackendError
from .models import Invoice

# (submitter, then what happens: None = stays pending, ("approve"|"reject", decider, reason))
PLAN = [
    ("clerk", ("approve", "manager", "")),
    ("clerk2", ("approve", "manager2", "")),
    ("clerk", ("reject", "manager2", "The seat count changed in June; check the contract.")),
    ("clerk", None),
    ("clerk2", None),
    ("clerk", None),
    ("clerk2", ("approve", "manager", "")),
    ("clerk2", None),
]


def _candidates():
    """(contract id, cycle) pairs, most recent past cycles of active contracts first."""
    backend = cycle_backend()
    now = timezone.now()
    cursor = None
    while True:
        page = backend.search_contracts(cursor=cursor, limit=50)
        for summary in page.items:
            if summary.status != "active":
                continue
            cycles = [c for c in backend.list_billing_cycles(summary.id) if c.bill_for <= now]
            for cycle in reversed(cycles[-2:]):
                yield summary.id, cycle
        cursor = page.next_cursor
        if not cursor:
            return


# The demo's own history announces nothing: its e-mails are sent to memory, at once.
@override_settings(
    TASKS={
        "default": {
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
            "QUEUES": settings.TASK_QUEUES,
        }
    },
    EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
)
def seed_workflow_demo() -> str:
    existing = Invoice.objects.count()
    if existing:
        return f"Local invoice history: {existing} invoice(s) already there; left as they are."
    users = {u.username: u for u in get_user_model().objects.all()}
    candidates = _candidates()
    done = []
    for submitter, decision in PLAN:
        for contract_id, cycle in candidates:
            try:
                invoice = services.invoice_submit_cycle(
                    actor=users[submitter],
                    contract_id=contract_id,
                    cycle_key=cycle.key,
                    cycle_fp=services.cycle_fingerprint(cycle),
                    preview_total_minor=None,
                ).invoice
            except (services.ServiceError, BackendError):
                continue  # e.g. already approved in the engine's own history, or a zero total
            break
        else:
            break
        if decision is not None:
            verb, decider, reason = decision
            if verb == "approve":
                services.invoice_approve(
                    actor=users[decider], invoice_id=invoice.pk, seen_hash=invoice.content_hash
                )
            else:
                services.invoice_reject(actor=users[decider], invoice_id=invoice.pk, reason=reason)
        done.append(invoice.pk)
    counts = {
        label: Invoice.objects.filter(status=value).count()
        for value, label in Invoice.Status.choices
        if Invoice.objects.filter(status=value).exists()
    }
    summary = ", ".join(f"{n} {label.lower()}" for label, n in counts.items())
    return f"Local invoice history: {len(done)} invoices through the workflow ({summary})."
