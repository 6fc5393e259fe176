"""The correction pages over HTTP: who may open them, bad input answered with a message and
nothing saved, the invoice page's corrections and balance, re-issue, history, CSV and admin."""

import csv
import io

import pytest
from django.urls import reverse

from invoices import services
from invoices.models import Invoice

from ..helpers import count_queries
from .conftest import JUNE, MAY
from .fake_backend import line
from .test_corrections import HOSTING, SUPPORT, approve, ask, submitted

pytestmark = pytest.mark.django_db
S = Invoice.Status
K = Invoice.Kind


@pytest.fixture
def approved(fake, clerk, manager) -> Invoice:
    return approve(manager, submitted(clerk))


def correct_url(invoice) -> str:
    return reverse("invoices:correct", args=[invoice.pk])


def form(what="credit_lines", **fields):
    return {
        "what": what,
        "reason_code": "quantity_error",
        "reason_text": "23 seats were used, not 25",
        **fields,
    }


# --- who may -------------------------------------------------------------------------------------
def test_a_clerk_sees_the_request_page_with_what_is_left_of_each_line(client_for, approved, clerk):
    response = client_for(clerk).get(correct_url(approved))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"Correct invoice #{approved.pk}" in html
    for text in ("Hosting", "Support", "$100.00", "$50.00", "Credit and re-issue", "Pricing error"):
        assert text in html
    assert 'name="line_0"' in html and 'name="line_1"' in html


@pytest.mark.parametrize("who", ["manager", "auditor", "outsider"])
def test_other_roles_cannot_open_or_post_the_request_page(request, client_for, approved, who):
    client = client_for(request.getfixturevalue(who))
    assert client.get(correct_url(approved)).status_code == 403
    assert client.post(correct_url(approved), form(line_0="1")).status_code == 403
    assert Invoice.objects.count() == 1


def test_signed_out_people_are_sent_to_sign_in(client, approved):
    response = client.get(correct_url(approved))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_invoice_page_offers_a_correction_only_when_it_can_be_asked(
    client_for, fake, clerk, manager, approved
):
    def offered(person, invoice) -> bool:
        page = client_for(person).get(reverse("invoices:detail", args=[invoice.pk]))
        return f'href="{correct_url(invoice)}"' in page.content.decode()

    pending = services.invoice_submit_cycle(
        actor=clerk,
        contract_id="c-1",
        cycle_key=JUNE.key,
        cycle_fp=services.cycle_fingerprint(JUNE),
        preview_total_minor=None,
    ).invoice
    assert offered(clerk, approved)
    assert not offered(manager, approved)
    assert not offered(clerk, pending)


# --- bad input: a message, and nothing saved -----------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("25.005", "USD amounts have at most 2 decimals."),
        ("0", "Enter an amount greater than zero."),
        ("-5", "Enter an amount that is not negative."),
        ("25,00", "Use &#x27;,&#x27; only to separate thousands"),
        ("abc", "Enter only the number"),
    ],
)
def test_an_unreadable_amount_is_refused_with_its_reason(
    client_for, approved, clerk, typed, message
):
    response = client_for(clerk).post(correct_url(approved), form(line_0=typed))
    assert response.status_code == 422
    assert message in response.content.decode()
    assert Invoice.objects.count() == 1


def test_no_amount_for_a_line_credit_is_refused(client_for, approved, clerk):
    response = client_for(clerk).post(correct_url(approved), form())
    assert response.status_code == 422
    assert "Enter an amount to credit for at least one line." in response.content.decode()


def test_a_missing_reason_is_refused(client_for, approved, clerk):
    response = client_for(clerk).post(
        correct_url(approved), form(line_0="1", reason_code="", reason_text="")
    )
    assert response.status_code == 422
    assert Invoice.objects.count() == 1


def test_over_crediting_a_line_is_refused_with_what_is_left(client_for, approved, clerk):
    response = client_for(clerk).post(correct_url(approved), form(line_0="100.01"))
    assert response.status_code == 409
    assert "Line 1 (Hosting): at most $100.00 is left to credit." in response.content.decode()
    assert Invoice.objects.count() == 1


