"""Delegation while away: the delegate sees the absent manager's approvals and may decide during
the absence only, audited as "B for A"; never the submitter's stand-in, never the other stage's
approver; overlapping and self delegation, and one stand-in for two managers at once, are
refused with a message."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from invoices import roles, selectors, services
from invoices.models import AuditEvent, Invoice, StageApproval
from policies import services as absences
from policies.delegation import approves_in_own_right, forget_delegates, standing_in_for
from policies.models import Absence, ApprovalRule

from .conftest import JUNE, MAY

pytestmark = pytest.mark.django_db
S = Invoice.Status
TODAY = timezone.now().date()


def submitted(clerk) -> Invoice:
    return services.invoice_submit_cycle(
        actor=clerk,
        contract_id="c-1",
        cycle_key=MAY.key,
        cycle_fp=services.cycle_fingerprint(MAY),
        preview_total_minor=None,
    ).invoice


def approve(actor, invoice):
    return services.invoice_approve(
        actor=actor, invoice_id=invoice.pk, seen_hash=invoice.content_hash
    )


def away(manager, delegate, start=TODAY, end=TODAY + timedelta(days=3)) -> Absence:
    return absences.absence_record(manager=manager, delegate=delegate, starts_on=start, ends_on=end)


def fresh(user):
    """The same person in a new request (permissions are cached per request)."""
    return type(user).objects.get(pk=user.pk)


def test_during_the_absence_the_delegate_may_decide_audited_as_b_for_a(
    fake, clerk, manager, deputy
):
    invoice = submitted(clerk)
    assert not fresh(deputy).has_perm(roles.APPROVE)
    away(manager, deputy)
    deputy = fresh(deputy)
    assert deputy.has_perm(roles.APPROVE) and deputy.has_perm(roles.HISTORY)
    done = approve(deputy, invoice)
    assert done.status == S.APPROVED
    event = AuditEvent.objects.get(invoice=invoice, action="invoice.approval_started")
    assert event.actor == deputy
    assert event.reason == "deputy for manager"
    assert event.data["on_behalf_of"] == ["manager"]


@pytest.mark.parametrize(
    ("start", "end"),
    [(TODAY + timedelta(days=1), TODAY + timedelta(days=5)), (TODAY - timedelta(days=5), None)],
)
def test_outside_the_absence_the_delegate_may_not(fake, clerk, manager, deputy, start, end):
    invoice = submitted(clerk)
    if end is None:  # an absence that ended yesterday
        absence = Absence.objects.create(
            manager=manager, delegate=deputy, starts_on=start, ends_on=TODAY - timedelta(days=1)
        )
        forget_delegates()
        assert absence.pk
    else:
        away(manager, deputy, start, end)
    deputy = fresh(deputy)
    assert not deputy.has_perm(roles.APPROVE)
    with pytest.raises(services.NotAllowed):
        approve(deputy, invoice)


def test_a_cancelled_absence_ends_the_delegation(fake, clerk, manager, deputy):
    absence = away(manager, deputy)
    assert fresh(deputy).has_perm(roles.APPROVE)
    absences.absence_cancel(manager=manager, absence_id=absence.pk)
    assert not fresh(deputy).has_perm(roles.APPROVE)
    assert AuditEvent.objects.filter(action="policy.absence_cancelled").count() == 1


def test_the_delegate_never_approves_what_the_absent_manager_submitted(
    fake, manager, deputy, django_user_model
):
    from django.contrib.auth.models import Group

    manager.groups.add(Group.objects.get(name="Billing clerks"))
    invoice = submitted(fresh(manager))
    away(manager, deputy)
    with pytest.raises(services.NotAllowed, match="stand in for manager, who submitted"):
        approve(fresh(deputy), invoice)


def test_a_manager_standing_in_decides_in_their_own_name(
    fake, clerk, manager, manager2, client_for
):
    """Four eyes hold: the stand-in is another manager, so the limits of standing in (not what
    the absent manager submitted, not the stage after theirs) do not apply, nor does "for"."""
    from django.contrib.auth.models import Group

    manager.groups.add(Group.objects.get(name="Billing clerks"))
    own = submitted(fresh(manager))
    ApprovalRule.objects.create(name="Twice", stages=2)
    staged = services.invoice_submit_cycle(
        actor=clerk,
        contract_id="c-1",
        cycle_key=JUNE.key,
        cycle_fp=services.cycle_fingerprint(JUNE),
        preview_total_minor=None,
    ).invoice
    approve(fresh(manager), staged)  # stage 1, before going away
    away(manager, manager2)
    manager2 = fresh(manager2)
    assert approve(manager2, own).status == S.APPROVED
    assert approve(manager2, staged).status == S.APPROVED
    for invoice in (own, staged):
        event = AuditEvent.objects.get(invoice=invoice, action="invoice.approval_started")
        assert event.actor == manager2
        assert event.reason == ""
        assert "on_behalf_of" not in event.data
    assert StageApproval.objects.get(invoice=staged, stage=2).on_behalf_of is None
    assert selectors.invoice_page(Invoice.objects.get(pk=own.pk), manager2)["standing_in_for"] == ()
    html = client_for(manager2).get(reverse("policies:absences")).content.decode()
    assert "You stand in for" in html and "you decide their approvals in your own name" in html


def test_a_manager_standing_in_reads_the_history_like_any_manager(
    fake, clerk, manager, manager2, client_for
):
    invoice = submitted(clerk)
    away(manager, manager2)
    response = client_for(fresh(manager2)).get(reverse("invoices:history"))
    assert response.status_code == 200
    html = response.content.decode()
    detail = reverse("invoices:detail", args=[invoice.pk])
    assert f'<a href="{detail}">Review<span class="visually-hidden">' in html  # theirs to decide


def test_the_delegate_is_never_the_other_stages_approver(fake, clerk, manager, manager2, deputy):
    ApprovalRule.objects.create(name="Twice", stages=2)
    invoice = submitted(clerk)
    approve(manager, invoice)  # stage 1, in person
    away(manager, deputy)
    deputy = fresh(deputy)
    with pytest.raises(services.InvalidTransition, match="earlier stage"):
        approve(deputy, invoice)  # stands in for the stage-1 approver
    assert "approve" not in selectors.invoice_page(Invoice.objects.get(), deputy)["actions"]
    assert approve(manager2, invoice).status == S.APPROVED


def test_a_stage_approved_by_a_delegate_bars_the_absent_manager_from_the_next(
    fake, clerk, manager, manager2, deputy
):
    ApprovalRule.objects.create(name="Twice", stages=2)
    invoice = submitted(clerk)
    absence = away(manager, deputy)
    approve(fresh(deputy), invoice)  # stage 1, deputy for manager
    absences.absence_cancel(manager=manager, absence_id=absence.pk)  # manager is back
    with pytest.raises(services.InvalidTransition, match="earlier stage"):
        approve(fresh(manager), invoice)
    assert approve(manager2, invoice).status == S.APPROVED


def test_self_and_overlapping_delegation_is_refused_with_a_message(
    manager, manager2, deputy, clerk
):
    with pytest.raises(services.ServiceError, match="someone else"):
        away(manager, manager)
    away(manager, deputy, TODAY, TODAY + timedelta(days=5))
    with pytest.raises(services.ServiceError, match="overlaps"):
        away(manager, clerk, TODAY + timedelta(days=5), TODAY + timedelta(days=9))
    with pytest.raises(services.ServiceError, match="away themselves"):
        away(manager2, manager, TODAY + timedelta(days=1), TODAY + timedelta(days=2))
    with pytest.raises(services.ServiceError, match="on or after"):
        away(manager2, deputy, TODAY + timedelta(days=3), TODAY + timedelta(days=1))
    with pytest.raises(services.NotAllowed):
        away(clerk, deputy)
    assert Absence.objects.count() == 1
    # Back to back is not an overlap.
    assert away(manager, clerk, TODAY + timedelta(days=6), TODAY + timedelta(days=9)).pk


def test_one_stand_in_covers_one_absent_manager_at_a_time(
    fake, clerk, manager, manager2, manager3, deputy
):
    away(manager, deputy, TODAY, TODAY + timedelta(days=5))
    for start, end in [
        (TODAY + timedelta(days=5), TODAY + timedelta(days=9)),  # the last day in common
        (TODAY - timedelta(days=1), TODAY + timedelta(days=9)),  # around it
    ]:
        with pytest.raises(
            services.ServiceError,
            match=r"deputy already stands in for manager from .*; one person stands in for one",
        ):
            away(manager2, deputy, start, end)
    assert list(Absence.objects.values_list("manager__username", flat=True)) == ["manager"]
    # Before or after, or once the first absence is cancelled, they may stand in again.
    assert away(manager2, deputy, TODAY + timedelta(days=6), TODAY + timedelta(days=9)).pk
    first = Absence.objects.get(manager=manager)
    absences.absence_cancel(manager=manager, absence_id=first.pk)
    assert away(manager3, deputy, TODAY, TODAY + timedelta(days=5)).pk
    # So a stage decided by a stand-in is always for one absent manager, who is then barred
    # from the next stage with their stand-in (test above); nobody else's approval is used up.
    ApprovalRule.objects.create(name="Twice", stages=2)
    invoice = submitted(clerk)
    approve(fresh(deputy), invoice)
    assert list(invoice.stage_approvals.values_list("approver", "on_behalf_of")) == [
        (deputy.pk, manager3.pk)
    ]


def test_the_absences_page_refuses_a_stand_in_who_covers_someone_else(
    client_for, manager, manager2, deputy
):
    away(manager, deputy)
    response = client_for(manager2).post(
        reverse("policies:absences"),
        {"starts_on": TODAY.isoformat(), "ends_on": TODAY.isoformat(), "delegate": deputy.pk},
    )
    assert response.status_code == 409
    assert "deputy already stands in for manager" in response.content.decode()
    assert Absence.objects.count() == 1


def test_the_absences_page_records_and_explains(client_for, manager, deputy):
    client = client_for(manager)
    url = reverse("policies:absences")
    response = client.post(
        url, {"starts_on": TODAY.isoformat(), "ends_on": TODAY.isoformat(), "delegate": deputy.pk}
    )
    assert response.status_code == 302
    response = client.post(
        url, {"starts_on": TODAY.isoformat(), "ends_on": TODAY.isoformat(), "delegate": deputy.pk}
    )
    assert response.status_code == 409
    assert "overlaps" in response.content.decode()
    response = client.post(url, {"starts_on": "soon", "ends_on": "", "delegate": deputy.pk})
    assert response.status_code == 422
    assert Absence.objects.count() == 1
    assert "deputy" in client.get(url).content.decode()


def test_approving_in_ones_own_right_is_the_role_not_the_stand_in(
    manager, manager2, deputy, clerk, django_user_model
):
    away(manager, deputy)
    away(manager2, clerk)
    boss = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    for person, own in [(manager, True), (boss, True), (deputy, False), (clerk, False)]:
        assert approves_in_own_right(fresh(person)) is own, person
    assert fresh(deputy).has_perm(roles.APPROVE)  # standing in, yet not in their own right
    manager.is_active = False
    assert approves_in_own_right(manager) is False
    # A manager who loses the role is nobody's principal any more.
    manager2.groups.clear()
    assert approves_in_own_right(fresh(manager2)) is False
    assert standing_in_for(fresh(clerk)) == ()
    assert standing_in_for(fresh(deputy)) == (manager,)


def test_only_managers_in_their_own_right_record_absences(client_for, manager, deputy, clerk):
    away(manager, deputy)
    for person in (clerk, deputy):  # a stand-in cannot hand on what they stand in for
        assert client_for(person).get(reverse("policies:absences")).status_code == 403


def test_the_delegate_sees_the_inbox_only_while_standing_in(client_for, manager, deputy):
    assert client_for(deputy).get(reverse("invoices:inbox")).status_code == 403
    away(manager, deputy)
    assert client_for(fresh(deputy)).get(reverse("invoices:inbox")).status_code == 200
