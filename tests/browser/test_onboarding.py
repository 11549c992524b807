"""A new team's first minutes, in Chromium: sign up, invite a teammate, sign out."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


def test_sign_up_invite_a_teammate_and_sign_out(page, live_server):
    page.goto(live_server + "/signup")
    page.get_by_label("Team name").fill("Acme")
    page.get_by_label("Work email").fill("owner@acme.test")
    page.get_by_label("Password").fill("correct-horse-9")
    page.get_by_role("button", name="Create team").click()
    expect(page.get_by_role("heading", name="Email Accounts")).to_be_visible()
    expect(page.get_by_text("No mailboxes connected yet.")).to_be_visible()
    screenshot(page, "email-accounts-empty")

    page.get_by_role("link", name="Team").click()
    page.get_by_label("Email").fill("sam@acme.test")
    page.get_by_role("button", name="Create invite link").click()  # an htmx request
    link = page.get_by_label("Invite link")
    expect(link).to_be_visible()
    assert "/join?token=" in link.input_value()
    expect(page.get_by_role("cell", name="sam@acme.test")).to_be_visible()

    page.get_by_label("Email").fill("not-an-address")
    page.get_by_label("Email").evaluate("el => el.type = 'text'")  # get past the browser's check
    page.get_by_role("button", name="Create invite link").click()
    expect(page.get_by_text("Enter the teammate's email address.")).to_be_visible()
    screenshot(page, "team-invite")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Tether")).to_be_visible()
