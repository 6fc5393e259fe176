"""Every bad input is a clear 4xx with a message, never a 500, and nothing is persisted.

One test (or one parametrised case) per bad input: the status code, the message, and that no
invoice was recorded (nor anything sent to a backend)."""

import re

import pytest
from django.urls import reverse
from django.utils.http import urlencode

from billing_engine.models import AdhocInvoice
from invoices import money, services
from invoices.backends import reset_backends
from invoices.backends.base import BackendUnavailable
from invoices.models import AuditEvent, Invoice
from tests.engine.factories import adhoc_world

from .conftest import MAY
from .test_adhoc import KEY_1, KEY_2, form_url, submit, valid_data

pytestmark = pytest.mark.django_db
ADHOC = reverse("invoices:new_adhoc")
NEW = reverse("invoices:new_cycle")


@pytest.fixture
def world():
    return adhoc_world()


def errors_of(response) -> str:
    html = response.content.decode().replace("&#x27;", "'").replace("&times;", "×")
    return " ".join(re.findall(r'class="field-error"[^>]*>([^<]*)<', html)) + " ".join(
        re.findall(r'role="alert"[^>]*>(.*?)</div>', html, flags=re.S)
    )


def nothing_persisted():
    assert not Invoice.objects.exists()
    assert not AdhocInvoice.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="invoice.").exists()


# --- amounts: a cap per currency for a line (quantity × unit amount) and for the total ------------
CAP_USD = "9,999,999,999,999.99 USD"  # money.MAX_MINOR_UNITS in USD


def test_the_cap_is_stated_per_currency_and_leaves_room_in_the_column():
    from invoices.forms.invoice import over_the_cap

    assert over_the_cap("USD") == CAP_USD
    assert over_the_cap("JPY") == "999,999,999,999,999 JPY"
    assert over_the_cap("KWD") == "999,999,999,999.999 KWD"
    # A total at the cap fits the BigInteger column more than nine thousand times over.
    assert money.MAX_MINOR_UNITS * 9000 < 2**63 - 1


@pytest.mark.parametrize("action", ["preview", "submit"])
def test_a_line_over_the_cap_is_a_field_error(client_for, clerk, world, action):
    data = valid_data(world, action=action)
    data.update({"lines-0-quantity": "1000000", "lines-0-amount": "9999999999.99"})
    response = client_for(clerk).post(form_url(world), data)
    assert response.status_code == 422
    assert f"a line can be at most {CAP_USD}" in errors_of(response)
    nothing_persisted()


@pytest.mark.parametrize("action", ["preview", "submit"])
def test_a_total_over_the_cap_is_a_form_error(client_for, clerk, world, action):
    data = valid_data(world, action=action, shipping="9999999999999.99")
    data.update({"lines-0-quantity": "1", "lines-0-amount": "9999999999999.99"})
    response = client_for(clerk).post(form_url(world), data)
    assert response.status_code == 422
    assert f"The invoice's total is too large: it can be at most {CAP_USD}" in errors_of(response)
    nothing_persisted()


# --- ids: unknown, malformed or another customer's / currency's ----------------------------------
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("currency", "999999"),
        ("currency", "abc"),
        ("currency", "１"),
        ("gateway", "999999"),
        ("gateway", "../1"),
        ("gateway", "adyen"),  # a gateway of another currency (EUR)
        ("gateway", "old_gateway"),  # inactive
        ("payment_method", "999999"),
        ("payment_method", "x" * 300),
        ("payment_method", "other_card"),  # another customer's card
    ],
)
@pytest.mark.parametrize("action", ["preview", "submit"])
def test_an_unknown_malformed_or_foreign_id_is_not_a_valid_choice(
    client_for, clerk, world, field, value, action
):
    value = str(world[value].id) if value in world else value
    response = client_for(clerk).post(
        form_url(world), valid_data(world, action=action, **{field: value})
    )
    assert response.status_code == 422
    assert "Select a valid choice" in errors_of(response)
    nothing_persisted()


@pytest.mark.parametrize("value", ["abc", "999999", "-1", "１"])
def test_choosing_an_unknown_or_malformed_currency_re_renders_without_gateways(
    client_for, clerk, world, value
):
    response = client_for(clerk).post(
        form_url(world), valid_data(world, action="currency", currency=value)
    )
    assert response.status_code == 200  # not a 500: no gateway is asked for an unknown currency
    html = response.content.decode()
    assert "Stripe USD" not in html and "Adyen EUR" not in html
    nothing_persisted()


