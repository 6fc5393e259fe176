"""`manage.py backend_check`: configuration shown with secrets masked, one read per capability,
a verdict each, non-zero exit when one failed."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from .conftest import REBILLIA_KEY, ZENSKAR_KEY, ZENSKAR_ORG, recorded

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def remote_backends(backend_settings, httpserver):
    backend_settings.BILLING_BACKEND = "zenskar"
    backend_settings.ADHOC_BACKEND = "rebillia"
    backend_settings.ZENSKAR_BASE_URL = httpserver.url_for("").rstrip("/")
    backend_settings.REBILLIA_BASE_URL = httpserver.url_for("/v1")
    return backend_settings


def run() -> str:
    out = StringIO()
    try:
        call_command("backend_check", stdout=out, no_color=True)
    finally:
        run.output = out.getvalue()
    return out.getvalue()


def test_check_shows_configuration_masks_keys_and_passes(remote_backends, httpserver):
    httpserver.expect_request("/contract_v2").respond_with_json(
        recorded("zenskar_contract_list.json")
    )
    httpserver.expect_request("/v1/currencies").respond_with_json(
        recorded("rebillia_currencies.json")
    )
    output = run()
    assert "BILLING_BACKEND" in output and "zenskar" in output
    assert "ADHOC_BACKEND" in output and "rebillia" in output
    assert remote_backends.ZENSKAR_BASE_URL in output
    assert ZENSKAR_ORG in output
    assert "BACKEND_READ_TIMEOUT" in output and "BACKEND_CONNECT_TIMEOUT" in output
    assert f"zk…a0 ({len(ZENSKAR_KEY)} chars)" in output
    assert f"rb…e9 ({len(REBILLIA_KEY)} chars)" in output
    assert ZENSKAR_KEY not in output and REBILLIA_KEY not in output
    assert "contract cycles (zenskar): OK" in output
    assert "ad-hoc invoices (rebillia): OK" in output
    assert [r.method for r, _ in httpserver.log] == ["GET", "GET"]  # one read-only call each


def test_check_fails_when_one_capability_fails_and_says_which(remote_backends, httpserver):
    httpserver.expect_request("/contract_v2").respond_with_json(
        {"Message": "Forbidden"}, status=403
    )
    httpserver.expect_request("/v1/currencies").respond_with_json(
        recorded("rebillia_currencies.json")
    )
    with pytest.raises(CommandError, match="contract cycles"):
        run()
    assert "contract cycles (zenskar): FAILED" in run.output
    assert "ZENSKAR_ORGANISATION" in run.output
    assert "ad-hoc invoices (rebillia): OK" in run.output


def test_check_reports_misconfiguration_as_a_verdict_not_a_traceback(remote_backends, httpserver):
    remote_backends.ZENSKAR_API_KEY = ""
    remote_backends.REBILLIA_BASE_URL = "https://api.rebillia.com"
    with pytest.raises(CommandError):
        run()
    assert "contract cycles (zenskar): FAILED" in run.output
    assert "ZENSKAR_API_KEY" in run.output
    assert "ad-hoc invoices (rebillia): FAILED" in run.output
    assert "/v1" in run.output
    assert httpserver.log == []


def test_the_command_exits_non_zero_from_the_shell(closed_port_url):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "billing_admin.settings",
        "DJANGO_DEBUG": "true",
        "BILLING_BACKEND": "zenskar",
        "ZENSKAR_BASE_URL": closed_port_url,
        "ZENSKAR_API_KEY": ZENSKAR_KEY,
        "ZENSKAR_ORGANISATION": ZENSKAR_ORG,
        "ADHOC_BACKEND": "rebillia",
        "REBILLIA_BASE_URL": closed_port_url + "/v1",
        "REBILLIA_API_KEY": REBILLIA_KEY,
        "BACKEND_READ_RETRIES": "0",
        "DATABASE_URL": "sqlite:///:memory:",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "backend_check", "--no-color"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "FAILED" in done.stdout
    assert ZENSKAR_KEY not in done.stdout + done.stderr
    assert REBILLIA_KEY not in done.stdout + done.stderr
