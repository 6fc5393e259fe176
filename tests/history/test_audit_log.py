"""The audit log page: auditors only, filters, keyset pages, htmx fragment, query budget."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils.http import urlencode

from invoices.audit import audit_verify
from invoices.models import AuditChainHead, AuditEvent
from invoices.views import history as views_history

from ..helpers import count_queries

pytestmark = pytest.mark.django_db
URL = reverse("invoices:audit")


def get(client, **params):
    return client.get(URL + ("?" + urlencode(params) if params else ""))


def shown_seqs(response) -> list[int]:
    html = response.content.decode()
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return [int(seq) for seq in re.findall(r'<th scope="row">#(\d+)</th>', body)]


def next_link(response) -> str | None:
    found = re.search(r'<a href="([^"]+)"[^>]*rel="next"', response.content.decode())
    return found.group(1).replace("&amp;", "&") if found else None


@pytest.fixture
def reader(client_for, auditor):
    """A signed-in auditor (signing in is itself an audit event, so it comes first)."""
    return client_for(auditor)


@pytest.fixture
def events(reader, record_event, clerk, manager, make_invoice):
    """Five events: clerk submits two invoices, the manager approves one and rejects the
    other, and a failed sign-in by the system."""
    first, second = make_invoice(), make_invoice()
    return [
        record_event(clerk, "invoice.submitted", invoice=first, to_status="pending_approval"),
        record_event(clerk, "invoice.submitted", invoice=second, to_status="pending_approval"),
        record_event(
            manager,
            "invoice.approved",
            invoice=first,
            from_status="pending_approval",
            to_status="approved",
        ),
        record_event(
            manager,
            "invoice.rejected",
            invoice=second,
            reason="=HYPERLINK(evil)",
            from_status="pending_approval",
            to_status="rejected",
        ),
        record_event(None, "auth.sign_in_failed", data={"username": "mallory"}),
    ]


def test_only_auditors_see_the_audit_log(client_for, clerk, manager, auditor, outsider):
    assert get(client_for(auditor)).status_code == 200
    for user in (clerk, manager, outsider):
        assert get(client_for(user)).status_code == 403


def test_anonymous_is_sent_to_sign_in(client):
    response = get(client)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_events_newest_first_with_who_what_and_why(reader, events):
    response = get(reader)
    shown = shown_seqs(response)
    assert shown[:5] == [e.seq for e in reversed(events)]
    html = response.content.decode()
    assert "pending_approval → rejected" in html
    assert "=HYPERLINK(evil)" in html  # shown as text; only the CSV needs neutralising
    assert f'href="/invoices/{events[0].invoice_id}/"' in html


def test_filter_by_actor(client_for, auditor, events):
    assert shown_seqs(get(client_for(auditor), actor="manager")) == [
        events[3].seq,
        events[2].seq,
    ]


def test_filter_by_system_actor(client_for, auditor, events):
    assert shown_seqs(get(client_for(auditor), actor="(system)")) == [events[4].seq]


def test_filter_by_action(client_for, auditor, events):
    assert shown_seqs(get(client_for(auditor), action="invoice.submitted")) == [
        events[1].seq,
        events[0].seq,
    ]


def test_filter_by_invoice(client_for, auditor, events):
    response = get(client_for(auditor), invoice=events[1].invoice_id)
    assert shown_seqs(response) == [events[3].seq, events[1].seq]


def test_filter_by_date_range(client_for, auditor, events):
    today = events[0].at.date()
    client = client_for(auditor)
    everything = shown_seqs(get(client, date_from=today.isoformat(), date_to=today.isoformat()))
    assert set(everything) >= {e.seq for e in events}
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert shown_seqs(get(client, date_from=tomorrow)) == []
    yesterday = (today - timedelta(days=1)).isoformat()
    assert shown_seqs(get(client, date_to=yesterday)) == []


def test_bad_filters_are_form_errors(client_for, auditor):
    client = client_for(auditor)
    response = get(client, invoice="abc")
    assert response.status_code == 422
    assert "Enter an invoice number, such as 123." in response.content.decode()
    response = get(client, action="<script>")
    assert response.status_code == 422
    assert "&lt;script&gt;" in response.content.decode()
    assert "<script>" not in response.content.decode().split("<body", 1)[1].replace(
        "<script src=", ""
    )


def test_unlisted_action_from_a_bookmark_still_filters(client_for, auditor, record_event):
    event = record_event(None, "invoice.archived")
    response = get(client_for(auditor), action="invoice.archived")
    assert shown_seqs(response) == [event.seq]
    assert '<option value="invoice.archived" selected>' in response.content.decode()


def test_pages_by_keyset(client_for, auditor, record_event, monkeypatch):
    monkeypatch.setattr(views_history, "PAGE_SIZE", 4)
    created = [record_event(None, "invoice.submitted") for _ in range(10)]
    expected = [e.seq for e in reversed(created)]
    client = client_for(auditor)
    first = get(client, action="invoice.submitted")
    assert shown_seqs(first) == expected[:4]
    record_event(None, "invoice.submitted")  # arrives meanwhile
    second = client.get(next_link(first))
    assert shown_seqs(second) == expected[4:8]
    third = client.get(next_link(second))
    assert shown_seqs(third) == expected[8:]
    assert next_link(third) is None


def test_htmx_gets_only_the_results(client_for, auditor, events):
    response = client_for(auditor).get(
        URL + "?action=invoice.rejected", headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert "<html" not in html and "<tbody>" in html
    assert response["HX-Push-Url"] == URL + "?action=invoice.rejected"


def test_links_the_export_with_the_same_filters(client_for, auditor, events):
    html = get(client_for(auditor), actor="manager").content.decode()
    assert reverse("invoices:audit_export") + "?actor=manager" in html


def test_query_count_does_not_grow_with_events(client_for, auditor, record_event, clerk):
    client = client_for(auditor)
    for _ in range(3):
        record_event(clerk, "invoice.submitted")
    get(client)
    with count_queries() as few:
        get(client, action="invoice.submitted")
    for _ in range(60):
        record_event(clerk, "invoice.submitted")
    with count_queries() as many:
        assert len(shown_seqs(get(client, action="invoice.submitted"))) == 50
    assert len(many) == len(few)


def test_newest_first_means_newest_in_time(reader, record_event):
    """Events appended by bench_seed carry old timestamps but new sequence numbers."""
    recent = record_event(None, "invoice.submitted")
    with transaction.atomic():
        head = AuditChainHead.objects.select_for_update().get(pk=1)
        old = AuditEvent(seq=head.seq + 1, at=datetime(2024, 1, 1, tzinfo=UTC),
                         action="invoice.submitted", prev_hash=head.hash)  # fmt: skip
        old.hash = old.compute_hash()
        old.save(force_insert=True)
        head.seq, head.hash = old.seq, old.hash
        head.save()
    shown = shown_seqs(get(reader))
    assert shown.index(recent.seq) < shown.index(old.seq) == len(shown) - 1
    assert audit_verify().ok
