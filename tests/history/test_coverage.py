"""Contract coverage: every cycle the backend lists, its local state, gaps one click from the
clerk flow, backend errors inline."""

import re

import pytest
from django.urls import reverse
from django.utils.http import urlencode

from invoices.backends.base import BackendUnavailable
from invoices.models import Invoice
from tests.workflow.fake_backend import cycle, line

from ..helpers import count_queries

pytestmark = pytest.mark.django_db
S = Invoice.Status
URL = reverse("invoices:coverage", args=["c-1"])

JAN, FEB, MAR, APR, MAY, JUN = (
    cycle("2024-01-01", "2024-02-01"),
    cycle("2024-02-01", "2024-03-01"),
    cycle("2024-03-01", "2024-04-01"),
    cycle("2024-04-01", "2024-05-01"),
    cycle("2024-05-01", "2024-06-01"),
    cycle("2024-06-01", "2024-07-01"),
)
FUTURE = cycle("2099-01-01", "2099-02-01")


@pytest.fixture
def contract(fake, make_invoice, manager, clerk):
    fake.add_contract(
        "c-1",
        name="Acme hosting",
        customer="Acme Ltd",
        cycles=(JAN, FEB, MAR, APR, MAY, JUN, FUTURE),
        lines=(line("Hosting", "100.00"),),
    )

    def invoice(c, status, **extra):
        return make_invoice(
            backend="embedded",
            contract_id="c-1",
            customer_id="cust-c-1",
            bill_for=c.bill_for,
            cycle_bill_for_date=c.bill_for_date,
            cycle_name=c.name,
            status=status,
            **extra,
        )

    invoice(FEB, S.APPROVED, decided_by=manager)
    invoice(MAR, S.PENDING)
    invoice(APR, S.REJECTED, decided_by=manager)
    invoice(MAY, S.WITHDRAWN)
    first = invoice(JUN, S.REJECTED, decided_by=manager)
    invoice(JUN, S.APPROVED, decided_by=manager, previous=first, lineage=first.lineage, version=2)
    return fake


def rows(html: str) -> dict[str, str]:
    """Cycle name -> its table row's HTML."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    found = {}
    for tr in re.findall(r"<tr.*?</tr>", body, flags=re.S):
        name = re.search(r'<th scope="row">(.*?)</th>', tr).group(1)
        found[name] = tr
    return found


def gap_link(c) -> str:
    query = urlencode({"contract": "c-1", "cycle": c.bill_for_date})
    return reverse("invoices:new_cycle") + "?" + query.replace("&", "&amp;")


def test_every_cycle_with_its_local_state(client_for, auditor, contract):
    response = client_for(auditor).get(URL)
    assert response.status_code == 200
    shown = rows(response.content.decode())
    assert list(shown) == [c.name for c in (JAN, FEB, MAR, APR, MAY, JUN, FUTURE)]
    assert "Not invoiced" in shown[JAN.name]
    assert "Approved" in shown[FEB.name]
    assert "Pending approval" in shown[MAR.name]
    assert "Rejected" in shown[APR.name]
    assert "Withdrawn" in shown[MAY.name]
    assert "Approved" in shown[JUN.name] and "v2" in shown[JUN.name]
    assert "not due yet" in shown[FUTURE.name]


def test_due_cycles_without_a_live_invoice_are_gaps(client_for, auditor, contract):
    html = client_for(auditor).get(URL).content.decode()
    shown = rows(html)
    gaps = {name for name, tr in shown.items() if 'class="gap-row"' in tr}
    assert gaps == {JAN.name, APR.name, MAY.name}
    assert all(">Gap<" in shown[name] for name in gaps)  # not told by colour alone
    assert "3 gaps" in html


def test_clerks_get_each_gap_one_click_from_the_clerk_flow(client_for, clerk, contract):
    html = client_for(clerk).get(URL).content.decode()
    shown = rows(html)
    for c in (JAN, APR, MAY):
        assert gap_link(c) in shown[c.name]
    for c in (FEB, MAR, JUN, FUTURE):
        assert "Invoice this cycle" not in shown[c.name]


def test_following_a_gap_link_opens_the_preview(client_for, clerk, contract):
    client = client_for(clerk)
    page = client.get(gap_link(JAN).replace("&amp;", "&"))
    assert page.status_code == 200
    html = page.content.decode()
    assert f"3. Preview: {JAN.name}" in html
    assert "Submit for approval" in html


@pytest.mark.parametrize("who", ["manager", "auditor"])
def test_readers_who_cannot_submit_see_gaps_without_the_link(client_for, request, who, contract):
    html = client_for(request.getfixturevalue(who)).get(URL).content.decode()
    assert "Invoice this cycle" not in html
    assert "Needs an invoice" in html


def test_outsider_refused_and_anonymous_sent_to_sign_in(client_for, client, outsider, contract):
    assert client.get(URL).status_code == 302
    assert client_for(outsider).get(URL).status_code == 403


def test_backend_down_is_shown_inline(client_for, auditor, fake):
    fake.fail("get_contract", BackendUnavailable("Timed out after 10 s."))
    response = client_for(auditor).get(URL)
    assert response.status_code == 503
    html = response.content.decode()
    assert "Timed out after 10 s." in html and "Try again" in html


def test_unknown_contract_is_a_404_page_not_an_error(client_for, auditor, fake):
    response = client_for(auditor).get(reverse("invoices:coverage", args=["nope"]))
    assert response.status_code == 404
    assert b"No such contract." in response.content


def test_misconfigured_backend_is_shown_inline(client_for, auditor, settings):
    settings.BILLING_BACKEND = "nonsense"
    response = client_for(auditor).get(URL)
    assert response.status_code == 503
    assert b"is not a known backend" in response.content


def test_cycles_come_from_the_short_cache_and_refresh_asks_again(client_for, auditor, contract):
    client = client_for(auditor)
    client.get(URL)
    client.get(URL)
    assert contract.calls["list_billing_cycles"] == 1
    client.get(URL + "?refresh=1")
    assert contract.calls["list_billing_cycles"] == 2


def test_query_count_does_not_grow_with_cycles(client_for, auditor, fake, make_invoice):
    fake.add_contract("c-1", cycles=(JAN, FEB))
    client = client_for(auditor)
    client.get(URL)
    with count_queries() as few:
        client.get(URL)
    many_cycles = tuple(cycle(f"20{y}-{m:02}-01", f"20{y}-{m:02}-02") for y in (20, 21, 22)
                        for m in range(1, 13))  # fmt: skip
    fake.add_contract("c-1", cycles=many_cycles)
    for c in many_cycles[:20]:
        make_invoice(contract_id="c-1", customer_id="cust-c-1", bill_for=c.bill_for,
                     cycle_bill_for_date=c.bill_for_date, status=S.APPROVED)  # fmt: skip
    client.get(URL + "?refresh=1")
    with count_queries() as many:
        response = client.get(URL)
    assert len(rows(response.content.decode())) == 36
    assert len(many) == len(few)
