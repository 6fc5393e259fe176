"""Browser-test helpers: sign in through the real form, check accessibility with axe-core."""

import pytest
from axe_playwright_python.sync_playwright import Axe

_axe = Axe()


def assert_accessible(page, label: str = ""):
    """No serious or critical axe-core violations on the current page."""
    results = _axe.run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:5]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert not bad, f"accessibility violations on {label or page.url}:\n" + "\n".join(bad)


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