def test_a_pending_invoice_cannot_be_corrected(client_for, fake, clerk):
    pending = submitted(clerk)
    client = client_for(clerk)
    response = client.post(correct_url(pending), form(line_0="1"))
    assert response.status_code == 409
    assert "only an approved invoice can be corrected" in response.content.decode()
    follow = client.get(correct_url(pending), follow=True)
    assert "only an approved invoice can be corrected" in follow.content.decode()
    assert Invoice.objects.count() == 1


# --- asking, and the pages that follow -----------------------------------------------------------
def test_a_partial_credit_note_is_requested_and_shown_for_approval(
    client_for, approved, clerk, manager2
):
    response = client_for(clerk).post(
        correct_url(approved), form(line_0="25", line_1="", reason_code="pricing_error")
    )
    note = Invoice.objects.get(kind=K.CREDIT_NOTE)
    assert response.status_code == 302
    assert response["Location"] == reverse("invoices:detail", args=[note.pk])
    assert (note.total_minor, note.status, note.corrects_id) == (2500, S.PENDING, approved.pk)
    html = client_for(manager2).get(response["Location"]).content.decode()
    assert f"Credit note of invoice #{approved.pk}" in html
    assert "A credit note of $25.00 on invoice" in html
    assert "Pricing error: “23 seats were used, not 25”" in html
    assert "Approve and send to the backend" in html


def test_the_invoice_page_lists_corrections_and_the_balance(
    client_for, approved, clerk, manager2, auditor
):
    approve(manager2, ask(clerk, approved, lines=[services.CreditLine(HOSTING, 2500)]))
    ask(clerk, approved, lines=[services.CreditLine(SUPPORT, 1000)])
    html = client_for(auditor).get(reverse("invoices:detail", args=[approved.pk])).content.decode()
    assert "Corrections and balance" in html
    assert "Balance</dt><dd><strong>$125.00</strong>" in html
    assert "($35.00 including corrections still waiting)" in html
    for text in ("Credit note #", "Approved", "Pending approval", "clerk", "manager2"):
        assert text in html


def test_the_invoice_page_costs_the_same_queries_whatever_its_corrections(
    client_for, approved, clerk, manager2, auditor
):
    client = client_for(auditor)
    page = reverse("invoices:detail", args=[approved.pk])
    ask(clerk, approved, lines=[services.CreditLine(HOSTING, 100)])
    client.get(page)
    with count_queries() as few:
        client.get(page)
    for _ in range(5):
        approve(manager2, ask(clerk, approved, lines=[services.CreditLine(HOSTING, 100)]))
    with count_queries() as many:
        client.get(page)
    assert len(many) == len(few)


def test_credit_and_reissue_then_the_reissue_page_is_prefilled(
    client_for, fake, approved, clerk, manager2
):
    client = client_for(clerk)
    client.post(correct_url(approved), form("reissue", reason_code="duplicate"))
    void = Invoice.objects.get(kind=K.VOID)
    assert (void.reissue, void.total_minor) == (True, 15000)
    approve(manager2, void)
    original = Invoice.objects.get(pk=approved.pk)
    assert original.status == S.VOIDED
    page = client.get(reverse("invoices:detail", args=[original.pk])).content.decode()
    assert "its billing cycle can be invoiced again" in page
    assert "Re-issue a corrected invoice" in page
    response = client.get(reverse("invoices:reissue", args=[original.pk]))
    assert response.status_code == 302 and "reissue=" in response["Location"]
    new_page = client.get(response["Location"]).content.decode()
    assert f'Re-issuing <a href="/invoices/{original.pk}/">invoice #{original.pk}' in new_page
    assert 'name="reissue" value="1"' in new_page
    submit = client.post(
        reverse("invoices:submit_cycle"),
        {
            "contract": "c-1",
            "cycle": MAY.key,
            "cycle_fp": services.cycle_fingerprint(MAY),
            "preview_total_minor": "15000",
            "previous": original.pk,
            "reissue": "on",
        },
    )
    assert submit.status_code == 302
    reissued = Invoice.objects.get(kind=K.CYCLE, status=S.PENDING)
    assert (reissued.previous_id, reissued.version) == (original.pk, 2)


def test_reissue_is_refused_for_an_invoice_that_is_not_voided(client_for, approved, clerk):
    response = client_for(clerk).get(reverse("invoices:reissue", args=[approved.pk]), follow=True)
    assert "only a voided invoice can be re-issued" in response.content.decode()


