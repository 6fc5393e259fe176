"""The Zenskar adapter on the wire: what it sends, and how it reads every documented reply."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from werkzeug import Response

from invoices.backends.base import (
    AlreadyInvoicedUpstream,
    BackendMisconfigured,
    BackendRejected,
    BillingCycle,
    CycleBackend,
    CycleNotMatched,
    NotFoundUpstream,
    OutcomeUnknown,
)
from invoices.backends.zenskar import ZenskarBackend, looks_like_jwt

from .conftest import ZENSKAR_KEY, ZENSKAR_ORG, recorded, recorded_text

CONTRACT = "6f1c2b9e-3d4a-4e5f-8a7b-1c2d3e4f5a6b"
CUSTOMER = "0b7e3c1d-2f4a-4b6c-9d8e-7f6a5b4c3d2e"
INVOICE = "d4d4d4d4-0000-4000-8000-000000000001"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJiaWxsaW5nLWFkbWluIn0."
    "c2lnbmF0dXJlLW5vdC1jaGVja2VkLWhlcmU"
)
CYCLE = BillingCycle(
    name="Apr 28 - May 28, 2026",
    start_date="2026-04-28T00:00:00Z",
    end_date="2026-05-28T00:00:00Z",
    bill_for_date="2026-05-28T00:00:00Z",
    billing_cycle_start_day=28,
)


def only_request(httpserver):
    assert len(httpserver.log) == 1, [r.url for r, _ in httpserver.log]
    return httpserver.log[0][0]


# --- construction and headers ---------------------------------------------------------------
def test_adapter_satisfies_the_cycle_port(zenskar):
    assert isinstance(zenskar, CycleBackend)
    assert zenskar.preview_is_exact is False


@pytest.mark.parametrize("missing", ["ZENSKAR_API_KEY", "ZENSKAR_ORGANISATION"])
def test_from_settings_refuses_missing_credentials_naming_the_setting(backend_settings, missing):
    setattr(backend_settings, missing, "")
    with pytest.raises(BackendMisconfigured) as excinfo:
        ZenskarBackend.from_settings(backend_settings)
    assert missing in excinfo.value.message


def test_every_call_carries_key_organisation_and_api_version(zenskar, httpserver):
    httpserver.expect_request("/contract_v2").respond_with_json(
        recorded("zenskar_contract_list.json")
    )
    zenskar.search_contracts()
    request = only_request(httpserver)
    assert request.headers["x-api-key"] == ZENSKAR_KEY
    assert "Authorization" not in request.headers
    assert request.headers["organisation"] == ZENSKAR_ORG
    assert request.headers["apiversion"] == "20230501"
    assert request.headers["Content-Type"] == "application/json"


def test_a_jwt_credential_is_sent_as_bearer_not_as_api_key(
    make_zenskar, backend_settings, httpserver
):
    backend_settings.ZENSKAR_API_KEY = JWT
    backend = make_zenskar()
    httpserver.expect_request("/contract_v2").respond_with_json({"results": []})
    backend.search_contracts()
    request = only_request(httpserver)
    assert request.headers["Authorization"] == f"Bearer {JWT}"
    assert "x-api-key" not in request.headers


@pytest.mark.parametrize(
    ("credential", "is_jwt"),
    [(JWT, True), (ZENSKAR_KEY, False), ("a.b", False), ("a.b.c.d", False), ("a..c", False)],
)
def test_jwt_detection_needs_three_base64url_segments(credential, is_jwt):
    assert looks_like_jwt(credential) is is_jwt


# --- contracts ------------------------------------------------------------------------------
def test_search_sends_name_filter_cursor_and_limit(zenskar, httpserver):
    httpserver.expect_request("/contract_v2").respond_with_json(
        recorded("zenskar_contract_list.json")
    )
    zenskar.search_contracts(query=" acme ", cursor="abc123", limit=5)
    request = only_request(httpserver)
    assert request.method == "GET"
    assert dict(request.args) == {"name__ilike": "acme", "cursor": "abc123", "limit": "5"}


def test_search_without_query_or_cursor_sends_only_the_limit(zenskar, httpserver):
    httpserver.expect_request("/contract_v2").respond_with_json({"results": [], "next": None})
    page = zenskar.search_contracts()
    assert dict(only_request(httpserver).args) == {"limit": "20"}
    assert page.items == () and page.next_cursor is None


def test_search_reads_the_cursor_envelope(zenskar, httpserver):
    httpserver.expect_request("/contract_v2").respond_with_json(
        recorded("zenskar_contract_list.json")
    )
    page = zenskar.search_contracts(query="acme")
    assert page.next_cursor == "eyJvZmZzZXQiOiAyfQ=="
    assert page.previous_cursor is None
    assert page.total_count == 3
    first, second = page.items
    assert first.id == CONTRACT
    assert first.customer.name == "Acme Corp"
    assert first.start_date == datetime(2026, 1, 28, tzinfo=UTC)
    assert first.end_date is None
    assert second.currency == "JPY"
    assert second.customer.id == CUSTOMER  # no embedded customer: the id still comes through
    assert second.end_date == datetime(2027, 3, 1, tzinfo=UTC)


def test_search_takes_the_cursor_out_of_a_next_link(zenskar, httpserver):
    body = {"results": [], "next": "https://api.zenskar.com/contract_v2?cursor=NEXT%3D&limit=20"}
    httpserver.expect_request("/contract_v2").respond_with_json(body)
    assert zenskar.search_contracts().next_cursor == "NEXT="


def test_get_contract_parses_phases_pricings_and_tiers(zenskar, httpserver):
    httpserver.expect_request(f"/contract_v2/{CONTRACT}").respond_with_json(
        recorded("zenskar_contract.json")
    )
    contract = zenskar.get_contract(CONTRACT)
    assert only_request(httpserver).path == f"/contract_v2/{CONTRACT}"
    assert contract.billing_cycle_start_day == 28
    assert contract.cadence == "P1M"
    assert contract.in_advance is False
    (phase,) = contract.phases
    assert phase.phase_type == "active"
    support, seats, graduated, volume = phase.pricings
    assert (support.pricing_type, support.unit_amount) == ("flat_fee", Decimal("150.00"))
    assert support.start_date == datetime(2026, 6, 10, tzinfo=UTC)
    assert (seats.pricing_type, seats.quantity, seats.unit) == ("per_unit", Decimal(25), "seat")
    assert seats.unit_amount == Decimal("12.50")
    assert type(seats.unit_amount) is Decimal
    assert graduated.pricing_type == "tiered"
    assert [(t.up_to, t.unit_amount) for t in graduated.tiers] == [
        (Decimal(10), Decimal("5.00")),
        (Decimal(100), Decimal("4.00")),
        (None, Decimal("3.00")),
    ]
    assert volume.pricing_type == "volume"
    assert [(t.up_to, t.unit_amount) for t in volume.tiers] == [
        (Decimal(10), Decimal("5.00")),
        (Decimal(100), Decimal("4.00")),
        (None, Decimal("3.00")),
    ]
    assert volume.quantity == Decimal(120)


@pytest.mark.parametrize(
    ("vendor", "ours"),
    [
        ("flat", "flat_fee"),
        ("FIXED", "flat_fee"),
        ("standard", "per_unit"),
        ("graduated", "tiered"),
    ],
)
def test_vendor_pricing_type_names_are_mapped(zenskar, httpserver, vendor, ours):
    body = recorded("zenskar_contract.json")
    body["phases"][0]["pricings"][0]["pricing"]["pricing_data"]["pricing_type"] = vendor
    httpserver.expect_request(f"/contract_v2/{CONTRACT}").respond_with_json(body)
    assert zenskar.get_contract(CONTRACT).phases[0].pricings[0].pricing_type == ours


def test_last_day_of_month_contract_anchors_on_31(zenskar, httpserver):
    body = recorded("zenskar_contract.json")
    body["is_last_day_of_month"] = True
    httpserver.expect_request(f"/contract_v2/{CONTRACT}").respond_with_data(
        json.dumps(body), content_type="application/json"
    )
    assert zenskar.get_contract(CONTRACT).billing_cycle_start_day == 31


@pytest.mark.parametrize("bad_id", ["../invoices", "a b", "", "x/y", "%2e%2e"])
def test_malformed_ids_are_refused_without_a_call(zenskar, httpserver, bad_id):
    with pytest.raises(NotFoundUpstream):
        zenskar.get_contract(bad_id)
    assert httpserver.log == []


def test_unknown_contract_is_not_found(zenskar, httpserver):
    httpserver.expect_request(f"/contract_v2/{CONTRACT}").respond_with_json(
        {"detail": "Contract not found"}, status=404
    )
    with pytest.raises(NotFoundUpstream, match="Contract not found"):
        zenskar.get_contract(CONTRACT)


# --- billing cycles -------------------------------------------------------------------------
def test_cycles_come_from_the_contracts_path_with_a_limit(zenskar, httpserver):
    httpserver.expect_request(f"/contracts/{CONTRACT}/billingCycles").respond_with_json([])
    assert zenskar.list_billing_cycles(CONTRACT) == ()
    request = only_request(httpserver)
    assert request.path == f"/contracts/{CONTRACT}/billingCycles"
    assert request.args["limit"].isdigit()


@pytest.mark.parametrize("envelope", ["bare array", "results object"])
def test_cycles_are_read_from_both_envelopes_keeping_every_string_verbatim(
    zenskar, httpserver, envelope
):
    cycles = recorded("zenskar_billing_cycles.json")
    body = cycles if envelope == "bare array" else {"results": cycles, "next": None}
    httpserver.expect_request(f"/contracts/{CONTRACT}/billingCycles").respond_with_json(body)
    first, second = zenskar.list_billing_cycles(CONTRACT)
    assert first == CYCLE
    assert second.start_date == "2026-05-28T00:00:00.000Z"
    assert second.end_date == "2026-06-28T00:00:00+00:00"
    assert second.bill_for_date == "2026-06-28T00:00:00Z"
    assert second.end == datetime(2026, 6, 28, tzinfo=UTC)


def test_a_cycle_without_bill_for_date_is_an_unreadable_reply(zenskar, httpserver):
    entry = {
        k: v for k, v in recorded("zenskar_billing_cycles.json")[0].items() if k != "bill_for_date"
    }
    httpserver.expect_request(f"/contracts/{CONTRACT}/billingCycles").respond_with_json([entry])
    with pytest.raises(Exception, match="could not be read") as excinfo:
        zenskar.list_billing_cycles(CONTRACT)
    assert excinfo.value.retryable


# --- preview (estimated) --------------------------------------------------------------------
def test_preview_estimates_the_worked_examples_from_the_terms(zenskar, httpserver):
    httpserver.expect_request(f"/contract_v2/{CONTRACT}").respond_with_json(
        recorded("zenskar_contract.json")
    )
    contract = zenskar.get_contract(CONTRACT)
    cycle = BillingCycle(
        name="May 28 - Jun 28",
        start_date="2026-05-28T00:00:00Z",
        end_date="2026-06-28T00:00:00Z",
        bill_for_date="2026-06-28T00:00:00Z",
        billing_cycle_start_day=28,
    )
    preview = zenskar.preview_cycle(contract, cycle)
    assert preview.exact is False
    assert (
        preview.notes[0]
        == "Estimated from the contract's terms; the backend's draft is authoritative"
    )
    amounts = [(line.name, line.amount) for line in preview.lines]
    assert amounts == [
        ("Premium support", Decimal("87.10")),
        ("Seats", Decimal("312.50")),
        ("API calls (graduated)", Decimal("470.00")),
        ("Storage (volume)", Decimal("360.00")),
    ]
    assert preview.total == Decimal("1229.60")
    assert preview.lines[0].prorated is True
    assert preview.lines[0].service_start == datetime(2026, 6, 10, tzinfo=UTC)
    assert preview.lines[1].unit_price == Decimal("12.50")
    assert len(httpserver.log) == 1  # the estimate itself makes no call


def test_preview_in_yen_has_no_decimals(zenskar, httpserver):
    body = recorded("zenskar_contract.json")
    body["currency"] = "JPY"
    body["phases"][0]["pricings"] = body["phases"][0]["pricings"][:1]
    pricing = body["phases"][0]["pricings"][0]
    pricing["start_date"] = "2026-01-28T00:00:00Z"
    pricing["pricing"]["pricing_data"].update(currency="JPY", unit_amount=98000)
    httpserver.expect_request(f"/contract_v2/{CONTRACT}").respond_with_data(
        json.dumps(body), content_type="application/json"
    )
    contract = zenskar.get_contract(CONTRACT)
    preview = zenskar.preview_cycle(contract, CYCLE)
    assert [line.amount for line in preview.lines] == [Decimal(98000)]
    assert preview.total == Decimal(98000)


# --- generate -------------------------------------------------------------------------------
def test_generate_sends_exactly_the_six_fields_in_unix_seconds(zenskar, httpserver):
    httpserver.expect_request("/invoices/generate_invoice", method="POST").respond_with_json(
        {"invoice_ids": [INVOICE]}
    )
    invoice_id = zenskar.generate_draft(contract_id=CONTRACT, customer_id=CUSTOMER, cycle=CYCLE)
    assert invoice_id == INVOICE
    request = only_request(httpserver)
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.get_data()) == {
        "customer_id": CUSTOMER,
        "contract_id": CONTRACT,
        "from_date": 1777334400,
        "to_date": 1779926400,
        "bill_for_date": 1779926400,
        "billing_cycle_start_day": 28,
    }


def test_generate_converts_the_verbatim_strings_whatever_their_iso_spelling(zenskar, httpserver):
    httpserver.expect_request("/invoices/generate_invoice", method="POST").respond_with_json(
        {"invoice_ids": [INVOICE]}
    )
    cycle = BillingCycle(
        name="",
        start_date="2026-04-28T05:30:00+05:30",
        end_date="2026-05-28",
        bill_for_date="2026-05-28T00:00:00.000Z",
        billing_cycle_start_day=28,
    )
    zenskar.generate_draft(contract_id=CONTRACT, customer_id=CUSTOMER, cycle=cycle)
    body = json.loads(only_request(httpserver).get_data())
    assert (body["from_date"], body["to_date"], body["bill_for_date"]) == (
        1777334400,
        1779926400,
        1779926400,
    )
    assert all(type(body[k]) is int for k in ("from_date", "to_date", "bill_for_date"))


def test_generate_with_no_invoice_ids_is_an_unmatched_cycle(zenskar, httpserver):
    httpserver.expect_request("/invoices/generate_invoice", method="POST").respond_with_json(
        {"invoice_ids": []}
    )
    with pytest.raises(CycleNotMatched):
        zenskar.generate_draft(contract_id=CONTRACT, customer_id=CUSTOMER, cycle=CYCLE)


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (400, {"detail": "InvoiceAlreadyGeneratedForThisBillingPeriod"}, "application/json"),
        (
            409,
            {"message": "Error: InvoiceAlreadyGeneratedForThisBillingPeriod for contract"},
            "application/json",
        ),
        (400, "InvoiceAlreadyGeneratedForThisBillingPeriod", "text/plain"),
        (
            422,
            {"detail": [{"msg": "InvoiceAlreadyGeneratedForThisBillingPeriod"}]},
            "application/json",
        ),
    ],
    ids=["detail", "message", "plain text", "nested"],
)
def test_already_generated_is_recognised_in_any_shape(
    zenskar, httpserver, status, body, content_type
):
    text = body if isinstance(body, str) else json.dumps(body)
    httpserver.expect_request("/invoices/generate_invoice", method="POST").respond_with_data(
        text, status=status, content_type=content_type
    )
    with pytest.raises(AlreadyInvoicedUpstream):
        zenskar.generate_draft(contract_id=CONTRACT, customer_id=CUSTOMER, cycle=CYCLE)


def test_validation_error_carries_field_errors(zenskar, httpserver):
    body = {
        "detail": [
            {
                "loc": ["body", "bill_for_date"],
                "msg": "field required",
                "type": "value_error.missing",
            },
            {"loc": ["body", "customer_id"], "msg": "not a valid uuid", "type": "type_error.uuid"},
        ]
    }
    httpserver.expect_request("/invoices/generate_invoice", method="POST").respond_with_json(
        body, status=422
    )
    with pytest.raises(BackendRejected) as excinfo:
        zenskar.generate_draft(contract_id=CONTRACT, customer_id=CUSTOMER, cycle=CYCLE)
    error = excinfo.value
    assert error.status == 422
    assert error.field_errors == {
        "bill_for_date": ["field required"],
        "customer_id": ["not a valid uuid"],
    }
    assert "bill_for_date" in error.message


def test_wrong_organisation_is_misconfiguration_naming_the_setting(zenskar, httpserver):
    httpserver.expect_request("/contract_v2").respond_with_json(
        {"Message": "User is not authorized to access this resource"}, status=403
    )
    with pytest.raises(BackendMisconfigured) as excinfo:
        zenskar.search_contracts()
    assert "ZENSKAR_ORGANISATION" in excinfo.value.message
    assert "not authorized" in excinfo.value.message
    assert len(httpserver.log) == 1  # never retried


def test_bad_key_is_misconfiguration_naming_the_key_setting(zenskar, httpserver):
    httpserver.expect_request("/contract_v2").respond_with_json({"detail": "bad key"}, status=401)
    with pytest.raises(BackendMisconfigured, match="ZENSKAR_API_KEY"):
        zenskar.search_contracts()


# --- drafts ---------------------------------------------------------------------------------
def test_get_draft_reads_invoice_and_line_items_in_major_units(zenskar, httpserver):
    httpserver.expect_request(f"/invoices/{INVOICE}").respond_with_json(
        recorded("zenskar_invoice.json")
    )
    httpserver.expect_request(f"/invoices/{INVOICE}/line_items").respond_with_data(
        recorded_text("zenskar_line_items.json"),
        content_type="application/json",
    )
    draft = zenskar.get_draft(INVOICE)
    # The invoice and its line items are read at the same time: order of arrival varies.
    assert sorted(r.path for r, _ in httpserver.log) == [
        f"/invoices/{INVOICE}",
        f"/invoices/{INVOICE}/line_items",
    ]
    assert (draft.id, draft.number, draft.status, draft.currency) == (
        INVOICE,
        "INV-0042",
        "draft",
        "USD",
    )
    assert draft.total == Decimal("1229.60")
    assert draft.contract_id == CONTRACT and draft.customer_id == CUSTOMER
    assert [line.amount for line in draft.lines] == [
        Decimal("87.10"),
        Decimal("312.50"),
        Decimal("470.00"),
        Decimal("360.00"),
    ]
    assert all(type(line.amount) is Decimal for line in draft.lines)
    support = draft.lines[0]
    assert (support.quantity, support.unit_price) == (Decimal(1), Decimal("150.00"))
    assert support.service_start == datetime(2026, 6, 10, tzinfo=UTC)
    # Service dates narrower than the invoice period: a prorated line (18 of 31 days).
    assert (support.prorated, support.note) == (True, "Prorated: 18 of 31 days")
    assert [line.prorated for line in draft.lines[1:]] == [False, False, False]
    assert draft.lines[1].unit == "seat"
    assert draft.lines[2].unit_price == Decimal("3.916666666666666666666666667")


def test_amounts_are_written_with_the_currency_decimals_but_never_rounded(zenskar, httpserver):
    httpserver.expect_request(f"/invoices/{INVOICE}").respond_with_data(
        '{"id": "' + INVOICE + '", "status": "draft", "currency": "USD", "invoice_total": 1229.6}',
        content_type="application/json",
    )
    httpserver.expect_request(f"/invoices/{INVOICE}/line_items").respond_with_data(
        '{"lines": [{"name": "A", "subtotal": {"value": 87.1}}, '
        '{"name": "B", "subtotal": {"value": 87.096}}, {"name": "C", "subtotal": {"value": 5}}]}',
        content_type="application/json",
    )
    draft = zenskar.get_draft(INVOICE)
    assert str(draft.total) == "1229.60"
    assert [str(line.amount) for line in draft.lines] == ["87.10", "87.096", "5.00"]


def test_line_items_as_a_bare_array_are_read_too(zenskar, httpserver):
    httpserver.expect_request(f"/invoices/{INVOICE}").respond_with_data(
        '{"id": "' + INVOICE + '", "status": "draft", "currency": "USD", "invoice_total": 10.00}',
        content_type="application/json",
    )
    httpserver.expect_request(f"/invoices/{INVOICE}/line_items").respond_with_data(
        '[{"name": "Fee", "quantity": 1, "price": "10.00", "subtotal": "10.00"}]',
        content_type="application/json",
    )
    draft = zenskar.get_draft(INVOICE)
    assert [(line.name, line.amount) for line in draft.lines] == [("Fee", Decimal("10.00"))]


def test_approve_patches_with_an_empty_object_body(zenskar, httpserver):
    approved = {**recorded("zenskar_invoice.json"), "status": "approved"}
    httpserver.expect_request(f"/invoices/{INVOICE}/approve", method="PATCH").respond_with_data(
        json.dumps(approved), content_type="application/json"
    )
    remote = zenskar.approve_draft(INVOICE)
    request = only_request(httpserver)
    assert request.method == "PATCH"
    assert request.get_data() == b"{}"
    assert (remote.id, remote.status, remote.number) == (INVOICE, "approved", "INV-0042")
    assert remote.total == Decimal("1229.60")
    assert remote.recovered is False


def test_approve_with_an_empty_reply_reads_the_invoice(zenskar, httpserver):
    approved = {**recorded("zenskar_invoice.json"), "status": "approved"}
    httpserver.expect_request(f"/invoices/{INVOICE}/approve", method="PATCH").respond_with_data(
        "", status=200
    )
    httpserver.expect_request(f"/invoices/{INVOICE}", method="GET").respond_with_data(
        json.dumps(approved), content_type="application/json"
    )
    assert zenskar.approve_draft(INVOICE).status == "approved"


def test_delete_sends_delete_to_the_invoice(zenskar, httpserver):
    httpserver.expect_request(f"/invoices/{INVOICE}", method="DELETE").respond_with_data(
        "", status=204
    )
    assert zenskar.delete_draft(INVOICE) is None
    request = only_request(httpserver)
    assert (request.method, request.path) == ("DELETE", f"/invoices/{INVOICE}")


def test_deleting_an_approved_invoice_is_rejected(zenskar, httpserver):
    httpserver.expect_request(f"/invoices/{INVOICE}", method="DELETE").respond_with_json(
        {"detail": "Only draft invoices can be deleted"}, status=400
    )
    with pytest.raises(BackendRejected, match="Only draft invoices"):
        zenskar.delete_draft(INVOICE)


# --- lost replies on writes -----------------------------------------------------------------
def test_lost_approve_reply_is_settled_by_reading_the_invoice(
    make_zenskar, backend_settings, httpserver, hold
):
    backend_settings.BACKEND_READ_TIMEOUT = 0.3
    backend = make_zenskar()
    approved = {**recorded("zenskar_invoice.json"), "status": "approved"}
    httpserver.expect_request(f"/invoices/{INVOICE}/approve", method="PATCH").respond_with_handler(
        hold.handler()
    )
    httpserver.expect_request(f"/invoices/{INVOICE}", method="GET").respond_with_data(
        json.dumps(approved), content_type="application/json"
    )
    remote = backend.approve_draft(INVOICE)
    assert remote.status == "approved" and remote.recovered is True
    assert len(hold.arrived) == 1


def test_lost_approve_reply_on_a_still_draft_invoice_is_unknown(
    make_zenskar, backend_settings, httpserver, hold
):
    backend_settings.BACKEND_READ_TIMEOUT = 0.3
    backend = make_zenskar()
    httpserver.expect_request(f"/invoices/{INVOICE}/approve", method="PATCH").respond_with_handler(
        hold.handler()
    )
    httpserver.expect_request(f"/invoices/{INVOICE}", method="GET").respond_with_data(
        json.dumps(recorded("zenskar_invoice.json")), content_type="application/json"
    )
    with pytest.raises(OutcomeUnknown, match="still reads as draft"):
        backend.approve_draft(INVOICE)
    assert len(hold.arrived) == 1


def test_lost_approve_reply_on_an_invoice_without_a_status_is_unknown(
    make_zenskar, backend_settings, httpserver, hold
):
    # No status tells nothing: it is not read as "past its draft" (approved).
    backend_settings.BACKEND_READ_TIMEOUT = 0.3
    backend = make_zenskar()
    no_status = {k: v for k, v in recorded("zenskar_invoice.json").items() if k != "status"}
    httpserver.expect_request(f"/invoices/{INVOICE}/approve", method="PATCH").respond_with_handler(
        hold.handler()
    )
    httpserver.expect_request(f"/invoices/{INVOICE}", method="GET").respond_with_data(
        json.dumps(no_status), content_type="application/json"
    )
    with pytest.raises(OutcomeUnknown, match="still reads as unknown"):
        backend.approve_draft(INVOICE)
    assert len(hold.arrived) == 1


def test_lost_delete_reply_then_invoice_gone_counts_as_deleted(
    make_zenskar, backend_settings, httpserver, hold
):
    backend_settings.BACKEND_READ_TIMEOUT = 0.3
    backend = make_zenskar()
    httpserver.expect_request(f"/invoices/{INVOICE}", method="DELETE").respond_with_handler(
        hold.handler(Response("", status=204))
    )
    httpserver.expect_request(f"/invoices/{INVOICE}", method="GET").respond_with_json(
        {"detail": "Invoice not found"}, status=404
    )
    assert backend.delete_draft(INVOICE) is None
    assert len(hold.arrived) == 1


# --- check ----------------------------------------------------------------------------------
def test_check_makes_one_read_only_call_and_masks_the_key(zenskar, httpserver):
    httpserver.expect_request("/contract_v2").respond_with_json(
        recorded("zenskar_contract_list.json")
    )
    result = zenskar.check()
    request = only_request(httpserver)
    assert request.method == "GET"
    assert result.ok is True
    assert "3 contract" in result.detail
    assert ZENSKAR_KEY not in repr(result.settings)
    assert result.settings["ZENSKAR_API_KEY"].endswith(f"({len(ZENSKAR_KEY)} chars)")


def test_check_reports_failure_instead_of_raising(zenskar, httpserver):
    httpserver.expect_request("/contract_v2").respond_with_json(
        {"Message": "Forbidden"}, status=403
    )
    result = zenskar.check()
    assert result.ok is False
    assert "ZENSKAR_ORGANISATION" in result.detail
