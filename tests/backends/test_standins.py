"""The loopback stand-ins themselves: usable outside the port tests (a benchmark starts one on its
own), and as strict as the vendors about credentials."""

from __future__ import annotations

import time

import pytest
from django.conf import settings as django_settings
from django.db import connection

from invoices.backends.base import BackendMisconfigured
from invoices.backends.rebillia import RebilliaBackend
from invoices.backends.zenskar import ZenskarBackend
from tests.engine import factories
from tests.fakes.rebillia_standin import register_rebillia
from tests.fakes.zenskar_standin import (
    STANDIN_API_KEY,
    STANDIN_ORGANISATION,
    register_zenskar,
    start_zenskar_standin,
)


@pytest.mark.django_db(transaction=True)
def test_a_started_zenskar_standin_serves_on_its_own_connections_with_latency(backend_settings):
    contract = factories.worked_example_contract()  # committed: other threads can read it
    server = start_zenskar_standin(latency_s=0.05)
    try:
        backend_settings.ZENSKAR_BASE_URL = server.url_for("").rstrip("/")
        backend_settings.ZENSKAR_API_KEY = STANDIN_API_KEY
        backend_settings.ZENSKAR_ORGANISATION = STANDIN_ORGANISATION
        backend = ZenskarBackend.from_settings(django_settings)
        started = time.monotonic()
        (found,) = backend.search_contracts(query="northwind").items
        assert time.monotonic() - started >= 0.05
        assert found.id == str(contract.id)
        cycle = next(
            c
            for c in backend.list_billing_cycles(found.id)
            if c.bill_for_date == "2026-06-28T00:00:00Z"
        )
        draft_id = backend.generate_draft(
            contract_id=found.id, customer_id=found.customer.id, cycle=cycle
        )
        assert str(backend.get_draft(draft_id).total) == "1229.60"
        backend.close()
    finally:
        server.stop()


@pytest.mark.django_db
def test_the_zenskar_standin_refuses_a_wrong_organisation(backend_settings, httpserver):
    access = register_zenskar(httpserver, share_connection=connection)
    backend_settings.ZENSKAR_BASE_URL = httpserver.url_for("").rstrip("/")
    backend_settings.ZENSKAR_API_KEY = STANDIN_API_KEY
    backend_settings.ZENSKAR_ORGANISATION = "11111111-1111-4111-8111-111111111111"
    backend = ZenskarBackend.from_settings(django_settings)
    with pytest.raises(BackendMisconfigured, match="ZENSKAR_ORGANISATION"):
        backend.search_contracts()
    backend.close()
    access.close()


@pytest.mark.django_db
def test_the_rebillia_standin_refuses_a_wrong_key(backend_settings, httpserver):
    access = register_rebillia(httpserver, share_connection=connection)
    backend_settings.REBILLIA_BASE_URL = httpserver.url_for("/v1")
    backend_settings.REBILLIA_API_KEY = "not-the-key"
    backend = RebilliaBackend.from_settings(django_settings)
    with pytest.raises(BackendMisconfigured, match="REBILLIA_API_KEY"):
        backend.currencies()
    backend.close()
    access.close()
