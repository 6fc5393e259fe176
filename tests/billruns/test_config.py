"""Bill-run settings as the environment gives them, and the read-only admin."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from billing_admin.settings import _per_backend
from billruns.config import concurrency

from .conftest import planned


@pytest.mark.parametrize(
    ("text", "table"),
    [
        ("embedded=1,zenskar=8", {"embedded": 1, "zenskar": 8}),
        (" zenskar = 4 ", {"zenskar": 4}),
        ("3", {"*": 3}),
    ],
)
def test_concurrency_is_read_per_backend(monkeypatch, text, table):
    monkeypatch.setenv("BILLRUN_CONCURRENCY_T", text)
    assert _per_backend("BILLRUN_CONCURRENCY_T", "") == table


@pytest.mark.parametrize("text", ["zenskar", "zenskar=0", "zenskar=many", ""])
def test_a_bad_concurrency_refuses_to_start_with_a_clear_message(monkeypatch, text):
    monkeypatch.setenv("BILLRUN_CONCURRENCY_T", text)
    with pytest.raises(ImproperlyConfigured, match="backend=number pairs"):
        _per_backend("BILLRUN_CONCURRENCY_T", "")


def test_a_backend_without_its_own_number_gets_the_default(settings):
    settings.BILLRUN_CONCURRENCY = {"zenskar": 8}
    assert (concurrency("zenskar"), concurrency("embedded")) == (8, 2)
    settings.BILLRUN_CONCURRENCY = {"*": 5}
    assert concurrency("embedded") == 5


@pytest.mark.django_db
def test_auditors_read_bill_runs_in_the_admin_and_change_nothing(world, clerk, auditor, client_for):
    run = planned(clerk)
    client = client_for(auditor)
    for name in ("billrun", "billrunitem", "batchapproval", "batchapprovalitem"):
        assert client.get(reverse(f"admin:billruns_{name}_changelist")).status_code == 200
        assert client.get(reverse(f"admin:billruns_{name}_add")).status_code == 403
    url = reverse("admin:billruns_billrun_change", args=[run.pk])
    page = client.get(url)
    assert page.status_code == 200 and b'name="status"' not in page.content
    assert client.post(url, {"status": "finished"}).status_code == 403
    run.refresh_from_db()
    assert run.status == "planned"
