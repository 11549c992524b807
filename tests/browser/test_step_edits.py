"""A sequence's emails edited, moved and removed in Chromium through the page only — moving
with the keyboard — with the count of waiting contacts shown before saving; and a new
sequence that starts in the browser's own time zone."""

import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

import clock
from models.contacts import Contact
from models.health import transition
from models.mailboxes import CONNECTED, RECONNECT_REQUIRED, Mailbox
from models.sequences import Enrollment, Sequence, SequenceStep, enroll
from tests.browser.conftest import screenshot
from tests.browser.test_sequences_live import _sign_up
from tests.chromium_fixtures import SCREENSHOTS

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots-steps")


def _shot(page, name):
    screenshot(page, name)
    SHOTS.mkdir(exist_ok=True)
    shutil.copy(Path(SCREENSHOTS, f"{name}.png"), SHOTS / f"{name}.png")


def _card(page, number):
    return page.locator("article.step").filter(
        has=page.get_by_role("heading", name=f"Email {number}", exact=True))


def _add(page, number, subject, body, wait, unit):
    new = page.locator("form.step-new")
    new.get_by_label("Subject").fill(subject)
    new.get_by_label("Email", exact=True).fill(body)
    new.locator("input[name=delay_amount]").fill(wait)
    new.locator("select[name=delay_unit]").select_option(unit)
    new.get_by_role("button", name=f"Add email {number}").click()
    expect(page.get_by_role("heading", name=f"Email {number}", exact=True)).to_be_visible()


def _new_sequence(page, live_server, name: str):
    """A new owner with a connected mailbox creates the sequence `name` through the page."""
    owner = _sign_up(page, live_server)
    Mailbox.create(team=owner.team_id, email="alex@acme.test", provider="google",
                   status=CONNECTED)
    page.goto(live_server + "/sequences/new")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Send from").select_option(label="alex@acme.test")
    page.get_by_role("button", name="Create sequence").click()
    return owner


def test_emails_are_edited_moved_by_keyboard_and_removed_through_the_page(page, live_server):
    owner = _new_sequence(page, live_server, "Q3 founders")
    _add(page, 1, "Quick question, {{first_name}}", "Hi {{first_name}}, one question.", "0", "minutes")
    _add(page, 2, "", "Bumping this up.", "3", "days")
    _add(page, 3, "Last try", "Closing the loop.", "30", "minutes")
    sequence = Sequence.get()
    for address in ("ada@client.test", "bob@client.test"):
        Contact.create(team=owner.team_id, email=address)
    enroll(sequence, Contact.select(), owner)
    # Both contacts wait for email 1: the card says so before anything is saved.
    page.reload()
    expect(_card(page, 1).get_by_text("2 contacts wait for this email")).to_be_visible()
    _shot(page, "steps-edit-before")

    # Edit email 2: new words, a wait in hours.
    two = _card(page, 2)
    two.get_by_label("Email", exact=True).fill("Bumping this up, {{first_name|there}}.")
    two.locator("select[name=delay_unit]").select_option("hours")
    two.get_by_role("button", name="Save email 2").click()
    expect(_card(page, 2).get_by_role("status")).to_have_text("Saved.")
    expect(_card(page, 2).locator("select[name=delay_unit]")).to_have_value("hours")

    # Move email 3 up with the keyboard only: focus its button, press Enter.
    _card(page, 3).get_by_role("button", name="Move email 3 up").focus()
    page.keyboard.press("Enter")
    expect(_card(page, 2).get_by_label("Subject")).to_have_value("Last try")
    expect(page.get_by_role("button", name="Move email 2 up")).to_be_focused()
    _shot(page, "steps-edit-moved")

    # A subjectless email cannot become the first: said in words, nothing moves.
    page.get_by_role("button", name="Move email 3 up").click()
    expect(_card(page, 2).get_by_label("Subject")).to_have_value("")
    page.get_by_role("button", name="Move email 2 up").click()
    expect(page.get_by_role("alert")).to_contain_text("Email 2 has no subject")
    _shot(page, "steps-edit-refused")

    # Remove email 3 ("Last try") after confirming.
    page.once("dialog", lambda dialog: (
        dialog.message.startswith("Remove email 3?") or pytest.fail(dialog.message),
        dialog.accept()))
    page.get_by_role("button", name="Remove email 3").click()
    expect(page.get_by_role("heading", name="Email 3", exact=True)).to_have_count(0)
    assert [(s.position, s.subject, s.delay_text) for s in sequence.steps_in_order()] == [
        (0, "Quick question, {{first_name}}", "no wait"), (1, "", "3 hours")]
    assert SequenceStep.select().count() == 2
    _shot(page, "steps-edit-after")

    page.goto(live_server + f"/sequences/{sequence.id}")
    expect(page.get_by_text("3 hours after email 1")).to_be_visible()
    expect(page.get_by_text("right after enrolling")).to_be_visible()

    # Its mailbox blocks it: only the email that is due waits for the mailbox.
    page.get_by_role("button", name="Paused: press to start Q3 founders").click()
    expect(page.get_by_role("button", name="Active: press to pause Q3 founders")).to_be_visible()
    Enrollment.update(next_due_at=clock.now() + timedelta(days=2)).where(
        Enrollment.contact == Contact.get(Contact.email == "bob@client.test")).execute()
    transition(Mailbox.get().id, RECONNECT_REQUIRED, cause="token expired or revoked")
    page.reload()
    expect(page.get_by_role("cell", name="waiting: mailbox")).to_be_visible()
    expect(page.get_by_role("cell", name=re.compile(r"\(once the mailbox is back\)"))).to_be_visible()
    _shot(page, "steps-overview-blocked")


