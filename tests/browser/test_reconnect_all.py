"""“Reconnect all mine” in Chromium, through the sandbox's own sign-in and consent pages:
four broken mailboxes of one person — Google, Microsoft, Google again and an Other Provider
one — reconnected one after another from one button, a wrong address refused on the way, and
a summary of what is green now. Screenshots land in tests/screenshots/ (and /tmp/shots-move/)."""

import os

import pytest
from playwright.sync_api import expect

from models.mailboxes import CONNECTED, RECONNECT_REQUIRED, Mailbox
from tests import factories
from tests.browser.conftest import screenshot
from tests.integration.test_sending import password_user

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]
SHOTS = "/tmp/shots-move"


def shot(page, name):
    screenshot(page, name)
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def _broken(email, provider, **fields):
    return factories.mailbox(owner_email="pat@acme.test", email=email, provider=provider,
                             status=RECONNECT_REQUIRED, access_token=None, refresh_token=None,
                             status_cause="The connection token expired or was revoked.",
                             **fields)


def _sign_in_and_allow(page, password="mailbox-pw-1"):
    page.locator("#password").fill(password)
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Allow").click()


def test_reconnect_all_mine_goes_through_each_mailbox_and_ends_on_what_is_green(
        page, live_server, sandbox_at_live_server, accounts):
    sandbox = sandbox_at_live_server
    for email, kind in (("ann@acme.test", "google"), ("ben@acme.test", "microsoft"),
                        ("cat@acme.test", "google"), ("intruder@acme.test", "microsoft")):
        sandbox.control.create_user(email, "mailbox-pw-1", kind=kind)
    password_user(sandbox, "dee@example.test", "new-pw-1")
    accounts.sign_up(email="pat@acme.test")
    ann = _broken("ann@acme.test", "google-sandbox")
    ben = _broken("ben@acme.test", "microsoft-sandbox")
    cat = _broken("cat@acme.test", "google-sandbox")
    dee = _broken("dee@example.test", "other", username="dee@example.test", password="old-pw",
                  imap_host=sandbox.imap_host, imap_port=sandbox.imap_port, imap_security="none",
                  smtp_host=sandbox.smtp_host, smtp_port=sandbox.smtp_port, smtp_security="none")
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill("pat@acme.test")
    page.get_by_label("Password").fill("correct-horse-9")
    page.get_by_role("button", name="Sign in").click()

    page.goto(live_server + "/settings/email-accounts")
    start = page.get_by_role("button", name="Reconnect all mine (4)")
    expect(start).to_be_visible()
    shot(page, "reconnect-all-1-four-red")
    start.click()

    # 1 of 4, Google: the confirmation names the address; the provider's page is pre-filled.
    expect(page.get_by_text("Reconnecting your mailboxes: 1 of 4")).to_be_visible()
    expect(page.get_by_role("heading", name="Reconnect ann@acme.test")).to_be_visible()
    shot(page, "reconnect-all-2-first-of-four")
    page.get_by_role("button", name="Continue to Google (sandbox)").click()
    expect(page.locator("#email")).to_have_value("ann@acme.test")
    _sign_in_and_allow(page)

    # 2 of 4, Microsoft: someone else signs in first — refused by the address check, and the
    # round stays on this mailbox until it is done right.
    expect(page.locator(".flash", has_text="Done! ann@acme.test is connected.")).to_be_visible()
    expect(page.get_by_text("Reconnecting your mailboxes: 2 of 4")).to_be_visible()
    page.get_by_role("button", name="Continue to Microsoft (sandbox)").click()
    expect(page.locator("#email")).to_have_value("ben@acme.test")
    page.locator("#email").fill("intruder@acme.test")
    _sign_in_and_allow(page)
    expect(page.locator(".flash", has_text="You signed in as intruder@acme.test, but this "
                        "mailbox is ben@acme.test")).to_be_visible()
    expect(page.get_by_text("Reconnecting your mailboxes: 2 of 4")).to_be_visible()
    shot(page, "reconnect-all-3-wrong-address-refused")
    page.get_by_role("button", name="Continue to Microsoft (sandbox)").click()
    page.locator("#email").fill("ben@acme.test")
    _sign_in_and_allow(page)

    # 3 of 4, Google again.
    expect(page.locator(".flash", has_text="Done! ben@acme.test is connected.")).to_be_visible()
    expect(page.get_by_text("Reconnecting your mailboxes: 3 of 4")).to_be_visible()
    page.get_by_role("button", name="Continue to Google (sandbox)").click()
    expect(page.locator("#email")).to_have_value("cat@acme.test")
    _sign_in_and_allow(page)

    # 4 of 4, Other Provider: its credentials form opens in turn.
    expect(page.get_by_text("Reconnecting your mailboxes: 4 of 4")).to_be_visible()
    expect(page.get_by_role("heading", name="Update credentials for dee@example.test")).to_be_visible()
    page.get_by_label("Password").fill("new-pw-1")
    shot(page, "reconnect-all-4-other-provider-form")
    page.get_by_role("button", name="Save").click()

    # The summary: what is green now, in words.
    expect(page.get_by_role("heading", name="All 4 of your mailboxes are connected")).to_be_visible()
    for email in ("ann@acme.test", "ben@acme.test", "cat@acme.test", "dee@example.test"):
        expect(page.locator(".round-row", has_text=email)).to_contain_text("Connected")
    expect(page.locator(".round-row", has_text="ben@acme.test")).to_contain_text(
        "Done! ben@acme.test is connected.")
    shot(page, "reconnect-all-5-summary")
    assert {m.status for m in Mailbox.select().where(
        Mailbox.id.in_([ann.id, ben.id, cat.id, dee.id]))} == {CONNECTED}
