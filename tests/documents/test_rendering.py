"""The original PDF: rendered once at approval from the approved snapshot, stored unchanged, its
SHA-256 in the audit chain; what it says for USD, JPY and KWD invoices; copies; no fetching."""

import hashlib

import pytest

from documents import rendering, services
from documents.models import InvoiceDocument
from documents.tasks import render_invoice_document
from invoices import money
from invoices.audit import audit_verify
from invoices.models import AuditEvent

from .conftest import pdf_text

pytestmark = pytest.mark.django_db


def test_approval_renders_the_original_and_puts_its_hash_in_the_audit_chain(approved_cycle):
    invoice = approved_cycle("USD")
    document = InvoiceDocument.objects.get(invoice=invoice)
    content = bytes(document.content)
    assert content.startswith(b"%PDF-")
    assert document.sha256 == hashlib.sha256(content).hexdigest()
    assert document.size == len(content)
    assert document.number == invoice.upstream_number
    event = AuditEvent.objects.get(invoice=invoice, action="document.rendered")
    assert event == document.audit_event
    assert event.data == {
        "sha256": document.sha256,
        "bytes": len(content),
        "number": invoice.upstream_number,
    }
    assert event.actor is None  # the system rendered it
    assert audit_verify().ok


def test_rendering_again_changes_nothing(approved_cycle):
    invoice = approved_cycle("USD")
    before = InvoiceDocument.objects.get(invoice=invoice)
    result = render_invoice_document.enqueue(invoice.pk)
    assert result.return_value == "already rendered"
    assert services.document_render_original(invoice.pk) == "already rendered"
    after = InvoiceDocument.objects.get(invoice=invoice)
    assert (after.pk, after.sha256, bytes(after.content)) == (
        before.pk,
        before.sha256,
        bytes(before.content),
    )
    assert AuditEvent.objects.filter(action="document.rendered").count() == 1


@pytest.mark.parametrize(
    ("currency", "lines", "total"),
    [
        (
            "USD",
            [
                ("Platform fee", "$87.10"),
                ("Seats", "$312.50"),
                ("API calls (graduated)", "$470.00"),
                ("Storage (volume)", "$360.00"),
            ],
            "$1,229.60",
        ),
        ("JPY", [("Dedicated rack", "¥98,000"), ("Support hours", "¥13,500")], "¥111,500"),
        (
            "KWD",
            [("Fleet tracking", "KWD 1.250"), ("Vehicle licences", "KWD 0.875")],
            "KWD 2.125",
        ),
    ],
)
def test_the_pdf_shows_number_lines_and_total_in_the_currencys_own_decimals(
    approved_cycle, currency, lines, total
):
    invoice = approved_cycle(currency)
    assert invoice.total_minor == money.parse_amount(total.split()[-1].lstrip("$¥"), currency)
    text = pdf_text(bytes(InvoiceDocument.objects.get(invoice=invoice).content))
    assert invoice.upstream_number.startswith("INV-")
    assert f"Invoice {invoice.upstream_number}" in text
    assert "ORIGINAL" in text and "COPY" not in text
    for name, amount in lines:
        assert name in text
        assert amount in text, (name, amount)
    assert f"Total ({currency}) {total}" in text
    assert invoice.customer_name in text and invoice.contract_name in text


def test_the_pdf_carries_the_approval_trail(approved_cycle, clerk, manager):
    invoice = approved_cycle("USD")
    text = pdf_text(bytes(InvoiceDocument.objects.get(invoice=invoice).content))
    assert f"by {clerk.username}" in text and f"by {manager.username}" in text
    assert invoice.submitted_at.strftime("%Y-%m-%d %H:%M:%S") in text
    assert invoice.content_hash in text.replace(" ", "")
    trail = AuditEvent.objects.filter(invoice=invoice).exclude(action="document.rendered")
    assert [e.action for e in trail.order_by("seq")] == [
        "invoice.submitted",
        "invoice.approval_started",
        "invoice.approved",
    ]
    for event in trail:
        assert event.action in text
        assert event.hash in text.replace(" ", "")


def test_an_adhoc_pdf_shows_addresses_shipping_terms_and_kwd_amounts(approved_adhoc):
    invoice = approved_adhoc()
    text = pdf_text(bytes(InvoiceDocument.objects.get(invoice=invoice).content))
    assert f"Invoice {invoice.upstream_number}" in text
    for expected in (
        "BILL TO",
        "Northwind Traders Ltd",
        "14 Harbour Road",
        "BS1 5TY Bristol",
        "SHIP TO",
        "Yousef Al-Sabah",
        "Block 4, Street 12",
        "70050 Shuwaikh",
        "KW",
        "dana@northwind.example.com",
        "Customs brokerage",
        "KWD 25.000",  # 2 × 12.500
        "Pallet storage",
        "KWD 33.750",  # 30 × 1.125
        "Shipping",
        "KWD 4.750",
        "Total (KWD) KWD 63.500",
        "Net 15",
        "Delivered to the Shuwaikh port warehouse",
        "Period 2026-07-01 – 2026-07-31",  # both days included, as typed
        "Due date 2026-08-15",
    ):
        assert expected in text, expected


