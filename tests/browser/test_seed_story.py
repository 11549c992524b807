"""The seed's whole story in Chromium. Tether is touched only through the browser; every outside
change goes through the sandbox's own pages; Tether's real worker does the checking and the
sending on its own schedule (a short check interval by configuration, no "check now" hooks).

sign in → add a google-like mailbox → green → start a sequence → its email arrives → Remove
access at the provider → without reloading: red dot, orange toggle, bell 1, the log explains →
the notice email in the mailbox's INBOX → its link in a fresh browser → sign in → confirm →
consent → green dot, green toggle → the email that waited arrives exactly once.
"""

import email
import re
from email import policy

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.support import wait_for as _wait_for

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]

MAILBOX, PASSWORD = "alex@acme.test", "mailbox-pw-1"
ADA, BOB, INBOX_PW = "ada@client.test", "bob@client.test", "inbox-pw-1"




def wait_for(condition, what, deadline=60.0):
    return _wait_for(condition, what, deadline, every=0.2)


def inbox(sandbox, address, *, password=None, subject=None):
    """What arrived in an INBOX, read over IMAP as its owner would."""
    with IMAPClient(sandbox.imap_host, sandbox.imap_port, ssl=False, timeout=10) as imap:
        if password:
            try:
                imap.login(address, password)
            except LoginError:
                return []
        else:
            imap.oauth2_login(address, sandbox.control.issue_tokens(address, client="google")["access_token"])
        imap.select_folder("INBOX", readonly=True)
        ids = imap.search(["SUBJECT", subject] if subject else "ALL")
        fetched = imap.fetch(ids, ["RFC822"]) if ids else {}
    return [email.message_from_bytes(f[b"RFC822"], policy=policy.default) for f in fetched.values()]


@pytest.fixture
def running_worker(app, live_server, sandbox_at_live_server, monkeypatch):
    """Tether's worker as `make run` starts it — periodic sweep included — checking every 5 s
    (the web app too: it schedules a new mailbox's first check)."""
    from tasks import huey
    from tests.conftest import _start_consumer, _stop_consumer

    monkeypatch.setenv("TETHER_CHECK_INTERVAL_SECONDS", "5")
    monkeypatch.setitem(app.config, "CHECK_INTERVAL_SECONDS", 5.0)
    monkeypatch.setenv("BASE_URL", live_server)
    huey.flush()
    proc, log = _start_consumer("story-worker", periodic=True)
    yield proc
    _stop_consumer(proc, log)
    huey.flush()


