"""Moving a sequence for real: a move in the middle of a consumer's batch sends each email
exactly once — what was on the wire from the old mailbox, the rest from the new one — as the
recipients' INBOXes at the sandbox show; the next follow-up comes from the new mailbox as a
new thread with its subject kept; a reply still reaching the old mailbox stops the contact."""

import json
from datetime import timedelta

import pytest

from models.accounts import User
from models.mailboxes import Mailbox
from models.outbox import SENT, OutboxEmail
from models.sender import Sender
from models.sequence_move import move
from models.sequences import Enrollment, Sequence, SequenceLog
from tests.integration.conftest import sandbox_mailbox
from tests.integration.test_replies import _answer
from tests.integration.test_sending import MONDAY, mail_of, recipients, running, set_now
from tests.support import post_form, wait_for

pytestmark = pytest.mark.sandbox

STEPS = [("Hello {{first_name}}", "Hi {{first_name}},\n\nOne.", 0), ("", "Following up.", 24)]


def _address(header: str) -> str:
    return header.rpartition("<")[2].rstrip(">").strip()


def test_a_sequence_moved_mid_batch_sends_each_email_once_and_the_rest_from_the_new_mailbox(
        accounts, client, tether_sandbox, worker):
    from tasks.sending import send_now

    accounts.sign_up()
    owner = User.get()
    set_now(MONDAY.replace(hour=10))
    old = sandbox_mailbox(tether_sandbox, "google", "alex@acme.test")
    new = sandbox_mailbox(tether_sandbox, "microsoft", "sam@acme.test")
    people = recipients(tether_sandbox, *(f"p{i}@client.test" for i in range(6)))
    sequence = running(owner, old, contacts=people, steps=STEPS)
    # The old mailbox's first answers come slowly: the move lands while one is on the wire.
    tether_sandbox.control.slow_data(old.email, seconds=1.5, count=2)
    send_now(old.id)
    wait_for(lambda: OutboxEmail.select().where(OutboxEmail.phase == "transmitting").exists(),
             "an email of the batch on the wire")

    response = post_form(client, f"/sequences/{sequence.id}/move",
                         {"mailbox": str(new.id), "reason": "Alex is on holiday",
                          "from_mailbox": str(old.id)}, page=f"/sequences/{sequence.id}/move")
    assert response.status_code == 302, response.get_data(as_text=True)[-600:]

    wait_for(lambda: OutboxEmail.select().where(OutboxEmail.status == SENT).count() == 6,
             "every first email sent", deadline=60)
    tether_sandbox.control.clear_faults()
    first_from = {}
    for person in people:
        (message,) = mail_of(tether_sandbox, person)  # exactly once each
        first_from[person] = _address(message["From"])
        row = OutboxEmail.get(OutboxEmail.to_email == person)
        assert first_from[person] == Mailbox.get_by_id(row.mailbox_id).email
        assert message["Message-ID"] == row.message_id
    from_old = [p for p in people if first_from[p] == old.email]
    from_new = [p for p in people if first_from[p] == new.email]
    assert from_old and from_new, first_from  # the one on the wire finished from the old one
    moved = SequenceLog.get(SequenceLog.kind == "moved")
    assert "by Owner: “Alex is on holiday”" in moved.message
    handed = json.loads(moved.details)
    assert handed["returned"] >= 1 and handed["finishing"] >= 1  # truly mid-batch

    # The next day's follow-ups all come from the new mailbox: a new thread (subject kept) for
    # those whose thread was with the old one, a reply in the thread for the others.
    set_now(MONDAY.replace(hour=10) + timedelta(days=1, minutes=1))
    send_now(new.id)
    wait_for(lambda: all(len(mail_of(tether_sandbox, p)) == 2 for p in people),
             "every follow-up", deadline=60)
    for person in people:
        first, second = mail_of(tether_sandbox, person)
        assert _address(second["From"]) == new.email
        if person in from_old:
            assert second["Subject"] == first["Subject"]
            assert second["In-Reply-To"] is None and second["References"] is None
        else:
            assert second["Subject"] == f"Re: {first['Subject']}"
            assert second["In-Reply-To"] == first["Message-ID"]
    assert OutboxEmail.select().where(OutboxEmail.status == SENT).count() == 12


def test_a_reply_reaching_the_old_mailbox_after_a_move_still_stops_the_contact(
        accounts, tether_sandbox, checker):
    accounts.sign_up()
    owner = User.get()
    set_now(MONDAY.replace(hour=10))
    old = sandbox_mailbox(tether_sandbox, "google", "alex@acme.test")
    new = sandbox_mailbox(tether_sandbox, "google", "sam@acme.test")
    ada, bob, cy = recipients(tether_sandbox, "ada@client.test", "bob@client.test",
                              "cy@client.test")
    sequence = running(owner, old, contacts=[ada, bob, cy], steps=STEPS)
    Sender(checker.catalog).run(old.id)
    wait_for(lambda: all(len(mail_of(tether_sandbox, p)) == 1 for p in (ada, bob, cy)), "email 1")
    checker.check(old.id, force=True)  # the first fetch marks where reading starts

    move(Sequence.get_by_id(sequence.id), owner, old.id, new, "Alex is on holiday")
    _answer(tether_sandbox, ada, old.email, mail_of(tether_sandbox, ada)[0])
    _answer(tether_sandbox, bob, old.email, mail_of(tether_sandbox, bob)[0], headers=False,
            subject="about your note")  # a client that drops In-Reply-To and References
    checker.check(old.id, force=True)  # the old mailbox is still connected: still read
    statuses = {e.contact.email: e.status for e in Enrollment.select()}
    assert statuses == {ada: "replied", bob: "replied", cy: "active"}

    set_now(MONDAY.replace(hour=10) + timedelta(days=1, minutes=1))
    checker.check(new.id, force=True)
    Sender(checker.catalog).run(new.id)
    wait_for(lambda: len(mail_of(tether_sandbox, cy)) == 2, "cy's follow-up")
    assert len(mail_of(tether_sandbox, ada)) == 1 and len(mail_of(tether_sandbox, bob)) == 1
    first, second = mail_of(tether_sandbox, cy)
    assert _address(second["From"]) == new.email and second["Subject"] == first["Subject"]
