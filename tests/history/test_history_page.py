"""The invoice history page: filters, search, keyset pages, htmx fragments, roles, query budget."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils.http import urlencode

from invoices import keyset
from invoices.forms import HistoryFilterForm
from invoices.models import Invoice
from invoices.views import history as views_history

from ..helpers import count_queries
from .conftest import BASE

pytestmark = pytest.mark.django_db
URL = reverse("invoices:history")
S = Invoice.Status


def get(client, **params):
    return client.get(URL + ("?" + urlencode(params) if params else ""))


def shown_ids(response) -> list[int]:
    """Invoice ids in the results table, in order."""
    html = response.content.decode()
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return [int(pk) for pk in re.findall(r'<th scope="row"><a href="/invoices/(\d+)/"', body)]


def next_link(response) -> str | None:
    found = re.search(r'<a href="([^"]+)"[^>]*rel="next"', response.content.decode())
    return found.group(1).replace("&amp;", "&") if found else None


def previous_link(response) -> str | None:
    found = re.search(r'<a href="([^"]+)"[^>]*rel="prev"', response.content.decode())
    return found.group(1).replace("&amp;", "&") if found else None


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(views_history, "PAGE_SIZE", 5)
    return 5


# --- who sees it ------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["clerk", "manager", "auditor"])
def test_clerks_managers_and_auditors_see_the_history(client_for, request, who):
    response = get(client_for(request.getfixturevalue(who)))
    assert response.status_code == 200
    assert b"<h1>Invoice history</h1>" in response.content


def test_outsider_is_refused(client_for, outsider):
    assert get(client_for(outsider)).status_code == 403


def test_anonymous_is_sent_to_sign_in(client):
    response = get(client)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_navigation_links_history_for_readers(client_for, clerk):
    html = client_for(clerk).get(reverse("home")).content.decode()
    assert f'href="{URL}"' in html


# --- order and contents -----------------------------------------------------------------------
def test_every_invoice_newest_first_ties_broken_by_id(client_for, auditor, make_invoice):
    older = make_invoice(submitted_at=BASE)
    same_a = make_invoice(submitted_at=BASE + timedelta(hours=1))
    same_b = make_invoice(submitted_at=BASE + timedelta(hours=1))
    newest = make_invoice(submitted_at=BASE + timedelta(hours=2))
    response = get(client_for(auditor))
    assert shown_ids(response) == [newest.pk, same_b.pk, same_a.pk, older.pk]


def test_rows_show_amounts_in_the_currency_and_escape_text(client_for, auditor, make_invoice):
    make_invoice(customer_name="<script>alert(1)</script>", currency="JPY", total_minor=98000)
    make_invoice(currency="KWD", total_minor=1250)
    html = get(client_for(auditor)).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "¥98,000" in html
    assert "KWD\xa01.250" in html


def test_table_headers_have_scope_and_every_filter_has_a_label(client_for, auditor, make_invoice):
    make_invoice()
    html = get(client_for(auditor)).content.decode()
    assert re.findall(r"<th(?=[ >])(?![^>]*scope=)[^>]*>", html) == []
    for name in HistoryFilterForm.base_fields:
        assert f'<label for="id_{name}"' in html, name


# --- filters ----------------------------------------------------------------------------------
def test_filter_by_status(client_for, auditor, make_invoice):
    pending = make_invoice(status=S.PENDING)
    make_invoice(status=S.REJECTED)
    assert shown_ids(get(client_for(auditor), status="pending_approval")) == [pending.pk]


def test_filter_by_kind(client_for, auditor, make_invoice):
    adhoc = make_invoice(kind=Invoice.Kind.ADHOC)
    make_invoice()
    assert shown_ids(get(client_for(auditor), kind="adhoc")) == [adhoc.pk]


def test_filter_by_backend(client_for, auditor, make_invoice):
    zenskar = make_invoice(backend="zenskar")
    make_invoice(backend="embedded")
    assert shown_ids(get(client_for(auditor), backend="zenskar")) == [zenskar.pk]


def test_filter_by_contract_id_links_its_coverage(client_for, auditor, make_invoice):
    mine = make_invoice(contract_id="c-42")
    make_invoice(contract_id="c-4")
    response = get(client_for(auditor), contract="c-42")
    assert shown_ids(response) == [mine.pk]
    assert reverse("invoices:coverage", args=["c-42"]) in response.content.decode()


def test_filter_by_customer_id_or_part_of_the_name(client_for, auditor, make_invoice):
    acme = make_invoice(customer_id="cu-1", customer_name="Acme Widgets Ltd")
    zeta = make_invoice(customer_id="cu-2", customer_name="Zeta GmbH")
    client = client_for(auditor)
    assert shown_ids(get(client, customer="cu-2")) == [zeta.pk]
    assert shown_ids(get(client, customer="widgets")) == [acme.pk]
    assert shown_ids(get(client, customer="CU-")) == []  # neither an id nor in a name


def test_an_exact_customer_id_wins_over_names_containing_it(client_for, auditor, make_invoice):
    by_id = make_invoice(customer_id="acme", customer_name="Acme Ltd")
    make_invoice(customer_id="x-9", customer_name="Acme Holdings")
    assert shown_ids(get(client_for(auditor), customer="acme")) == [by_id.pk]


def test_filter_by_submitter(client_for, auditor, clerk, clerk2, make_invoice):
    theirs = make_invoice(submitted_by=clerk2)
    make_invoice(submitted_by=clerk)
    assert shown_ids(get(client_for(auditor), submitter="clerk2")) == [theirs.pk]


def test_filter_by_approver_shows_only_what_they_approved(
    client_for, auditor, manager, manager2, make_invoice
):
    approved = make_invoice(status=S.APPROVED, decided_by=manager)
    make_invoice(status=S.REJECTED, decided_by=manager)
    make_invoice(status=S.APPROVED, decided_by=manager2)
    assert shown_ids(get(client_for(auditor), approver="manager")) == [approved.pk]


def test_unknown_user_is_a_form_error(client_for, auditor):
    response = get(client_for(auditor), submitter="nobody")
    assert response.status_code == 422
    assert "Select a valid choice" in response.content.decode()


def test_filter_by_currency_accepts_lower_case(client_for, auditor, make_invoice):
    eur = make_invoice(currency="EUR")
    make_invoice(currency="USD")
    assert shown_ids(get(client_for(auditor), currency="eur")) == [eur.pk]


def test_unknown_currency_is_a_form_error(client_for, auditor):
    response = get(client_for(auditor), currency="XYZ")
    assert response.status_code == 422
    assert "XYZ is not a known currency code." in response.content.decode()


def test_submitted_date_range_includes_both_days(client_for, auditor, make_invoice):
    before = make_invoice(submitted_at=datetime(2026, 4, 30, 23, 59, tzinfo=UTC))
    first = make_invoice(submitted_at=datetime(2026, 5, 1, 0, 0, tzinfo=UTC))
    last = make_invoice(submitted_at=datetime(2026, 5, 31, 23, 59, 59, tzinfo=UTC))
    after = make_invoice(submitted_at=datetime(2026, 6, 1, 0, 0, tzinfo=UTC))
    client = client_for(auditor)
    ids = shown_ids(get(client, submitted_from="2026-05-01", submitted_to="2026-05-31"))
    assert ids == [last.pk, first.pk]
    assert before.pk not in ids and after.pk not in ids
    assert shown_ids(get(client, submitted_from="2026-06-01")) == [after.pk]
    assert shown_ids(get(client, submitted_to="2026-04-30")) == [before.pk]


def test_billing_date_range_uses_bill_for_and_the_adhoc_period_start(
    client_for, auditor, make_invoice
):
    cycle_in = make_invoice(bill_for=datetime(2026, 5, 1, tzinfo=UTC))
    make_invoice(bill_for=datetime(2026, 6, 1, tzinfo=UTC))
    adhoc_in = make_invoice(
        kind=Invoice.Kind.ADHOC,
        period_start=datetime(2026, 5, 20, tzinfo=UTC),
        period_end=datetime(2026, 7, 1, tzinfo=UTC),
    )
    make_invoice(
        kind=Invoice.Kind.ADHOC,
        period_start=datetime(2026, 4, 20, tzinfo=UTC),
        period_end=datetime(2026, 5, 10, tzinfo=UTC),
    )
    response = get(client_for(auditor), billed_from="2026-05-01", billed_to="2026-05-31")
    assert shown_ids(response) == [adhoc_in.pk, cycle_in.pk]


def test_old_billing_ranges_page_newest_first_like_any_other(
    client_for, auditor, make_invoice, small_pages
):
    """Served through the billing-date index and sorted (see avoid_time_index): same rows,
    same order, same keyset pages."""
    old = [make_invoice(bill_for=datetime(2020, 1, 1 + n, tzinfo=UTC)) for n in range(7)]
    make_invoice(bill_for=datetime(2021, 1, 1, tzinfo=UTC))
    same_time = make_invoice(bill_for=datetime(2020, 1, 20, tzinfo=UTC))
    same_time.submitted_at = old[3].submitted_at
    same_time.save()
    params = {"billed_from": "2020-01-01", "billed_to": "2020-01-30"}  # not a whole month
    form = HistoryFilterForm(params)
    assert form.is_valid() and form.avoid_time_index and form.billed_month is None
    expected = list(
        HistoryFilterForm.filter(form, Invoice.objects.all())
        .order_by("-submitted_at", "-id")
        .values_list("pk", flat=True)
    )
    assert len(expected) == 8
    client = client_for(auditor)
    first = get(client, **params)
    second = client.get(next_link(first))
    assert shown_ids(first) + shown_ids(second) == expected
    assert shown_ids(client.get(previous_link(second))) == expected[:5]


@pytest.mark.parametrize(
    ("billed_from", "billed_to", "month"),
    [
        ("2025-11-01", "2025-11-30", date(2025, 11, 1)),
        ("2024-02-01", "2024-02-29", date(2024, 2, 1)),
        ("2025-02-01", "2025-02-28", date(2025, 2, 1)),
        ("2025-12-01", "2025-12-31", date(2025, 12, 1)),
        ("2025-11-01", "2025-11-29", None),
        ("2025-11-02", "2025-11-30", None),
        ("2025-11-01", "2025-12-31", None),
        ("2025-11-01", "", None),
    ],
)
def test_which_billing_ranges_are_one_whole_month(billed_from, billed_to, month):
    form = HistoryFilterForm({"billed_from": billed_from, "billed_to": billed_to})
    assert form.is_valid()
    assert form.billed_month == month
    assert not (month and form.avoid_time_index)


def test_one_billing_month_finds_what_the_date_range_finds(
    client_for, auditor, make_invoice, small_pages
):
    """A whole month goes through inv_billing_month_idx (BillingMonth, written for each
    database): the same invoices as the range, at its edges too, in the same pages."""
    inside = [
        make_invoice(bill_for=datetime(2025, 11, 1, tzinfo=UTC)),
        make_invoice(bill_for=datetime(2025, 11, 30, 23, 59, 59, 999999, tzinfo=UTC)),
        make_invoice(bill_for=datetime(2025, 11, 15, 12, tzinfo=UTC)),
        make_invoice(
            kind=Invoice.Kind.ADHOC,
            period_start=datetime(2025, 11, 20, tzinfo=UTC),
            period_end=datetime(2026, 1, 1, tzinfo=UTC),
        ),
        make_invoice(bill_for=datetime(2025, 11, 7, tzinfo=UTC)),
        make_invoice(bill_for=datetime(2025, 11, 8, tzinfo=UTC)),
    ]
    make_invoice(bill_for=datetime(2025, 10, 31, 23, 59, 59, 999999, tzinfo=UTC))
    make_invoice(bill_for=datetime(2025, 12, 1, tzinfo=UTC))
    make_invoice(
        kind=Invoice.Kind.ADHOC,
        period_start=datetime(2025, 10, 20, tzinfo=UTC),
        period_end=datetime(2025, 11, 20, tzinfo=UTC),
    )
    expected = [invoice.pk for invoice in reversed(inside)]  # newest first
    client = client_for(auditor)
    first = get(client, billed_from="2025-11-01", billed_to="2025-11-30")
    second = client.get(next_link(first))
    assert shown_ids(first) + shown_ids(second) == expected
    assert shown_ids(client.get(previous_link(second))) == expected[:5]
    # The same as the range filter over the same dates (a day short of the whole month + 1).
    by_range = get(client, billed_from="2025-10-31", billed_to="2025-11-30")
    assert set(shown_ids(by_range)) | set(shown_ids(client.get(next_link(by_range)))) == {
        *expected,
        Invoice.objects.get(bill_for=datetime(2025, 10, 31, 23, 59, 59, 999999, tzinfo=UTC)).pk,
    }


def test_reversed_date_range_is_a_form_error(client_for, auditor):
    response = get(client_for(auditor), submitted_from="2026-05-02", submitted_to="2026-05-01")
    assert response.status_code == 422
    assert "The end date must be on or after the start date." in response.content.decode()


def test_bad_date_is_a_form_error(client_for, auditor):
    response = get(client_for(auditor), billed_from="01/05/2026")
    assert response.status_code == 422
    assert "Enter a date as YYYY-MM-DD." in response.content.decode()


def test_total_range_is_typed_in_major_units_of_the_currency(client_for, auditor, make_invoice):
    low = make_invoice(currency="USD", total_minor=4100)
    mid = make_invoice(currency="USD", total_minor=4150)
    make_invoice(currency="USD", total_minor=10_000)
    make_invoice(currency="EUR", total_minor=4150)
    client = client_for(auditor)
    ids = shown_ids(get(client, currency="USD", total_min="41", total_max="41.50"))
    assert ids == [mid.pk, low.pk]
    assert shown_ids(get(client, currency="USD", total_min="41.01")) == [
        Invoice.objects.get(total_minor=10_000).pk,
        mid.pk,
    ]


def test_total_range_in_jpy_and_kwd(client_for, auditor, make_invoice):
    yen = make_invoice(currency="JPY", total_minor=98000)
    dinar = make_invoice(currency="KWD", total_minor=1250)
    client = client_for(auditor)
    assert shown_ids(get(client, currency="JPY", total_min="98,000", total_max="98000")) == [yen.pk]
    assert shown_ids(get(client, currency="KWD", total_min="1.25", total_max="1.250")) == [dinar.pk]


def test_total_filter_needs_a_currency(client_for, auditor, make_invoice):
    make_invoice()
    response = get(client_for(auditor), total_min="10")
    assert response.status_code == 422
    html = response.content.decode()
    assert "Choose a currency to filter by total" in html
    assert 'href="#id_total_min"' in html  # the error summary links to the input
    assert 'aria-invalid="true"' in html
    assert "<tbody>" not in html


def test_total_with_too_many_decimals_is_refused_not_rounded(client_for, auditor):
    response = get(client_for(auditor), currency="JPY", total_min="10.5")
    assert response.status_code == 422
    assert "JPY amounts have no decimals." in response.content.decode()


def test_reversed_total_range_is_a_form_error(client_for, auditor):
    response = get(client_for(auditor), currency="USD", total_min="20", total_max="10")
    assert response.status_code == 422
    assert "The upper total must not be below the lower one." in response.content.decode()


def test_filters_combine(client_for, auditor, clerk2, make_invoice):
    wanted = make_invoice(status=S.PENDING, currency="EUR", submitted_by=clerk2)
    make_invoice(status=S.PENDING, currency="USD", submitted_by=clerk2)
    make_invoice(status=S.REJECTED, currency="EUR", submitted_by=clerk2)
    make_invoice(status=S.PENDING, currency="EUR")
    response = get(
        client_for(auditor), status="pending_approval", currency="EUR", submitter="clerk2"
    )
    assert shown_ids(response) == [wanted.pk]


def test_chosen_filters_stay_in_the_form(client_for, auditor):
    html = get(client_for(auditor), q="acme", status="approved").content.decode()
    assert 'value="acme"' in html
    assert '<option value="approved" selected>' in html


# --- search -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value", "query"),
    [
        ("contract_name", "Hosting Premium", "premium"),
        ("customer_name", "Initech Corp", "INITECH"),
        ("upstream_number", "INV-2026-0042", "2026-0042"),
    ],
)
def test_search_finds_names_and_invoice_numbers(
    client_for, auditor, make_invoice, field, value, query
):
    wanted = make_invoice(**{field: value})
    make_invoice()
    assert shown_ids(get(client_for(auditor), q=query)) == [wanted.pk]


def test_a_whole_invoice_number_finds_that_invoice(client_for, auditor, make_invoice):
    wanted = make_invoice(upstream_number="INV-2026-0042")
    longer = make_invoice(upstream_number="INV-2026-00421")
    named = make_invoice(contract_name="Re-billing of INV-2026-0042")
    client = client_for(auditor)
    # Whole (in any case): that invoice, and names that contain it; not longer numbers.
    assert shown_ids(get(client, q="inv-2026-0042")) == [named.pk, wanted.pk]
    # Part of a number: every number containing it, as before.
    assert shown_ids(get(client, q="2026-0042")) == [named.pk, longer.pk, wanted.pk]
    assert shown_ids(get(client, q="INV-2026-00421")) == [longer.pk]


def test_search_by_local_id(client_for, auditor, make_invoice):
    wanted = make_invoice()
    make_invoice()
    client = client_for(auditor)
    assert shown_ids(get(client, q=str(wanted.pk))) == [wanted.pk]
    assert shown_ids(get(client, q=f"#{wanted.pk}")) == [wanted.pk]


def test_short_searches_are_ids_or_a_clear_error(client_for, auditor, make_invoice):
    wanted = make_invoice(customer_name="AB Foods")
    client = client_for(auditor)
    response = get(client, q="ab")
    assert response.status_code == 422
    assert "Type at least 3 characters, or an invoice id such as #12." in response.content.decode()
    assert shown_ids(get(client, q=str(wanted.pk))) == [wanted.pk]  # short digits: the id
    assert shown_ids(get(client, q="AB ")) == []  # stripped: "AB" is too short
    assert get(client, q="AB ").status_code == 422


def test_short_customer_values_must_be_an_exact_id(client_for, auditor, make_invoice):
    wanted = make_invoice(customer_id="c7", customer_name="Initech")
    client = client_for(auditor)
    assert shown_ids(get(client, customer="c7")) == [wanted.pk]
    response = get(client, customer="In")
    assert response.status_code == 422
    assert "Type at least 3 characters of the name" in response.content.decode()


def test_search_treats_like_wildcards_literally(client_for, auditor, make_invoice):
    wanted = make_invoice(customer_name="100% Cotton_Co")
    make_invoice(customer_name="1000 Cottons")
    assert shown_ids(get(client_for(auditor), q="100% Cotton_")) == [wanted.pk]


def test_no_match_says_so(client_for, auditor, make_invoice):
    make_invoice()
    html = get(client_for(auditor), q="no such thing").content.decode()
    assert "No invoice matches these filters." in html


# --- keyset pages -----------------------------------------------------------------------------
def test_no_invoices_no_pager(client_for, auditor):
    response = get(client_for(auditor))
    assert "No invoice has been submitted yet." in response.content.decode()
    assert next_link(response) is None and previous_link(response) is None


def test_fewer_than_a_page_has_no_next_link(client_for, auditor, make_invoice, small_pages):
    for _ in range(3):
        make_invoice()
    response = get(client_for(auditor))
    assert len(shown_ids(response)) == 3
    assert next_link(response) is None


def test_exactly_one_page_has_no_next_link(client_for, auditor, make_invoice, small_pages):
    for _ in range(small_pages):
        make_invoice()
    response = get(client_for(auditor))
    assert len(shown_ids(response)) == small_pages
    assert next_link(response) is None


def test_pages_walk_forward_and_back(client_for, auditor, make_invoice, small_pages):
    invoices = [make_invoice() for _ in range(12)]
    expected = [i.pk for i in reversed(invoices)]
    client = client_for(auditor)
    first = get(client)
    assert shown_ids(first) == expected[:5] and previous_link(first) is None
    second = client.get(next_link(first))
    assert shown_ids(second) == expected[5:10]
    third = client.get(next_link(second))
    assert shown_ids(third) == expected[10:]
    assert next_link(third) is None
    back = client.get(previous_link(third))
    assert shown_ids(back) == expected[5:10]
    start = client.get(previous_link(back))
    assert shown_ids(start) == expected[:5]
    assert previous_link(start) is None


def test_new_invoices_do_not_shift_the_next_page(client_for, auditor, make_invoice, small_pages):
    invoices = [make_invoice() for _ in range(8)]
    client = client_for(auditor)
    first = get(client)
    for _ in range(3):  # arrive while the reader looks at page 1
        make_invoice(submitted_at=BASE + timedelta(days=365))
    second = client.get(next_link(first))
    assert shown_ids(second) == [i.pk for i in reversed(invoices[:3])]


def test_pages_keep_the_filters(client_for, auditor, make_invoice, small_pages):
    for n in range(14):
        make_invoice(currency="EUR" if n % 2 else "USD")
    client = client_for(auditor)
    first = get(client, currency="EUR")
    assert "currency=EUR" in next_link(first)
    second = client.get(next_link(first))
    assert len(shown_ids(first)) == 5 and len(shown_ids(second)) == 2
    ids = shown_ids(first) + shown_ids(second)
    assert ids == list(
        Invoice.objects.filter(currency="EUR")
        .order_by("-submitted_at", "-id")
        .values_list("pk", flat=True)
    )


def test_a_mangled_cursor_shows_the_first_page(client_for, auditor, make_invoice):
    newest = [make_invoice() for _ in range(2)][-1]
    for token in ("garbage", "%%%", "MjAyNg", "x" * 500):
        response = client_for(auditor).get(URL + "?after=" + token)
        assert response.status_code == 200
        assert shown_ids(response)[0] == newest.pk


def test_cursor_round_trips_microseconds():
    moment = datetime(2026, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert keyset.decode_cursor(keyset.encode_cursor(moment, 42)) == (moment, 42)


# --- htmx -------------------------------------------------------------------------------------
def test_htmx_gets_only_the_results_and_the_canonical_url(client_for, auditor, make_invoice):
    make_invoice(status=S.APPROVED)
    response = client_for(auditor).get(
        URL + "?q=&status=approved&kind=", headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert "<html" not in html and "Apply filters" not in html
    assert "<tbody>" in html and 'hx-swap-oob="innerHTML"' in html
    assert response["HX-Push-Url"] == URL + "?status=approved"
    assert "HX-Request" in response["Vary"]


def test_htmx_history_restore_gets_the_whole_page(client_for, auditor):
    response = client_for(auditor).get(
        URL + "?status=approved",
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert b"<html" in response.content and b"Apply filters" in response.content


def test_htmx_invalid_filters_get_the_error_summary_swapped_in(client_for, auditor):
    response = client_for(auditor).get(URL + "?total_min=5", headers={"HX-Request": "true"})
    assert response.status_code == 422  # swapped by the page's htmx config
    assert b"These filters cannot be applied yet" in response.content


# --- role-specific actions --------------------------------------------------------------------
def test_managers_are_offered_review_of_others_pending_invoices(
    client_for, manager, clerk, make_invoice
):
    theirs = make_invoice(status=S.PENDING, submitted_by=clerk)
    html = get(client_for(manager)).content.decode()
    assert f'href="/invoices/{theirs.pk}/">Review' in html
    assert "Revise" not in html


def test_clerks_are_offered_revise_only_for_unrevised_rejections(
    client_for, clerk, manager, make_invoice
):
    old = make_invoice(status=S.REJECTED, decided_by=manager)
    make_invoice(status=S.PENDING, previous=old, lineage=old.lineage, version=2)
    fresh = make_invoice(status=S.REJECTED, decided_by=manager)
    html = get(client_for(clerk)).content.decode()
    assert reverse("invoices:revise", args=[fresh.pk]) in html
    assert reverse("invoices:revise", args=[old.pk]) not in html
    assert ">Review<" not in html


def test_auditors_are_offered_no_write_actions(client_for, auditor, manager, make_invoice):
    make_invoice(status=S.PENDING)
    make_invoice(status=S.REJECTED, decided_by=manager)
    html = get(client_for(auditor)).content.decode()
    assert ">Review<" not in html and ">Revise<" not in html


# --- query budget -----------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["auditor", "clerk", "manager"])
def test_query_count_does_not_grow_with_rows(
    client_for, request, who, make_invoice, manager2, clerk2
):
    client = client_for(request.getfixturevalue(who))
    for _ in range(3):
        make_invoice(status=S.APPROVED, decided_by=manager2, submitted_by=clerk2)
    get(client)  # warm caches (content types, permissions)
    with count_queries() as few:
        assert len(shown_ids(get(client, status="approved"))) == 3
    for _ in range(57):
        make_invoice(status=S.APPROVED, decided_by=manager2, submitted_by=clerk2)
    with count_queries() as many:
        assert len(shown_ids(get(client, status="approved"))) == 50
    assert len(many) == len(few)
    assert len(few) <= 8, [q["sql"] for q in few.captured_queries]


def test_old_billing_range_query_count_does_not_grow_with_rows(client_for, auditor, make_invoice):
    client = client_for(auditor)
    params = {"billed_from": "2020-01-01", "billed_to": "2020-12-31"}

    def add(n):
        for k in range(n):
            make_invoice(bill_for=datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=k))

    add(3)
    get(client, **params)
    with count_queries() as few:
        assert len(shown_ids(get(client, **params))) == 3
    add(57)
    with count_queries() as many:
        assert len(shown_ids(get(client, **params))) == 50
    assert len(many) == len(few)
