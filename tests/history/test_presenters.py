"""invoices/presenters.py: list rows show exactly what the templates showed before, built once.

Each display value is checked twice: against the exact text a person reads, and against what the
template filter or tag the lists used before (money, date, period, get_FOO_display, url) gives
for the same value, so the speed-up changes nothing a person sees.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template
from django.urls import reverse

from invoices import presenters, selectors
from invoices.models import AuditEvent, Invoice

pytestmark = pytest.mark.django_db
S = Invoice.Status
NBSP = "\xa0"


def render(source: str, **context) -> str:
    return Template("{% load money invoice_tags %}" + source).render(Context(context))


def row_of(invoice, **presenter_options) -> presenters.InvoiceRow:
    """The list row of one invoice, read the way the list pages read it."""
    (fetched,) = selectors.list_rows(Invoice.objects.filter(pk=invoice.pk))
    return presenters.InvoicePresenter(**presenter_options).row(fetched)


# --- money -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("currency", "minor", "text"),
    [
        ("JPY", 98000, "¥98,000"),  # exponent 0
        ("JPY", 0, "¥0"),
        ("USD", 4150, "$41.50"),  # exponent 2
        ("USD", 123456789, "$1,234,567.89"),
        ("USD", 5, "$0.05"),
        ("EUR", 100, "€1.00"),
        ("KWD", 1250, f"KWD{NBSP}1.250"),  # exponent 3
        ("KWD", 5, f"KWD{NBSP}0.005"),
        ("KWD", 1234567, f"KWD{NBSP}1,234.567"),
    ],
)
def test_totals_show_the_currency_own_digits(make_invoice, currency, minor, text):
    row = row_of(make_invoice(currency=currency, total_minor=minor))
    assert row.total == text
    assert row.total == render("{{ x|money:c }}", x=minor, c=currency)  # what the lists showed


def test_a_total_without_currency_is_a_dash_and_negative_amounts_keep_their_sign():
    assert presenters.money_text(4150, "") == "—"
    assert presenters.money_text(None, "USD") == "—"
    assert presenters.money_text(-4150, "USD") == "-$41.50"
    assert presenters.money_text(-1234567, "KWD") == f"-KWD{NBSP}1,234.567"


def test_zero_totals_and_drafts_that_differ_from_the_preview_are_flagged(make_invoice):
    assert row_of(make_invoice(total_minor=0)).zero_total
    assert not row_of(make_invoice(total_minor=1)).zero_total
    differs = make_invoice(total_minor=10_000, preview_total_minor=9_000)
    assert row_of(differs).preview_differs
    assert not row_of(make_invoice(total_minor=10_000, preview_total_minor=10_000)).preview_differs
    assert not row_of(make_invoice(total_minor=10_000, preview_total_minor=None)).preview_differs


# --- dates -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("moment", "minutes", "iso"),
    [
        (
            datetime(2026, 3, 1, 12, 5, 9, tzinfo=UTC),
            "2026-03-01 12:05",
            "2026-03-01T12:05:09+00:00",
        ),
        (
            datetime(2026, 12, 31, 23, 59, 59, 123456, tzinfo=UTC),
            "2026-12-31 23:59",
            "2026-12-31T23:59:59.123456+00:00",
        ),
    ],
)
def test_submission_times_are_utc_to_the_minute(make_invoice, moment, minutes, iso):
    row = row_of(make_invoice(submitted_at=moment))
    assert (row.submitted, row.submitted_iso) == (minutes, iso)
    # what `date:"Y-m-d H:i"` and `date:'c'` printed
    assert row.submitted == render('{{ d|date:"Y-m-d H:i" }}', d=moment)
    assert row.submitted_iso == render("{{ d|date:'c' }}", d=moment)


def test_times_in_another_offset_are_shown_in_utc():
    from zoneinfo import ZoneInfo

    moment = datetime(2026, 3, 1, 13, 5, 9, tzinfo=ZoneInfo("Europe/Paris"))
    assert presenters.utc_minutes(moment) == "2026-03-01 12:05"
    assert presenters.utc_seconds(moment) == "2026-03-01 12:05:09"
    assert presenters.utc_iso(moment) == "2026-03-01T12:05:09+00:00"


def test_the_cycle_name_or_the_billed_period_inclusive(make_invoice):
    cycle = make_invoice(cycle_name="March 2026")
    assert row_of(cycle).period == "March 2026"
    start = datetime(2026, 3, 1, tzinfo=UTC)
    adhoc = make_invoice(
        kind=Invoice.Kind.ADHOC, period_start=start, period_end=start + timedelta(days=31)
    )
    row = row_of(adhoc)
    assert row.period == "2026-03-01 – 2026-03-31"
    assert row.period == render("{% period a b %}", a=start, b=start + timedelta(days=31))


def test_a_page_works_out_each_period_once(make_invoice, monkeypatch):
    start = datetime(2026, 3, 1, tzinfo=UTC)
    for _ in range(3):
        make_invoice(
            kind=Invoice.Kind.ADHOC, period_start=start, period_end=start + timedelta(days=31)
        )
    calls = []
    real = presenters.period
    monkeypatch.setattr(presenters, "period", lambda *a: calls.append(a) or real(*a))
    rows = presenters.InvoicePresenter().rows(selectors.list_rows(Invoice.objects.all()))
    assert [r.period for r in rows] == ["2026-03-01 – 2026-03-31"] * 3
    assert len(calls) == 1


# --- labels, people, links -------------------------------------------------------------------
@pytest.mark.parametrize("status", [value for value, _ in S.choices])
def test_every_status_shows_its_label(make_invoice, manager, status):
    invoice = make_invoice(status=status, decided_by=manager if status != S.PENDING else None)
    row = row_of(invoice)
    assert row.status == status
    assert row.status_label == invoice.get_status_display() == dict(S.choices)[status]


def test_labels_read_as_people_read_them(make_invoice):
    assert row_of(make_invoice(status=S.PENDING)).status_label == "Pending approval"
    assert row_of(make_invoice(kind=Invoice.Kind.CYCLE)).kind_label == "Contract cycle"
    assert row_of(make_invoice(kind=Invoice.Kind.ADHOC)).kind_label == "Ad-hoc"


def test_rows_name_the_submitter_and_the_decider(make_invoice, clerk, manager):
    decided = row_of(make_invoice(status=S.APPROVED, decided_by=manager))
    assert (decided.submitter, decided.decider) == ("clerk", "manager")
    assert row_of(make_invoice(status=S.PENDING)).decider == "—"


def test_usernames_can_come_from_a_list_already_loaded(make_invoice, clerk, manager):
    invoice = make_invoice(status=S.APPROVED, decided_by=manager)
    (fetched,) = selectors.list_rows(Invoice.objects.filter(pk=invoice.pk), usernames=False)
    names = {clerk.pk: "clerk", manager.pk: "manager"}
    row = presenters.InvoicePresenter(usernames=names).row(fetched)
    assert (row.submitter, row.decider) == ("clerk", "manager")


def test_versions_and_numbers(make_invoice):
    first = make_invoice(upstream_number="INV-7")
    row = row_of(first)
    assert (row.number, row.version, row.upstream_number) == (f"#{first.pk}", "", "INV-7")
    revised = make_invoice(version=3, previous=first, lineage=first.lineage)
    assert row_of(revised).version == "v3"


def test_links_are_the_urls_reverse_gives(make_invoice):
    invoice = make_invoice()
    row = row_of(invoice)
    assert row.url == reverse("invoices:detail", args=[invoice.pk])
    assert row.revise_url == reverse("invoices:revise", args=[invoice.pk])


@pytest.mark.parametrize(
    "contract_id",
    ["c-1", "7f0c2d9e-0b1a-4c5d", "a b/c", "ünï cödé", "100%", "x?y#z", "a:b@c!$&'()*+,;=~"],
)
def test_coverage_links_are_quoted_as_reverse_quotes_them(contract_id):
    make = presenters.url_maker("invoices:coverage")
    assert make(contract_id) == reverse("invoices:coverage", args=[contract_id])


def test_contracts_link_their_coverage_only_on_the_current_cycle_backend(make_invoice):
    here = make_invoice(contract_id="c-9", contract_name="Acme platform", backend="embedded")
    row = row_of(here, coverage_backend="embedded")
    assert row.coverage_url == reverse("invoices:coverage", args=["c-9"])
    assert row.contract == "Acme platform"
    elsewhere = row_of(here, coverage_backend="zenskar")
    assert (elsewhere.coverage_url, elsewhere.contract) == ("", "Acme platform")
    unnamed = make_invoice(contract_id="c-10", contract_name="")
    assert row_of(unnamed, coverage_backend="embedded").contract == "c-10"
    assert row_of(unnamed, coverage_backend="zenskar").contract == "—"
    adhoc = row_of(make_invoice(kind=Invoice.Kind.ADHOC), coverage_backend="embedded")
    assert (adhoc.coverage_url, adhoc.contract) == ("", "—")


def test_customers_by_name_or_id_and_what_an_invoice_is_for(make_invoice):
    named = row_of(make_invoice(customer_id="cust-1", customer_name="Acme Ltd"))
    assert (named.customer, named.customer_name) == ("Acme Ltd", "Acme Ltd")
    unnamed = row_of(make_invoice(customer_id="cust-2", customer_name=""))
    assert (unnamed.customer, unnamed.customer_name) == ("cust-2", "")
    cycle = make_invoice(contract_name="Acme platform", customer_name="Acme Ltd")
    assert row_of(cycle).subject == "Acme platform"
    adhoc = make_invoice(kind=Invoice.Kind.ADHOC, customer_name="Acme Ltd")
    assert row_of(adhoc).subject == "Acme Ltd"


def test_the_row_action_follows_the_allowed_actions(make_invoice):
    invoice = make_invoice()
    presenter = presenters.InvoicePresenter()
    (fetched,) = selectors.list_rows(Invoice.objects.filter(pk=invoice.pk))
    review = presenter.row(fetched, frozenset({"approve", "reject"}))
    assert review.action == presenters.Link("Review", review.url)
    revise = presenter.row(fetched, frozenset({"revise"}))
    assert revise.action == presenters.Link("Revise", revise.revise_url)
    assert presenter.row(fetched, frozenset({"withdraw"})).action is None


def test_own_submissions_are_marked_for_the_viewer(make_invoice, clerk, clerk2):
    invoice = make_invoice(submitted_by=clerk)
    assert row_of(invoice, viewer=clerk).own
    assert not row_of(invoice, viewer=clerk2).own
    assert not row_of(invoice).own


def test_templates_read_row_values_without_a_failed_item_lookup(make_invoice):
    row = row_of(make_invoice(customer_name="<b>Acme</b>"))
    assert row["customer"] == "<b>Acme</b>"
    assert Template("{{ row.customer }}").render(Context({"row": row})) == "&lt;b&gt;Acme&lt;/b&gt;"
    assert Template("{{ row.nothing }}|").render(Context({"row": row})) == "|"


# --- audit rows ------------------------------------------------------------------------------
def test_audit_rows(make_invoice):
    invoice = make_invoice()
    event = AuditEvent(
        seq=42,
        at=datetime(2026, 3, 1, 12, 5, 9, tzinfo=UTC),
        actor_username="clerk",
        action="invoice.submitted",
        invoice_id=invoice.pk,
        from_status="",
        to_status=S.PENDING,
        reason="",
        ip="10.0.0.7",
        request_id="r-1",
    )
    row = presenters.AuditPresenter().row(event)
    assert row.seq == "#42"
    assert (row.at, row.at_iso) == ("2026-03-01 12:05:09", "2026-03-01T12:05:09+00:00")
    assert row.at == render('{{ d|date:"Y-m-d H:i:s" }}', d=event.at)
    assert (row.actor, row.action) == ("clerk", "invoice.submitted")
    assert row.invoice == presenters.Link(
        f"#{invoice.pk}", reverse("invoices:detail", args=[invoice.pk])
    )
    assert row.change == "new → pending_approval"
    assert (row.reason, row.ip, row.request_id) == ("—", "10.0.0.7", "r-1")


def test_audit_rows_without_actor_invoice_or_status_change(record_event):
    event = record_event(None, "auth.sign_in_failed")
    row = presenters.AuditPresenter().row(AuditEvent.objects.get(pk=event.pk))
    assert (row.actor, row.invoice, row.change, row.ip) == ("system", None, "—", "")


def test_audit_status_changes_read_from_and_to(record_event, clerk):
    event = record_event(
        clerk, "invoice.rejected", from_status=S.PENDING, to_status="", reason="Wrong seats"
    )
    row = presenters.AuditPresenter().row(AuditEvent.objects.get(pk=event.pk))
    assert (row.change, row.reason) == ("pending_approval → —", "Wrong seats")


# --- the rows' markup (invoices/templatetags/lists.py) -----------------------------------------
HOSTILE = "<script x=\"1\" y='2'>&amp;</script>"


def _hostile(row_class, **links):
    from dataclasses import fields

    values = {}
    for f in fields(row_class):
        values[f.name] = {"int": 1, "bool": True}.get(str(f.type), HOSTILE)
    values.update(links)
    return row_class(**values)


@pytest.mark.parametrize("kind", ["history", "audit"])
def test_every_value_in_a_row_is_escaped(kind):
    from invoices.templatetags import lists

    link = presenters.Link(HOSTILE, HOSTILE)
    if kind == "history":
        row = _hostile(presenters.InvoiceRow, action=link)
        html = lists.history_rows([row])
    else:
        row = _hostile(presenters.AuditRow, invoice=link)
        html = lists.audit_rows([row])
    assert "<script" not in html and "'2'" not in html and '"1"' not in html
    escaped = "&lt;script x=&quot;1&quot; y=&#x27;2&#x27;&gt;&amp;amp;&lt;/script&gt;"
    assert escaped in html
    assert html.count("<tr>") == 1


def test_history_row_markup(make_invoice, manager):
    invoice = make_invoice(
        status=S.APPROVED,
        decided_by=manager,
        upstream_number="INV-7",
        contract_id="c-9",
        contract_name="Acme",
        customer_name="Acme Ltd",
        cycle_name="March 2026",
        currency="KWD",
        total_minor=1250,
        submitted_at=datetime(2026, 3, 1, 12, 5, tzinfo=UTC),
        version=2,
    )
    from invoices.templatetags import lists

    row = row_of(invoice, coverage_backend="embedded")
    html = lists.history_rows([row])
    pk = invoice.pk
    assert html == (
        "  <tr>\n"
        f'    <th scope="row"><a href="/invoices/{pk}/">#{pk}</a> <span class="muted">v2</span>'
        '<br><span class="muted">INV-7</span></th>\n'
        '    <td>Contract cycle<br><span class="muted">embedded</span></td>\n'
        '    <td><a href="/contracts/c-9/coverage">Acme<span class="visually-hidden"> (billing '
        "coverage)</span></a></td>\n"
        "    <td>Acme Ltd</td>\n"
        "    <td>March 2026</td>\n"
        f'    <td class="num">KWD{NBSP}1.250</td>\n'
        '    <td><span class="badge status-approved">Approved</span></td>\n'
        '    <td><time datetime="2026-03-01T12:05:00+00:00">2026-03-01 12:05</time><br>'
        '<span class="muted">by clerk</span></td>\n'
        "    <td>manager</td>\n"
        "    <td></td>\n"
        "  </tr>\n"
    )