# --- history, CSV, admin -------------------------------------------------------------------------
def test_history_lists_credit_notes_as_their_own_rows_and_in_the_csv(
    client_for, approved, clerk, manager2, auditor
):
    note = approve(manager2, ask(clerk, approved, lines=[services.CreditLine(HOSTING, 2500)]))
    client = client_for(auditor)
    html = client.get(reverse("invoices:history") + "?kind=credit_note").content.decode()
    assert f"#{note.pk}" in html and "Credit note" in html
    assert f"#{approved.pk}<" not in html
    export = client.get(reverse("invoices:history_export") + "?kind=credit_note")
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert [
        (r["id"], r["kind"], r["total"], r["corrects_id"], r["correction_reason"]) for r in rows
    ] == [(str(note.pk), "credit_note", "25.00", str(approved.pk), "pricing_error")]


def test_the_admin_shows_corrections_read_only(client_for, approved, clerk, auditor):
    note = ask(clerk, approved, lines=[services.CreditLine(HOSTING, 100)])
    client = client_for(auditor)
    changelist = client.get(reverse("admin:invoices_invoice_changelist") + "?kind=credit_note")
    assert changelist.status_code == 200 and f">{note.pk}<" in changelist.content.decode()
    change = client.get(reverse("admin:invoices_invoice_change", args=[note.pk]))
    assert change.status_code == 200
    assert 'name="_save"' not in change.content.decode()


def test_the_audit_log_shows_the_corrections_events(client_for, approved, clerk, auditor):
    note = ask(clerk, approved, lines=[services.CreditLine(HOSTING, 100)])
    client = client_for(auditor)
    html = client.get(reverse("invoices:audit") + "?action=correction.requested").content.decode()
    assert "correction.requested" in html and f"#{note.pk}" in html
    html = client.get(
        reverse("invoices:audit") + "?action=invoice.correction_requested"
    ).content.decode()
    assert "invoice.correction_requested" in html and f"#{approved.pk}" in html


def test_a_voided_adhoc_invoice_is_reissued_from_a_prefilled_form(
    client_for, adhoc_approved, clerk, manager2
):
    client = client_for(clerk)
    response = client.post(correct_url(adhoc_approved), form("reissue", reason_code="other"))
    void = Invoice.objects.get(kind=K.VOID)
    assert response.status_code == 302 and void.reissue
    approve(manager2, void)
    go = client.get(reverse("invoices:reissue", args=[adhoc_approved.pk]))
    assert go["Location"] == reverse("invoices:new_adhoc") + f"?reissue={adhoc_approved.pk}"
    html = client.get(go["Location"]).content.decode()
    assert (
        f'Re-issuing <a href="/invoices/{adhoc_approved.pk}/">invoice #{adhoc_approved.pk}' in html
    )
    assert 'value="Training day"' in html and 'value="41.00"' in html


def test_an_adhoc_invoice_is_offered_only_a_void(client_for, adhoc_approved, clerk):
    html = client_for(clerk).get(correct_url(adhoc_approved)).content.decode()
    assert "Void the invoice" in html and "Credit note:" not in html
    response = client_for(clerk).post(correct_url(adhoc_approved), form("credit_balance"))
    assert response.status_code == 422
    assert Invoice.objects.count() == 1


def test_amounts_are_read_with_the_currencys_own_decimals(client_for, fake, clerk, manager):
    fake.add_contract("c-yen", currency="JPY", cycles=(MAY,), lines=(line("Licence", "98000"),))
    invoice = services.invoice_submit_cycle(
        actor=clerk,
        contract_id="c-yen",
        cycle_key=MAY.key,
        cycle_fp=services.cycle_fingerprint(MAY),
        preview_total_minor=None,
    ).invoice
    invoice = approve(manager, invoice)
    client = client_for(clerk)
    response = client.post(correct_url(invoice), form(line_0="10.5"))
    assert response.status_code == 422
    assert "JPY amounts have no decimals." in response.content.decode()
    response = client.post(correct_url(invoice), form(line_0="1,500"))
    assert response.status_code == 302
    assert Invoice.objects.get(kind=K.CREDIT_NOTE).total_minor == 1500  # yen: no minor unit
