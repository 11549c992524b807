"""The seven steps in Chromium: hover → Reconnect → confirm → sign in → grant → green dot.
A screenshot of each step lands in tests/screenshots/ for a person to look at."""


import pytest
from playwright.sync_api import expect

from mail.failures import Failure, Kind
from models.health import record_failure
from models.mailboxes import CONNECTED, RECONNECT_REQUIRED, Mailbox
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]


def test_hover_reconnect_confirm_consent_green(page, live_server, sandbox_at_live_server, accounts):
    sandbox = sandbox_at_live_server
    sandbox.control.create_user("alex@acme.test", "mailbox-pw-1", kind="google")
    accounts.sign_up(email="alex@acme.test")
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill("alex@acme.test")
    page.get_by_label("Password").fill("correct-horse-9")
    page.get_by_role("button", name="Sign in").click()

    # Connect the mailbox once, through the sandbox's real pages.
    page.goto(live_server + "/settings/email-accounts/add")
    page.get_by_role("button", name="Google (sandbox)").click()
    page.locator("#email").fill("alex@acme.test")
    page.locator("#password").fill("mailbox-pw-1")
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Allow").click()
    expect(page.get_by_text("Done! alex@acme.test is connected.")).to_be_visible()
    box = Mailbox.get(Mailbox.email == "alex@acme.test")

    # A day later: the provider session is long gone (the sandbox's own cookie), and the token
    # dies (the check engine records it). The open page turns red by itself.
    page.context.clear_cookies(name="sandbox_session")
    sandbox.control.remove_access("alex@acme.test")
    record_failure(box.id, Failure(Kind.RECONNECT, "invalid_grant",
                                   "The connection token expired or was revoked.", "token endpoint"))
    row = page.locator(f'[data-mailbox-id="{box.id}"]')
    expect(row).to_have_attribute("data-status", RECONNECT_REQUIRED, timeout=8000)
    screenshot(page, "journey-1-red-dot")

    # Steps 1-3: Email Accounts → hover the mailbox → the Reconnect icon.
    row.hover()
    reconnect = page.locator(f"#reconnect-{box.id}")
    expect(reconnect).to_be_visible()
    screenshot(page, "journey-2-hover")
    reconnect.click()

    # Step 4: confirm the address.
    expect(page.get_by_text("You'll be asked to sign in to")).to_contain_text("alex@acme.test")
    screenshot(page, "journey-3-confirm")
    page.get_by_role("button", name="Continue to Google (sandbox)").click()

    # Steps 5-6: the provider's sign-in, pre-filled with the address, then consent.
    expect(page.locator("#email")).to_have_value("alex@acme.test")
    screenshot(page, "journey-4-provider-sign-in")
    page.locator("#password").fill("mailbox-pw-1")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("button", name="Allow")).to_be_visible()
    screenshot(page, "journey-5-consent")
    page.get_by_role("button", name="Allow").click()

    # Step 7: back in Tether, a green dot.
    expect(page.get_by_text("Done! alex@acme.test is connected.")).to_be_visible()
    expect(page.locator(f'[data-mailbox-id="{box.id}"]')).to_have_attribute("data-status", CONNECTED)
    screenshot(page, "journey-6-green")
