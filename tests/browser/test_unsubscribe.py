"""Unsubscribing in Chromium: the recipient's confirm page (no sign-in, no cookie), and the
team's suppression list under Settings — searched as one types, and an entry removed."""

from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from models.accounts import User
from models.contacts import Contact
from models.sequences import Enrollment
from models.suppressions import Suppression
from models.unsubscribes import token_for
from tests import factories
from tests.browser.conftest import screenshot
from tests.browser.test_email_accounts import _sign_in
from tests.test_outbox import running

pytestmark = pytest.mark.browser


def test_the_recipient_confirms_on_a_page_that_sets_no_cookie(chromium, live_server, accounts):
    accounts.sign_up()
    owner = User.get()
    running(owner, factories.mailbox(), contacts=("ada@client.test",))
    context = chromium.new_context(viewport={"width": 800, "height": 600})
    page = context.new_page()
    opened = page.goto(f"{live_server}/u/{token_for(owner.team_id, 'ada@client.test')}")
    assert "set-cookie" not in opened.headers
    expect(page.get_by_role("heading", name="Unsubscribe?")).to_be_visible()
    expect(page.get_by_text("ada@client.test")).to_be_visible()
    screenshot(page, "unsubscribe-confirm")
    assert Enrollment.get().status == "active"  # opening the page changed nothing
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Unsubscribe").click()
    assert "set-cookie" not in posted.value.headers
    expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    screenshot(page, "unsubscribe-done")
    assert Enrollment.get().status == "unsubscribed"
    page.goto(f"{live_server}/u/not.valid")
    expect(page.get_by_role("heading", name="This unsubscribe link is not valid")).to_be_visible()
    screenshot(page, "unsubscribe-invalid")
    context.close()


def test_the_suppression_list_is_searched_as_one_types_and_an_owner_removes_an_entry(
        page, live_server, accounts):
    _sign_in(page, live_server, accounts)
    team = User.get().team_id
    start = datetime(2031, 3, 3, 10)
    for n, (address, reason) in enumerate([("ada@client.test", "one_click"),
                                           ("bob@client.test", "link"),
                                           ("cy@client.test", "mailto"),
                                           ("dee@client.test", "by_hand")]):
        Suppression.create(team=team, email=address, reason=reason,
                           created_at=start + timedelta(days=n))
    Contact.create(team=team, email="ada@client.test")
    page.goto(live_server + "/settings/email-accounts")
    page.get_by_role("link", name="Suppression list").click()
    expect(page.get_by_text("4 addresses")).to_be_visible()
    for label in ("Unsubscribed in one click", "Unsubscribed by the link",
                  "Unsubscribed by email", "Added by hand"):
        expect(page.get_by_text(label)).to_be_visible()
    screenshot(page, "suppression-list")
    page.get_by_label("Search the suppression list").fill("bo")
    expect(page.get_by_text("1 address matching “bo”")).to_be_visible()
    page.get_by_role("button", name="Remove bob@client.test from the suppression list").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("bob@client.test is off the suppression list")).to_be_visible()
    assert Suppression.select().count() == 3
    page.get_by_label("Add an address").fill("eve@client.test")
    page.get_by_role("button", name="Add to the list").click()
    expect(page.get_by_text("eve@client.test is on the suppression list")).to_be_visible()
    screenshot(page, "suppression-list-after")


def test_the_unsubscribe_footer_is_set_in_the_sequence_settings(page, live_server, accounts):
    _sign_in(page, live_server, accounts)
    owner = User.get()
    sequence = running(owner, factories.mailbox(), contacts=())
    page.goto(f"{live_server}/sequences/{sequence.id}/edit")
    footer = page.get_by_label("Unsubscribe footer")
    footer.fill("Bye {{unsub}}")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Unknown field {{unsub}}")).to_be_visible()
    page.get_by_label("Unsubscribe footer").fill("Not for you? {{unsubscribe_url}}")
    screenshot(page, "sequence-settings-footer")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_label("Unsubscribe footer")).to_have_value("Not for you? {{unsubscribe_url}}")
    from models.sequences import Sequence

    assert Sequence.get_by_id(sequence.id).unsubscribe_footer == "Not for you? {{unsubscribe_url}}"