@pytest.mark.parametrize("customer", ["999999", "abc", "0", "x" * 500])
def test_an_unknown_or_malformed_customer_is_a_404_with_a_plain_message(
    client_for, clerk, world, customer
):
    client = client_for(clerk)
    page = client.get(f"{ADHOC}?{urlencode({'customer': customer})}")
    assert page.status_code == 404
    assert "No customer" in page.content.decode()
    assert "refused" not in page.content.decode()
    posted = client.post(
        f"{ADHOC}?{urlencode({'customer': customer})}", valid_data(world, action="submit")
    )
    assert posted.status_code == 404
    nothing_persisted()


# --- the one-time submission key ------------------------------------------------------------------
@pytest.mark.parametrize(
    "key",
    ["", "k-1", "1" * 31, "1" * 33, "1" * 65, "A" * 32, "1" * 31 + "\x00", "../" + "1" * 29],
    ids=["missing", "short-text", "31", "33", "65", "upper-case", "nul", "path"],
)
def test_a_missing_or_malformed_submission_key_is_refused(client_for, clerk, world, key):
    response = submit(client_for(clerk), world, submission_key=key)
    assert response.status_code == 400
    html = response.content.decode()
    assert "one-time key is missing or not valid" in html
    assert "nothing was submitted" in html
    # The form comes back with a fresh, valid key to submit with.
    fresh = re.search(r'name="submission_key" value="([^"]*)"', html).group(1)
    assert re.fullmatch(r"[0-9a-f]{32}", fresh) and fresh != key
    nothing_persisted()


def test_the_service_refuses_a_malformed_key_too(clerk, world):
    from .test_workflow_table import adhoc_request

    with pytest.raises(services.ServiceError, match="one-time key"):
        services.invoice_submit_adhoc(
            actor=clerk,
            request=adhoc_request(world),
            customer_name="Northwind",
            submission_key="x" * 65,
        )
    nothing_persisted()


def test_another_persons_key_never_finds_or_blocks_someone_elses_invoice(
    client_for, clerk, clerk2, world
):
    first = submit(client_for(clerk), world, submission_key=KEY_1)
    mine = Invoice.objects.get()
    assert first.url == reverse("invoices:detail", args=[mine.pk])
    # clerk2 sends a different invoice with the same key (seen over a shoulder, or replayed).
    data = {"terms": "Net 60", "lines-1-quantity": "5"}
    second = submit(client_for(clerk2), world, submission_key=KEY_1, **data)
    assert second.status_code == 302
    theirs = Invoice.objects.exclude(pk=mine.pk).get()
    assert second.url == reverse("invoices:detail", args=[theirs.pk])  # not clerk's invoice
    assert theirs.submitted_by == clerk2 and theirs.adhoc_request["terms"] == "Net 60"
    assert Invoice.objects.get(pk=mine.pk).adhoc_request["terms"] == "Net 15"  # untouched
    # The same person sending the same form twice still gets their one invoice back.
    again = submit(client_for(clerk2), world, submission_key=KEY_1, **data)
    assert again.url == second.url
    assert Invoice.objects.count() == 2


# --- revisions keep their customer and currency ---------------------------------------------------
@pytest.fixture
def rejected(client_for, clerk, manager, world):
    submit(client_for(clerk), world, submission_key=KEY_1)
    invoice = Invoice.objects.get()
    return services.invoice_reject(actor=manager, invoice_id=invoice.pk, reason="Manuals are 2")


def test_a_revision_for_another_customer_is_refused(client_for, clerk, world, rejected):
    other = world["other"].account_number
    url = f"{ADHOC}?{urlencode({'customer': other, 'previous': rejected.pk})}"
    assert client_for(clerk).get(url).status_code == 400
    response = client_for(clerk).post(url, valid_data(world, action="submit", submission_key=KEY_2))
    assert response.status_code == 400
    assert "A revision keeps the customer" in response.content.decode()
    assert Invoice.objects.count() == 1


def test_a_revision_in_another_currency_is_not_a_valid_choice(client_for, clerk, world, rejected):
    url = f"{form_url(world)}&previous={rejected.pk}"
    page = client_for(clerk).get(url).content.decode()
    assert "EUR — Euro" not in page  # only the revised invoice's currency is offered
    data = valid_data(
        world,
        action="submit",
        submission_key=KEY_2,
        currency=str(world["eur"].id),
        gateway=str(world["adyen"].id),
    )
    response = client_for(clerk).post(url, data)
    assert response.status_code == 422
    assert "Select a valid choice" in errors_of(response)
    assert Invoice.objects.count() == 1


