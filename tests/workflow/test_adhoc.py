"""Ad-hoc invoices on the embedded backend: the form's rules, preview, submit, approve."""

import re

import pytest
from django.urls import reverse

from billing_engine.models import AdhocInvoice
from invoices import services
from invoices.models import AuditEvent, Invoice
from invoices.services import decide, records
from tests.engine.factories import adhoc_world

pytestmark = pytest.mark.django_db
NEW = reverse("invoices:new_adhoc")
KEY_1, KEY_2 = "1" * 32, "2" * 32  # the form's one-time keys (32 hex digits)


@pytest.fixture
def world():
    return adhoc_world()


def form_url(world):
    return f"{NEW}?customer={world['customer'].account_number}"


def valid_data(world, **changes):
    data = {
        "submission_key": KEY_1,
        "currency": str(world["usd"].id),
        "gateway": str(world["stripe"].id),
        "payment_method": str(world["card"].id),
        "payment_type": "offlinePaymentProvider",
        "date_from": "2026-07-01",
        "date_to": "2026-07-31",
        "date_due": "2026-08-15",
        "shipping": "",
        "customer_name": "Dana Whitfield",
        "customer_email": "dana@northwind.example.com",
        "customer_phone": "",
        "terms": "Net 15",
        "comments": "",
        "lines-TOTAL_FORMS": "2",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "1",
        "lines-MAX_NUM_FORMS": "100",
        "lines-0-description": "On-site training, 1 day",
        "lines-0-quantity": "2",
        "lines-0-amount": "41",
        "lines-1-description": "Printed manuals",
        "lines-1-quantity": "3",
        "lines-1-amount": "19.99",
        "action": "preview",
    }
    for prefix in ("billing", "shipping"):
        for f in ("contact_name", "street1", "street2", "city", "state", "zip", "country"):
            data[f"{prefix}-{f}"] = ""
        data[f"{prefix}-type"] = "commercial"
    data.update(changes)
    return data


def test_customer_search_finds_the_customer(client_for, clerk, world):
    html = client_for(clerk).get(NEW + "?q=northwind").content.decode()
    assert "Northwind Traders Ltd" in html
    assert "Contoso" not in html
    assert f"?customer={world['customer'].account_number}" in html


def test_form_is_prefilled_from_the_backend(client_for, clerk, world):
    html = client_for(clerk).get(form_url(world)).content.decode()
    assert "Customer: Northwind Traders Ltd" in html
    assert 'value="Dana Whitfield"' in html  # the customer's name on the invoice
    assert 'value="14 Harbour Road"' in html  # address book
    assert "•••• 4242" in html  # masked payment method
    assert "•••• 6789" not in html  # another customer's
    assert "Adyen EUR" not in html  # no currency chosen yet: no gateway offered


def test_gateways_are_only_those_of_the_chosen_currency(client_for, clerk, world):
    data = valid_data(world, action="currency")
    html = client_for(clerk).post(form_url(world), data).content.decode()
    assert "Stripe USD" in html
    assert "Adyen EUR" not in html
    assert "Legacy gateway" not in html  # inactive
    assert "field-error" not in html  # re-rendered without complaining


def test_add_and_remove_lines_without_javascript(client_for, clerk, world):
    client = client_for(clerk)
    html = client.post(form_url(world), valid_data(world, action="add_line")).content.decode()
    assert 'name="lines-TOTAL_FORMS" value="3"' in html
    assert 'value="Printed manuals"' in html
    html = client.post(form_url(world), valid_data(world, action="remove_line:0")).content.decode()
    assert 'name="lines-TOTAL_FORMS" value="1"' in html
    assert "On-site training" not in html
    assert 'value="Printed manuals"' in html


