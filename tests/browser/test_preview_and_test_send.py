"""In Chromium, through the UI only: a sequence's Preview shows each email as a chosen contact
gets it (fields filled, fallbacks, missing fields flagged), lists what keeps it from starting,
refuses the start naming the contact and the field, and sends a test that lands in the
signed-in person's INBOX. And a browser signed in at the sandbox as account A adds account B
through the provider's account chooser. Screenshots land in tests/screenshots/."""

import re

import pytest
from playwright.sync_api import expect

from models.contacts import Contact
from models.mailboxes import Mailbox
from models.sequences import Sequence, create_sequence, enroll, save_step
from tests.browser.conftest import screenshot
from tests.integration.conftest import sandbox_mailbox
from tests.integration.test_sending import mail_of, password_user
from tests.support import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]
ME = "owner@acme.test"


def _sign_in(page, live_server, email=ME):
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("correct-horse-9")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def _sequence(box):
    owner = box.connected_by
    sequence = create_sequence(owner.team_id, owner, name="Q4 outreach", mailbox=box,
                               window_days="0,1,2,3,4,5,6", window_start=0, window_end=24 * 60)
    save_step(sequence, owner, subject="Quick question, {{first_name|there}}",
              body="Hi {{first_name|there}},\n\nHow is {{company}} planning Q4?\n\nAlex",
              delay_days=0, delay_hours=0)
    save_step(sequence, owner, subject="", body="Bumping this, {{first_name|there}}.",
              delay_days=3, delay_hours=0)
    save_step(sequence, owner, subject="{{company}}", body="Last note.", delay_days=5,
              delay_hours=0)
    Contact.create(team=owner.team_id, email="jordan@globex.test", first_name="Jordan",
                   company="Globex")
    Contact.create(team=owner.team_id, email="kim@initech.test")
    enroll(sequence, Contact.select(), owner)
    return Sequence.get_by_id(sequence.id)


def test_preview_start_refusal_and_test_send_through_the_ui(page, live_server,
                                                            sandbox_at_live_server, accounts,
                                                            worker):
    sandbox = sandbox_at_live_server
    password_user(sandbox, ME)
    accounts.sign_up(email=ME)
    sequence = _sequence(sandbox_mailbox(sandbox, email="alex@acme.test"))
    _sign_in(page, live_server)

    page.goto(f"{live_server}/sequences/{sequence.id}")
    page.get_by_role("navigation", name="This sequence").get_by_role("link", name="Preview").click()
    expect(page.get_by_role("heading", name="Preview")).to_be_visible()

    # What keeps it from starting, by contact and field.
    problems = page.get_by_role("alert").filter(has_text="It cannot start yet")
    expect(problems).to_contain_text("kim@initech.test")
    expect(problems).to_contain_text("{{company}}")
    expect(problems).not_to_contain_text("jordan@globex.test")

    # Kim: the fallback fills her name; {{company}} is flagged, and email 3 cannot go.
    page.get_by_label("Preview for").select_option(label="kim@initech.test")
    page.get_by_role("button", name="Show").click()
    first = page.locator("article.preview-email").nth(0)
    expect(first.locator(".preview-subject")).to_have_text("Quick question, there")
    expect(first.get_by_text("Fallback used").first).to_be_visible()
    expect(first.get_by_text("Missing: empty, no fallback")).to_be_visible()
    expect(page.locator("article.preview-email").nth(2)).to_contain_text("Not sendable")
    screenshot(page, "preview-1-kim-flagged")
    page.screenshot(path="/tmp/shots-preview/preview-1-kim-flagged.png", full_page=True)

    # Starting is refused, naming Kim and the field; it stays paused.
    toggle = page.locator(f'[data-sequence-id="{sequence.id}"]')
    toggle.click()
    refusal = page.locator(f"#toggle-{sequence.id} .explain.error")
    expect(refusal).to_contain_text("kim@initech.test: email 3, {{company}}")
    expect(toggle).to_have_attribute("data-state", "paused")
    screenshot(page, "preview-2-start-refused")
    page.screenshot(path="/tmp/shots-preview/preview-2-start-refused.png", full_page=True)

    # Jordan: everything filled; email 2 replies in the thread; send email 1 to myself.
    page.get_by_label("Preview for").select_option(label="jordan@globex.test (Jordan)")
    page.get_by_role("button", name="Show").click()
    expect(first.locator(".preview-subject")).to_have_text("Quick question, Jordan")
    expect(first.locator(".preview-text")).to_contain_text("How is Globex planning Q4?")
    expect(page.locator("article.preview-email").nth(1).locator(".preview-subject")).to_have_text(
        "Re: Quick question, Jordan")
    first.get_by_role("button", name=re.compile("Send email 1 to me as a test")).click()
    outcome = first.locator(".test-outcome")
    expect(outcome).to_have_attribute("data-test-status", "sent", timeout=20_000)
    expect(outcome).to_contain_text(f"Test to {ME}")
    screenshot(page, "preview-3-test-sent")
    page.screenshot(path="/tmp/shots-preview/preview-3-test-sent.png", full_page=True)

    got = wait_for(lambda: mail_of(sandbox, ME), "the test in my INBOX", deadline=15)
    assert [m["Subject"] for m in got] == ["[Test] Quick question, Jordan"]
    assert got[0]["X-Tether-Test"].startswith("yes")
    assert mail_of(sandbox, password_user(sandbox, "jordan@globex.test")) == []

    page.get_by_role("navigation", name="This sequence").get_by_role("link", name="Overview").click()
    page.get_by_role("navigation", name="Sequence", exact=True).get_by_role("link", name="Log").click()
    expect(page.get_by_text(f"Test of email 1 (as jordan@globex.test would get it) sent to {ME}")
           ).to_be_visible()