def test_the_seed_story(page, chromium, live_server, sandbox_at_live_server, running_worker):
    sandbox = sandbox_at_live_server
    sandbox.control.create_user(MAILBOX, PASSWORD, kind="google")
    for person in (ADA, BOB):
        sandbox.control.create_user(person, INBOX_PW, kind="other")

    # Sign up, then add the Google mailbox through the provider's own pages.
    page.goto(live_server + "/signup")
    page.get_by_label("Team name").fill("Acme")
    page.get_by_label("Work email").fill(MAILBOX)
    page.get_by_label("Password").fill("correct-horse-9")
    page.get_by_role("button", name="Create team").click()
    page.get_by_role("link", name="Add mailbox").click()
    page.get_by_role("button", name="Google (sandbox)").click()
    page.locator("#email").fill(MAILBOX)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Allow").click()
    expect(page.get_by_text(f"Done! {MAILBOX} is connected.")).to_be_visible()
    row = page.locator("[data-mailbox-id]").first
    expect(row).to_have_attribute("data-status", "connected")
    screenshot(page, "story-1-connected")

    # A sequence that may send any day, any hour, to Ada.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sequences").click()
    page.get_by_role("link", name="New sequence").click()
    page.get_by_label("Name", exact=True).fill("Q4 outreach")
    page.get_by_label("Send from").select_option(label=MAILBOX)
    for day in page.locator("input[name=days]").all():
        day.check()
    page.get_by_label("Between").fill("00:00")
    page.get_by_label("and", exact=True).fill("23:59")
    page.get_by_label("Time zone").select_option("UTC")
    page.get_by_role("button", name="Create sequence").click()
    page.get_by_label("Subject").fill("Quick question, {{first_name}}")
    page.get_by_label("Email", exact=True).fill("Hi {{first_name|there}},\n\nA short question.")
    page.get_by_role("button", name="Add email 1").click()
    expect(page.get_by_role("heading", name="Email 1")).to_be_visible()
    toggle = page.locator("[data-sequence-id]").first
    toggle.click()
    expect(toggle).to_have_attribute("data-state", "active")
    sequence_url = page.url.rsplit("/edit", 1)[0]

    def add_and_enroll(address, first_name):
        page.goto(live_server + "/contacts/new")
        page.get_by_label("Email").fill(address)
        page.get_by_label("First name").fill(first_name)
        page.get_by_role("button", name="Add contact").click()
        page.goto(sequence_url)
        page.get_by_role("link", name="Enroll contacts").first.click()
        page.locator("#enroll-q").fill(address)
        page.locator("#enroll-q").press("Enter")
        expect(page.get_by_role("cell", name=address, exact=True).first).to_be_visible()
        page.get_by_role("button", name=re.compile("Enroll all 1")).click()
        expect(page.get_by_text("1 contact enrolled.")).to_be_visible()

    add_and_enroll(ADA, "Ada")
    first = wait_for(lambda: inbox(sandbox, ADA, password=INBOX_PW), "Ada's first email")
    assert first[0]["Subject"] == "Quick question, Ada"

    # At the provider: Remove access, on its own "Apps with access" page.
    provider = chromium.new_context()
    at_google = provider.new_page()
    at_google.goto(sandbox.config["account_url"])
    at_google.locator("#email").fill(MAILBOX)
    at_google.locator("#password").fill(PASSWORD)
    at_google.get_by_role("button", name="Next").click()
    at_google.get_by_role("button", name="Remove access").first.click()
    provider.close()

    # Tether notices by itself; the open page follows without a reload.
    page.goto(live_server + "/settings/email-accounts")
    row = page.locator("[data-mailbox-id]").first
    expect(row).to_have_attribute("data-status", "reconnect_required", timeout=30_000)
    expect(page.locator("#bell")).to_have_attribute("data-unread", "1", timeout=15_000)
    screenshot(page, "story-2-red-dot")
    page.goto(sequence_url)
    expect(page.locator("[data-sequence-id]").first).to_have_attribute("data-state", "blocked")
    page.goto(sequence_url + "/log")
    expect(page.get_by_text(re.compile(f"Mailbox {re.escape(MAILBOX)} needs reconnecting"))).to_be_visible()
    screenshot(page, "story-3-log")

    # Bob is enrolled while the mailbox is down: his email waits.
    add_and_enroll(BOB, "Bob")
    notice = wait_for(lambda: inbox(sandbox, MAILBOX, subject="Action needed"), "the notice email")
    assert len(notice) == 1
    link = re.search(r"Reconnect now: (\S+)", notice[0].get_body(("plain",)).get_content()).group(1)
    assert link.startswith(live_server)

    # The link, in a fresh browser: sign in, confirm, consent, green.
    fresh = chromium.new_context(viewport={"width": 1200, "height": 800})
    other = fresh.new_page()
    other.goto(link)  # signed out: Tether asks who you are first
    expect(other.get_by_role("heading", name="Sign in to Tether")).to_be_visible()
    other.get_by_label("Email").fill(MAILBOX)
    other.get_by_label("Password").fill("correct-horse-9")
    other.get_by_role("button", name="Sign in").click()
    expect(other.get_by_text("You'll be asked to sign in to")).to_contain_text(MAILBOX)
    screenshot(other, "story-4-confirm")
    other.get_by_role("button", name="Continue to Google (sandbox)").click()
    other.locator("#password").fill(PASSWORD)
    other.get_by_role("button", name="Next").click()
    other.get_by_role("button", name="Allow").click()
    expect(other.get_by_text(f"Done! {MAILBOX} is connected.")).to_be_visible()
    expect(other.locator("[data-mailbox-id]").first).to_have_attribute("data-status", "connected")
    screenshot(other, "story-5-green")
    fresh.close()

    # The first tab turns green by itself, and Bob's waiting email arrives exactly once.
    expect(page.locator("[data-sequence-id]").first).to_have_attribute("data-state", "active", timeout=15_000)
    wait_for(lambda: inbox(sandbox, BOB, password=INBOX_PW), "Bob's waiting email")
    assert len(inbox(sandbox, BOB, password=INBOX_PW)) == 1
    assert len(inbox(sandbox, ADA, password=INBOX_PW)) == 1
