"""Clerks submit a contract's billing cycle for approval (ad-hoc invoices: submit_adhoc).

A cycle invoice is claim → generate → read back → record: the claim is a `submitting` row
committed before anything is sent upstream (one live invoice per cycle is a database constraint,
so two clerks never generate the same draft), and it keeps the draft's id as soon as the backend
gives one, so a crash at any point leaves something `manage.py reconcile` can settle.

Two backend round trips, one after the other: generate, then read the draft back. The chosen
cycle is checked against the cycle list the server fetched less than BILLING_CYCLE_CACHE_SECONDS
ago (listed again only when that list has expired, was never fetched, or does not hold the
cycle as shown), and the draft read back must cover exactly the chosen cycle's period: if the
backend's cycles changed meanwhile, the draft is taken back and the clerk gets the fresh list.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import backend_cache, extensions, money, notifications, roles
from ..backends import cycle_backend
from ..backends.base import (
    AlreadyInvoicedUpstream,
    BackendError,
    BillingCycle,
    Contract,
    CycleNotMatched,
    Draft,
)
from ..flags import flags_for
from ..models import Invoice
from ..snapshots import content_hash, invoice_content_hash, lines_total_minor, snapshot_lines
from . import records
from .errors import (
    CycleAlreadyInvoiced,
    InvalidTransition,
    NeedsConfirmation,
    StaleCycle,
    UpstreamFailed,
)

log = logging.getLogger(__name__)
S = Invoice.Status


def cycle_fingerprint(cycle: BillingCycle) -> str:
    """All five fields of a cycle as listed, so "still in the list exactly" can be checked."""
    return content_hash(
        {
            "name": cycle.name,
            "start_date": cycle.start_date,
            "end_date": cycle.end_date,
            "bill_for_date": cycle.bill_for_date,
            "billing_cycle_start_day": cycle.billing_cycle_start_day,
        }
    )[:16]


def needs_empty_confirmation(lines, total_minor: int) -> bool:
    """An invoice with no lines or a zero total is submitted only with an explicit confirmation."""
    return not lines or total_minor == 0


@dataclass(frozen=True)
class SubmitResult:
    invoice: Invoice

    @property
    def preview_differs(self) -> bool:
        return self.invoice.preview_differs


# --- contract cycle -----------------------------------------------------------------------------
def invoice_submit_cycle(
    *,
    actor: AbstractBaseUser,
    contract_id: str,
    cycle_key: str,
    cycle_fp: str,
    preview_total_minor: int | None = None,
    confirm_empty: bool = False,
    previous: Invoice | None = None,
    reissue: bool = False,
    run_id: int | None = None,
) -> SubmitResult:
    """Generate the cycle's draft upstream, snapshot its real lines, and queue it for approval.
    With `previous`: a new version of a rejected invoice, or (`reissue`) of a voided one.

    `preview_total_minor` is a preview total the server itself computed (a bill run's); when
    None, the preview is computed here. A figure sent by a browser is never passed in.

    `run_id`: the bill run submitting it (kept on the invoice; its events name the run, and no
    per-invoice e-mail is sent).

    Raises StaleCycle (the cycle changed or vanished: the fresh list is attached),
    CycleAlreadyInvoiced, NeedsConfirmation, NotAllowed, InvalidTransition, UpstreamFailed, or a
    BackendError.
    """
    records.require(actor, roles.SUBMIT, "submit invoices")
    action = "reissue" if reissue else "revise"
    records.check_revision(actor=actor, previous=previous, kind=Invoice.Kind.CYCLE, action=action)
    backend = cycle_backend()
    contract, cycle, cycles = _chosen_cycle(contract_id, cycle_key, cycle_fp, previous)
    if preview_total_minor is None:
        preview_total_minor = _preview_total(backend, contract, cycle)
    intent = _claim(actor, backend, contract, cycle, preview_total_minor, previous, run_id)
    draft_id = _generate(actor, backend, intent, contract, cycle)
    draft, lines, total_minor = _read_back(actor, backend, intent, draft_id)
    _check_period(actor, backend, intent, draft, contract, cycle)
    if not confirm_empty and needs_empty_confirmation(lines, total_minor):
        # Nothing approvable was asked for: take the draft back and ask for a confirmation.
        records.delete_draft_quietly(backend, draft_id)
        records.drop(intent, "submit.abandon", actor=actor, reason="zero total not confirmed")
        raise NeedsConfirmation(
            "The backend's draft has no lines."
            if not lines
            else "The backend's draft totals zero. Tick the confirmation to submit it anyway."
        )
    return SubmitResult(
        record_submission(actor, intent, draft, lines, total_minor, previous, cycles=cycles)
    )


def _listed(cycles, cycle_key: str, cycle_fp: str) -> BillingCycle | None:
    cycle = next((c for c in cycles if c.key == cycle_key), None)
    return cycle if cycle is not None and cycle_fingerprint(cycle) == cycle_fp else None


def _chosen_cycle(
    contract_id, cycle_key, cycle_fp, previous
) -> tuple[Contract, BillingCycle, tuple]:
    """The contract, and the chosen cycle exactly as it was shown, in the cycle list fetched at
    most BILLING_CYCLE_CACHE_SECONDS ago (no backend call while that list is fresh), with the
    whole list. A list that has expired, was never fetched, or does not hold the cycle as shown
    is fetched again."""
    contract, cycles, fetched = backend_cache.contract_and_cycles(contract_id)
    cycle = _listed(cycles, cycle_key, cycle_fp)
    if cycle is None and fetched.from_cache:
        cycles, _ = backend_cache.billing_cycles(contract_id, refresh=True)
        cycle = _listed(cycles, cycle_key, cycle_fp)
    if cycle is None:
        raise StaleCycle(
            "The billing backend no longer lists this cycle exactly as it was shown to you. "
            "Here is the fresh list; choose the cycle again.",
            cycles,
        )
    if previous is not None and (
        previous.contract_id != contract.id or previous.cycle_bill_for_date != cycle.bill_for_date
    ):
        raise InvalidTransition("A revision must be for the same contract and billing cycle.")
    return contract, cycle, cycles


def _preview_total(backend, contract: Contract, cycle: BillingCycle) -> int | None:
    """The total of the cycle's preview, as the clerk's page computed it (a backend without a
    dry run estimates it from the contract's terms, so this makes no backend call there).
    None when it cannot be computed: the manager is then shown the draft's total alone."""
    try:
        preview = backend.preview_cycle(contract, cycle)
        return money.to_minor(preview.total, preview.currency)
    except (BackendError, money.MoneyError) as exc:
        log.info("no preview total for %s %s: %s", contract.id, cycle.key, exc)
        return None


def _claim(actor, backend, contract, cycle, preview_total_minor, previous, run_id) -> Invoice:
    """1. The intent: a `submitting` row that claims the cycle before anything goes upstream."""
    intent = Invoice(
        kind=Invoice.Kind.CYCLE,
        backend=backend.name,
        contract_id=contract.id,
        contract_name=contract.name,
        customer_id=contract.customer.id,
        customer_name=contract.customer.name,
        cycle_name=cycle.name,
        cycle_start_date=cycle.start_date,
        cycle_end_date=cycle.end_date,
        cycle_bill_for_date=cycle.bill_for_date,
        cycle_start_day=cycle.billing_cycle_start_day,
        bill_for=cycle.bill_for,
        period_start=cycle.start,
        period_end=cycle.end,
        currency=contract.currency,
        total_minor=0,
        preview_total_minor=preview_total_minor,
        preview_exact=backend.preview_is_exact,
        content_hash="",
        submitted_by=actor,
        submitted_at=timezone.now(),
        run_id=run_id,
    )
    records.link_revision(intent, previous)
    try:
        with transaction.atomic():
            records.create(intent, "submit.claim", actor=actor)
    except IntegrityError:
        existing = records.live_invoice_for_cycle(
            backend=backend.name,
            contract_id=contract.id,
            customer_id=contract.customer.id,
            bill_for=cycle.bill_for,
        )
        raise CycleAlreadyInvoiced(
            "This billing cycle already has an invoice in progress or approved.", existing
        ) from None
    return intent


def _generate(actor, backend, intent: Invoice, contract, cycle) -> str:
    """2. The upstream write, outside any transaction; the draft's id is kept at once, so that
    whatever happens next (a failure, a crash) reconcile knows which draft to take back."""
    try:
        draft_id = backend.generate_draft(
            contract_id=contract.id, customer_id=contract.customer.id, cycle=cycle
        )
    except CycleNotMatched:
        records.drop(
            intent, "submit.abandon", actor=actor, reason="the backend matched no billing cycle"
        )
        backend_cache.forget(contract.id)
        fresh, _ = backend_cache.billing_cycles(contract.id, refresh=True)
        raise StaleCycle(
            "The billing backend did not recognise this cycle any more (it matched no billing "
            "cycle). Here is the fresh list; choose the cycle again.",
            fresh,
        ) from None
    except AlreadyInvoicedUpstream:
        records.drop(
            intent,
            "submit.abandon",
            actor=actor,
            reason="an approved invoice already exists upstream",
        )
        raise CycleAlreadyInvoiced(
            "The billing backend already has an approved invoice for this billing period, so "
            "it cannot be invoiced again (corrections go through a credit note).",
            None,
            upstream=True,
        ) from None
    except BackendError as exc:
        records.drop(intent, "submit.abandon", actor=actor, reason=str(exc))
        raise
    # updated_at too: the sweep leaves an intent alone while it keeps moving (each step is
    # within SWEEP_OLDER_THAN_SECONDS of the last).
    Invoice.objects.filter(pk=intent.pk, status=S.SUBMITTING).update(
        upstream_id=draft_id, updated_at=timezone.now()
    )
    return draft_id


def _read_back(actor, backend, intent: Invoice, draft_id: str) -> tuple[Draft, list, int]:
    """3. The draft's real lines and total, as the manager will approve them."""
    try:
        draft = backend.get_draft(draft_id)
        lines = snapshot_lines(draft.lines, intent.currency)
        total_minor = money.to_minor(draft.total, intent.currency)
    except (BackendError, money.MoneyError) as exc:
        if records.delete_draft_quietly(backend, draft_id):
            records.drop(
                intent,
                "submit.abandon",
                actor=actor,
                reason=f"the draft could not be read back: {exc}",
            )
            raise UpstreamFailed(
                "The billing backend generated the draft but it could not be read back "
                f"({exc}). Nothing was submitted for approval and the draft was taken back. "
                "Try again."
            ) from None
        # The draft could not be taken back either: the intent stays, with the draft's id, so
        # `manage.py reconcile` takes the draft back once the backend answers again.
        Invoice.objects.filter(pk=intent.pk, status=S.SUBMITTING).update(
            failure_message=f"The draft could not be read back: {exc}"[:1000]
        )
        raise UpstreamFailed(
            "The billing backend generated the draft but neither reading it back nor taking "
            f"it back worked ({exc}). Nothing was submitted for approval. The draft is "
            "recorded and will be taken back automatically; the cycle can be submitted again "
            "after that (within a few minutes)."
        ) from None
    return draft, lines, total_minor


def _check_period(actor, backend, intent: Invoice, draft: Draft, contract, cycle) -> None:
    """The draft must cover exactly the chosen cycle's period. The backend matches a cycle by
    its bill-for date, so a cycle list that changed since it was fetched (a contract amended a
    moment ago) can give a draft for another window: it is taken back, never submitted."""
    if draft.period is None or draft.period == (cycle.start, cycle.end):
        return
    start, end = draft.period
    taken_back = records.delete_draft_quietly(backend, draft.id)
    reason = f"the draft covers {start:%Y-%m-%d} to {end:%Y-%m-%d}, not the chosen cycle"
    if taken_back:
        records.drop(intent, "submit.abandon", actor=actor, reason=reason)
    else:
        # The intent keeps the draft's id: reconcile takes the draft back later.
        Invoice.objects.filter(pk=intent.pk, status=S.SUBMITTING).update(
            failure_message=f"Not submitted: {reason}."[:1000]
        )
    backend_cache.forget(contract.id)
    fresh, _ = backend_cache.billing_cycles(contract.id, refresh=True)
    raise StaleCycle(
        "The billing backend's cycle list changed: it generated the draft for "
        f"{start:%Y-%m-%d} to {end:%Y-%m-%d}, not for the cycle you chose, so nothing was "
        "submitted and the draft "
        + ("was taken back" if taken_back else "will be taken back automatically")
        + ". Here is the fresh list; choose the cycle again.",
        fresh,
    )


def record_submission(
    actor,
    intent: Invoice,
    draft: Draft,
    lines,
    total_minor,
    previous,
    *,
    cycles=(),
    step: str = "submit.record",
    reason: str = "",
) -> Invoice:
    """4. The result: the snapshot and its hash, what is unusual about it and how many approvals
    it needs, pending approval. (Reconcile completes an interrupted bill-run submission through
    here too, with its own step.)"""
    with transaction.atomic():
        invoice = records.locked(intent.pk)
        invoice.lines = lines
        invoice.total_minor = total_minor
        invoice.upstream_id = draft.id
        invoice.upstream_number = draft.number
        invoice.content_hash = invoice_content_hash(invoice)
        assess(invoice, cycles)
        records.transition(
            invoice,
            step,
            actor=actor,
            reason=reason,
            data={
                "upstream_id": draft.id,
                "total_minor": total_minor,
                "preview_total_minor": invoice.preview_total_minor,
                "lines": len(lines),
                "content_hash": invoice.content_hash,
                "stages_required": invoice.stages_required,
                "policy": invoice.policy.get("rule", ""),
                "flags": [flag["code"] for flag in invoice.flags],
                "previous_id": previous.pk if previous else None,
            },
            fields=(
                "lines",
                "total_minor",
                "upstream_id",
                "upstream_number",
                "content_hash",
                *ASSESSED,
            ),
        )
        if lines_total_minor(lines) != total_minor:
            log.warning("invoice %s: upstream total differs from the sum of its lines", invoice.pk)
        notifications.on_submitted(invoice)
        extensions.send_after_commit(extensions.invoice_submitted, invoice_id=invoice.pk)
    return invoice


ASSESSED = ("flags", "stages_required", "policy")


def assess(invoice: Invoice, cycles=()) -> None:
    """What is unusual about it, and how many approvals it needs (the approval policy), decided
    once, at submission, and kept with the snapshot."""
    invoice.flags = flags_for(invoice, cycles=cycles)
    decision = extensions.approval_policy(invoice)
    invoice.stages_required = decision.stages
    invoice.policy = {"rule": decision.rule, "why": decision.why}