def test_a_browser_signed_in_at_the_provider_as_a_connects_b(page, live_server,
                                                             sandbox_at_live_server, accounts):
    sandbox = sandbox_at_live_server
    for email in ("alex@acme.test", "sam@acme.test"):
        sandbox.control.create_user(email, "mailbox-pw-1", kind="google")
    accounts.sign_up(email=ME)

    # The browser is signed in at the provider as Alex (its own account page).
    page.goto(sandbox["base_url"] + "/account/signin")
    page.locator("#email").fill("alex@acme.test")
    page.locator("#password").fill("mailbox-pw-1")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_text("alex@acme.test").first).to_be_visible()

    _sign_in(page, live_server)
    page.goto(live_server + "/settings/email-accounts/add")
    page.get_by_role("button", name="Google (sandbox)").click()
    expect(page.get_by_role("heading", name="Choose an account")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("alex@acme.test"))).to_be_visible()
    screenshot(page, "chooser-1-signed-in-as-a")
    page.screenshot(path="/tmp/shots-preview/chooser-1-signed-in-as-a.png", full_page=True)

    page.get_by_role("button", name="Use another account").click()
    page.locator("#email").fill("sam@acme.test")
    page.locator("#password").fill("mailbox-pw-1")
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Allow").click()
    expect(page.get_by_text("Done! sam@acme.test is connected.")).to_be_visible()
    screenshot(page, "chooser-2-b-connected")
    page.screenshot(path="/tmp/shots-preview/chooser-2-b-connected.png", full_page=True)
    assert [m.email for m in Mailbox.select()] == ["sam@acme.test"]

    # Adding again: both accounts are offered now, Sam first; choosing Alex needs no password.
    page.goto(live_server + "/settings/email-accounts/add")
    page.get_by_role("button", name="Google (sandbox)").click()
    page.get_by_role("button", name=re.compile("alex@acme.test")).click()
    page.get_by_role("button", name="Allow").click()
    expect(page.get_by_text("Done! alex@acme.test is connected.")).to_be_visible()
    assert sorted(m.email for m in Mailbox.select()) == ["alex@acme.test", "sam@acme.test"]
