"""A contact deleted while a batch is being sent gets nothing more: the real sender, the
sandbox's real mail server and INBOXes. The email already on its way when the person
pressed Delete finishes (it cannot be called back); the next one, claimed in the same batch,
is never sent."""

import pytest

from mail.providers import Catalog
from models import outbox
from models.accounts import User
from models.contact_actions import delete_contacts
from models.contacts import Contact
from models.outbox import OutboxEmail
from models.sender import Sender
from tests.integration.test_sending import (
    MONDAY,
    mail_of,
    other_mailbox,
    recipients,
    running,
    set_now,
)

pytestmark = pytest.mark.sandbox


def test_a_contact_deleted_mid_batch_gets_nothing_more(accounts, app, tether_sandbox,
                                                       monkeypatch):
    accounts.sign_up()
    owner = User.get()
    set_now(MONDAY.replace(hour=10))
    box = other_mailbox(tether_sandbox)
    ada, bob, cy = recipients(tether_sandbox, "ada@client.test", "bob@client.test",
                              "cy@client.test")
    running(owner, box, contacts=(ada, bob, cy), steps=[("Hello {{first_name}}", "One", 0),
                                                        ("", "Two", 0)])
    real_begin_transmit, deleted = outbox.begin_transmit, []

    def person_deletes_while_the_first_goes_out(row, *args):
        verdict = real_begin_transmit(row, *args)
        if not deleted:  # Ada's email is on its way now; the person deletes Ada and Bob
            doomed = Contact.select().where(Contact.email.in_([ada, bob]))
            deleted.append(delete_contacts(owner.team_id, doomed, owner))
        return verdict

    monkeypatch.setattr(outbox, "begin_transmit", person_deletes_while_the_first_goes_out)
    Sender(Catalog(app.config)).run(box.id)
    monkeypatch.undo()
    assert deleted == [2]

    # The pass went on to the second step (due at once): Cy's only.
    assert len(mail_of(tether_sandbox, ada)) == 1, "the email on the wire finished, alone"
    assert mail_of(tether_sandbox, bob) == [], "claimed in the same batch, never sent"
    assert [m["Subject"] for m in mail_of(tether_sandbox, cy)] == ["Hello Cy", "Re: Hello Cy"]
    assert {r.to_email for r in OutboxEmail.select()} == {cy}
