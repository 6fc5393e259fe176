"""THE transition table of a local invoice. Every status rule is read from here.

Two tables:

- `STATUSES`: each status once, with what it means for the rest of the app (does it hold its
  billing cycle, does the approvals inbox show it). `LIVE_STATUSES`, the database constraint
  "one live invoice per cycle", the coverage page's gaps and the inbox all derive from it.
- `TRANSITIONS`: every status change a service makes, named `<action>.<step>`: the statuses it
  may start from, the one it ends in, the audit action it writes, whether it is followed by a
  backend call. Services change a status only through `invoices.services.records.transition`,
  which refuses a step that is not in this table or does not start from the invoice's status.

`ACTIONS` are what a person asks for on an invoice page (approve, retry, reject, withdraw,
revise, correct, reissue): the permission, whether four eyes apply or only the submitter may,
and the extra conditions, each with the sentence a person is told. `refusal()` answers "may
this person do this now?" for the services (which raise it) and `allowed_actions()` for the
pages (which show only those buttons), so the two can never disagree.

This module imports no models: `invoices.models` imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import models

from . import extensions, roles


class Status(models.TextChoices):
    SUBMITTING = "submitting", "Submitting"
    PENDING = "pending_approval", "Pending approval"
    APPROVING = "approving", "Approving"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"
    FAILED = "failed", "Failed (needs a person)"
    VOIDED = "voided", "Voided"


class CorrectionStep(models.TextChoices):
    """Which of a void's two upstream writes is done (a credit note first, then the void)."""

    NONE = "", "Nothing sent yet"
    CREDITED = "credited", "Credited; the void is still to be sent"


S = Status
#: A transition's "from" for a record that does not exist yet, and its "to" for one that is
#: dropped (an interrupted submission's intent never became a submission).
NEW = ""
DROPPED = ""


@dataclass(frozen=True)
class StatusRule:
    live: bool  # holds its billing cycle: nobody can submit the cycle again while it exists
    inbox: bool  # the managers' approvals inbox lists it


# `submitting` is the intent recorded before the draft is generated upstream: it claims the
# cycle, so two clerks never generate the same draft. `failed` is live too: its upstream draft
# may still exist until a person or `manage.py reconcile` settles it. `voided`: an approved
# invoice whose void was approved and applied upstream; its cycle is free to be invoiced again.
# A correction (credit note or void) that is live holds its amount of the corrected invoice.
STATUSES: dict[Status, StatusRule] = {
    S.SUBMITTING: StatusRule(live=True, inbox=False),
    S.PENDING: StatusRule(live=True, inbox=True),
    S.APPROVING: StatusRule(live=True, inbox=True),
    S.APPROVED: StatusRule(live=True, inbox=False),
    S.REJECTED: StatusRule(live=False, inbox=False),
    S.WITHDRAWN: StatusRule(live=False, inbox=False),
    S.FAILED: StatusRule(live=True, inbox=True),
    S.VOIDED: StatusRule(live=False, inbox=False),
}
LIVE_STATUSES: tuple[Status, ...] = tuple(s for s, rule in STATUSES.items() if rule.live)
INBOX_STATUSES: tuple[Status, ...] = tuple(s for s, rule in STATUSES.items() if rule.inbox)
#: Statuses that leave their cycle free to be invoiced again.
CLOSED_STATUSES: tuple[Status, ...] = tuple(s for s, rule in STATUSES.items() if not rule.live)
#: Statuses of an invoice that was issued (sent to the backend for good, numbered): approved,
#: and approved then voided. Its standing, its number and its document stay.
ISSUED_STATUSES: tuple[Status, ...] = (S.APPROVED, S.VOIDED)


# --- transitions ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Transition:
    name: str  # "<action>.<step>"
    sources: frozenset[str]  # statuses it may start from (NEW: a record being created)
    target: str  # the status it ends in (DROPPED: the record is deleted)
    audit: str  # the audit action written with it ("" for the claim, see below)
    calls_backend: bool = False  # a backend write follows it (intent before the call)

    @property
    def action(self) -> str:
        return self.name.split(".", 1)[0]


def _t(name, sources, target, audit, *, calls_backend=False) -> Transition:
    return Transition(name, frozenset(sources), target, audit, calls_backend)


_SETTLED = (S.APPROVING, S.FAILED)
_DECIDABLE = (S.PENDING, S.FAILED)

TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in (
        # Clerk, contract cycle: claim → generate upstream → read back → record. The claim is an
        # intent row and writes no event (it is dropped if generation fails, and an event would
        # pin it); dropping it is audited without the row.
        _t("submit.claim", {NEW}, S.SUBMITTING, "", calls_backend=True),
        _t("submit.record", {S.SUBMITTING}, S.PENDING, "invoice.submitted"),
        _t("submit.abandon", {S.SUBMITTING}, DROPPED, "invoice.submit_failed"),
        # Clerk, ad-hoc: nothing goes upstream before approval.
        _t("submit_adhoc.record", {NEW}, S.PENDING, "invoice.submitted"),
        # Clerk: revising makes a new, linked submission; the rejected invoice stays as it is.
        _t("revise.start", {S.REJECTED}, S.REJECTED, ""),
        # Clerk: a correction of an approved invoice is a new document (a credit note or a void)
        # waiting for approval like any submission; the approved invoice stays as it is until
        # a void of it is approved and applied upstream, which frees its cycle.
        _t("correct.start", {S.APPROVED}, S.APPROVED, ""),
        _t("correct.record", {NEW}, S.PENDING, "correction.requested"),
        _t("correct.apply", {S.APPROVED}, S.VOIDED, "invoice.voided"),
        # Clerk: a voided invoice is re-issued as a new, linked submission.
        _t("reissue.start", {S.VOIDED}, S.VOIDED, ""),
        # Manager: an invoice that needs two approvals (an approval policy) records the first
        # one and stays pending; the last approval is an intent committed before the upstream
        # write, then its result.
        _t("approve.stage", {S.PENDING}, S.PENDING, "invoice.stage_approved"),
        _t(
            "approve.start",
            {S.PENDING},
            S.APPROVING,
            "invoice.approval_started",
            calls_backend=True,
        ),
        _t("approve.succeed", {S.APPROVING}, S.APPROVED, "invoice.approved"),
        _t("approve.fail", {S.APPROVING}, S.FAILED, "invoice.approval_failed"),
        # Manager: retry a failed approval (after asking the backend what happened).
        _t("retry.start", {S.FAILED}, S.APPROVING, "invoice.approval_retried", calls_backend=True),
        # Manager: reject; submitter: withdraw. The cycle's draft is deleted after commit.
        _t("reject.record", _DECIDABLE, S.REJECTED, "invoice.rejected", calls_backend=True),
        _t("withdraw.record", _DECIDABLE, S.WITHDRAWN, "invoice.withdrawn", calls_backend=True),
        # Settling what the backend says happened (Retry and `manage.py reconcile`). The backend's
        # answer is the truth: an approval found upstream is recorded even where a rejection or
        # a withdrawal raced it here.
        _t(
            "settle.approved",
            {*_SETTLED, S.REJECTED, S.WITHDRAWN},
            S.APPROVED,
            "invoice.reconciled",
        ),
        _t("settle.not_approved", _SETTLED, S.PENDING, "invoice.reconciled"),
        _t("settle.gone", _SETTLED, S.FAILED, "invoice.reconciled"),
        # A correction whose effect upstream cannot be told from what the backend shows.
        _t("settle.unclear", {S.APPROVING}, S.FAILED, "invoice.reconciled"),
        _t("settle.drop_intent", {S.SUBMITTING}, DROPPED, "invoice.submit_failed"),
        # An interrupted bill-run submission whose draft the backend made (its id was kept) is
        # completed instead: the draft is read back and queued for approval, so the run's item
        # settles without generating the cycle again.
        _t("settle.complete", {S.SUBMITTING}, S.PENDING, "invoice.reconciled"),
    )
}


class UnknownTransition(LookupError):
    """A service asked for a step the table does not have: a programming error."""


def transition(name: str) -> Transition:
    try:
        return TRANSITIONS[name]
    except KeyError:
        raise UnknownTransition(f"no transition {name!r} in invoices.workflow") from None


def sources_of(*names: str) -> tuple[str, ...]:
    """Every status the named transitions may start from (in table order)."""
    wanted = {s for name in names for s in transition(name).sources}
    return tuple(s for s in STATUSES if s in wanted)


