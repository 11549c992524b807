"""With Email Accounts open and checks an hour apart, Remove access at the sandbox turns the
dot red without a reload: the provider's push signal asks for the check (issue #20)."""

import os
import shutil

import pytest
from playwright.sync_api import expect

from models.mailboxes import CONNECTED, RECONNECT_REQUIRED
from tests.browser.conftest import screenshot
from tests.signal_support import hourly_worker, register_stream, subject_mailbox  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]
SHOTS = "/tmp/shots-signals"


def _sign_in(page, live_server, accounts):
    accounts.sign_up()
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill("owner@acme.test")
    page.get_by_label("Password").fill("correct-horse-9")
    page.get_by_role("button", name="Sign in").click()


def _keep(page, name):
    screenshot(page, name)
    os.makedirs(SHOTS, exist_ok=True)
    shutil.copy(os.path.join(os.path.dirname(__file__), "..", "screenshots", f"{name}.png"),
                os.path.join(SHOTS, f"{name}.png"))


@pytest.mark.usefixtures("hourly_worker")
def test_remove_access_turns_the_dot_red_without_reload(app, page, live_server, accounts,
                                                        sandbox_at_live_server):
    _sign_in(page, live_server, accounts)
    register_stream(app, live_server)
    box = subject_mailbox(sandbox_at_live_server)
    page.goto(live_server + "/settings/email-accounts")
    row = page.locator(f'[data-mailbox-id="{box.id}"]')
    expect(row).to_have_attribute("data-status", CONNECTED)
    expect(page.locator('[data-provider="google-sandbox"]')).to_contain_text(
        "Push detection active")
    _keep(page, "push-detection-before")

    sandbox_at_live_server.control.remove_access("alex@acme.test")
    expect(row).to_have_attribute("data-status", RECONNECT_REQUIRED, timeout=15_000)
    expect(row.locator(".status-label")).to_have_text("Reconnect required")
    _keep(page, "push-detection-red-dot")