def test_the_service_keeps_a_revisions_customer_and_currency(clerk, world, rejected):
    from dataclasses import replace

    from .test_workflow_table import adhoc_request

    request = adhoc_request(world)
    for changed in (
        replace(request, customer_id=str(world["other"].account_number)),
        replace(request, currency_id=str(world["eur"].id), currency_code="EUR"),
    ):
        with pytest.raises(services.InvalidTransition, match="same customer and currency"):
            services.invoice_submit_adhoc(
                actor=clerk, request=changed, customer_name="x", previous=rejected
            )
    assert Invoice.objects.count() == 1


def test_what_changed_lists_every_field_not_only_lines(client_for, clerk, manager, world, rejected):
    url = f"{form_url(world)}&previous={rejected.pk}"
    data = valid_data(
        world,
        action="submit",
        submission_key=KEY_2,
        terms="Net 30",
        date_due="2026-08-30",
        customer_phone="+44 117 496 0000",
        comments="PO 4471",
    )
    data["lines-1-quantity"] = "2"
    assert client_for(clerk).post(url, data).status_code == 302
    revision = Invoice.objects.get(previous=rejected)
    html = client_for(manager).get(reverse("invoices:detail", args=[revision.pk])).content.decode()
    section = html.split("What changed since version 1", 1)[1].split("</section>", 1)[0]
    for change in (
        "Terms: Net 15 → Net 30",
        "Due date: 2026-08-15 → 2026-08-30",
        "Customer phone: — → +44 117 496 0000",
        "Comments: — → PO 4471",
        "Billing address: Dana Whitfield, 14 Harbour Road, Bristol, BS1 5TY, GB (United "
        "Kingdom); commercial → none",
        "Changed: Printed manuals",
    ):
        assert change in section, change


# --- nonexistent contracts and cursors: 404 / 400, not "the backend refused" (503) ----------------
def test_a_nonexistent_contract_is_a_404_on_the_embedded_engine(client_for, clerk):
    for contract in ("8d3c2b1a-0000-4000-8000-000000000000", "not-a-uuid", "x" * 300):
        response = client_for(clerk).get(f"{NEW}?{urlencode({'contract': contract})}")
        assert response.status_code == 404, contract
        assert "No such record" not in response.content.decode()
        assert "has no such record" in response.content.decode()


def test_a_nonexistent_contracts_coverage_is_a_404(client_for, auditor):
    response = client_for(auditor).get(reverse("invoices:coverage", args=["nope"]))
    assert response.status_code == 404


def test_a_malformed_cursor_is_a_400_with_a_plain_message(client_for, clerk, world):
    client = client_for(clerk)
    for url in (f"{NEW}?q=north&cursor=abc", f"{ADHOC}?q=north&cursor=abc"):
        response = client.get(url)
        assert response.status_code == 400, url
        assert "Not a page cursor" in response.content.decode()
    for url in (f"{NEW}?q=north&cursor=%01", f"{ADHOC}?q=north&cursor=" + "9" * 201):
        response = client.get(url)
        assert response.status_code == 400, url
        assert "That page link is not valid" in response.content.decode()


def test_a_real_outage_stays_a_503(client_for, clerk, fake):
    fake.fail("get_contract", BackendUnavailable("connection failed", cause="unreachable"))
    response = client_for(clerk).get(f"{NEW}?contract=c-1")
    assert response.status_code == 503
    assert "could not be reached" in response.content.decode()


# --- quantities: ASCII digits only, like money ----------------------------------------------------
@pytest.mark.parametrize(
    "quantity", ["１２", "٣", "1_000", "1e3", "+2", "2.0", "1000001", "0x10", "²"]
)
@pytest.mark.parametrize("action", ["preview", "submit"])
def test_a_quantity_takes_ascii_digits_only(client_for, clerk, world, quantity, action):
    response = client_for(clerk).post(
        form_url(world), valid_data(world, action=action, **{"lines-0-quantity": quantity})
    )
    assert response.status_code == 422
    errors = errors_of(response)
    assert "digits 0 to 9" in errors or "at most 1,000,000" in errors
    nothing_persisted()


def test_the_running_total_does_not_count_a_non_ascii_quantity(client_for, clerk, world):
    response = client_for(clerk).post(
        form_url(world),
        valid_data(world, action="totals", **{"lines-0-quantity": "１２"}),
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert "1 amount not readable yet" in html
    assert "$59.97" in html  # only 3 × 19.99


# --- searches: too long or control characters get a message; full-width text is found -------------
@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("a" * 101, "at most 100 characters"),
        ("acme\x07", "control characters"),
        ("ac\tme", "control characters"),
        ("\x00", "Null characters"),
    ],
)
def test_a_contract_search_that_cannot_be_run_gets_a_message(client_for, clerk, fake, q, message):
    for headers in ({}, {"HX-Request": "true", "HX-Target": "contract-results"}):
        response = client_for(clerk).get(f"{NEW}?{urlencode({'q': q})}", headers=headers)
        assert response.status_code == 400
        html = response.content.decode()
        results = html.split('id="contract-results"', 1)[1]
        assert message in results
        assert "Acme hosting" not in html  # not "everything" instead
    assert fake.calls["search_contracts"] == 0


