"""Mailbox health in Chromium with 40 mailboxes of five people in mixed states and 90 days of
history: every state in words, the figures and the chart, the person filter, and "Remind
owner" reached by keyboard and answered in words."""

import os
import shutil

import pytest
from playwright.sync_api import expect

from models.accounts import User
from models.mailboxes import RECONNECT_REQUIRED
from tests.browser.conftest import screenshot
from tests.browser.test_email_accounts import _sign_in
from tests.chromium_fixtures import SCREENSHOTS
from tests.health_seed import seed
from tests.smtp_relay import use_relay

pytestmark = pytest.mark.browser
SHOTS = "/tmp/shots-health"


def _keep(page, name):
    """Also where the task's reviewers look (/tmp/shots-health), with the first screenful
    apart: a full page of 40 rows is too tall to read at once."""
    os.makedirs(SHOTS, exist_ok=True)
    shutil.copy(os.path.join(SCREENSHOTS, f"{name}.png"), SHOTS)
    page.screenshot(path=os.path.join(SHOTS, f"{name}-top.png"))
    page.locator(".health-table").evaluate("table => window.scrollTo(0, table.offsetTop - 10)")
    page.screenshot(path=os.path.join(SHOTS, f"{name}-rows.png"))
    page.evaluate("window.scrollTo(0, 0)")


def test_forty_mailboxes_in_mixed_states_at_a_glance(page, live_server, accounts, app,
                                                     monkeypatch, smtp_relay):
    relay = smtp_relay()
    use_relay(app, monkeypatch, relay)
    _sign_in(page, live_server, accounts)
    boxes = seed(User.get(User.email == "owner@acme.test"), mailboxes=40, days=90)
    page.goto(live_server + "/mailbox-health")
    expect(page.locator("tr[data-mailbox-id]")).to_have_count(40)
    for label in ("Connected", "Reconnect required", "Degraded", "Checking", "Disabled"):
        expect(page.locator(".health-table .status-label", has_text=label).first).to_be_visible()
    expect(page.locator(".health-chart svg rect").first).to_be_attached()
    first = page.locator("tr[data-mailbox-id]").first
    expect(first).to_have_attribute("data-status", RECONNECT_REQUIRED)  # worst first
    screenshot(page, "mailbox-health-40")
    _keep(page, "mailbox-health-40")

    broken = next(b for b in boxes if b.status == RECONNECT_REQUIRED)
    page.locator(f"#remind-{broken.id}").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text(f"{broken.email}: the reconnect email was sent again")).to_be_visible()
    expect(page.locator(f'tr[data-mailbox-id="{broken.id}"]')).to_contain_text(
        "Owner reminded just now by Owner")
    assert [to for to, _ in relay.messages] == [[broken.connected_by.email]]

    page.get_by_label("Connected by").select_option(label="Ben Okafor")
    page.get_by_label("Period").select_option(label="Last 7 days")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("tr[data-mailbox-id]")).to_have_count(8)
    expect(page.locator(".health-table tbody td:nth-child(3)", has_text="Ben Okafor")).to_have_count(8)
    screenshot(page, "mailbox-health-filtered")
    _keep(page, "mailbox-health-filtered")
