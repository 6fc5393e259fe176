"""The history's search: the names table the triggers keep, and pages put together from the
search's arms (few names) that are exactly the pages of the one substring condition."""

import re

import pytest
from django.db import connection
from django.db.models import F, Q
from django.db.models.expressions import RawSQL
from django.urls import reverse
from django.utils.http import urlencode

from invoices import search
from invoices.forms import HistoryFilterForm
from invoices.models import Invoice, SearchName
from invoices.search import Search
from invoices.selectors import history_page

from ..helpers import count_queries, needs_postgres
from .conftest import BASE

pytestmark = pytest.mark.django_db
URL = reverse("invoices:history")


def names(field: str) -> set[str]:
    return set(SearchName.objects.filter(field=field).values_list("name", flat=True))


# --- the names table --------------------------------------------------------------------------
def test_every_name_an_invoice_carries_is_in_the_names_table(make_invoice):
    first = make_invoice(customer_name="Initech Corp", contract_name="Hosting Premium")
    make_invoice(customer_name="Initech Corp", contract_name="Support")  # once each
    assert {"Initech Corp", "Customer 2"} - names("customer_name") == {"Customer 2"}
    assert {"Initech Corp"} <= names("customer_name")
    assert {"Hosting Premium", "Support"} <= names("contract_name")
    assert SearchName.objects.filter(field="customer_name", name="Initech Corp").count() == 1

    # Written by the database, whoever writes the invoice: a queryset update, a bulk insert.
    Invoice.objects.filter(pk=first.pk).update(customer_name="Initech GmbH")
    assert "Initech GmbH" in names("customer_name")
    row = Invoice.objects.values().get(pk=first.pk)
    row.update(id=None, lineage=None, customer_name="Bulk Foods", content_hash="f" * 64)
    row["contract_id"] = "c-bulk"
    Invoice.objects.bulk_create([Invoice(**{k: v for k, v in row.items() if k != "lineage"})])
    assert "Bulk Foods" in names("customer_name")


def test_the_migration_adds_the_names_of_invoices_already_there(make_invoice):
    migration = __import__("invoices.migrations.0015_search_names", fromlist=["BACKFILL"])
    make_invoice(customer_name="Older Customer", contract_name="Older Contract")
    SearchName.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(migration.BACKFILL)
    assert "Older Customer" in names("customer_name")
    assert "Older Contract" in names("contract_name")


# --- what a search is -------------------------------------------------------------------------
@pytest.mark.postgres
@needs_postgres
def test_the_next_migration_gives_postgresql_statistics_of_the_names():
    """Without them the planner takes the back-filled table for empty and reads all of it."""
    from importlib import import_module

    analyze = import_module("invoices.migrations.0016_analyze_search_names").analyze

    def analyses() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = %s",
                ["invoices_searchname"],
            )
            return cursor.fetchone()[0]

    before = analyses()
    with connection.schema_editor() as editor:
        analyze(None, editor)
    assert analyses() == before + 1


def test_a_name_search_page_is_one_query_while_few_names_match(make_invoice, auditor):
    for n in range(4):
        make_invoice(customer_name=f"Acme {n}", contract_name=f"Acme plan {n}")
    make_invoice()
    found = Search.of("acme")
    assert [arm.few for arm in found.union.arms] == [True, True, False]  # names, number
    assert not found.many_names()
    form = HistoryFilterForm({"q": "acme"}, users=[(auditor.pk, auditor.username)])
    assert form.is_valid()
    with count_queries() as queries:
        page = history_page(form, user=auditor)
    assert len(page.rows) == 4
    invoice_reads = [q for q in queries.captured_queries if "invoices_invoice" in q["sql"]]
    assert len(invoice_reads) == 1 and "search_names" in invoice_reads[0]["sql"]


def test_more_names_than_few_find_the_page_by_the_substring_condition(
    make_invoice, auditor, monkeypatch
):
    made = [make_invoice(customer_name=f"Acme {n}") for n in range(4)]
    make_invoice()
    monkeypatch.setattr(search, "FEW_NAMES", 3)  # 4 names match
    found = Search.of("acme")
    assert found.many_names()
    union_only = Invoice.objects.filter(
        pk__in=_page_ids(found.union)
    )  # the union alone finds nothing then
    assert not union_only.exists()
    form = HistoryFilterForm({"q": "acme"}, users=[(auditor.pk, auditor.username)])
    assert form.is_valid()
    assert [row.pk for row in history_page(form, user=auditor).rows] == [
        i.pk for i in reversed(made)
    ]


def _page_ids(union):
    from invoices import keyset

    return keyset._union_page(union, Invoice.objects.all(), "submitted_at", "id", True, 51)


def test_an_arms_condition_is_compiled_once_and_its_values_stay_its_own(make_invoice):
    from invoices import keyset

    arms = Search.of("Acme Corp").union.arms
    first = [keyset._Condition.of(Invoice, arm.condition) for arm in arms]
    again = [
        keyset._Condition.of(Invoice, arm.condition) for arm in Search.of("Acme Corp").union.arms
    ]
    assert all(a is b for a, b in zip(first, again, strict=True))  # from the cache
    other = keyset._Condition.of(Invoice, Search.of("Globex").union.arms[-1].condition)
    assert first[-1].sql == other.sql and first[-1].params != other.params
    assert "Globex" in "".join(map(str, other.params))
    assert other.fields == {"upstream_number"}


