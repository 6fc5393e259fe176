"""The audit trail: append an event inside the caller's transaction, and verify the chain."""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from billing_admin.logging import client_ip_var, request_id_var

from .models import AuditChainHead, AuditEvent, Invoice


def audit_record(
    *,
    actor,
    action: str,
    invoice: Invoice | None = None,
    from_status: str = "",
    to_status: str = "",
    reason: str = "",
    data: dict | None = None,
) -> AuditEvent:
    """Append one event to the chain. Must run inside the transaction of the change it records.

    The chain head row is locked, so concurrent writers append one after another and every event
    names the hash of the event before it.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record must be called inside the transaction of the change")
    data = dict(data or {})
    run_id = getattr(invoice, "run_id", None)
    if run_id is not None:
        data.setdefault("run", run_id)  # every event of a bill run's invoice names the run
    head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
    actor_user = actor if actor is not None and actor.is_authenticated else None
    event = AuditEvent(
        seq=head.seq + 1,
        at=timezone.now(),
        actor=actor_user,
        actor_username=actor_user.get_username() if actor_user else "",
        action=action,
        invoice=invoice,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        request_id=request_id_var.get() if request_id_var.get() != "-" else "",
        ip=client_ip_var.get(),
        data=data,
        prev_hash=head.hash,
    )
    event.hash = event.compute_hash()
    event.save(force_insert=True)
    head.seq, head.hash = event.seq, event.hash
    head.save(update_fields=["seq", "hash"])
    return event


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_broken_seq: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.first_broken_seq is None and not self.problem


def audit_verify(*, batch_size: int = 5000) -> ChainReport:
    """Walk the chain in order and report the first event whose link or content does not hold."""
    expected_prev = "0" * 64
    expected_seq = 1
    checked = 0
    events = AuditEvent.objects.order_by("seq").iterator(chunk_size=batch_size)
    for event in events:
        if event.seq != expected_seq:
            return ChainReport(
                checked,
                expected_seq,
                f"event #{expected_seq} is missing (next present is #{event.seq})",
            )
        if event.prev_hash != expected_prev:
            return ChainReport(
                checked, event.seq, f"event #{event.seq} does not link to event #{event.seq - 1}"
            )
        if event.compute_hash() != event.hash:
            return ChainReport(
                checked, event.seq, f"event #{event.seq} was changed after it was written"
            )
        expected_prev = event.hash
        expected_seq += 1
        checked += 1
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and (head.seq != checked or head.hash != expected_prev):
        return ChainReport(
            checked,
            checked + 1,
            f"the chain ends at #{checked} but its head records #{head.seq}: "
            "events at the end were removed",
        )
    return ChainReport(checked)
