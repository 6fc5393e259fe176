"""The clerk flow and the manager pages over HTTP: every step, errors inline, query budgets."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.http import urlencode

from invoices import services
from invoices.backends.base import BackendMisconfigured, BackendUnavailable
from invoices.models import Invoice

from ..helpers import count_queries
from .conftest import JUNE, MAY
from .fake_backend import cycle, line

pytestmark = pytest.mark.django_db
NEW = reverse("invoices:new_cycle")
SUBMIT = reverse("invoices:submit_cycle")


def url(**params):
    return NEW + "?" + urlencode(params)


def post_submit(client, c=MAY, **extra):
    data = {
        "contract": "c-1",
        "cycle": c.key,
        "cycle_fp": services.cycle_fingerprint(c),
        **extra,
    }
    return client.post(
        SUBMIT, data, **({"headers": {"HX-Request": "true"}} if extra.pop("htmx", False) else {})
    )


# --- step 1: search -------------------------------------------------------------------------
def test_search_lists_contracts_with_customer_status_currency_and_term(client_for, clerk, fake):
    page = client_for(clerk).get(url(q="acme"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Acme hosting" in html and "Acme Ltd" in html and "USD" in html
    assert "open-ended" in html
    assert 'href="?q=acme&amp;contract=c-1"' in html


def test_search_as_you_type_returns_only_the_results_fragment(client_for, clerk, fake):
    response = client_for(clerk).get(
        url(q="acme"), headers={"HX-Request": "true", "HX-Target": "contract-results"}
    )
    html = response.content.decode()
    assert 'id="contract-results"' in html
    assert "<html" not in html and "Find the contract" not in html


def test_search_by_customer_name(client_for, clerk, fake):
    fake.add_contract("c-2", name="Data plan", customer="Zeta GmbH")
    html = client_for(clerk).get(url(q="zeta")).content.decode()
    assert "Data plan" in html and "Acme hosting" not in html


def test_search_pages_server_side(client_for, clerk, fake):
    for i in range(25):
        fake.add_contract(f"x-{i:02}", name=f"Plan {i:02}", customer="Many Inc")
    html = client_for(clerk).get(url(q="plan")).content.decode()
    assert html.count("Many Inc") == 20
    assert "cursor=20" in html
    html = client_for(clerk).get(url(q="plan", cursor="20")).content.decode()
    assert html.count("Many Inc") == 5


def test_search_backend_down_is_shown_inline_with_a_retry(client_for, clerk, fake):
    fake.fail("search_contracts", BackendUnavailable("Timed out after 10 s."))
    response = client_for(clerk).get(url(q="acme"))
    assert response.status_code == 503
    html = response.content.decode()
    assert "Timed out after 10 s." in html
    assert "Try again" in html


# --- step 2: contract and cycles ------------------------------------------------------------
def test_contract_step_shows_cycles_as_fetched_with_local_state(client_for, clerk, fake):
    services.invoice_submit_cycle(
        actor=clerk,
        contract_id="c-1",
        cycle_key=MAY.key,
        cycle_fp=services.cycle_fingerprint(MAY),
        preview_total_minor=None,
    )
    invoice = Invoice.objects.get()
    html = client_for(clerk).get(url(contract="c-1")).content.decode()
    assert MAY.name in html and JUNE.name in html
    assert "2026-05-01 – 2026-05-31" in html  # half-open window shown by its last day
    assert f'href="{reverse("invoices:detail", args=[invoice.pk])}"' in html  # live: a link
    assert f"cycle={JUNE.key}".replace(":", "%3A") in html  # free: selectable
    assert "Pending approval" in html and "Not invoiced" in html
    assert "Refresh from backend" in html


def test_cycles_are_fetched_once_and_reused_until_refreshed(client_for, clerk, fake):
    client = client_for(clerk)
    client.get(url(contract="c-1"))
    client.get(url(contract="c-1"))
    client.get(url(contract="c-1", cycle=MAY.key))
    assert fake.calls["list_billing_cycles"] == 1
    assert fake.calls["get_contract"] == 1
    client.get(url(contract="c-1", refresh="1"))
    assert fake.calls["list_billing_cycles"] == 2


def test_unknown_contract_is_a_clear_404(client_for, clerk, fake):
    response = client_for(clerk).get(url(contract="nope"))
    assert response.status_code == 404
    assert "No such contract" in response.content.decode()


def test_misconfigured_backend_says_retrying_will_not_help(client_for, clerk, fake):
    fake.fail("get_contract", BackendMisconfigured("ZENSKAR_ORGANISATION is wrong."))
    response = client_for(clerk).get(url(contract="c-1"))
    assert response.status_code == 503
    html = response.content.decode()
    assert "ZENSKAR_ORGANISATION is wrong." in html
    assert "trying again will not help" in html


# --- step 3: preview ------------------------------------------------------------------------
def test_preview_shows_every_line_and_the_total(client_for, clerk, fake):
    html = client_for(clerk).get(url(contract="c-1", cycle=MAY.key)).content.decode()
    assert "Hosting" in html and "Support" in html
    assert "$150.00" in html
    assert "Exact preview" in html
    assert 'name="cycle_fp"' in html
    assert "Submit for approval" in html
    assert "confirm_empty" not in html


def test_preview_from_an_estimating_backend_says_so(client_for, clerk, fake):
    fake.preview_is_exact = False
    html = client_for(clerk).get(url(contract="c-1", cycle=MAY.key)).content.decode()
    assert "Estimate" in html


def test_preview_htmx_swaps_only_the_preview(client_for, clerk, fake):
    response = client_for(clerk).get(
        url(contract="c-1", cycle=MAY.key), headers={"HX-Request": "true", "HX-Target": "preview"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="preview"')
    assert "Billing cycles" not in html


def test_zero_total_preview_warns_and_asks_for_confirmation(client_for, clerk, fake):
    fake.lines[("c-1", MAY.bill_for_date)] = (line("Hosting", "0.00"),)
    html = client_for(clerk).get(url(contract="c-1", cycle=MAY.key)).content.decode()
    assert "totals zero" in html
    assert 'name="confirm_empty"' in html


def test_no_lines_preview_warns(client_for, clerk, fake):
    fake.lines[("c-1", MAY.bill_for_date)] = ()
    html = client_for(clerk).get(url(contract="c-1", cycle=MAY.key)).content.decode()
    assert "would have no lines" in html
    assert 'name="confirm_empty"' in html


def test_a_cycle_not_in_the_list_cannot_be_previewed(client_for, clerk, fake):
    response = client_for(clerk).get(url(contract="c-1", cycle="2030-01-01T00:00:00Z"))
    assert response.status_code == 404
    assert "current list for this contract" in response.content.decode()


def test_preview_backend_error_is_inline(client_for, clerk, fake):
    fake.fail("preview_cycle", BackendUnavailable("The backend is down."))
    response = client_for(clerk).get(url(contract="c-1", cycle=MAY.key))
    assert response.status_code == 503
    assert "The backend is down." in response.content.decode()


# --- submit ---------------------------------------------------------------------------------
def test_submit_redirects_to_the_new_invoice(client_for, clerk, fake):
    response = post_submit(client_for(clerk))
    invoice = Invoice.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("invoices:detail", args=[invoice.pk])
    assert invoice.status == Invoice.Status.PENDING


def test_a_preview_total_sent_by_the_browser_is_ignored(client_for, clerk, fake):
    response = post_submit(client_for(clerk), preview_total_minor="1")
    assert response.status_code == 302
    invoice = Invoice.objects.get()
    assert invoice.preview_total_minor == 15000  # recomputed by the server, not the posted 1
    assert not invoice.preview_differs
    page = client_for(clerk).get(url(contract="c-1", cycle=JUNE.key)).content.decode()
    assert 'name="preview_total_minor"' not in page


def test_htmx_submit_redirects_the_browser(client_for, clerk, fake):
    response = post_submit(client_for(clerk), htmx=True)
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("invoices:detail", args=[Invoice.objects.get().pk])


def test_submit_of_a_stale_cycle_explains_and_shows_the_fresh_list(client_for, clerk, fake):
    fake.cycles["c-1"] = (cycle("2026-05-01", "2026-05-31"), JUNE)
    response = post_submit(client_for(clerk))
    assert response.status_code == 409
    html = response.content.decode()
    assert "no longer lists this cycle exactly" in html
    assert "2026-05-01 – 2026-05-30" in html  # the fresh cycle
    assert not Invoice.objects.exists()


def test_a_stale_cycle_during_a_revision_keeps_the_revision_in_every_link(
    client_for, clerk, manager, fake
):
    first = services.invoice_submit_cycle(
        actor=clerk,
        contract_id="c-1",
        cycle_key=MAY.key,
        cycle_fp=services.cycle_fingerprint(MAY),
        preview_total_minor=15000,
    ).invoice
    services.invoice_reject(actor=manager, invoice_id=first.pk, reason="Seats are 30")
    fake.cycles["c-1"] = (cycle("2026-05-01", "2026-05-31"), JUNE)
    response = post_submit(client_for(clerk), previous=str(first.pk))
    assert response.status_code == 409
    html = response.content.decode()
    assert "refresh=1&amp;previous=" + str(first.pk) in html
    assert html.count(f"previous={first.pk}") >= 3  # refresh, and each cycle's preview (x2)


def test_double_submit_gives_a_friendly_link_to_the_live_invoice(client_for, clerk, fake):
    client = client_for(clerk)
    post_submit(client)
    response = post_submit(client)
    invoice = Invoice.objects.get()
    assert response.status_code == 409
    html = response.content.decode()
    assert "already has an invoice" in html
    assert reverse("invoices:detail", args=[invoice.pk]) in html


def test_zero_total_submit_without_confirmation_is_refused(client_for, clerk, fake):
    fake.lines[("c-1", MAY.bill_for_date)] = (line("Hosting", "0.00"),)
    response = post_submit(client_for(clerk))
    assert response.status_code == 422
    assert not Invoice.objects.exists()
    response = post_submit(client_for(clerk), confirm_empty="on")
    assert response.status_code == 302
    assert Invoice.objects.get().total_minor == 0


def test_submit_backend_down_is_inline_never_a_500(client_for, clerk, fake):
    fake.fail("generate_draft", BackendUnavailable("Timed out after 10 s."))
    response = post_submit(client_for(clerk))
    assert response.status_code == 503
    assert "Timed out after 10 s." in response.content.decode()
    assert not Invoice.objects.exists()


def test_submit_with_a_broken_form_is_not_a_crash(client_for, clerk, fake):
    client = client_for(clerk)
    response = client.post(SUBMIT, {"contract": "c-1"})
    assert (response.status_code, response.url) == (302, NEW)
    assert not Invoice.objects.exists()
    assert fake.calls == {}  # nothing was asked of, or sent to, the backend
    page = client.get(response.url).content.decode()
    assert "That submission was incomplete; choose the cycle again." in page


# --- roles ----------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["manager", "auditor", "outsider"])
def test_only_clerks_reach_the_clerk_flow(client_for, request, fake, who):
    client = client_for(request.getfixturevalue(who))
    assert client.get(NEW).status_code == 403
    assert post_submit(client).status_code == 403
    assert client.get(reverse("invoices:mine")).status_code == 403
    assert fake.calls["generate_draft"] == 0


@pytest.mark.parametrize("who", ["clerk", "auditor", "outsider"])
def test_only_managers_reach_approvals(client_for, request, fake, clerk2, manager, who):
    pending = services.invoice_submit_cycle(
        actor=clerk2, contract_id="c-1", cycle_key=MAY.key, cycle_fp=services.cycle_fingerprint(MAY)
    ).invoice
    response = client_for(request.getfixturevalue(who)).get(reverse("invoices:inbox"))
    assert response.status_code == 403
    html = response.content.decode()
    assert "Approvals" not in html.split("<main", 1)[1]  # the refusal page, not the inbox
    assert f"#{pending.pk}" not in html and "Acme Ltd" not in html
    shown = client_for(manager).get(reverse("invoices:inbox")).content.decode()
    assert f"#{pending.pk}" in shown and "Acme Ltd" in shown  # what was withheld


def test_outsiders_cannot_read_an_invoice(client_for, clerk, outsider, fake):
    post_submit(client_for(clerk))
    invoice = Invoice.objects.get()
    client = Client()
    client.force_login(outsider)
    assert client.get(reverse("invoices:detail", args=[invoice.pk])).status_code == 403


# --- manager pages --------------------------------------------------------------------------
def test_approve_from_the_invoice_page(client_for, clerk, manager, fake):
    post_submit(client_for(clerk))
    invoice = Invoice.objects.get()
    client = Client()
    client.force_login(manager)
    page = client.get(reverse("invoices:detail", args=[invoice.pk])).content.decode()
    assert f'value="{invoice.content_hash}"' in page
    response = client.post(
        reverse("invoices:approve", args=[invoice.pk]), {"content_hash": invoice.content_hash}
    )
    assert response.status_code == 302
    assert Invoice.objects.get().status == Invoice.Status.APPROVED


def test_approve_with_a_stale_hash_explains(client_for, clerk, manager, fake):
    post_submit(client_for(clerk))
    invoice = Invoice.objects.get()
    client = Client()
    client.force_login(manager)
    response = client.post(
        reverse("invoices:approve", args=[invoice.pk]), {"content_hash": "1" * 64}
    )
    assert response.status_code == 409
    assert "changed after you opened it" in response.content.decode()


def test_manager_cannot_approve_own_submission_from_the_page(fake, superuser, client):
    client.force_login(superuser)
    post_submit(client)
    invoice = Invoice.objects.get()
    page = client.get(reverse("invoices:detail", args=[invoice.pk])).content.decode()
    assert "another manager must decide it" in page
    assert "Approve and send" not in page
    response = client.post(
        reverse("invoices:approve", args=[invoice.pk]), {"content_hash": invoice.content_hash}
    )
    assert response.status_code == 403
    assert Invoice.objects.get().status == Invoice.Status.PENDING


def test_reject_without_reason_keeps_it_pending(client_for, clerk, manager, fake):
    post_submit(client_for(clerk))
    invoice = Invoice.objects.get()
    client = Client()
    client.force_login(manager)
    response = client.post(reverse("invoices:reject", args=[invoice.pk]), {"reason": ""})
    assert response.status_code == 422
    assert "Give the clerk a reason" in response.content.decode()
    response = client.post(reverse("invoices:reject", args=[invoice.pk]), {"reason": "Seats"})
    assert response.status_code == 302
    assert Invoice.objects.get().status == Invoice.Status.REJECTED


def test_failed_approval_shows_the_message_and_a_retry(client_for, clerk, manager, fake):
    post_submit(client_for(clerk))
    invoice = Invoice.objects.get()
    fake.fail("approve_draft", BackendUnavailable("Timed out after 10 s."))
    client = Client()
    client.force_login(manager)
    response = client.post(
        reverse("invoices:approve", args=[invoice.pk]), {"content_hash": invoice.content_hash}
    )
    assert response.status_code == 502
    html = response.content.decode()
    assert "Timed out after 10 s." in html
    assert "Retry the approval" in html
    response = client.post(reverse("invoices:retry", args=[invoice.pk]))
    assert response.status_code == 302
    assert Invoice.objects.get().status == Invoice.Status.APPROVED


def test_rejected_invoice_is_under_needs_changes_with_the_reason(client_for, clerk, manager, fake):
    post_submit(client_for(clerk))
    invoice = Invoice.objects.get()
    services.invoice_reject(actor=manager, invoice_id=invoice.pk, reason="Seat count is 30")
    client = Client()
    client.force_login(clerk)
    html = client.get(reverse("invoices:mine")).content.decode()
    assert "Needs changes (1)" in html
    assert "Seat count is 30" in html
    response = client.get(reverse("invoices:revise", args=[invoice.pk]))
    assert response.status_code == 302
    assert f"previous={invoice.pk}" in response.url
    html = client.get(response.url).content.decode()
    assert f'name="previous" value="{invoice.pk}"' in html
    assert "Revising" in html


# --- query budgets --------------------------------------------------------------------------
def _contract_with_cycles(fake, n):
    cycles = tuple(
        cycle(
            f"{2000 + i // 12}-{i % 12 + 1:02}-01",
            f"{2000 + (i + 1) // 12}-{(i + 1) % 12 + 1:02}-01",
        )
        for i in range(n)
    )
    fake.add_contract("c-1", cycles=cycles, lines=tuple(line(f"P{i}", "1.00") for i in range(n)))
    return cycles


@pytest.mark.parametrize("n", [3, 40])
def test_contract_and_preview_pages_have_a_fixed_query_budget(client_for, clerk, fake, n):
    cycles = _contract_with_cycles(fake, n)
    client = client_for(clerk)
    for c in cycles[: n // 2]:
        services.invoice_submit_cycle(
            actor=clerk,
            contract_id="c-1",
            cycle_key=c.key,
            cycle_fp=services.cycle_fingerprint(c),
            preview_total_minor=None,
        )
    for page in (url(contract="c-1"), url(contract="c-1", cycle=cycles[-1].key)):
        with count_queries() as q:
            assert client.get(page).status_code == 200
        # 7: the 6 of the page, and who stands in for an absent manager today (asked once a
        # minute, shared through the cache; the test starts with it empty).
        assert len(q) <= 7, [x["sql"] for x in q.captured_queries]


@pytest.mark.parametrize("n", [2, 30])
def test_inbox_mine_and_detail_have_a_fixed_query_budget(client_for, clerk, manager, fake, n):
    cycles = _contract_with_cycles(fake, n)
    for c in cycles:
        services.invoice_submit_cycle(
            actor=clerk,
            contract_id="c-1",
            cycle_key=c.key,
            cycle_fp=services.cycle_fingerprint(c),
            preview_total_minor=None,
        )
    invoice = Invoice.objects.first()
    for who, page in (
        (manager, reverse("invoices:inbox")),
        (clerk, reverse("invoices:mine")),
        (manager, reverse("invoices:detail", args=[invoice.pk])),
        (clerk, reverse("home")),
        (manager, reverse("home")),
    ):
        client = client_for(who)
        with count_queries() as q:
            assert client.get(page).status_code == 200
        assert len(q) <= 12, (page, len(q))


def test_opening_a_contract_from_search_results_does_not_search_again(client_for, clerk, fake):
    client = client_for(clerk)
    client.get(url(q="acme"))
    assert fake.calls["search_contracts"] == 1
    response = client.get(
        url(q="acme", contract="c-1"), headers={"HX-Request": "true", "HX-Target": "workspace"}
    )
    assert response.status_code == 200
    assert 'id="workspace"' in response.content.decode()
    assert fake.calls["search_contracts"] == 1


def test_a_draft_that_cannot_be_read_back_is_explained_with_a_retry(client_for, clerk, fake):
    fake.fail("get_draft", BackendUnavailable("read timed out"))
    response = post_submit(client_for(clerk))
    assert response.status_code == 502  # a backend call failed after the draft was made
    assert "could not be read back" in response.content.decode()
    assert not Invoice.objects.exists()


def test_going_back_restores_the_whole_page_not_a_fragment(client_for, clerk, fake):
    response = client_for(clerk).get(
        url(contract="c-1", cycle=MAY.key),
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    html = response.content.decode()
    assert "<html" in html and "Find the contract" in html
    assert "HX-Request" in response["Vary"]
