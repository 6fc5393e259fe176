"""Browser-test helpers: sign in through the real form, check accessibility with axe-core."""

import os
import time
from unittest import mock

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.staticfiles.handlers import StaticFilesHandler
from playwright.sync_api import expect

_axe = Axe()

# A busy two-core CI machine can take longer than Playwright's 5 s default to render a step; a real
# failure still fails, only later.
expect.set_options(timeout=15_000)

# BROWSER_SLOW_HTMX_MS=2000 delays every delivery of htmx to the browser (and forbids caching it),
# so that a test which acts before htmx is ready fails every time instead of now and then in CI.
SLOW_HTMX_MS = int(os.environ.get("BROWSER_SLOW_HTMX_MS") or 0)


@pytest.fixture(scope="session", autouse=True)
def _slow_htmx_when_asked():
    if not SLOW_HTMX_MS:
        yield
        return
    serve = StaticFilesHandler.__call__

    def delayed(handler, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if "htmx" not in path or not path.endswith(".js"):
            return serve(handler, environ, start_response)
        time.sleep(SLOW_HTMX_MS / 1000)
        uncached = ("cache-control", "expires", "etag", "last-modified")

        def no_store(status, headers, exc_info=None):
            headers = [(k, v) for k, v in headers if k.lower() not in uncached]
            return start_response(status, [*headers, ("Cache-Control", "no-store")], exc_info)

        return serve(handler, environ, no_store)

    with mock.patch.object(StaticFilesHandler, "__call__", delayed):
        yield


def assert_accessible(page, label: str = ""):
    """No serious or critical axe-core violations on the current page."""
    results = _axe.run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:5]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert not bad, f"accessibility violations on {label or page.url}:\n" + "\n".join(bad)


def htmx_ready(page):
    """Wait until the page's scripts have run and htmx has wired up its triggers.

    A visible heading only proves the HTML arrived: deferred scripts, and htmx's own set-up on
    DOMContentLoaded, may still be pending, and a change made before then is a plain form change
    that htmx never sees. Call this after a navigation and before an htmx-driven interaction.
    """
    page.wait_for_load_state("load")
    page.wait_for_function("() => window.htmx !== undefined && document.readyState === 'complete'")


@pytest.fixture(autouse=True)
def _close_browser_contexts(request):
    """Close every browser context a test opened, so that no keep-alive connection outlives the
    test and reaches the live server after it has stopped sharing its database connection."""
    yield
    if "browser" in request.fixturenames:
        for context in list(request.getfixturevalue("browser").contexts):
            context.close()


@pytest.fixture
def sign_in(live_server):
    def _sign_in(page, username, password=None):
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password or f"pw-{username}")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{live_server.url}/**")
        return page

    return _sign_in


@pytest.fixture
def shot(artifacts):
    counter = iter(range(1, 1000))

    def _shot(page, name):
        page.screenshot(path=str(artifacts / f"{next(counter):02d}-{name}.png"), full_page=True)

    return _shot
