"""Moving a blocked sequence in Chromium: the blocked banner offers the move, the page says what
happens before confirming, and the sequence turns green sending from the new mailbox.
Screenshots land in tests/screenshots/ (and /tmp/shots-move/)."""

import pytest
from playwright.sync_api import expect

from models.mailboxes import RECONNECT_REQUIRED
from models.sequences import Sequence
from tests import factories
from tests.browser.test_reconnect_all import shot
from tests.browser.test_sequences_live import _revoke, _sequence, _sign_up

pytestmark = pytest.mark.browser


def test_a_blocked_sequence_is_moved_to_a_connected_mailbox_from_its_page(page, live_server):
    owner = _sign_up(page, live_server)
    alex = factories.mailbox(email="alex@acme.test")
    factories.mailbox(email="sam@acme.test")
    factories.mailbox(email="lee@acme.test", status=RECONNECT_REQUIRED)
    sequence = _sequence(owner, alex, "Spring outreach")
    _revoke(alex)

    page.goto(f"{live_server}/sequences/{sequence.id}")
    expect(page.locator(".banner-blocked")).to_contain_text(
        "Blocked: mailbox alex@acme.test needs reconnecting")
    page.get_by_role("link", name="move it to another mailbox").click()

    expect(page.get_by_role("heading", name="Move “Spring outreach” to another mailbox")).to_be_visible()
    expect(page.get_by_text("Waiting emails go from the new mailbox")).to_be_visible()
    expect(page.get_by_text("Follow-ups start a new thread.")).to_be_visible()
    # A mailbox that is not connected is listed, in words, but cannot be chosen.
    expect(page.locator("option", has_text="lee@acme.test (reconnect required)")).to_be_disabled()
    page.get_by_label("Move to").select_option(label="sam@acme.test")
    page.get_by_label("Why").fill("Alex is on holiday until Monday")
    shot(page, "move-1-confirm")
    page.get_by_role("button", name="Move the sequence").click()

    expect(page.get_by_text("“Spring outreach” now sends from sam@acme.test.")).to_be_visible()
    expect(page.locator(".page-head p.muted")).to_contain_text("From sam@acme.test (Connected)")
    expect(page.locator(".banner-blocked")).to_have_count(0)
    shot(page, "move-2-moved")
    page.goto(f"{live_server}/sequences/{sequence.id}/log")
    moved = page.locator(".log-moved")
    expect(moved).to_contain_text("Moved from alex@acme.test to sam@acme.test by")
    expect(moved).to_contain_text("“Alex is on holiday until Monday”")
    shot(page, "move-3-log")
    assert Sequence.get_by_id(sequence.id).state == "active"
