"""Apps built on invoices plug in through invoices.extensions: panels on the invoice page and
signals after submission and approval (sent only once the change has committed)."""

import pytest
from django.urls import reverse

from invoices import extensions, services

from .conftest import MAY

pytestmark = pytest.mark.django_db


def submit(clerk):
    return services.invoice_submit_cycle(
        actor=clerk,
        contract_id="c-1",
        cycle_key=MAY.key,
        cycle_fp=services.cycle_fingerprint(MAY),
        preview_total_minor=None,
    ).invoice


def test_signals_are_sent_after_commit_with_the_invoice(
    fake, clerk, manager, django_capture_on_commit_callbacks
):
    seen = []

    def receiver(signal, **kwargs):
        seen.append((signal, kwargs["invoice_id"]))

    extensions.invoice_submitted.connect(receiver)
    extensions.invoice_approved.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            invoice = submit(clerk)
        assert seen == []  # nothing before commit
        for callback in callbacks:
            callback()
        with django_capture_on_commit_callbacks(execute=True):
            services.invoice_approve(
                actor=manager, invoice_id=invoice.pk, seen_hash=invoice.content_hash
            )
    finally:
        extensions.invoice_submitted.disconnect(receiver)
        extensions.invoice_approved.disconnect(receiver)
    assert seen == [
        (extensions.invoice_submitted, invoice.pk),
        (extensions.invoice_approved, invoice.pk),
    ]


def test_a_registered_panel_shows_on_the_invoice_page(
    fake, clerk, manager, client_for, monkeypatch, tmp_path, settings
):
    (tmp_path / "panel.html").write_text("<section><h2>Extra</h2><p>{{ panel.word }}</p></section>")
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], tmp_path]}
    ]
    panel = extensions.Panel("panel.html", lambda invoice, user: {"word": f"<b>#{invoice.pk}</b>"})
    hidden = extensions.Panel("panel.html", lambda invoice, user: None)
    monkeypatch.setattr(extensions, "invoice_page_panels", [panel, hidden])
    invoice = submit(clerk)
    html = client_for(manager).get(reverse("invoices:detail", args=[invoice.pk])).content.decode()
    assert f"&lt;b&gt;#{invoice.pk}&lt;/b&gt;" in html  # escaped
    assert html.count("<h2>Extra</h2>") == 1
