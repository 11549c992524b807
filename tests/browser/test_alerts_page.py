"""Settings → Alerts in Chromium: add a webhook (its secret shown once), send a test and watch
the delivery log turn to Delivered without reloading; an Apprise typo is refused in words."""

import os

import pytest
from playwright.sync_api import expect

from models import alert_delivery
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser
SHOTS = "/tmp/shots-alerts"


def test_add_a_webhook_send_a_test_and_refuse_an_apprise_typo(page, live_server,
                                                                loopback_allowed, receiver):
    hook = receiver()
    page.goto(live_server + "/signup")
    page.get_by_label("Team name").fill("Acme")
    page.get_by_label("Work email").fill("owner@acme.test")
    page.get_by_label("Password").fill("correct-horse-9")
    page.get_by_role("button", name="Create team").click()
    page.get_by_role("link", name="Alerts").click()
    expect(page.get_by_text("No destinations yet")).to_be_visible()

    page.get_by_label("Endpoint URL").fill(hook.url)
    page.get_by_role("button", name="Add webhook").click()
    secret = page.get_by_label("Signing secret")
    expect(secret).to_be_visible()
    assert secret.input_value().startswith("whsec_")

    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_text("Sending…")).to_be_visible()
    alert_delivery.send_due()  # the worker's part, done here
    expect(page.get_by_text("Delivered", exact=True)).to_be_visible()  # the log polled itself
    assert len(hook.received()) == 1

    page.get_by_label("Apprise URL").fill("slakc://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazk/#alerts")
    page.get_by_role("button", name="Add chat destination").click()
    expect(page.get_by_text("check the service name “slakc://”")).to_be_visible()
    screenshot(page, "alerts")
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, "alerts.png"), full_page=True)
