"""The engine in the Django admin: the catalogue is maintainable, invoices are read-only."""

import pytest
from django.contrib import admin
from django.urls import reverse

from billing_engine import api
from billing_engine.models import Contract, EngineInvoice, Phase, Pricing

from . import factories as f

pytestmark = pytest.mark.django_db

ENGINE_MODELS = [m for m in admin.site._registry if m._meta.app_label == "billing_engine"]


def test_every_engine_model_is_registered():
    names = {m.__name__ for m in ENGINE_MODELS}
    assert names >= {
        "Customer",
        "Contract",
        "Phase",
        "Pricing",
        "Product",
        "EngineInvoice",
        "Country",
        "CompanyCurrency",
        "Gateway",
        "PaymentMethod",
        "AddressBookEntry",
        "AdhocInvoice",
    }


def test_a_superuser_can_open_every_list_and_change_page(client, superuser):
    contract = f.worked_example_contract()
    world = f.adhoc_world()
    invoice_id = api.generate_invoice(
        customer_id=str(contract.customer_id),
        contract_id=str(contract.id),
        from_date=f.unix(2026, 5, 28),
        to_date=f.unix(2026, 6, 28),
        bill_for_date=f.unix(2026, 6, 28),
        billing_cycle_start_day=28,
    )["invoice_ids"][0]
    api.create_adhoc_invoice(f.adhoc_body(world))
    client.force_login(superuser)
    for model in ENGINE_MODELS:
        meta = model._meta
        listing = client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        assert listing.status_code == 200, meta.model_name
        first = model.objects.first()
        if first is not None:
            change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[first.pk])
            assert client.get(change).status_code == 200, meta.model_name
    assert EngineInvoice.objects.filter(pk=invoice_id).exists()


def test_a_superuser_can_add_a_contract_and_its_pricings(client, superuser):
    owner = f.customer()
    product = f.product("Seats", "SEAT-001")
    client.force_login(superuser)
    response = client.post(
        reverse("admin:billing_engine_contract_add"),
        {
            "customer": owner.pk,
            "name": "Northwind seats",
            "status": "active",
            "currency": "USD",
            "start_date": "2026-01-01",
            "cadence": "P1M",
            "billing_cycle_start_day": "1",
            "in_advance": "on",
            "phases-TOTAL_FORMS": "1",
            "phases-INITIAL_FORMS": "0",
            "phases-0-name": "Subscription",
            "phases-0-phase_type": "active",
            "phases-0-start_date": "2026-01-01",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    phase = Phase.objects.get(contract__name="Northwind seats")
    response = client.post(
        reverse("admin:billing_engine_phase_change", args=[phase.pk]),
        {
            "contract": phase.contract_id,
            "name": "Subscription",
            "phase_type": "active",
            "start_date": "2026-01-01",
            "pricings-TOTAL_FORMS": "1",
            "pricings-INITIAL_FORMS": "0",
            "pricings-0-product": product.pk,
            "pricings-0-pricing_type": "volume",
            "pricings-0-unit_amount_minor": "0",
            "pricings-0-quantity": "120",
            "pricings-0-unit": "seat",
            "pricings-0-tiers": '[{"up_to": 100, "unit_amount_minor": 400},'
            ' {"up_to": null, "unit_amount_minor": 300}]',
            "pricings-0-start_date": "2026-01-01",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Pricing.objects.get(phase=phase).tiers[1] == {"up_to": None, "unit_amount_minor": 300}
    contract = Contract.objects.get(name="Northwind seats")
    preview = api.preview(str(contract.id), bill_for_date="2026-01-01T00:00:00Z")
    assert preview.total_minor == 36000


def test_the_admin_refuses_tiers_the_engine_cannot_rate(client, superuser):
    phase = f.phase(f.contract())
    client.force_login(superuser)
    response = client.post(
        reverse("admin:billing_engine_phase_change", args=[phase.pk]),
        {
            "contract": phase.contract_id,
            "name": phase.name,
            "phase_type": "active",
            "start_date": phase.start_date.isoformat(),
            "pricings-TOTAL_FORMS": "1",
            "pricings-INITIAL_FORMS": "0",
            "pricings-0-product": f.product("Seats", "SEAT-001").pk,
            "pricings-0-pricing_type": "volume",
            "pricings-0-unit_amount_minor": "0",
            "pricings-0-quantity": "500",
            "pricings-0-tiers": '[{"up_to": 100, "unit_amount_minor": 400}]',
            "pricings-0-start_date": phase.start_date.isoformat(),
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert not Pricing.objects.exists()


def test_engine_invoices_are_read_only_in_the_admin(client, superuser):
    contract = f.worked_example_contract()
    invoice_id = api.generate_invoice(
        customer_id=str(contract.customer_id),
        contract_id=str(contract.id),
        from_date=f.unix(2026, 5, 28),
        to_date=f.unix(2026, 6, 28),
        bill_for_date=f.unix(2026, 6, 28),
        billing_cycle_start_day=28,
    )["invoice_ids"][0]
    api.approve_invoice(invoice_id)
    client.force_login(superuser)
    change = reverse("admin:billing_engine_engineinvoice_change", args=[invoice_id])
    page = client.get(change)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert client.post(change, {"total_minor": "1"}).status_code == 403
    delete = reverse("admin:billing_engine_engineinvoice_delete", args=[invoice_id])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:billing_engine_engineinvoice_add")).status_code == 403
    assert EngineInvoice.objects.get(pk=invoice_id).total_minor == 122960