#: Records `manage.py reconcile` settles by asking the backend (besides drafts still to delete).
UNSETTLED_STATUSES = sources_of("settle.not_approved", "settle.drop_intent")
#: Audit events that record something about an invoice without changing its status.
APPROVAL_REFUSED = "invoice.approval_refused"  # an approval refused because the draft drifted
DRAFT_DELETED = "invoice.draft_deleted"  # a rejected or withdrawn invoice's draft taken back
CORRECTION_REQUESTED = "invoice.correction_requested"  # on the invoice a correction corrects
CORRECTION_CREDITED = "correction.credited"  # a void's credit step done upstream (void next)
EVENTS = (APPROVAL_REFUSED, DRAFT_DELETED, CORRECTION_REQUESTED, CORRECTION_CREDITED)
#: Audit actions the services write with a status change, for the audit log's action filter.
AUDIT_ACTIONS: tuple[str, ...] = tuple(
    dict.fromkeys(t.audit for t in TRANSITIONS.values() if t.audit)
)


# --- what a person may do -------------------------------------------------------------------
MAY_HAVE_BEEN_APPROVED = (
    "The backend may have received this approval. A manager must settle it first with Retry, "
    "which asks the backend what happened before sending anything."
)
ALREADY_INVOICED_RETRY = (
    "The backend already has an approved invoice for this period; retrying cannot help. Reject "
    "this invoice."
)
REFUSED_RETRY = (
    "The billing backend refused this correction (see why above); retrying cannot help. Reject it."
)
CORRECTION_OF_CORRECTION = (
    "A credit note or a void is not corrected itself: correct the invoice it corrects."
)
HALF_DONE_VOID = (
    "This void's credit note is already made in the billing backend; only Retry, which sends "
    "the rest of the void, can finish it. It cannot be rejected or withdrawn."
)
VOID_PENDING = (
    "A void of this invoice is already waiting for approval or being applied; nothing else can "
    "be requested until it is decided."
)
#: Kinds of invoice that are corrections of another (see `Invoice.Kind`); the rest are invoices.
CORRECTION_KINDS = ("credit_note", "void")


def outcome_unknown(invoice) -> bool:
    """A failed approval whose request may have reached the backend: until Retry (which asks
    the backend first) or reconcile settles it, it must not be rejected or withdrawn."""
    return invoice.status == S.FAILED and invoice.failure_code == "outcome_unknown"


def is_correction(invoice) -> bool:
    return invoice.kind in CORRECTION_KINDS


def _void_pending(invoice, user=None) -> bool:
    """A live void of this invoice exists (annotated as `has_live_void` on lists)."""
    annotated = getattr(invoice, "has_live_void", None)
    if annotated is not None:
        return annotated
    if invoice.pk is None:
        return False
    return invoice.corrections.filter(kind="void", status__in=LIVE_STATUSES).exists()


def _has_next_version(invoice, user) -> bool:
    annotated = getattr(invoice, "has_next_version", None)
    if annotated is not None:
        return annotated
    return hasattr(invoice, "next_version")  # the reverse one-to-one: one query


def _outcome_unknown(invoice, user) -> bool:
    return outcome_unknown(invoice)


def _half_done_void(invoice, user) -> bool:
    """A void whose first upstream write (its credit note) is done: dropping it would leave the
    credit note upstream with nothing here that accounts for it."""
    return invoice.correction_step == CorrectionStep.CREDITED


def speaks_for(user) -> tuple:
    """The people a decision by `user` is made for: the user, and anyone they stand in for
    while that person is away (an approval policy's delegation; see invoices.extensions)."""
    return (user, *extensions.acting_for(user))


def _approved_an_earlier_stage(invoice, user) -> bool:
    """Each approval stage is a different person: whoever approved an earlier stage (in their own
    name or standing in for someone) may not approve a later one, nor may the person they stood
    in for."""
    if invoice.stages_required < 2:
        return False
    earlier = invoice.earlier_stage_people
    return any(person.pk in earlier for person in speaks_for(user))


@dataclass(frozen=True)
class Guard:
    blocks: Callable[[object, object], bool]  # (invoice, user) -> True: refuse the action
    message: str


OTHER_STAGE = (
    "You already approved an earlier stage of this invoice (or stand in for who did): another "
    "manager must approve this stage."
)