def test_in_subquery_matches_what_in_matches(make_invoice):
    from invoices.expressions import InSubquery

    wanted = [make_invoice(customer_name=f"Acme {n}") for n in range(3)]
    make_invoice(customer_name="Globex")
    names = RawSQL(
        "SELECT name FROM invoices_searchname WHERE field = %s AND name LIKE %s",
        ("customer_name", "Acme%"),
    )
    found = Invoice.objects.filter(InSubquery(F("customer_name"), names))
    assert set(found) == set(Invoice.objects.filter(customer_name__in=names)) == set(wanted)
    sql = str(found.query)
    written = "= ANY(ARRAY(SELECT" if connection.vendor == "postgresql" else "IN (SELECT"
    assert f'"customer_name" {written}' in sql
    empty = RawSQL("SELECT name FROM invoices_searchname WHERE field = %s", ("nothing",))
    assert not Invoice.objects.filter(InSubquery(F("customer_name"), empty)).exists()


def test_short_text_and_ids_are_not_name_searches(make_invoice):
    wanted = make_invoice()
    assert Search.of("#12").union is None and Search.of("ab").union is None
    assert list(Invoice.objects.filter(Search.of(str(wanted.pk)).condition)) == [wanted]
    assert Search.of("#" + "9" * 20).condition.children == [("pk__in", [])]


# --- arms give the same pages ------------------------------------------------------------------
@pytest.fixture
def mixed(make_invoice):
    """Invoices matching "acme" through a customer name, a contract name or a number, some at
    the same moment (ties broken by id), and some that do not match."""
    made = []
    for n in range(23):
        field = ("customer_name", "contract_name", "upstream_number", None)[n % 4]
        values = {field: f"ACME-{n}" if field == "upstream_number" else f"Acme {n % 5}"}
        made.append(make_invoice(**values) if field else make_invoice())
    # Three at one moment, one of them not matching.
    tied = Invoice.objects.filter(pk__in=[i.pk for i in made[4:7]])
    assert tied.update(submitted_at=BASE) == 3
    return made


def walk(user, text: str, *, size: int = 4) -> tuple[list[int], list[int]]:
    """Every id of the search's pages, newest first: forward along the next cursors, and
    back along the previous ones from the last page."""
    form = HistoryFilterForm({"q": text}, users=[(user.pk, user.username)])
    assert form.is_valid(), form.errors
    pages = [history_page(form, user=user, size=size)]
    while pages[-1].next_cursor:
        pages.append(history_page(form, user=user, size=size, after=pages[-1].next_cursor))
    forward = [row.pk for page in pages for row in page.rows]
    back = [pages[-1]]
    while back[-1].previous_cursor:
        back.append(history_page(form, user=user, size=size, before=back[-1].previous_cursor))
    backward = [row.pk for page in reversed(back) for row in page.rows]
    return forward, backward


@pytest.mark.parametrize("text", ["acme", "ACME 3", "acme-1", "Customer 1"])
def test_pages_from_arms_are_the_pages_of_the_substring_condition(
    mixed, auditor, monkeypatch, text
):
    found = Invoice.objects.filter(_substring(text)).order_by("-submitted_at", "-id")
    expected = list(found.values_list("id", flat=True))
    assert expected, "the search must find something"
    assert Search.of(text).union is not None
    with_arms = walk(auditor, text)
    monkeypatch.setattr(search.Search, "union", None)  # as for an id: the one condition
    assert Search.of(text).union is None
    with_condition = walk(auditor, text)
    assert with_arms == with_condition == (expected, expected)


def test_pages_are_the_same_when_too_many_names_match(mixed, auditor, monkeypatch):
    # "acme" is in 5 customer and 5 contract names: with room for 9, every page (next ones and
    # previous ones alike) finds nothing through the union and falls back to the condition.
    found = Invoice.objects.filter(_substring("acme")).order_by("-submitted_at", "-id")
    expected = list(found.values_list("id", flat=True))
    monkeypatch.setattr(search, "FEW_NAMES", 9)
    assert Search.of("acme").many_names()
    assert walk(auditor, "acme") == (expected, expected)


def _substring(text: str) -> Q:
    """The search as it was before the names table: a substring of either name or the number."""
    return (
        Q(contract_name__icontains=text)
        | Q(customer_name__icontains=text)
        | Q(upstream_number__icontains=text)
    )


def test_arms_pages_keep_the_other_filters(mixed, auditor):
    Invoice.objects.filter(pk=mixed[0].pk).update(status=Invoice.Status.APPROVED)
    form = HistoryFilterForm({"q": "acme", "status": "approved"}, users=[])
    assert form.is_valid(), form.errors
    assert [row.pk for row in history_page(form, user=auditor).rows] == [mixed[0].pk]


def test_a_name_search_page_costs_the_same_queries_whatever_it_shows(
    client_for, auditor, make_invoice
):
    client = client_for(auditor)
    url = URL + "?" + urlencode({"q": "globex"})
    for n in range(3):  # both arms of names from the start: rows, not arms, are what grows
        make_invoice(**({"customer_name": "Globex Ltd"} if n % 2 else {"contract_name": "Globex"}))
    client.get(url)
    with count_queries() as few:
        html = client.get(url).content.decode()
    assert len(re.findall(r'<th scope="row">', html)) == 3
    for n in range(57):
        make_invoice(**({"customer_name": "Globex Ltd"} if n % 2 else {"contract_name": "Globex"}))
    with count_queries() as many:
        html = client.get(url).content.decode()
    assert len(re.findall(r'<th scope="row">', html)) == 50
    assert len(many) == len(few)
    # Session, user, permissions; the page (names, arms and rows in one).
    assert len(few) == 4, [q["sql"] for q in few.captured_queries]
