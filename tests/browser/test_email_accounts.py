"""Email Accounts in Chromium: every state readable at a glance, and live without reloading."""

import pytest
from playwright.sync_api import expect

from mail.failures import Failure, Kind
from models.health import transition
from models.mailboxes import CHECKING, CONNECTED, DISABLED, RECONNECT_REQUIRED
from tests import factories
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


def _sign_in(page, live_server, accounts):
    accounts.sign_up()
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill("owner@acme.test")
    page.get_by_label("Password").fill("correct-horse-9")
    page.get_by_role("button", name="Sign in").click()


def test_every_state_shows_in_words_and_a_revocation_appears_without_reload(page, live_server, accounts):
    _sign_in(page, live_server, accounts)
    alex = factories.mailbox(email="alex@acme.test", provider="google-sandbox")
    factories.mailbox(email="sam@acme.test", provider="microsoft-sandbox", status=RECONNECT_REQUIRED,
                      status_cause="The connection expired after a long time without use.")
    factories.mailbox(email="ops@acme.test", provider="google-sandbox", status="degraded",
                      status_cause="The provider is temporarily unavailable; Tether will keep retrying.")
    factories.mailbox(email="new@acme.test", provider="other", status=CHECKING)
    factories.mailbox(email="old@acme.test", provider="other", status=DISABLED)

    page.goto(live_server + "/settings/email-accounts")
    for label in ("Connected", "Reconnect required", "Degraded", "Checking", "Disabled"):
        expect(page.locator(".status-label", has_text=label).first).to_be_visible()
    row = page.locator(f'[data-mailbox-id="{alex.id}"]')
    expect(row).to_have_attribute("data-status", CONNECTED)

    # Keyboard focus reveals the row's actions, as hover does.
    actions = row.locator(".row-actions")
    expect(actions).to_have_css("opacity", "0")
    page.locator(f"#reconnect-{alex.id}").focus()
    expect(actions).to_have_css("opacity", "1")
    screenshot(page, "email-accounts-every-state")

    # The provider revoked the token; the check engine records it. The open page follows.
    transition(alex.id, RECONNECT_REQUIRED, failure=Failure(
        Kind.RECONNECT, "invalid_grant", "The connection token expired or was revoked.", "token endpoint"))
    expect(row).to_have_attribute("data-status", RECONNECT_REQUIRED, timeout=8000)
    expect(row.locator(".status-label")).to_have_text("Reconnect required")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "email-accounts-phone")


def test_the_detail_page_tells_access_history_and_the_week(page, live_server, accounts):
    from models import check_history
    from models.health import record_failure, transition

    _sign_in(page, live_server, accounts)
    box = factories.mailbox(scopes="openid email https://mail.google.com/")
    for n in range(30):
        check_history.record(box.id, "transient" if n % 10 == 0 else "passed")
    record_failure(box.id, Failure(Kind.TRANSIENT, "HTTP 503", "The provider is temporarily "
                                   "unavailable; Tether will keep retrying.", "token endpoint"))
    transition(box.id, CONNECTED, cause="A later check passed.")
    page.goto(f"{live_server}/settings/email-accounts/{box.id}")
    expect(page.get_by_role("heading", name="Last 7 days of checks")).to_be_visible()
    expect(page.get_by_text("27 passed, 3 met an outage")).to_be_visible()
    expect(page.get_by_text("https://mail.google.com/")).to_be_visible()
    screenshot(page, "mailbox-detail")


def test_back_and_forward_after_live_updates_show_whole_pages(page, live_server, accounts):
    _sign_in(page, live_server, accounts)
    box = factories.mailbox()
    page.goto(live_server + "/settings/email-accounts")
    transition(box.id, RECONNECT_REQUIRED, failure=Failure(
        Kind.RECONNECT, "invalid_grant", "The connection token expired or was revoked.", "token endpoint"))
    expect(page.locator(f'[data-mailbox-id="{box.id}"]')).to_have_attribute(
        "data-status", RECONNECT_REQUIRED, timeout=8000)  # a live swap happened
    page.get_by_role("link", name="Team").click()
    expect(page.get_by_role("heading", name="Acme")).to_be_visible()
    page.go_back()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()  # not a bare fragment
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    expect(page.locator(f'[data-mailbox-id="{box.id}"]')).to_have_attribute("data-status", RECONNECT_REQUIRED)
    page.go_forward()
    expect(page.get_by_role("heading", name="Acme")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