def test_add_line_with_htmx_swaps_only_the_form(client_for, clerk, world):
    response = client_for(clerk).post(
        form_url(world), valid_data(world, action="add_line"), headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<form id="adhoc-form"')
    assert "<html" not in html


def test_totals_update_as_lines_change(client_for, clerk, world):
    response = client_for(clerk).post(
        form_url(world),
        valid_data(world, action="totals", shipping="5"),
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="totals"')
    assert "$141.97" in html  # 2 × 41 + 3 × 19.99
    assert "Total: $146.97" in html
    response = client_for(clerk).post(
        form_url(world),
        valid_data(world, action="totals", **{"lines-1-amount": "19.999"}),
        headers={"HX-Request": "true"},
    )
    assert "not readable yet" in response.content.decode()


def test_preview_shows_the_minor_units_sent_on_the_wire(client_for, clerk, world):
    html = client_for(clerk).post(form_url(world), valid_data(world)).content.decode()
    assert "amount 4100 × qty 2" in html
    assert "amount 1999 × qty 3" in html
    assert "$141.97" in html
    assert "Submit for approval" in html
    assert not Invoice.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("lines-0-amount", "41.005", "at most 2 decimals"),
        ("lines-0-amount", "-1", ""),
        ("lines-0-amount", "1e3", ""),
        ("lines-0-amount", "", "required"),
        ("lines-0-quantity", "0", "whole number of 1 or more"),
        ("lines-0-quantity", "1.5", "whole number"),
        ("lines-0-description", "x" * 256, "at most 255 characters"),
        ("lines-0-description", "", "required"),
        ("customer_email", "not-an-email", "valid email"),
        ("customer_name", "n" * 46, "at most 45 characters"),
        ("customer_phone", "1" * 46, "at most 45 characters"),
        ("terms", "t" * 201, "at most 200 characters"),
        ("comments", "c" * 201, "at most 200 characters"),
        ("date_to", "2026-06-30", "cannot end before it starts"),
        ("date_due", "2026-06-30", "cannot be before the period starts"),
        ("gateway", "999999", "Select a valid choice"),
        ("payment_method", str(999999), "Select a valid choice"),
        ("payment_type", "cash", "Select a valid choice"),
        ("shipping", "1,23", "thousands"),
        ("billing-street1", "1 Main St", "Required when an address is given"),
    ],
)
def test_each_field_rule_gives_a_clear_error_and_saves_nothing(
    client_for, clerk, world, field, value, message
):
    response = client_for(clerk).post(form_url(world), valid_data(world, **{field: value}))
    assert response.status_code == 422
    html = response.content.decode()
    assert "Some fields need attention" in html
    errors = " ".join(re.findall(r'class="field-error"[^>]*>([^<]*)<', html))
    assert errors, html
    assert message.lower() in errors.lower().replace("&#x27;", "'")
    assert not Invoice.objects.exists()


def test_jpy_amounts_have_no_decimals(client_for, clerk, world):
    from billing_engine.models import CompanyCurrency, Gateway

    jpy = CompanyCurrency.objects.create(iso3="JPY", symbol="¥", name="Japanese Yen")
    gw = Gateway.objects.create(currency=jpy, display_name="Komoju JPY", type="komoju")
    data = valid_data(world, currency=str(jpy.id), gateway=str(gw.id))
    data["lines-0-amount"] = "1.5"
    html = client_for(clerk).post(form_url(world), data).content.decode()
    assert "JPY amounts have no decimals" in html.replace("&#x27;", "'")


def test_an_empty_address_is_absent_not_an_error(client_for, clerk, world):
    response = client_for(clerk).post(form_url(world), valid_data(world, action="submit"))
    assert response.status_code == 302
    assert Invoice.objects.get().adhoc_request["billing_address"] is None


def submit(client, world, **changes):
    data = valid_data(world, action="submit", **changes)
    for f, v in (
        ("contact_name", "Dana Whitfield"),
        ("street1", "14 Harbour Road"),
        ("city", "Bristol"),
        ("zip", "BS1 5TY"),
        ("country", "GB"),
    ):
        data.setdefault(f"billing-{f}", v)
        if not data[f"billing-{f}"]:
            data[f"billing-{f}"] = v
    return client.post(form_url(world), data)


def test_submit_queues_it_for_approval_and_sends_nothing(client_for, clerk, world):
    response = submit(client_for(clerk), world)
    invoice = Invoice.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("invoices:detail", args=[invoice.pk])
    assert invoice.kind == Invoice.Kind.ADHOC
    assert invoice.status == Invoice.Status.PENDING
    assert invoice.total_minor == 14197
    assert invoice.currency == "USD"
    assert invoice.adhoc_request["billing_address"]["country_code"] == "GB"
    assert [ln["amount_minor"] for ln in invoice.lines] == [8200, 5997]
    assert not AdhocInvoice.objects.exists()  # nothing upstream before approval


def test_the_same_form_sent_twice_makes_one_invoice(client_for, clerk, world):
    client = client_for(clerk)
    submit(client, world)
    submit(client, world)
    assert Invoice.objects.count() == 1


def test_approval_creates_it_upstream_and_records_id_and_number(client_for, clerk, manager, world):
    submit(client_for(clerk), world)
    invoice = Invoice.objects.get()
    approved = services.invoice_approve(
        actor=manager, invoice_id=invoice.pk, seen_hash=invoice.content_hash
    )
    remote = AdhocInvoice.objects.get()
    assert approved.status == Invoice.Status.APPROVED
    assert approved.upstream_id == str(remote.pk)
    assert approved.upstream_number == remote.invoice_no
    assert remote.total_minor == 14197
    assert AuditEvent.objects.filter(invoice=invoice, action="invoice.approved").exists()


def test_a_lost_approval_is_never_settled_with_an_identical_invoice_approved_before(
    client_for, clerk, manager, world, monkeypatch
):
    client = client_for(clerk)
    submit(client, world)
    submit(client, world, submission_key=KEY_2)  # the same invoice, on purpose, twice
    first, second = Invoice.objects.order_by("pk")
    services.invoice_approve(actor=manager, invoice_id=first.pk, seen_hash=first.content_hash)
    # The second approval dies after its intent was recorded, before anything was sent.
    monkeypatch.setattr(decide, "_send_approval", lambda **kw: kw["invoice"])
    services.invoice_approve(actor=manager, invoice_id=second.pk, seen_hash=second.content_hash)
    monkeypatch.undo()
    result = services.invoice_reconcile(invoice_id=second.pk)
    assert result.after == Invoice.Status.PENDING  # not created upstream: back to the inbox
    second.refresh_from_db()
    assert second.upstream_id == ""  # not the first invoice's
    assert AdhocInvoice.objects.count() == 1