@pytest.mark.parametrize(
    ("q", "message"),
    [("a" * 101, "at most 100 characters"), ("north\x1b", "control characters")],
)
def test_a_customer_search_that_cannot_be_run_gets_a_message(client_for, clerk, world, q, message):
    for headers in ({}, {"HX-Request": "true", "HX-Target": "customer-results"}):
        response = client_for(clerk).get(f"{ADHOC}?{urlencode({'q': q})}", headers=headers)
        assert response.status_code == 400
        html = response.content.decode()
        assert message in html.split('id="customer-results"', 1)[1]
        assert "Northwind Traders" not in html and "Contoso" not in html


def test_a_history_search_with_control_characters_gets_a_message(client_for, auditor):
    response = client_for(auditor).get(reverse("invoices:history") + "?q=acme%07")
    assert response.status_code == 422
    assert "control characters" in response.content.decode()


def test_a_full_width_search_finds_contracts_and_customers(client_for, clerk, fake, world):
    html = client_for(clerk).get(f"{NEW}?q=ＡＣＭＥ").content.decode()
    assert "Acme hosting" in html
    html = client_for(clerk).get(f"{ADHOC}?q=ｎｏｒｔｈｗｉｎｄ").content.decode()
    assert "Northwind Traders Ltd" in html and "Contoso" not in html


# --- ad-hoc dates: 2000-01-01 to 2100-12-31 -------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("date_from", "1999-12-31"),
        ("date_to", "2101-01-01"),
        ("date_due", "0226-08-15"),
        ("date_due", "2200-01-01"),
    ],
)
@pytest.mark.parametrize("action", ["preview", "submit"])
def test_ad_hoc_dates_outside_2000_to_2100_get_a_message(
    client_for, clerk, world, field, value, action
):
    response = client_for(clerk).post(
        form_url(world), valid_data(world, action=action, **{field: value})
    )
    assert response.status_code == 422
    assert "Enter a date between 2000-01-01 and 2100-12-31." in errors_of(response)
    nothing_persisted()


def test_the_window_edges_are_accepted(client_for, clerk, world):
    response = submit(
        client_for(clerk),
        world,
        date_from="2000-01-01",
        date_to="2100-12-31",
        date_due="2100-12-31",
    )
    assert response.status_code == 302
    assert Invoice.objects.get().period_start.year == 2000


@pytest.fixture(autouse=True)
def _backends():
    reset_backends()
    yield
    reset_backends()


# --- odd values anywhere in the URL or the form: never a 500 ------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        NEW + "?previous=" + "9" * 30,
        NEW + "?previous=" + "9" * 5000,
        ADHOC + "?previous=" + "9" * 5000,
        ADHOC + "?previous=١",
    ],
)
def test_a_previous_id_that_cannot_be_an_invoice_is_ignored(client_for, clerk, fake, url):
    response = client_for(clerk).get(url)
    assert response.status_code == 200
    assert "Revising" not in response.content.decode()


def test_a_history_search_for_an_id_longer_than_any_id_finds_nothing(
    client_for, clerk, auditor, fake
):
    services.invoice_submit_cycle(
        actor=clerk, contract_id="c-1", cycle_key=MAY.key, cycle_fp=services.cycle_fingerprint(MAY)
    )
    response = client_for(auditor).get(reverse("invoices:history") + "?q=%23" + "9" * 30)
    assert response.status_code == 200
    assert "No invoice matches these filters." in response.content.decode()


@pytest.mark.parametrize(
    "change",
    [
        {"lines-TOTAL_FORMS": "9" * 5000},
        {"lines-TOTAL_FORMS": "-1"},
        {"action": "remove_line:" + "9" * 5000},
        {"action": "remove_line:-1"},
        {"action": "nonsense"},
        {"lines-0-amount": "9" * 70},
        {"date_from": "2026-02-30"},
        {"billing-type": "castle"},
        {"lines-0-description": "\x00"},
    ],
)
@pytest.mark.parametrize("action", ["preview", "submit", "totals", "add_line"])
def test_odd_form_values_are_never_a_server_error(client_for, clerk, world, change, action):
    data = valid_data(world, action=action, submission_key=KEY_1)
    data.update(change)
    response = client_for(clerk).post(form_url(world), data)
    assert response.status_code < 500
    if response.status_code != 302:  # refused: nothing recorded
        nothing_persisted()