def test_nothing_is_rendered_before_approval_or_for_a_rejected_invoice(
    clerk, manager, submit_cycle, django_capture_on_commit_callbacks
):
    from invoices import services as invoice_services
    from tests.engine.factories import worked_example_contract

    invoice = submit_cycle(clerk, worked_example_contract())
    assert services.document_render_original(invoice.pk) == "not approved"
    with django_capture_on_commit_callbacks(execute=True):
        invoice_services.invoice_reject(actor=manager, invoice_id=invoice.pk, reason="wrong")
    assert services.document_render_original(invoice.pk) == "not approved"
    assert not InvoiceDocument.objects.exists()
    assert services.document_render_original(999_999) == "no invoice"


def test_a_copy_is_marked_copy_and_never_replaces_the_original(approved_cycle):
    invoice = approved_cycle("JPY")
    original = InvoiceDocument.objects.get(invoice=invoice)
    copy = services.document_render_copy(invoice, original)
    text = pdf_text(copy)
    assert "COPY" in text and "ORIGINAL" not in text
    assert "Not the original" in text
    assert original.sha256 in text.replace(" ", "")
    assert "¥111,500" in text
    assert hashlib.sha256(copy).hexdigest() != original.sha256
    assert InvoiceDocument.objects.get(invoice=invoice).sha256 == original.sha256
    assert InvoiceDocument.objects.count() == 1


def test_rendering_fetches_nothing():
    import weasyprint.urls

    html = '<html><body><img src="http://127.0.0.1:9/x.png"><p>Hi</p></body></html>'
    with pytest.raises(weasyprint.urls.FatalURLFetchingError, match="refused"):
        rendering.html_to_pdf(html, "")
    css = "@import url('file:///etc/passwd'); p { color: red }"
    with pytest.raises(weasyprint.urls.FatalURLFetchingError, match="refused"):
        rendering.html_to_pdf("<p>Hi</p>", css)


def test_unit_prices_keep_every_decimal_and_show_at_least_the_currencys():
    assert services.unit_price_text("12.5", "USD") == "12.50"
    assert services.unit_price_text("3.916667", "USD") == "3.916667"
    assert services.unit_price_text("98000", "JPY") == "98,000"
    assert services.unit_price_text("0.125", "KWD") == "0.125"
    assert services.unit_price_text("1.5", "KWD") == "1.500"


def test_a_credit_note_is_its_own_document_naming_what_it_corrects(
    approved_cycle, clerk, manager2, approve
):
    from invoices.services.corrections import invoice_request_correction

    invoice = approved_cycle("USD")
    note = invoice_request_correction(
        actor=clerk,
        invoice_id=invoice.pk,
        kind="credit_note",
        reason_code="goodwill",
        reason_text="Outage in June",
    )
    note = approve(manager2, note)
    text = pdf_text(bytes(InvoiceDocument.objects.get(invoice=note).content))
    assert f"Credit note {note.upstream_number}" in text
    assert note.upstream_number.startswith("CN-")
    assert f"Invoice {invoice.upstream_number}" in text and "Outage in June" in text


def test_a_void_notice_names_the_voided_invoice_and_labels_the_credit_note_of_the_rest(
    approved_cycle, void
):
    invoice = approved_cycle("USD")
    notice = void(invoice)
    credit_note = notice.upstream_number  # the credit note of what was left, before the void
    assert credit_note.startswith("CN-")
    text = pdf_text(bytes(InvoiceDocument.objects.get(invoice=notice).content))
    assert f"Void notice of invoice {invoice.upstream_number}" in text
    assert f"Credit note number {credit_note}" in text
    # The credit note's number is not the void notice's own.
    assert f"Void notice {credit_note}" not in text
    assert f"Void notice number {credit_note}" not in text
    assert f"Invoice {invoice.upstream_number}" in text and "Billed twice" in text


def test_an_ad_hoc_void_notice_has_no_number_of_its_own(approved_adhoc, void):
    invoice = approved_adhoc()
    notice = void(invoice)
    assert notice.upstream_number == ""  # no credit note: the ad-hoc backend only voids
    text = pdf_text(bytes(InvoiceDocument.objects.get(invoice=notice).content))
    assert f"Void notice of invoice {invoice.upstream_number}" in text
    assert "Void notice number" not in text and "(no number)" not in text
    # Its period is the voided invoice's (it has no ad-hoc request of its own).
    original = pdf_text(bytes(InvoiceDocument.objects.get(invoice=invoice).content))
    assert "Period 2026-07-01 – 2026-07-31" in original
    assert "Period 2026-07-01 – 2026-07-31" in text