@dataclass(frozen=True)
class Action:
    name: str
    starts: str  # the transition the action begins with
    permission: str
    verb: str  # for "Your role does not allow you to <verb>."
    who: str  # "four_eyes": anyone with the permission but the submitter; "submitter": only
    # the person who submitted it; "anyone": anyone with the permission
    wrong_status: str  # "{status}" is replaced by the invoice's status, lower case
    guards: tuple[Guard, ...] = ()

    @property
    def sources(self) -> frozenset[str]:
        return transition(self.starts).sources


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action(
            "approve",
            "approve.start",
            roles.APPROVE,
            "approve invoices",
            "four_eyes",
            "This invoice is {status}, not pending approval.",
            (Guard(_approved_an_earlier_stage, OTHER_STAGE),),
        ),
        Action(
            "retry",
            "retry.start",
            roles.APPROVE,
            "approve invoices",
            "four_eyes",
            "Only a failed approval can be retried.",
            (
                Guard(
                    lambda inv, user: inv.failure_code == "already_invoiced", ALREADY_INVOICED_RETRY
                ),
                Guard(lambda inv, user: inv.failure_code == "refused_upstream", REFUSED_RETRY),
                Guard(_approved_an_earlier_stage, OTHER_STAGE),
            ),
        ),
        Action(
            "reject",
            "reject.record",
            roles.APPROVE,
            "reject invoices",
            "four_eyes",
            "This invoice is {status}; only pending or failed invoices can be rejected.",
            (
                Guard(_outcome_unknown, MAY_HAVE_BEEN_APPROVED),
                Guard(_half_done_void, HALF_DONE_VOID),
            ),
        ),
        Action(
            "withdraw",
            "withdraw.record",
            roles.SUBMIT,
            "withdraw invoices",
            "submitter",
            "This invoice is {status}; only pending or failed invoices can be withdrawn.",
            (
                Guard(_outcome_unknown, MAY_HAVE_BEEN_APPROVED),
                Guard(_half_done_void, HALF_DONE_VOID),
            ),
        ),
        Action(
            "revise",
            "revise.start",
            roles.SUBMIT,
            "submit invoices",
            "anyone",
            "Only a rejected invoice can be revised and resubmitted.",
            (
                Guard(
                    _has_next_version,
                    "This invoice has already been revised; open the newer version.",
                ),
            ),
        ),
        Action(
            "correct",
            "correct.start",
            roles.SUBMIT,
            "request corrections",
            "anyone",
            "This invoice is {status}; only an approved invoice can be corrected.",
            (
                Guard(lambda inv, user: is_correction(inv), CORRECTION_OF_CORRECTION),
                Guard(_void_pending, VOID_PENDING),
            ),
        ),
        Action(
            "reissue",
            "reissue.start",
            roles.SUBMIT,
            "submit invoices",
            "anyone",
            "This invoice is {status}; only a voided invoice can be re-issued.",
            (
                Guard(
                    _has_next_version,
                    "This invoice has already been re-issued; open the newer version.",
                ),
            ),
        ),
    )
}


@dataclass(frozen=True)
class Refusal:
    not_allowed: bool  # the person may never do this (403); otherwise the state forbids it (409)
    message: str


def refusal(action: str, invoice, user) -> Refusal | None:
    """Why `user` may not take `action` on `invoice` now, or None if they may."""
    rule = ACTIONS[action]
    is_submitter = invoice.submitted_by_id == user.pk
    if rule.who == "submitter" and not is_submitter:
        return Refusal(True, f"Only the clerk who submitted an invoice can {action} it.")
    if not user.has_perm(rule.permission):
        return Refusal(True, f"Your role does not allow you to {rule.verb}.")
    if rule.who == "four_eyes" and is_submitter:
        return Refusal(
            True, f"You submitted this invoice, so you cannot {action} it: another manager must."
        )
    if rule.who == "four_eyes":
        for principal in speaks_for(user)[1:]:
            if invoice.submitted_by_id == principal.pk:
                return Refusal(
                    True,
                    f"You stand in for {principal.get_username()}, who submitted this invoice, "
                    f"so you cannot {action} it: another manager must.",
                )
    if invoice.status not in rule.sources:
        label = Status(invoice.status).label.lower() if invoice.status else "new"
        return Refusal(False, rule.wrong_status.format(status=label))
    for guard in rule.guards:
        if guard.blocks(invoice, user):
            return Refusal(False, guard.message)
    return None


def allowed_actions(invoice, user, among=None) -> frozenset[str]:
    """The actions `user` may take on `invoice` now (what its page offers); `among`: only
    these are asked about (a list row offers one or two)."""
    return frozenset(name for name in among or ACTIONS if refusal(name, invoice, user) is None)


def may_read(user, invoice) -> bool:
    """Whether `user` may read `invoice`'s page (and what hangs off it, such as its PDF):
    everyone who reads history, and the person who submitted it."""
    return user.has_perm(roles.HISTORY) or invoice.submitted_by_id == user.pk