def test_revise_prefills_the_rejected_invoice(client_for, clerk, manager, world):
    client = client_for(clerk)
    submit(client, world)
    invoice = Invoice.objects.get()
    services.invoice_reject(actor=manager, invoice_id=invoice.pk, reason="Manuals are 2")
    response = client.get(reverse("invoices:revise", args=[invoice.pk]))
    html = client.get(response.url).content.decode()
    assert 'value="Printed manuals"' in html
    assert 'value="19.99"' in html
    assert "Manuals are 2" in html
    data = valid_data(world, action="submit", submission_key=KEY_2)
    data["lines-1-quantity"] = "2"
    response = client.post(response.url, data)
    second = Invoice.objects.latest("id")
    assert second.previous_id == invoice.pk
    assert second.version == 2
    assert second.total_minor == 8200 + 3998


def test_two_clerks_revising_at_once_make_one_revision_and_a_clear_refusal(
    client_for, clerk, clerk2, manager, world, monkeypatch
):
    submit(client_for(clerk), world)
    invoice = Invoice.objects.get()
    services.invoice_reject(actor=manager, invoice_id=invoice.pk, reason="Manuals are 2")
    revise_url = f"{form_url(world)}&previous={invoice.pk}"
    first = client_for(clerk).post(
        revise_url, valid_data(world, action="submit", submission_key="a" * 32)
    )
    assert first.status_code == 302
    # The second clerk passed the up-front check before the first revision was saved.
    real_check = records.check_revision
    checks = []

    def raced_check(**kwargs):
        checks.append(kwargs)
        if len(checks) > 1:
            real_check(**kwargs)

    monkeypatch.setattr(records, "check_revision", raced_check)
    second = client_for(clerk2).post(
        revise_url, valid_data(world, action="submit", submission_key="b" * 32)
    )
    assert second.status_code == 409
    assert "already been revised" in second.content.decode()
    assert Invoice.objects.filter(previous=invoice).count() == 1


def test_only_clerks_create_adhoc_invoices(client_for, manager, auditor, outsider, world):
    for person in (manager, auditor, outsider):
        client = client_for(person)
        page = client.get(form_url(world))
        assert page.status_code == 403
        assert 'id="adhoc-form"' not in page.content.decode()
        assert "Northwind" not in page.content.decode()  # nothing of the customer shown
        sent = submit(client, world, submission_key=KEY_1)
        assert sent.status_code == 403
    assert not Invoice.objects.exists()
    assert not AdhocInvoice.objects.exists()
    assert not AuditEvent.objects.filter(action="invoice.submitted").exists()


def test_every_value_the_manager_reads_is_in_the_content_hash(client_for, clerk, world):
    from invoices.adhoc import adhoc_facts
    from invoices.snapshots import invoice_content_hash

    submit(client_for(clerk), world, customer_phone="+44 117 496 0000", comments="PO 4471")
    invoice = Invoice.objects.get()
    assert invoice.content_hash == invoice_content_hash(invoice)
    shown = {f.label: f.value for f in adhoc_facts(invoice.adhoc_request)}
    assert shown["Payment gateway"].startswith("Stripe USD")
    assert shown["Payment method"].startswith("CARD Dana Whitfield •••• 4242")
    # Change any stored value the page reads: the facts and the hash both change.
    request = invoice.adhoc_request
    paths = [(key,) for key in request if key not in ("lines", "shown")] + [
        ("shown", key) for key in request["shown"]
    ]
    for path in paths:
        changed = {**request, "shown": dict(request["shown"])}
        target = changed if len(path) == 1 else changed["shown"]
        value = target[path[-1]]
        if isinstance(value, dict) or value is None:
            continue
        target[path[-1]] = (
            value + 1 if isinstance(value, int) else ("2026-07-02" if "date" in path[-1] else "X")
        )
        invoice.adhoc_request = changed
        assert invoice_content_hash(invoice) != invoice.content_hash, path
        # (The currency's id and code are shown through its name; no shipping address here.)
        if path[-1] not in ("currency_id", "currency_code", "shipping_country"):
            assert adhoc_facts(changed) != adhoc_facts(request), path


def test_an_adhoc_period_shows_its_days_both_included(client_for, clerk, manager, world):
    submit(client_for(clerk), world)
    invoice = Invoice.objects.get()
    # Stored as every invoice's window is, half-open: the last day is included.
    assert (invoice.period_start.date().isoformat(), invoice.period_end.date().isoformat()) == (
        "2026-07-01",
        "2026-08-01",
    )
    client = client_for(manager)
    pages = ("invoices:inbox", "invoices:history")
    for url in (reverse("invoices:detail", args=[invoice.pk]), *map(reverse, pages)):
        html = client.get(url).content.decode()
        assert "2026-07-01 – 2026-07-31" in html and "2026-07-30" not in html, url
