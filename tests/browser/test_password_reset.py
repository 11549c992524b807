"""A forgotten password, in Chromium: ask for a link, open it from the email the relay took,
choose a new password, and land signed in."""

import pytest
from playwright.sync_api import expect

from models.accounts import User
from tests.browser.conftest import screenshot
from tests.smtp_relay import use_relay
from tests.support import Accounts
from tests.test_password_reset import _link_from, run_queued

pytestmark = pytest.mark.browser


def test_forgot_password_link_new_password_signed_in(page, live_server, app, client,
                                                    monkeypatch, smtp_relay):
    from tasks import huey

    huey.flush()
    relay = smtp_relay()
    use_relay(app, monkeypatch, relay)
    Accounts(client).sign_up()

    page.goto(live_server + "/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Your email").fill("owner@acme.test")
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_text("If an account exists for that address, we sent a link")).to_be_visible()
    run_queued()  # the worker's part: the email goes through the relay

    page.goto(live_server + _link_from(relay))
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.get_by_label("New password", exact=True).fill("brand-new-password-7")
    page.get_by_label("New password again").fill("brand-new-password-7")
    screenshot(page, "password-reset")
    page.get_by_role("button", name="Save new password").click()
    expect(page.get_by_text("Your password is changed")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    screenshot(page, "password-reset-done")
    assert User.get().check_password("brand-new-password-7")
    assert client.get("/sequences").status_code == 302  # the other browser is signed out
