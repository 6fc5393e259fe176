"""Approval rules: conditions on kind, currency with a threshold in major units, customer; the
first active rule in order wins; the invoice records which rule applied and why."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from invoices.models import Invoice
from policies import rules
from policies.models import ApprovalRule

pytestmark = pytest.mark.django_db


def invoice(**fields) -> Invoice:
    defaults = {
        "kind": Invoice.Kind.CYCLE,
        "currency": "USD",
        "total_minor": 1_250_000,
        "customer_id": "cus-1",
        "customer_name": "Acme",
    }
    return Invoice(**{**defaults, **fields})


def rule(**fields) -> ApprovalRule:
    fields.setdefault("name", "rule")
    obj = ApprovalRule(**fields)
    obj.full_clean()
    obj.save()
    return obj


def test_no_rule_means_one_approval():
    decision = rules.decide(invoice())
    assert decision.stages == 1
    assert "no approval policy" in decision.why


def test_a_threshold_is_in_the_currencys_major_units_and_inclusive():
    rule(name="Large USD", currency="USD", threshold=Decimal("12500.00"), stages=2)
    assert rules.decide(invoice(total_minor=1_250_000)).stages == 2
    assert rules.decide(invoice(total_minor=1_249_999)).stages == 1
    assert rules.decide(invoice(currency="EUR")).stages == 1


@pytest.mark.parametrize(
    ("currency", "threshold", "at", "below"),
    [("JPY", "98000", 98000, 97999), ("KWD", "1.250", 1250, 1249)],
)
def test_thresholds_follow_each_currencys_exponent(currency, threshold, at, below):
    rule(currency=currency, threshold=Decimal(threshold), stages=2)
    assert rules.decide(invoice(currency=currency, total_minor=at)).stages == 2
    assert rules.decide(invoice(currency=currency, total_minor=below)).stages == 1


def test_the_first_matching_rule_in_order_wins_and_inactive_rules_are_skipped():
    rule(order=30, name="Everything", stages=1)
    rule(order=10, name="Acme always twice", customer_id="cus-1", stages=2)
    rule(order=5, name="Switched off", stages=1, active=False)
    decision = rules.decide(invoice())
    assert decision.stages == 2
    assert decision.rule == "Rule #10 “Acme always twice”"
    assert (
        decision.why == "Applies because its customer is Acme: two approvals by different people."
    )
    assert rules.decide(invoice(customer_id="cus-2")).rule == "Rule #30 “Everything”"


def test_kind_conditions_and_every_reason_is_named():
    rule(name="Ad-hoc USD", kind=Invoice.Kind.ADHOC, currency="USD", threshold=Decimal("100"))
    assert rules.decide(invoice()).stages == 1
    decision = rules.decide(invoice(kind=Invoice.Kind.ADHOC, total_minor=10_000))
    assert decision.stages == 2
    assert decision.why == (
        "Applies because its kind is ad-hoc and it is in USD and its total $100.00 is at least "
        "$100.00: two approvals by different people."
    )


def test_bad_rules_are_refused_with_a_message():
    with pytest.raises(ValidationError, match="Name the currency"):
        rule(threshold=Decimal("100"))
    with pytest.raises(ValidationError, match="decimal"):
        rule(currency="JPY", threshold=Decimal("100.5"))
    with pytest.raises(ValidationError):
        rule(currency="XXZ")
    assert not ApprovalRule.objects.exists()


def test_the_decision_is_kept_with_the_invoice_at_submission(fake, clerk):
    from invoices import services

    from .conftest import MAY

    rule(name="Everything twice", stages=2)
    submitted = services.invoice_submit_cycle(
        actor=clerk,
        contract_id="c-1",
        cycle_key=MAY.key,
        cycle_fp=services.cycle_fingerprint(MAY),
        preview_total_minor=None,
    ).invoice
    assert submitted.stages_required == 2
    assert submitted.policy["rule"] == "Rule #100 “Everything twice”"
    event = submitted.events.get(action="invoice.submitted")
    assert event.data["stages_required"] == 2
    assert event.data["policy"] == "Rule #100 “Everything twice”"
    # A rule changed later does not change what an invoice already needs.
    ApprovalRule.objects.update(stages=1)
    submitted.refresh_from_db()
    assert submitted.stages_required == 2
