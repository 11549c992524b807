"""Email Accounts with 150 mailboxes in Chromium: two pages, every state in words, the row
actions revealed by keyboard focus, and Disable submitted through the list's one shared form."""

import pytest
from playwright.sync_api import expect

from models.base import db
from models.mailboxes import CHECKING, CONNECTED, DEGRADED, DISABLED, RECONNECT_REQUIRED, Mailbox
from tests import factories
from tests.browser.conftest import screenshot
from tests.browser.test_email_accounts import _sign_in

pytestmark = pytest.mark.browser

STATES = [CONNECTED] * 5 + [DEGRADED, RECONNECT_REQUIRED, CHECKING, DISABLED]
CAUSES = {RECONNECT_REQUIRED: "The connection token expired or was revoked.",
          DEGRADED: "The provider is temporarily unavailable; Tether will keep retrying."}


def test_a_hundred_and_fifty_mailboxes_page_and_act_through_one_shared_form(page, live_server,
                                                                            accounts):
    _sign_in(page, live_server, accounts)
    with db.atomic():
        boxes = [factories.mailbox(
            email=f"m{n:03}@acme.test", provider=("google-sandbox", "microsoft-sandbox", "other")[n % 3],
            status=STATES[n % len(STATES)], status_cause=CAUSES.get(STATES[n % len(STATES)], ""))
            for n in range(150)]
    page.goto(live_server + "/settings/email-accounts")
    expect(page.locator("[data-mailbox-id]")).to_have_count(100)
    for label in ("Connected", "Reconnect required", "Degraded", "Checking", "Disabled"):
        expect(page.locator(".status-label", has_text=label).first).to_be_visible()
    screenshot(page, "email-accounts-150-page-1")

    page.get_by_role("link", name="Page 2").first.click()
    expect(page.get_by_text("Mailboxes 101–150 of 150").first).to_be_visible()
    target = next(b for b in boxes[100:] if b.status == CONNECTED)
    row = page.locator(f'[data-mailbox-id="{target.id}"]')
    expect(row.locator(".row-actions")).to_have_css("opacity", "0")
    page.locator(f"#toggle-{target.id}").focus()  # keyboard focus shows the actions
    expect(row.locator(".row-actions")).to_have_css("opacity", "1")
    page.keyboard.press("Enter")
    expect(page.get_by_text(f"{target.email} is disabled")).to_be_visible()
    expect(page.locator(f'[data-mailbox-id="{target.id}"]')).to_have_attribute("data-status", DISABLED)
    expect(page.get_by_text("Mailboxes 101–150 of 150").first).to_be_visible()  # same page
    assert Mailbox.get_by_id(target.id).status == DISABLED
    screenshot(page, "email-accounts-150-page-2")
