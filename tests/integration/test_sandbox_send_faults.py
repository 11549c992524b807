"""Tether's sender against the sandbox's own SMTP faults — black-box: only the sandbox's
control API, Tether's real Sender, and the recipients' real INBOXes over IMAP.

An answer lost after the final "." must never turn into a second copy: an Other Provider
mailbox (no server-side Sent copy) ends *outcome unknown*, an OAuth one is found in the Sent
folder the provider filed. A sign-in refused mid-batch costs one token refresh and no
resend.
"""

from datetime import datetime, timedelta

import pytest

from mail.providers import Catalog
from models.accounts import User
from models.mailboxes import CONNECTED, Mailbox
from models.outbox import SENDING, SENT, UNKNOWN, OutboxEmail
from models.sender import Sender
from tests.integration.conftest import sandbox_mailbox
from tests.integration.test_sending import (
    log_of,
    mail_of,
    other_mailbox,
    recipients,
    running,
    sent_folder_of,
    set_now,
    statuses,
)

pytestmark = pytest.mark.sandbox
MONDAY_10 = datetime(2031, 3, 3, 10, 0)


def send_pass(app):
    """One pass of Tether's real sender for the mailbox, as a consumer runs it."""
    return Sender(Catalog(app.config)).run(Mailbox.get().id)


def copies(sandbox, people):
    """How many copies of Tether's emails each recipient's INBOX holds, by recipient."""
    return {person: len(mail_of(sandbox, person)) for person in people}


def test_an_other_provider_answer_lost_after_the_final_dot_ends_unknown_and_is_never_resent(
        app, accounts, client, tether_sandbox):
    accounts.sign_up()
    owner = User.get()
    set_now(MONDAY_10)
    box = other_mailbox(tether_sandbox, "pat@example.test")
    people = recipients(tether_sandbox, "ada@client.test", "bob@client.test")
    sequence = running(owner, box, contacts=people, steps=[("Hello {{first_name}}", "One", 0)])
    tether_sandbox.control.drop_after_final_dot("pat@example.test")

    send_pass(app)
    assert statuses() == [SENDING, SENT]  # the lost one waits for a look in Sent; the other went
    assert copies(tether_sandbox, people) == {p: 1 for p in people}  # both arrived

    set_now(MONDAY_10 + timedelta(seconds=30))
    send_pass(app)  # the reconciler: no copy in Sent (Tether's own is filed only after a 250)
    assert statuses() == [SENT, UNKNOWN]
    (unknown,) = OutboxEmail.select().where(OutboxEmail.status == UNKNOWN)
    assert "Send again" in log_of(sequence, "email_unknown")[0]
    page = client.get(f"/sequences/{sequence.id}/log").get_data(as_text=True)
    assert "Send again" in page and unknown.to_email in page

    for later in (timedelta(minutes=5), timedelta(hours=2), timedelta(days=3)):
        set_now(MONDAY_10 + later)
        tether_sandbox.control.advance_clock(later.total_seconds())
        send_pass(app)
        assert OutboxEmail.get_by_id(unknown.id).status == UNKNOWN  # never resent by itself
    assert copies(tether_sandbox, people) == {p: 1 for p in people}


def test_an_oauth_answer_lost_after_the_final_dot_is_found_in_sent_and_not_resent(
        app, accounts, tether_sandbox):
    accounts.sign_up()
    owner = User.get()
    set_now(MONDAY_10)
    box = sandbox_mailbox(tether_sandbox, "google")
    (ada,) = recipients(tether_sandbox, "ada@client.test")
    sequence = running(owner, box, contacts=[ada], steps=[("Hello", "One", 0)])
    tether_sandbox.control.drop_after_final_dot("alex@acme.test")

    send_pass(app)
    assert statuses() == [SENDING]
    set_now(MONDAY_10 + timedelta(seconds=30))
    send_pass(app)  # the reconciler finds the copy the provider filed
    assert statuses() == [SENT]
    assert "found in the Sent folder" in log_of(sequence, "email_sent")[0]

    set_now(MONDAY_10 + timedelta(days=1))
    send_pass(app)
    assert len(mail_of(tether_sandbox, ada)) == 1
    assert len(sent_folder_of(tether_sandbox, "alex@acme.test")) == 1


@pytest.mark.parametrize("kind", ["google", "microsoft"])  # Microsoft also rotates the refresh token
def test_a_sign_in_refused_at_message_7_of_20_costs_one_refresh_and_resends_nothing(
        app, accounts, tether_sandbox, kind):
    accounts.sign_up()
    owner = User.get()
    set_now(MONDAY_10)
    box = sandbox_mailbox(tether_sandbox, kind)
    people = recipients(tether_sandbox, "ada@client.test", "bob@client.test",
                        "cy@client.test", "di@client.test")
    contacts = [f"{p.split('@')[0]}+{n}@client.test" for p in people for n in range(5)]
    running(owner, box, contacts=contacts, steps=[("Hello", "One", 0)])
    control = tether_sandbox.control
    control.refuse_xoauth2("alex@acme.test", at_message=7)
    refreshed_before = control.refresh_count("alex@acme.test")

    send_pass(app)  # one batch: the session ends at the 7th MAIL FROM

    assert control.faults() == []  # the refusal happened
    assert control.refresh_count("alex@acme.test") == refreshed_before + 1
    assert statuses() == [SENT] * 20
    delivered = sorted(str(m["To"].addresses[0].addr_spec)
                       for p in people for m in mail_of(tether_sandbox, p))
    assert delivered == sorted(contacts)  # each of the 20 exactly once: 1–6 were not resent
    assert Mailbox.get_by_id(box.id).status == CONNECTED
    if kind == "google":  # the provider filed exactly what was sent, once each
        sent_ids = [m["Message-ID"] for m in sent_folder_of(tether_sandbox, "alex@acme.test")]
        assert sorted(sent_ids) == sorted(r.message_id for r in OutboxEmail.select())
