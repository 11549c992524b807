"""The Sequences page in Chromium: a mailbox that needs reconnecting turns its sequences'
toggles orange on an open page, without a reload; the reason shows on hover and on focus."""

import re

import pytest
from playwright.sync_api import expect

from models.accounts import User
from models.mailboxes import CONNECTED, RECONNECT_REQUIRED, Mailbox
from models.sequences import (
    Sequence,
    create_sequence,
    log_mailbox_transition,
    save_step,
)
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


def _sequence(owner, mailbox, name, start=True):
    sequence = create_sequence(owner.team_id, owner, name=name, mailbox=mailbox,
                               timezone="Europe/Berlin")
    save_step(sequence, owner, subject="Hi {{first_name}}", body="Hello!", delay_minutes=0)
    if start:
        sequence.resume(owner)
    return Sequence.get_by_id(sequence.id)


def _revoke(mailbox):
    """What the state machine does when Google says invalid_grant, then its one event."""
    Mailbox.update(status=RECONNECT_REQUIRED, status_cause="token expired or revoked").where(
        Mailbox.id == mailbox.id).execute()
    log_mailbox_transition(Mailbox.get_by_id(mailbox.id), CONNECTED, RECONNECT_REQUIRED,
                           "token expired or revoked")


def _sign_up(page, live_server):
    page.goto(live_server + "/signup")
    page.get_by_label("Team name").fill("Acme")
    page.get_by_label("Work email").fill("owner@acme.test")
    page.get_by_label("Password").fill("correct-horse-9")
    page.get_by_role("button", name="Create team").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return User.get(User.email == "owner@acme.test")


def test_revoked_mailbox_turns_an_open_pages_toggle_orange(page, live_server):
    owner = _sign_up(page, live_server)
    alex = Mailbox.create(team=owner.team_id, email="alex@acme.test", provider="google",
                          status=CONNECTED)
    sam = Mailbox.create(team=owner.team_id, email="sam@acme.test", provider="microsoft",
                         status=RECONNECT_REQUIRED, status_cause="the password was changed")
    kim = Mailbox.create(team=owner.team_id, email="kim@acme.test", provider="other",
                         status=CONNECTED)
    live = _sequence(owner, alex, "Q3 founders outreach")
    _sequence(owner, kim, "Partners newsletter")
    _sequence(owner, alex, "Webinar follow-up", start=False)
    _sequence(owner, sam, "Renewals — enterprise")

    page.goto(live_server + "/sequences")
    toggle = page.locator(f'[data-sequence-id="{live.id}"]')
    expect(toggle).to_have_attribute("data-state", "active")
    expect(toggle).to_have_text(re.compile("Active"))

    _revoke(alex)  # in the database, as the health check would; no reload below

    expect(toggle).to_have_attribute("data-state", "blocked", timeout=8_000)
    expect(toggle).to_have_text(re.compile("Blocked"))
    expect(page.locator('[data-state="paused"]')).to_have_count(1)  # a Pause stays a Pause
    expect(page.locator('[data-state="active"]')).to_have_count(1)  # another mailbox: unaffected
    color = toggle.evaluate("el => getComputedStyle(el.querySelector('.track')).backgroundColor")
    assert color == "rgb(221, 107, 32)", "orange"

    tip = page.locator(f"#tip-{live.id}")
    expect(tip).to_be_hidden()
    toggle.hover()
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("alex@acme.test needs reconnecting (token expired or revoked)")
    screenshot(page, "sequences-list-hover-blocked")

    page.mouse.move(0, 0)
    expect(tip).to_be_hidden()
    toggle.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # keyboard focus, as a person tabbing through the page
    expect(tip).to_be_visible()

    toggle.click()  # a blocked toggle explains instead of starting
    explain = page.get_by_role("alert")
    expect(explain).to_contain_text("alex@acme.test needs reconnecting")
    expect(explain.get_by_role("link", name="Fix it in Settings → Email Accounts")).to_be_visible()
    assert Sequence.get_by_id(live.id).state == "blocked"
    screenshot(page, "sequences-list-blocked-explained")

    page.mouse.move(0, 0)
    page.reload()
    screenshot(page, "sequences-list")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "sequences-list-phone")

    page.set_viewport_size({"width": 1200, "height": 800})
    page.get_by_role("link", name="Q3 founders outreach").click()
    expect(page.get_by_role("heading", name="Q3 founders outreach")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Blocked")).to_be_visible()
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "sequence-page-blocked-phone")
    page.set_viewport_size({"width": 1200, "height": 800})
    page.get_by_role("link", name="Log").click()
    expect(page.locator(".log-message").first).to_have_text(
        "Mailbox alex@acme.test needs reconnecting (token expired or revoked) — sequence blocked")
    screenshot(page, "sequence-log")


