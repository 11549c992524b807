"""The contacts table's "Next email" line: when a contact's next email goes, in the sequence's
time zone, or in plain words why it waits — one row per case the line can be in."""

from datetime import datetime

import pytest

from models.contacts import Contact
from models.mailboxes import CONNECTED, DISABLED, RECONNECT_REQUIRED, Mailbox
from models.outbox import FAILED, QUEUED, SENDING, UNKNOWN, OutboxEmail
from models.sequence_pages import NO_NEXT, next_email
from models.sequences import Enrollment, Sequence
from tests.test_sequences import add_mailbox, running_sequence, team_of

NOW = datetime(2031, 3, 3, 7, 0)  # a Monday, 08:00 in Paris: before its 09:00 window opens
LATER = datetime(2031, 3, 4, 12, 30)  # Tuesday, 13:30 in Paris: inside the window


def _sequence(paused=False, mailbox_status=CONNECTED, removed=False):
    mailbox = Mailbox(email="alex@acme.test", status=mailbox_status,
                      deleted_at=NOW if removed else None)
    return Sequence(mailbox=mailbox, paused=paused, timezone="Europe/Paris",
                    window_days="0,1,2,3,4", window_start=9 * 60, window_end=17 * 60)


@pytest.mark.parametrize("sequence, status, due, email, says", [
    # Due, and nothing holds it: the window decides when it goes.
    (_sequence(), "active", NOW, None, "Mar 3, 09:00"),
    (_sequence(), "active", LATER, None, "Mar 4, 13:30"),
    (_sequence(), "active", datetime(2031, 3, 1, 9, 0), None, "Mar 3, 09:00"),  # overdue
    # Due, but held by a person's Pause or by its mailbox.
    (_sequence(paused=True), "active", NOW, None, "waiting: sequence paused"),
    (_sequence(mailbox_status=RECONNECT_REQUIRED), "active", NOW, None, "waiting: mailbox"),
    (_sequence(mailbox_status=DISABLED), "active", NOW, None, "waiting: mailbox"),
    (_sequence(removed=True), "active", NOW, None, "waiting: mailbox"),
    # Planned into the outbox (no due time any more): on its way, held, or waiting for a person.
    (_sequence(), "active", None, QUEUED, "sending"),
    (_sequence(), "active", None, SENDING, "sending"),
    (_sequence(paused=True), "active", None, QUEUED, "waiting: sequence paused"),
    (_sequence(mailbox_status=RECONNECT_REQUIRED), "active", None, QUEUED, "waiting: mailbox"),
    (_sequence(), "active", None, UNKNOWN, "needs your attention (see the log)"),
    (_sequence(paused=True), "active", None, FAILED, "needs your attention (see the log)"),
    # Nothing next: nothing planned, or the contact is done with this sequence.
    (_sequence(), "active", None, None, NO_NEXT),
    (_sequence(), "finished", None, None, NO_NEXT),
    (_sequence(), "replied", NOW, QUEUED, NO_NEXT),
    (_sequence(), "bounced", None, FAILED, NO_NEXT),
    (_sequence(), "unsubscribed", NOW, None, NO_NEXT),
])
def test_the_next_email_line_says_when_or_why_it_waits(sequence, status, due, email, says):
    enrollment = Enrollment(status=status, next_due_at=due)
    row = OutboxEmail(status=email) if email else None
    assert next_email(sequence, enrollment, row, NOW) == says


def test_the_sequence_page_prints_the_line(accounts, client):
    accounts.sign_up()
    sequence = running_sequence(client, add_mailbox(team_of()))
    contact = Contact.create(team=team_of(), email="ada@client.test")
    Enrollment.create(sequence=sequence, contact=contact, next_due_at=None)
    Sequence.update(paused=True).where(Sequence.id == sequence.id).execute()
    OutboxEmail.create(enrollment=Enrollment.get(), sequence=sequence, contact=contact,
                       position=0, status=QUEUED, due_at=NOW)
    page = client.get(f"/sequences/{sequence.id}").get_data(as_text=True)
    assert "<td>waiting: sequence paused</td>" in page
