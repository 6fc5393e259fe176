import pytest

from .conftest import assert_accessible

pytestmark = pytest.mark.browser


def test_clerk_signs_in_and_sees_the_home_page(page, live_server, clerk, sign_in, shot):
    page.goto(live_server.url + "/")
    # Anonymous visitors land on the sign-in page.
    assert "/accounts/login/" in page.url
    assert_accessible(page, "sign-in")
    shot(page, "sign-in")
    sign_in(page, "clerk")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Welcome")
    assert page.get_by_text("Signed in as clerk").is_visible()
    assert_accessible(page, "home")
    shot(page, "home")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/")


def test_sign_in_page_works_with_the_keyboard(page, live_server, clerk):
    page.goto(live_server.url + "/accounts/login/")
    page.keyboard.type("clerk")  # the username field has focus
    page.keyboard.press("Tab")
    page.keyboard.type("pw-clerk")
    page.keyboard.press("Enter")
    page.wait_for_url(live_server.url + "/")
    assert page.get_by_text("Signed in as clerk").is_visible()
