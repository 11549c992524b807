"""Access removed in the middle of a batch, ten times in a row, with two consumers handling
the events: each incident and each reconnect is logged once in the sequence, in the order
they happened, and every email reaches its recipient exactly once."""

import pytest

from models.contacts import Contact
from models.mailboxes import CONNECTED, RECONNECT_REQUIRED, Mailbox
from models.outbox import SENT, OutboxEmail
from models.sequences import SequenceLog, enroll
from tests.integration.conftest import grant_tokens, sandbox_mailbox
from tests.integration.test_sending import MONDAY, mail_of, recipients, running, set_now
from tests.support import wait_for

pytestmark = pytest.mark.sandbox
ROUNDS, PER_ROUND = 10, 3


def _mailbox_entries(sequence):
    """The sequence log's mailbox entries, oldest first, as the log page orders them."""
    return list(SequenceLog.select().where((SequenceLog.sequence == sequence)
                                           & SequenceLog.kind.startswith("mailbox"))
                .order_by(SequenceLog.created_at, SequenceLog.id))


def test_access_removed_mid_batch_ten_times_logs_each_block_and_unblock_once_in_order(
        accounts, tether_sandbox, checker, worker, second_worker):
    from models.accounts import User
    from models.connections import save_oauth
    from tasks.notices import dispatch_events
    from tasks.sending import send_now

    control = tether_sandbox.control
    accounts.sign_up()
    owner = User.get()
    set_now(MONDAY.replace(hour=10))
    box = sandbox_mailbox(tether_sandbox, "google")
    sequence = running(owner, box, contacts=[], steps=[("Hello {{first_name}}", "One", 0)])
    everyone = []
    for round_ in range(ROUNDS):
        people = recipients(tether_sandbox, *(f"r{round_}n{i}@client.test" for i in range(PER_ROUND)))
        everyone += people
        for address in people:
            Contact.create(team=owner.team_id, email=address, first_name="Pat")
        # Message 1 is answered slowly; while it is on its way, access is removed at the
        # provider; at message 2 the provider ends the session and refuses its token.
        control.slow_data(box.email, seconds=1.0)
        control.refuse_xoauth2(box.email, at_message=2)
        enroll(sequence, Contact.select().where(Contact.email.in_(people)), owner)
        send_now(box.id)
        wait_for(lambda: OutboxEmail.select().where(OutboxEmail.phase == "transmitting").exists(),
                 f"round {round_}: message 1 on its way")
        control.remove_access(box.email)
        wait_for(lambda: Mailbox.get_by_id(box.id).status == RECONNECT_REQUIRED,
                 f"round {round_}: the incident")
        wait_for(lambda r=round_: len(_mailbox_entries(sequence)) == 2 * r + 1,
                 f"round {round_}: the blocked entry")
        control.clear_faults()
        grant = control.issue_tokens(box.email, client="google")
        save_oauth(owner.team, owner, checker.catalog.get("google-sandbox"), box.email,
                   grant_tokens(grant), mailbox_id=box.id)
        dispatch_events()
        wait_for(lambda: Mailbox.get_by_id(box.id).status == CONNECTED, f"round {round_}: reconnected")
        wait_for(lambda r=round_: len(_mailbox_entries(sequence)) == 2 * r + 2,
                 f"round {round_}: the unblocked entry")

    wait_for(lambda: OutboxEmail.select().where(OutboxEmail.status == SENT).count() == len(everyone),
             "every email sent", deadline=60)
    entries = _mailbox_entries(sequence)
    assert [e.kind for e in entries] == ["mailbox_blocked", "mailbox_unblocked"] * ROUNDS
    assert len({e.event_id for e in entries}) == 2 * ROUNDS  # one entry per event
    for person in everyone:
        assert len(mail_of(tether_sandbox, person)) == 1, person
