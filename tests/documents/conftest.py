"""Approved invoices on the embedded engine, in USD, JPY and KWD, through the real services."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from pypdf import PdfReader

from billing_engine.models import CompanyCurrency, Country, Gateway
from invoices import services
from invoices.backends import cycle_backend
from invoices.backends.base import Address, AdhocInvoiceRequest, AdhocLine
from invoices.models import Invoice
from tests.engine import factories as f


def pdf_text(content: bytes) -> str:
    """The text of every page, with runs of whitespace (no-break spaces included) as one space."""
    reader = PdfReader(io.BytesIO(content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return re.sub(r"\s+", " ", text.replace("\xa0", " "))


def jpy_contract():
    owner = f.contract(currency="JPY", name="Sakura hosting")
    active = f.phase(owner)
    f.pricing(active, product_=f.product("Dedicated rack", "RACK-JP"), amount=98000)
    f.pricing(
        active,
        product_=f.product("Support hours", "SUP-JP"),
        kind="per_unit",
        amount=4500,
        quantity="3",
        unit="hour",
    )
    return owner


def kwd_contract():
    owner = f.contract(currency="KWD", name="Gulf logistics suite")
    active = f.phase(owner)
    f.pricing(active, product_=f.product("Fleet tracking", "FLT-KW"), amount=1250)
    f.pricing(
        active,
        product_=f.product("Vehicle licences", "VEH-KW"),
        kind="per_unit",
        amount=125,
        quantity="7",
        unit="vehicle",
    )
    return owner


# (builder, which of its cycles): the USD one is design.md's worked example, [May 28, Jun 28).
CONTRACTS = {
    "USD": (f.worked_example_contract, 4),
    "JPY": (jpy_contract, 0),
    "KWD": (kwd_contract, 0),
}


@pytest.fixture
def submit_cycle():
    """submit_cycle(clerk, contract, index=0) -> the pending Invoice of the contract's cycle."""

    def _submit(clerk, contract, index: int = 0) -> Invoice:
        cycle = cycle_backend().list_billing_cycles(str(contract.id))[index]
        return services.invoice_submit_cycle(
            actor=clerk,
            contract_id=str(contract.id),
            cycle_key=cycle.key,
            cycle_fp=services.cycle_fingerprint(cycle),
            preview_total_minor=None,
        ).invoice

    return _submit


@pytest.fixture
def approve(django_capture_on_commit_callbacks):
    """approve(manager, invoice, render=True): approved through the service; with `render`,
    the after-commit work runs too (the signal, and the rendering task in tests)."""

    def _approve(manager, invoice: Invoice, *, render: bool = True) -> Invoice:
        with django_capture_on_commit_callbacks(execute=render):
            services.invoice_approve(
                actor=manager, invoice_id=invoice.pk, seen_hash=invoice.content_hash
            )
        return Invoice.objects.get(pk=invoice.pk)

    return _approve


@pytest.fixture
def approved_cycle(clerk, manager, submit_cycle, approve):
    """approved_cycle("JPY") -> an approved cycle invoice of a contract in that currency."""

    def _approved(currency: str = "USD", *, render: bool = True) -> Invoice:
        build, index = CONTRACTS[currency]
        return approve(manager, submit_cycle(clerk, build(), index), render=render)

    return _approved


@pytest.fixture
def adhoc_world_kwd():
    world = f.adhoc_world()
    kwd = CompanyCurrency.objects.create(iso3="KWD", symbol="KD", name="Kuwaiti Dinar")
    gateway = Gateway.objects.create(currency=kwd, display_name="Bank transfer KWD", type="bank")
    kw = Country.objects.create(id=414, alpha2="KW", name="Kuwait")
    return {**world, "kwd": kwd, "kwd_gateway": gateway, "kw": kw}


@pytest.fixture
def approved_adhoc(clerk, manager, approve, adhoc_world_kwd):
    """An approved ad-hoc invoice in KWD with billing and shipping addresses and shipping."""

    def _approved(*, render: bool = True, customer_name: str = "Northwind Traders Ltd"):
        world = adhoc_world_kwd
        request = AdhocInvoiceRequest(
            customer_id=str(world["customer"].account_number),
            currency_id=str(world["kwd"].id),
            currency_code="KWD",
            gateway_id=str(world["kwd_gateway"].id),
            payment_method_id=str(world["card"].id),
            date_from=date(2026, 7, 1),
            date_to=date(2026, 7, 31),
            date_due=date(2026, 8, 15),
            lines=(
                AdhocLine("Customs brokerage", 2, 12500),
                AdhocLine("Pallet storage", 30, 1125),
            ),
            shipping_minor=4750,
            payment_type="offlinePaymentProvider",
            billing_address=Address(
                contact_name="Dana Whitfield",
                street1="14 Harbour Road",
                city="Bristol",
                zip="BS1 5TY",
                country_code="GB",
                contact_company="Northwind Traders Ltd",
            ),
            shipping_address=Address(
                contact_name="Yousef Al-Sabah",
                street1="Block 4, Street 12",
                city="Shuwaikh",
                zip="70050",
                country_code="KW",
            ),
            customer_name="Dana Whitfield",
            customer_email="dana@northwind.example.com",
            terms="Net 15",
            comments="Delivered to the Shuwaikh port warehouse",
        )
        invoice = services.invoice_submit_adhoc(
            actor=clerk, request=request, customer_name=customer_name
        )
        return approve(manager, invoice, render=render)

    return _approved


@pytest.fixture
def void(clerk, manager2, approve):
    """void(invoice, render=True) -> the approved void notice of `invoice` (a cycle invoice: a
    credit note of the rest, then the void upstream); `invoice` is then voided."""
    from invoices.services.corrections import invoice_request_correction

    def _void(invoice: Invoice, *, render: bool = True) -> Invoice:
        notice = invoice_request_correction(
            actor=clerk,
            invoice_id=invoice.pk,
            kind=Invoice.Kind.VOID,
            reason_code="duplicate",
            reason_text="Billed twice",
        )
        notice = approve(manager2, notice, render=render)
        assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.VOIDED
        return notice

    return _void