def test_write_a_sequence_import_contacts_and_enroll_them(page, live_server):
    owner = _sign_up(page, live_server)
    Mailbox.create(team=owner.team_id, email="alex@acme.test", provider="google",
                   status=CONNECTED)
    page.goto(live_server + "/sequences")
    page.get_by_role("link", name="New sequence").click()
    page.get_by_label("Name", exact=True).fill("Q3 founders outreach")
    page.get_by_label("Send from").select_option(label="alex@acme.test")
    page.get_by_label("Time zone").select_option("Europe/Berlin")
    page.get_by_role("button", name="Create sequence").click()
    expect(page.get_by_role("heading", name="Edit Q3 founders outreach")).to_be_visible()

    page.get_by_label("Subject").fill("Quick question, {{firstname}}")
    page.get_by_label("Email", exact=True).fill("Hi {{first_name|there}},\n\nA short question.")
    page.get_by_role("button", name="Add email 1").click()  # htmx
    expect(page.get_by_text("Unknown field {{firstname}}")).to_be_visible()
    page.get_by_label("Subject").fill("Quick question, {{first_name}}")
    page.get_by_role("button", name="Add email 1").click()
    expect(page.get_by_role("heading", name="Email 1")).to_be_visible()
    new = page.locator(".step-new")
    new.get_by_label("Wait after email 1").fill("3")
    expect(new.get_by_label("Unit")).to_have_value("days")
    new.get_by_label("Email", exact=True).fill("Just bumping this up, {{first_name|there}}.")
    new.get_by_role("button", name="Add email 2").click()
    expect(page.get_by_role("heading", name="Email 2")).to_be_visible()
    toggle = page.locator("[data-sequence-id]").first
    expect(toggle).to_have_attribute("data-state", "paused")
    toggle.click()
    expect(toggle).to_have_attribute("data-state", "active")
    screenshot(page, "sequence-edit")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "sequence-edit-phone")
    page.set_viewport_size({"width": 1200, "height": 800})

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Contacts").click()
    page.get_by_role("link", name="Import CSV").click()
    page.get_by_label("CSV file").set_input_files(files=[{
        "name": "leads.csv", "mimeType": "text/csv",
        "buffer": (b"email,first_name,last_name,company\n"
                   b"ada@example.com,Ada,Lovelace,Analytical Engines\n"
                   b"grace@example.com,Grace,Hopper,Navy\n"
                   b"grace@example.com,Grace,Again,Navy\n"
                   b"bob@,Bob,,Nowhere\n"
                   b"linus@example.com,Linus\n")}])
    page.get_by_role("button", name="Check file").click()
    expect(page.get_by_text("contacts ready to import")).to_be_visible()
    expect(page.get_by_role("cell", name="Duplicate of line 3")).to_be_visible()
    screenshot(page, "contacts-import-preview")
    page.get_by_role("button", name="Import 2 contacts").click()
    expect(page.get_by_text("2 new, 0 updated, 3 skipped.")).to_be_visible()  # 3 bad rows
    page.get_by_role("link", name="Q3 founders outreach").click()
    page.get_by_role("button", name="Enroll all 2 matching").click()
    expect(page.get_by_text("2 contacts enrolled.")).to_be_visible()
    expect(page.get_by_role("cell", name=re.compile("ada@example.com"))).to_be_visible()
    screenshot(page, "sequence-page")
