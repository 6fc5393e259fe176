"""Bill runs through the services and the worker: plan, launch, outcomes per item, outages and
rate limits, cancel, retry, and the audit trail."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from billruns import notifications, services, work
from billruns.models import BillRun, BillRunItem
from billruns.planning import PlanFilters, build_plan
from billruns.states import ItemState, RunState
from invoices import services as invoice_services
from invoices.audit import audit_verify
from invoices.backends.base import BackendRejected, BackendUnavailable
from invoices.models import AuditEvent, Invoice, Notification
from invoices.money import format_money
from invoices.notifications import MAX_ATTEMPTS
from tests.workflow.fake_backend import FakeDraft

from .conftest import JUNE, MAY, THROUGH, launched, planned

pytestmark = pytest.mark.django_db
I = ItemState  # noqa: E741


def items(run) -> dict[tuple[str, str], BillRunItem]:
    return {(i.contract_id, i.cycle_bill_for_date): i for i in run.items.all()}


# --- the dry run ---------------------------------------------------------------------------------
def test_the_dry_run_groups_due_cycles_by_currency_and_says_what_it_leaves_out(world):
    plan = build_plan(PlanFilters(through=THROUGH))
    assert [(g.currency, g.count, g.total_minor) for g in plan.groups] == [
        ("EUR", 2, 16000),
        ("USD", 2, 30000),
    ]
    assert plan.exact
    reasons = {(s.contract_id, s.cycle_name): s.reason for s in plan.exceptions}
    assert "paused" in reasons[("c-4", "")]
    assert reasons[("c-3", MAY.name)].startswith("Zero total")
    assert reasons[("c-3", JUNE.name)].startswith("Zero total")
    # July is billed on 2026-07-01, after the bill-through date: neither planned nor an exception.
    assert all(c.cycle.bill_for.date() <= THROUGH for c in plan.cycles)


def test_the_dry_run_filters_by_currency_customer_and_contract_status(world):
    eur = build_plan(PlanFilters(through=THROUGH, currency="EUR"))
    assert {c.contract_id for c in eur.cycles} == {"c-2"}
    assert eur.exceptions == []  # contracts in another currency are simply not in the plan
    by_name = build_plan(PlanFilters(through=THROUGH, customer="acme"))
    assert {c.contract_id for c in by_name.cycles} == {"c-1"}
    by_id = build_plan(PlanFilters(through=THROUGH, customer="cust-c-2"))
    assert {c.contract_id for c in by_id.cycles} == {"c-2"}
    paused_too = build_plan(PlanFilters(through=THROUGH, statuses=("active", "paused")))
    assert {c.contract_id for c in paused_too.cycles} == {"c-1", "c-2", "c-4"}


def test_the_dry_run_leaves_out_cycles_with_a_live_invoice_in_one_query(
    world, clerk, django_assert_max_num_queries
):
    invoice_services.invoice_submit_cycle(
        actor=clerk,
        contract_id="c-1",
        cycle_key=MAY.key,
        cycle_fp=invoice_services.cycle_fingerprint(MAY),
        preview_total_minor=None,
    )
    with django_assert_max_num_queries(1):  # the fake backend asks no database
        plan = build_plan(PlanFilters(through=THROUGH))
    assert plan.already_live == 1
    assert ("c-1", MAY.key) not in {(c.contract_id, c.cycle.key) for c in plan.cycles}


def test_a_contract_the_backend_cannot_read_is_an_exception_not_a_failure(world):
    world.fail("list_billing_cycles", BackendRejected("Contract terms cannot be rated."))
    plan = build_plan(PlanFilters(through=THROUGH))
    assert any("cannot be rated" in s.reason for s in plan.exceptions)
    assert plan.cycles  # the other contracts are planned


def test_planning_in_the_background_freezes_the_cycles_verbatim(
    world, clerk, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run = services.billrun_plan(actor=clerk, filters=PlanFilters(through=THROUGH))
    run.refresh_from_db()
    assert run.status == RunState.PLANNED and run.plan_total == 3
    item = items(run)[("c-1", MAY.key)]
    assert item.cycle == MAY  # every value exactly as the backend listed it
    assert (item.status, item.preview_total_minor, item.currency) == (I.PLANNED, 15000, "USD")
    assert not Invoice.objects.exists()  # a dry run submits nothing


def test_planning_fails_clearly_when_the_contract_list_cannot_be_read(
    world, clerk, django_capture_on_commit_callbacks
):
    world.fail("search_contracts", BackendUnavailable("Zenskar could not be reached"))
    with django_capture_on_commit_callbacks(execute=True):
        run = services.billrun_plan(actor=clerk, filters=PlanFilters(through=THROUGH))
    run.refresh_from_db()
    assert run.status == RunState.PLAN_FAILED
    assert "Zenskar could not be reached" in run.failure_message


def test_only_clerks_plan_and_launch(world, manager, clerk):
    with pytest.raises(invoice_services.NotAllowed):
        services.billrun_plan(actor=manager, filters=PlanFilters(through=THROUGH))
    run = planned(clerk)
    with pytest.raises(invoice_services.NotAllowed):
        services.billrun_launch(actor=manager, run_id=run.pk)


# --- a run ----------------------------------------------------------------------------------------
def test_a_run_submits_every_planned_cycle_through_the_submit_service(
    world, clerk, clerk2, manager, django_capture_on_commit_callbacks
):
    run = planned(clerk)
    with django_capture_on_commit_callbacks(execute=True):
        services.billrun_launch(actor=clerk2, run_id=run.pk)  # another clerk launches it
    run.refresh_from_db()
    assert run.status == RunState.FINISHED and run.finished_at
    invoices = Invoice.objects.filter(run_id=run.pk)
    assert invoices.count() == 4 == BillRunItem.objects.filter(status=I.SUBMITTED).count()
    assert {i.submitted_by for i in invoices} == {clerk2}  # in the launcher's name
    assert all(i.status == Invoice.Status.PENDING for i in invoices)
    assert world.calls["generate_draft"] == 4
    for item in run.items.all():
        assert item.invoice.cycle_bill_for_date == item.cycle_bill_for_date
    # Every event of the run's invoices names the run; the run itself is audited.
    events = AuditEvent.objects.filter(invoice__run_id=run.pk)
    assert events.count() == 4 and all(e.data["run"] == run.pk for e in events)
    actions = list(AuditEvent.objects.filter(invoice=None).values_list("action", flat=True))
    assert actions.count("billrun.started") == 1 and actions.count("billrun.finished") == 1
    assert audit_verify().ok


def test_a_run_sends_one_summary_and_no_email_per_invoice(
    world, clerk, manager, django_capture_on_commit_callbacks
):
    run = launched(clerk, django_capture_on_commit_callbacks)
    assert not Notification.objects.exists()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert f"Bill run #{run.pk}" in message.subject
    assert sorted(message.to) == ["clerk@example.com", "manager@example.com"]
    assert "Submitted for approval: 4" in message.body
    assert f"Submitted in EUR: {format_money(16000, 'EUR')}" in message.body  # 2 x 80.00
    assert f"Submitted in USD: {format_money(30000, 'USD')}" in message.body  # 2 x 150.00
    assert f"/billruns/{run.pk}/review" in message.body
    run.refresh_from_db()
    assert run.summary_sent_at is not None


def test_a_summary_the_mail_server_refused_is_tried_again_later_then_given_up(
    world, clerk, manager, settings, django_capture_on_commit_callbacks, monkeypatch
):
    def down(*args, **kwargs):
        raise ConnectionRefusedError("mail server refused the connection")

    monkeypatch.setattr(notifications, "send_mail", down)
    run = launched(clerk, django_capture_on_commit_callbacks)
    assert run.summary_sent_at is None and run.summary_attempts == 1
    step = timedelta(minutes=settings.NOTIFICATION_RETRY_MINUTES)
    assert notifications.owed(now=run.finished_at + step) == ([], [])  # waits twice as long
    assert notifications.owed(now=run.finished_at + 2 * step) == ([run.pk], [])
    BillRun.objects.filter(pk=run.pk).update(summary_attempts=MAX_ATTEMPTS - 1)
    assert notifications.deliver_run_summary(run.pk) == "failed"
    assert notifications.owed(now=run.finished_at + step * 2**20) == ([], [])  # given up
    assert notifications.deliver_run_summary(run.pk) == "nothing owed"
    monkeypatch.undo()
    BillRun.objects.filter(pk=run.pk).update(summary_attempts=1)
    assert notifications.deliver_run_summary(run.pk) == "sent"
    assert [m.subject.startswith(f"Bill run #{run.pk}") for m in mail.outbox] == [True]


def test_a_cycle_that_became_live_meanwhile_is_skipped_with_a_link(
    world, clerk, clerk2, django_capture_on_commit_callbacks
):
    run = planned(clerk)
    by_hand = invoice_services.invoice_submit_cycle(
        actor=clerk2,
        contract_id="c-1",
        cycle_key=MAY.key,
        cycle_fp=invoice_services.cycle_fingerprint(MAY),
        preview_total_minor=None,
    ).invoice
    with django_capture_on_commit_callbacks(execute=True):
        services.billrun_launch(actor=clerk, run_id=run.pk)
    item = items(run)[("c-1", MAY.key)]
    assert item.status == I.SKIPPED and item.invoice == by_hand
    assert "already has a live invoice" in item.message and "a clerk" in item.message
    assert Invoice.objects.filter(status__in=Invoice.LIVE_STATUSES).count() == 4


def test_two_runs_over_the_same_cycles_cannot_double_invoice(
    world, clerk, clerk2, django_capture_on_commit_callbacks
):
    first, second = planned(clerk), planned(clerk2)
    with django_capture_on_commit_callbacks(execute=True):
        services.billrun_launch(actor=clerk, run_id=first.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.billrun_launch(actor=clerk2, run_id=second.pk)
    assert Invoice.objects.filter(status__in=Invoice.LIVE_STATUSES).count() == 4
    assert set(second.items.values_list("status", flat=True)) == {I.SKIPPED}
    assert all(f"bill run #{first.pk}" in i.message for i in second.items.all())
    assert world.calls["generate_draft"] == 4


def test_a_cycle_already_invoiced_upstream_is_skipped(
    world, clerk, django_capture_on_commit_callbacks
):
    run = planned(clerk, currency="EUR")
    world.drafts["up-1"] = FakeDraft(
        "up-1", "c-2", "cust-c-2", MAY.bill_for_date, (), "EUR", status="approved"
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.billrun_launch(actor=clerk, run_id=run.pk)
    item = items(run)[("c-2", MAY.key)]
    assert item.status == I.SKIPPED and item.message.startswith("Already invoiced upstream")


def test_a_zero_total_draft_is_skipped_and_taken_back(
    world, clerk, django_capture_on_commit_callbacks
):
    run = planned(clerk, currency="EUR")
    world.lines[("c-2", MAY.bill_for_date)] = ()  # the contract changed since planning
    with django_capture_on_commit_callbacks(execute=True):
        services.billrun_launch(actor=clerk, run_id=run.pk)
    item = items(run)[("c-2", MAY.key)]
    assert item.status == I.SKIPPED and item.message.startswith("Zero total")
    assert not [d for d in world.drafts.values() if d.bill_for_date == MAY.bill_for_date]


def test_a_cycle_that_changed_since_planning_fails_with_a_clear_message(
    world, clerk, django_capture_on_commit_callbacks
):
    run = planned(clerk, currency="EUR")
    world.cycles["c-2"] = (JUNE,)  # May is no longer listed
    with django_capture_on_commit_callbacks(execute=True):
        services.billrun_launch(actor=clerk, run_id=run.pk)
    item = items(run)[("c-2", MAY.key)]
    assert item.status == I.FAILED and "Plan a new run" in item.message
    assert items(run)[("c-2", JUNE.key)].status == I.SUBMITTED


# --- outages and rate limits ---------------------------------------------------------------------
def test_an_outage_makes_items_wait_and_retry_with_backoff(
    world, clerk, settings, django_capture_on_commit_callbacks
):
    settings.BILLRUN_BACKOFF_SECONDS = 0.4  # the first item still waits when the second fails
    world.fail("generate_draft", BackendUnavailable("Zenskar is unavailable (HTTP 503)"))
    world.fail("generate_draft", BackendUnavailable("Zenskar is unavailable (HTTP 503)"))
    run = launched(clerk, django_capture_on_commit_callbacks, currency="EUR")
    assert run.status == RunState.FINISHED
    assert set(run.items.values_list("status", flat=True)) == {I.SUBMITTED}
    assert sorted(run.items.values_list("attempts", flat=True)) == [1, 1]
    assert run.backoff_until is not None  # two items waiting: the whole run held back


def test_a_single_blip_holds_only_its_own_item(
    world, clerk, settings, django_capture_on_commit_callbacks
):
    settings.BILLRUN_BACKOFF_SECONDS = 0.01
    world.fail("generate_draft", BackendUnavailable("Zenskar could not be reached"))
    run = launched(clerk, django_capture_on_commit_callbacks, currency="EUR")
    assert set(run.items.values_list("status", flat=True)) == {I.SUBMITTED}
    assert sorted(run.items.values_list("attempts", flat=True)) == [0, 1]
    assert run.backoff_until is None


def test_an_outage_that_lasts_fails_items_with_the_backends_message(
    world, clerk, settings, django_capture_on_commit_callbacks
):
    settings.BILLRUN_BACKOFF_SECONDS = 0.01
    settings.BILLRUN_MAX_ATTEMPTS = 3
    world.fail("generate_draft", *[BackendUnavailable("Zenskar could not be reached")] * 20)
    run = launched(clerk, django_capture_on_commit_callbacks, currency="EUR")
    assert run.status == RunState.FINISHED
    for item in run.items.all():
        assert item.status == I.FAILED
        assert item.message == "Zenskar could not be reached (gave up after 3 attempts)"
    assert not Invoice.objects.exists()  # every intent was dropped


def test_a_rate_limit_holds_the_whole_run_for_the_retry_after_asked(
    world, clerk, django_capture_on_commit_callbacks
):
    run = planned(clerk, currency="EUR")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.billrun_launch(actor=clerk, run_id=run.pk)
    assert callbacks  # the workers are queued after commit
    world.fail(
        "generate_draft",
        BackendUnavailable("Zenskar is rate-limiting requests (429)", retry_after=30),
    )
    item = work._claim(run.pk)
    before = timezone.now()
    work.process_item(item, BillRun.objects.select_related("launched_by").get(pk=run.pk))
    run.refresh_from_db()
    item.refresh_from_db()
    assert item.status == I.PENDING and item.attempts == 1
    assert item.next_attempt_at >= before + timedelta(seconds=29)
    assert run.backoff_until >= before + timedelta(seconds=29)
    assert work._claim(run.pk) is None  # nothing is claimed while the run waits
    BillRun.objects.filter(pk=run.pk).update(backoff_until=None)
    assert work._claim(run.pk) is not None  # the other item was due all along


def test_a_refusal_fails_the_item_at_once(world, clerk, django_capture_on_commit_callbacks):
    world.fail("generate_draft", BackendRejected("customer_id: not a customer of this contract"))
    run = launched(clerk, django_capture_on_commit_callbacks, currency="EUR")
    failed = run.items.get(status=I.FAILED)
    assert failed.message == "customer_id: not a customer of this contract"
    assert failed.attempts == 0


# --- cancel and retry ----------------------------------------------------------------------------
def test_cancel_stops_new_claims_and_the_items_in_flight_finish(
    world, clerk, clerk2, django_capture_on_commit_callbacks
):
    run = planned(clerk)
    with django_capture_on_commit_callbacks(execute=False):
        services.billrun_launch(actor=clerk, run_id=run.pk)
    in_flight = work._claim(run.pk)  # a worker holds one item
    services.billrun_cancel(actor=clerk2, run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunState.CANCELLED and run.finished_at is None
    assert work._claim(run.pk) is None  # no new claims
    work.process_item(in_flight, BillRun.objects.select_related("launched_by").get(pk=run.pk))
    in_flight.refresh_from_db()
    assert in_flight.status == I.SUBMITTED  # it finished
    assert services.finish_if_done(run.pk)
    run.refresh_from_db()
    assert run.finished_at is not None
    assert run.items.filter(status=I.CANCELLED).count() == 3
    cancelled = AuditEvent.objects.get(action="billrun.cancelled")
    assert cancelled.actor == clerk2
    assert cancelled.data == {"run": run.pk, "cancelled_items": 3, "in_flight": 1}
    assert AuditEvent.objects.get(action="billrun.finished").data["status"] == "cancelled"


def test_an_item_in_flight_at_the_cancel_that_must_wait_is_cancelled_and_the_run_finishes(
    world, clerk, clerk2, django_capture_on_commit_callbacks
):
    run = planned(clerk)
    with django_capture_on_commit_callbacks(execute=False):
        services.billrun_launch(actor=clerk, run_id=run.pk)
    in_flight = work._claim(run.pk)
    services.billrun_cancel(actor=clerk2, run_id=run.pk)
    world.fail("generate_draft", BackendUnavailable("Zenskar could not be reached"))
    work.process_item(in_flight, BillRun.objects.select_related("launched_by").get(pk=run.pk))
    in_flight.refresh_from_db()
    assert in_flight.status == I.PENDING  # it would retry later, in a run that is cancelled
    assert work.outlook(run.pk).open == 0  # so the workers do not wait for it
    assert services.finish_if_done(run.pk)
    in_flight.refresh_from_db()
    assert in_flight.status == I.CANCELLED and in_flight.finished_at is not None
    assert work._claim(run.pk) is None
    assert not run.items.filter(status__in=(I.PENDING, I.CLAIMED)).exists()


def test_a_planned_run_can_be_discarded_but_not_launched_afterwards(world, clerk):
    run = planned(clerk)
    services.billrun_cancel(actor=clerk, run_id=run.pk)
    with pytest.raises(invoice_services.InvalidTransition, match="cancelled"):
        services.billrun_launch(actor=clerk, run_id=run.pk)
    assert set(run.items.values_list("status", flat=True)) == {I.CANCELLED}


def test_a_stale_plan_must_be_planned_again(world, clerk):
    run = planned(clerk)
    BillRun.objects.filter(pk=run.pk).update(planned_at=timezone.now() - timedelta(hours=2))
    with pytest.raises(invoice_services.InvalidTransition, match="more than an hour old"):
        services.billrun_launch(actor=clerk, run_id=run.pk)


def test_retry_failed_items_queues_only_the_failed_ones_again(
    world, clerk, settings, django_capture_on_commit_callbacks
):
    settings.BILLRUN_BACKOFF_SECONDS = 0.01
    settings.BILLRUN_MAX_ATTEMPTS = 1
    world.fail("generate_draft", BackendUnavailable("Zenskar could not be reached"))
    run = launched(clerk, django_capture_on_commit_callbacks, currency="EUR")
    assert sorted(run.items.values_list("status", flat=True)) == [I.FAILED, I.SUBMITTED]
    calls = world.calls["generate_draft"]
    with django_capture_on_commit_callbacks(execute=True):
        assert services.billrun_retry_failed(actor=clerk, run_id=run.pk) == 1
    run.refresh_from_db()
    assert run.status == RunState.FINISHED
    assert set(run.items.values_list("status", flat=True)) == {I.SUBMITTED}
    assert world.calls["generate_draft"] == calls + 1  # only the failed one
    assert AuditEvent.objects.get(action="billrun.retried").data == {"run": run.pk, "items": 1}
    assert AuditEvent.objects.filter(action="billrun.finished").count() == 2
    with pytest.raises(invoice_services.InvalidTransition, match="no failed items"):
        services.billrun_retry_failed(actor=clerk, run_id=run.pk)


def test_a_run_in_flight_is_worked_by_a_second_task_beside_the_first(world, clerk):
    run = planned(clerk)
    services.billrun_launch(actor=clerk, run_id=run.pk)  # not executed: no commit in a test
    first = work._claim(run.pk)
    second = work._claim(run.pk)
    assert first.pk != second.pk and first.lease_token != second.lease_token
    # A worker that lost its lease records nothing.
    BillRunItem.objects.filter(pk=first.pk).update(lease_token="someone-else")
    work.process_item(first, BillRun.objects.select_related("launched_by").get(pk=run.pk))
    assert BillRunItem.objects.get(pk=first.pk).status == I.CLAIMED