def test_a_new_sequence_starts_in_the_browsers_time_zone(chromium, live_server):
    context = chromium.new_context(viewport={"width": 1200, "height": 800},
                                   timezone_id="America/New_York")
    page = context.new_page()
    try:
        owner = _sign_up(page, live_server)
        Mailbox.create(team=owner.team_id, email="alex@acme.test", provider="google",
                       status=CONNECTED)
        page.goto(live_server + "/sequences/new")
        expect(page.get_by_label("Time zone")).to_have_value("America/New_York")
        _shot(page, "steps-new-timezone")
        page.get_by_label("Name", exact=True).fill("East coast")
        page.get_by_label("Send from").select_option(label="alex@acme.test")
        page.get_by_role("button", name="Create sequence").click()
        expect(page.get_by_role("heading", name="Edit East coast")).to_be_visible()
        assert Sequence.get().timezone == "America/New_York"
    finally:
        context.close()


def test_an_email_dragged_above_the_first_is_saved_in_its_new_place(chromium, live_server):
    # Tall enough for three emails on one screen: a mouse drags only what it can reach.
    context = chromium.new_context(viewport={"width": 1200, "height": 2400})
    page = context.new_page()
    try:
        _drag_story(page, live_server)
    finally:
        context.close()


def _drag_story(page, live_server):
    _new_sequence(page, live_server, "Dragged")
    _add(page, 1, "One", "First words.", "0", "minutes")
    _add(page, 2, "Two", "Second words.", "1", "days")
    _add(page, 3, "Three", "Third words.", "2", "days")
    sequence = Sequence.get()

    handle = _card(page, 3).locator(".step-drag")
    expect(handle).to_be_visible()
    # Dropped on the top edge of email 1: it goes before it.
    handle.drag_to(_card(page, 1), target_position={"x": 40, "y": 8})
    expect(_card(page, 1).get_by_label("Subject")).to_have_value("Three")
    expect(_card(page, 2).get_by_label("Subject")).to_have_value("One")
    expect(_card(page, 3).get_by_label("Subject")).to_have_value("Two")
    assert [s.subject for s in sequence.steps_in_order()] == ["Three", "One", "Two"]
    _shot(page, "steps-dragged")

    page.reload()  # saved, not only shown
    expect(_card(page, 1).get_by_label("Subject")).to_have_value("Three")
    # Dropped on the bottom half of the last email: the first goes after it.
    box = _card(page, 3).bounding_box()
    _card(page, 1).locator(".step-drag").drag_to(
        _card(page, 3), target_position={"x": 40, "y": box["height"] - 8})
    expect(_card(page, 3).get_by_label("Subject")).to_have_value("Three")
    assert [s.subject for s in sequence.steps_in_order()] == ["One", "Two", "Three"]
