"""The list pages after presenters: fixed query budgets whatever the rows, the rows' text, and
the filter forms' cached HTML always matching the request."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from invoices.models import Invoice

from ..helpers import count_queries

pytestmark = pytest.mark.django_db
S = Invoice.Status


def queries_for(client, url: str) -> int:
    client.get(url)  # warm caches (content types, the filter form's HTML)
    with count_queries() as queries:
        assert client.get(url).status_code == 200
    return len(queries)


# --- query budgets ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("who", "url_name", "budget"),
    [
        ("manager", "invoices:inbox", 7),
        ("clerk", "invoices:mine", 8),
        ("clerk", "home", 12),
        ("manager", "home", 12),
        ("auditor", "invoices:history", 8),
        ("manager", "invoices:history", 8),
    ],
)
def test_list_pages_make_the_same_queries_for_2_or_60_rows(
    client_for, request, make_invoice, clerk, manager2, who, url_name, budget
):
    client = client_for(request.getfixturevalue(who))
    url = reverse(url_name)

    def add(n):
        for _ in range(n):
            make_invoice(submitted_by=clerk, status=S.PENDING)
            make_invoice(submitted_by=clerk, status=S.REJECTED, decided_by=manager2)

    add(2)
    few = queries_for(client, url)
    add(30)
    many = queries_for(client, url)
    assert many == few
    assert many <= budget


def test_the_audit_log_makes_the_same_queries_for_2_or_60_events(
    client_for, auditor, record_event, clerk, make_invoice, django_assert_max_num_queries
):
    client = client_for(auditor)
    url = reverse("invoices:audit")
    for _ in range(2):
        record_event(clerk, "invoice.submitted", invoice=make_invoice(), to_status=S.PENDING)
    few = queries_for(client, url)
    for _ in range(60):
        record_event(clerk, "invoice.submitted", invoice=make_invoice(), to_status=S.PENDING)
    with django_assert_max_num_queries(few):
        html = client.get(url).content.decode()
    assert html.count('<th scope="row">#') == 50


def test_the_invoice_page_makes_the_same_queries_for_1_or_3_versions(
    client_for, auditor, clerk, manager2, make_invoice, record_event, django_user_model
):
    client = client_for(auditor)
    first = make_invoice(status=S.REJECTED, decided_by=manager2, decision_reason="Wrong rate")
    record_event(clerk, "invoice.submitted", invoice=first, to_status=S.PENDING)
    few = queries_for(client, reverse("invoices:detail", args=[first.pk]))
    # Two more versions by a clerk the kept account list does not know yet, more events.
    newcomer = django_user_model.objects.create_user(username="newcomer", password="x-1234567")
    second = make_invoice(
        lineage=first.lineage,
        version=2,
        previous=first,
        submitted_by=newcomer,
        status=S.REJECTED,
        decided_by=manager2,
        decision_reason="Still wrong",
    )
    third = make_invoice(lineage=first.lineage, version=3, previous=second)
    for invoice in (second, third):
        for action in ("invoice.submitted", "invoice.rejected"):
            record_event(clerk, action, invoice=invoice, to_status=S.PENDING)
    url = reverse("invoices:detail", args=[third.pk])
    assert queries_for(client, url) == few
    html = client.get(url).content.decode()
    assert "by newcomer</td>" in html and "manager2: “Still wrong”" in html
    assert html.count("(v2)") == 2 and html.count("(v3)") == 2


def test_an_invoice_page_reads_its_corrections_with_its_versions(
    client_for, auditor, clerk2, manager2, make_invoice
):
    client = client_for(auditor)
    issued = make_invoice(status=S.APPROVED, decided_by=manager2, total_minor=10_000)
    url = reverse("invoices:detail", args=[issued.pk])
    none_yet = queries_for(client, url)
    credit = make_invoice(
        kind=Invoice.Kind.CREDIT_NOTE,
        corrects=issued,
        reason_code="goodwill",
        total_minor=2_500,
        submitted_by=clerk2,
        status=S.APPROVED,
        decided_by=manager2,
    )
    make_invoice(
        kind=Invoice.Kind.VOID,
        corrects=issued,
        reason_code="duplicate",
        total_minor=7_500,
        submitted_by=clerk2,
    )
    assert queries_for(client, url) == none_yet
    html = client.get(url).content.decode()
    assert html.count("<td>clerk2<br>") == 2 and "manager2<br>" in html
    # A correction's page: what it corrects and its standing, the same number of queries.
    correction_url = reverse("invoices:detail", args=[credit.pk])
    assert queries_for(client, correction_url) == none_yet
    assert f"invoice #{issued.pk}" in client.get(correction_url).content.decode()


def test_the_inbox_lists_the_oldest_pending_first_up_to_its_limit(
    manager, manager2, clerk, make_invoice
):
    from django.utils import timezone

    from invoices import selectors
    from invoices.models import StageApproval

    make_invoice(status=S.APPROVED, decided_by=manager2)
    pending = [make_invoice(status=S.PENDING) for _ in range(4)]
    two_stage = pending[1]
    two_stage.stages_required = 2
    two_stage.save()
    StageApproval.objects.create(
        invoice=two_stage, stage=1, approver=manager2, content_hash="a" * 64, at=timezone.now()
    )
    rows = selectors.approval_inbox(manager, limit=3)
    assert [row.pk for row in rows] == [invoice.pk for invoice in pending[:3]]
    assert [row.stage for row in rows] == ["1 of 1", "2 of 2", "1 of 1"]


# --- what the rows say -----------------------------------------------------------------------
def test_the_inbox_rows(client_for, manager, clerk, make_invoice):
    mine = make_invoice(submitted_by=manager, currency="KWD", total_minor=1250)
    theirs = make_invoice(
        submitted_by=clerk, currency="JPY", total_minor=0, preview_total_minor=500
    )
    html = client_for(manager).get(reverse("invoices:inbox")).content.decode()
    assert f'<a href="/invoices/{theirs.pk}/">#{theirs.pk}</a>' in html
    assert 'manager <span class="muted">(you)</span>' in html
    assert "clerk <span" not in html
    assert "KWD\xa01.250" in html and "¥0" in html
    assert '<span class="badge status-pending_approval">Pending approval</span>' in html
    assert "Draft ≠ preview" in html and "Zero total" in html
    assert mine.pk != theirs.pk


def test_my_invoices_rows(client_for, clerk, manager, make_invoice):
    rejected = make_invoice(
        submitted_by=clerk,
        status=S.REJECTED,
        decided_by=manager,
        decision_reason="Seat count <wrong>",
        cycle_name="March 2026",
        contract_name="Acme platform",
    )
    make_invoice(submitted_by=clerk, submitted_at=datetime(2026, 4, 2, 9, 30, tzinfo=UTC))
    html = client_for(clerk).get(reverse("invoices:mine")).content.decode()
    assert "Acme platform · March 2026" in html
    assert "Seat count &lt;wrong&gt;" in html
    assert f'<a href="{reverse("invoices:revise", args=[rejected.pk])}">Revise and resubmit' in html
    assert "<td>2026-04-02 09:30</td>" in html
    assert "<td>manager</td>" in html


def test_home_lists_what_was_sent_back(client_for, clerk, manager, make_invoice):
    rejected = make_invoice(
        submitted_by=clerk, status=S.REJECTED, decided_by=manager, decision_reason="Check seats"
    )
    html = client_for(clerk).get(reverse("home")).content.decode()
    assert f"#{rejected.pk} {rejected.contract_name}</a> — “Check seats” (manager)" in html
    assert reverse("invoices:revise", args=[rejected.pk]) in html


# --- the filter forms' cached HTML -----------------------------------------------------------
def test_the_cached_filter_form_always_shows_this_request_s_filters(client_for, auditor):
    client = client_for(auditor)
    url = reverse("invoices:history")
    assert 'value="ACME"' in client.get(url + "?q=ACME").content.decode()
    assert 'value="ACME"' not in client.get(url).content.decode()
    html = client.get(url + "?q=OTHER").content.decode()
    assert 'value="OTHER"' in html and 'value="ACME"' not in html
    again = client.get(url + "?q=ACME").content.decode()
    assert 'value="ACME"' in again and 'value="OTHER"' not in again


def test_the_cached_filter_form_shows_this_request_s_errors(client_for, auditor):
    client = client_for(auditor)
    url = reverse("invoices:history")
    client.get(url + "?currency=USD")
    response = client.get(url + "?currency=ZZZ")
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.content.decode()
    assert 'aria-invalid="true"' not in client.get(url + "?currency=USD").content.decode()


def test_a_new_account_appears_in_the_cached_people_filters(client_for, auditor, django_user_model):
    client = client_for(auditor)
    url = reverse("invoices:history")
    assert "newcomer" not in client.get(url).content.decode()
    django_user_model.objects.create_user(username="newcomer", password="x-123456789")
    assert '<option value="newcomer">newcomer</option>' in client.get(url).content.decode()
    audit = client.get(reverse("invoices:audit")).content.decode()
    assert '<option value="newcomer">newcomer</option>' in audit


def test_the_account_list_is_read_once_per_process_for_a_while(
    auditor, django_user_model, django_assert_num_queries, monkeypatch
):
    from invoices.selectors import lists

    first = lists.user_choices()
    assert (auditor.pk, "auditor") in first
    with django_assert_num_queries(0):
        assert lists.user_choices() == first
    # Saving an account (here, or a sign-in's last_login) makes this process read it again.
    newcomer = django_user_model.objects.create_user(username="newcomer", password="x-1234567")
    with django_assert_num_queries(1):
        assert (newcomer.pk, "newcomer") in lists.user_choices()
    newcomer.delete()
    assert (newcomer.pk, "newcomer") not in lists.user_choices()
    # Another process's change is seen once ACCOUNTS_SECONDS have passed.
    django_user_model.objects.filter(pk=auditor.pk).update(username="renamed")  # no signal
    assert (auditor.pk, "auditor") in lists.user_choices()
    import django.core.cache.backends.locmem as locmem

    later = locmem.time.time() + lists.ACCOUNTS_SECONDS + 1
    monkeypatch.setattr(locmem.time, "time", lambda: later)
    assert (auditor.pk, "renamed") in lists.user_choices()


def test_the_account_list_is_read_again_once_a_change_commits(
    auditor, django_capture_on_commit_callbacks
):
    from django.core.cache import caches
    from django.db import transaction

    from invoices.selectors import lists

    stale = lists.user_choices()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        auditor.username = "renamed"
        auditor.save()
        # Another thread of this process reads the list before the rename commits.
        caches["process"].set(lists._ACCOUNTS_KEY, stale, lists.ACCOUNTS_SECONDS)
    assert (auditor.pk, "renamed") in lists.user_choices()


def test_rows_name_people_the_kept_account_list_does_not_know_yet(
    client_for, auditor, clerk, make_invoice, django_user_model
):
    from django.core.cache import caches

    from invoices.selectors import lists

    client = client_for(auditor)
    url = reverse("invoices:history")
    client.get(url)
    # Another process added an account a moment ago: this one's kept list lacks it.
    kept = lists.user_choices()
    newcomer = django_user_model.objects.create_user(username="newcomer", password="x-1234567")
    caches["process"].set(lists._ACCOUNTS_KEY, kept, lists.ACCOUNTS_SECONDS)
    make_invoice(submitted_by=newcomer)
    html = client.get(url).content.decode()
    assert '<option value="newcomer">' not in html  # not in the filter yet
    assert "by newcomer<" in html  # but its row names the submitter


def test_filter_forms_share_fields_made_once_per_list_of_accounts():
    from invoices.forms import AuditFilterForm, HistoryFilterForm

    staff = [(1, "ann"), (2, "bob")]
    first, second = HistoryFilterForm({}, users=staff), HistoryFilterForm({}, users=staff)
    assert first.fields["status"] is second.fields["status"]  # made once, shared
    other = HistoryFilterForm({}, users=[(3, "cy")])
    assert [c for c, _ in other.fields["submitter"].choices] == ["", "cy"]
    assert [c for c, _ in first.fields["submitter"].choices] == ["", "ann", "bob"]
    # A form's errors and values are its own.
    bad = HistoryFilterForm({"status": "nonsense", "submitter": "bob"}, users=staff)
    assert not bad.is_valid() and "status" in bad.errors
    assert first.is_valid() and not first.errors
    # The audit form's action list follows its own URL, not another form's.
    odd = AuditFilterForm({"action": "custom.thing"}, users=staff)
    plain = AuditFilterForm({}, users=staff)
    assert ("custom.thing", "custom.thing") in odd.fields["action"].widget.choices
    assert ("custom.thing", "custom.thing") not in plain.fields["action"].widget.choices
    assert 'autocomplete="off"' in str(first["customer"])
