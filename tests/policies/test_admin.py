"""Rules are edited by superusers in the admin, every change audited; everyone else may at most
read them."""

import pytest
from django.urls import reverse

from invoices.audit import audit_verify
from invoices.models import AuditEvent
from policies.models import ApprovalRule

pytestmark = pytest.mark.django_db
ADD = reverse("admin:policies_approvalrule_add")


def form(**changes):
    data = {
        "order": "10",
        "name": "Large USD",
        "active": "on",
        "kind": "",
        "currency": "USD",
        "threshold": "10000.00",
        "customer_id": "",
        "stages": "2",
    }
    return {**data, **changes}


def test_a_superuser_adds_changes_and_deletes_rules_and_each_change_is_audited(client, superuser):
    client.force_login(superuser)
    assert client.post(ADD, form()).status_code == 302
    rule = ApprovalRule.objects.get()
    change = reverse("admin:policies_approvalrule_change", args=[rule.pk])
    assert client.post(change, form(threshold="20000.00")).status_code == 302
    delete = reverse("admin:policies_approvalrule_delete", args=[rule.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 302
    policy_events = AuditEvent.objects.filter(action__startswith="policy.")
    events = list(policy_events.order_by("seq").values_list("action", "data"))
    assert [action for action, _ in events] == [
        "policy.rule_added",
        "policy.rule_changed",
        "policy.rule_deleted",
    ]
    assert events[1][1]["changes"] == {"threshold": ["10000.000", "20000.000"]}
    assert all(e.actor == superuser for e in policy_events)
    assert audit_verify().ok


def test_a_bad_rule_is_refused_with_a_message(client, superuser):
    client.force_login(superuser)
    response = client.post(ADD, form(currency="", threshold="100"))
    assert response.status_code == 200
    assert "Name the currency the threshold is in." in response.content.decode()
    response = client.post(ADD, form(currency="JPY", threshold="100.5"))
    assert "decimal" in response.content.decode()
    assert not ApprovalRule.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="policy.").exists()


@pytest.mark.parametrize("who", ["manager", "clerk", "auditor"])
def test_nobody_else_changes_rules(client, request, who):
    client.force_login(request.getfixturevalue(who))
    assert client.post(ADD, form()).status_code in (302, 403)
    assert not ApprovalRule.objects.exists()
