"""The admin is a read-only window: nobody adds, changes or deletes invoices or audit events."""

import csv
import io

import pytest
from django.urls import reverse

from invoices import services
from invoices.models import AuditEvent, Invoice

from .conftest import MAY

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice(fake, clerk):
    return services.invoice_submit_cycle(
        actor=clerk,
        contract_id="c-1",
        cycle_key=MAY.key,
        cycle_fp=services.cycle_fingerprint(MAY),
        preview_total_minor=15000,
    ).invoice


@pytest.mark.parametrize("who", ["superuser", "auditor"])
def test_admin_refuses_every_write(client, request, invoice, who):
    client.force_login(request.getfixturevalue(who))
    event = AuditEvent.objects.first()
    for model, obj in (("invoice", invoice), ("auditevent", event)):
        base = f"admin:invoices_{model}"
        assert client.get(reverse(f"{base}_changelist")).status_code == 200
        assert client.get(reverse(f"{base}_change", args=[obj.pk])).status_code == 200
        assert client.get(reverse(f"{base}_add")).status_code == 403
        assert client.post(reverse(f"{base}_add"), {}).status_code == 403
        response = client.post(reverse(f"{base}_change", args=[obj.pk]), {"status": "approved"})
        assert response.status_code == 403
        assert (
            client.post(reverse(f"{base}_delete", args=[obj.pk]), {"post": "yes"}).status_code
            == 403
        )
        response = client.post(
            reverse(f"{base}_changelist"),
            {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"},
        )
        assert response.status_code in (200, 302)
    assert Invoice.objects.get().status == Invoice.Status.PENDING
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_change_page_shows_read_only_fields(client, superuser, invoice):
    client.force_login(superuser)
    page = client.get(reverse("admin:invoices_invoice_change", args=[invoice.pk]))
    assert b'name="status"' not in page.content
    assert invoice.content_hash.encode() in page.content


def test_clerks_and_managers_cannot_enter_the_admin(client, clerk, manager):
    for person in (clerk, manager):
        client.force_login(person)
        response = client.get(reverse("admin:index"))
        assert response.status_code == 302
        assert "login" in response.url


def test_auditors_export_invoices_as_csv(client, auditor, invoice):
    client.force_login(auditor)
    response = client.post(
        reverse("admin:invoices_invoice_changelist"),
        {"action": "export_csv", "_selected_action": [invoice.pk]},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["id", "version", "previous_id", "kind"]
    assert rows[1][0] == str(invoice.pk)
    assert rows[1][rows[0].index("total")] == "150.00"
    assert rows[1][rows[0].index("submitted_at")].endswith("Z")


def test_auditors_export_audit_events_as_csv(client, auditor, invoice):
    client.force_login(auditor)
    ids = list(AuditEvent.objects.values_list("pk", flat=True))
    response = client.post(
        reverse("admin:invoices_auditevent_changelist"),
        {"action": "export_csv", "_selected_action": ids},
    )
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == "seq"
    assert [r[3] for r in rows[1:]] == ["invoice.submitted", "auth.signed_in"]


def test_auditors_read_the_engines_records_but_change_nothing(client, auditor):
    from billing_engine.models import Contract
    from tests.engine.factories import worked_example_contract

    contract = worked_example_contract()
    client.force_login(auditor)
    assert client.get(reverse("admin:billing_engine_contract_changelist")).status_code == 200
    page = client.get(reverse("admin:billing_engine_contract_change", args=[contract.pk]))
    assert page.status_code == 200
    assert b'name="name"' not in page.content  # read-only
    assert client.get(reverse("admin:billing_engine_contract_add")).status_code == 403
    response = client.post(
        reverse("admin:billing_engine_contract_change", args=[contract.pk]), {"name": "x"}
    )
    assert response.status_code == 403
    assert Contract.objects.get(pk=contract.pk).name == contract.name


def test_auditors_find_every_read_only_window_on_the_admin_index(client, auditor):
    """Bill runs and approval policies have their own apps, whose permissions auditors do not
    hold: their read-only tables are listed all the same."""
    client.force_login(auditor)
    html = client.get(reverse("admin:index")).content.decode()
    for name in ("billruns_billrun", "policies_absence", "policies_reminder", "invoices_invoice"):
        assert f"/admin/{name.replace('_', '/', 1)}/" in html, name
