"""What one email's fate depends on, against a real SMTP server told how to answer.

The sandbox's Dovecot relays everything it is given and bounces later, like a real provider;
these answers (a recipient refused at RCPT, a 4xx, a size limit, a dropped connection after the
final ".", a sign-in refused mid-batch) come from an aiosmtpd server scripted per recipient.
The mailbox is an Other Provider one whose IMAP is the sandbox's, so its Sent folder is real.
"""

import os
import socket
from datetime import datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

import clock
from mail.providers import Catalog
from models import outbox
from models.accounts import User
from models.contacts import Contact
from models.mailboxes import Mailbox
from models.outbox import BOUNCED, FAILED, QUEUED, SENDING, SENT, UNKNOWN, OutboxEmail
from models.sender import Sender
from models.sequences import Enrollment, SequenceLog, create_sequence, enroll, save_step
from tests import factories
from tests.integration.test_sending import password_user

pytestmark = pytest.mark.sandbox
MONDAY_10 = datetime(2031, 3, 3, 10, 0)


def set_now(moment: datetime) -> None:
    clock.set_offset(os.environ["TETHER_CLOCK_FILE"],
                     (moment - clock.now()).total_seconds() + clock._offset())


class Scripted:
    """aiosmtpd handler: the recipient's local part says how the server answers."""

    def __init__(self):
        self.received: list[bytes] = []
        self.logins = 0
        self.refuse_logins_after = None   # refuse every sign-in after this many
        self.close_after = None           # answer 421 to MAIL after this many messages
        self.on_data = None               # a callback run at each accepted message

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins += 1
        ok = self.refuse_logins_after is None or self.logins <= self.refuse_logins_after
        return AuthResult(success=ok, handled=False)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.close_after is not None and len(self.received) >= self.close_after:
            return "421 4.4.2 Closing the connection"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        if local.startswith("nobody"):
            return "550 5.1.1 No such user here"
        if local.startswith("later"):
            return "451 4.3.0 Please try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(r.startswith("drop") for r in envelope.rcpt_tos):
            server.transport.close()  # the message arrived; the answer never leaves
            return "250 2.0.0 OK"
        if any(r.startswith("spam") for r in envelope.rcpt_tos):
            return "554 5.7.1 Message refused as spam"
        self.received.append(envelope.content)
        if self.on_data:
            self.on_data()
        return "250 2.0.0 OK queued"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    def start(**limits):
        handler = Scripted()
        controller = Controller(handler, hostname="127.0.0.1", port=_free_port(),
                                auth_require_tls=False, authenticator=handler.authenticate,
                                **limits)
        controller.start()
        started.append(controller)
        handler.port = controller.port
        return handler

    started = []
    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def setup(app, accounts, tether_sandbox, smtp_server):
    """A running one-step sequence from an Other Provider mailbox on the scripted server."""
    def make(contacts, body="Hello {{first_name|there}}", **limits):
        server = smtp_server(**limits)
        accounts.sign_up()
        set_now(MONDAY_10)
        owner = User.get()
        password_user(tether_sandbox, "pat@example.test", "mailbox-pw-1")
        box = factories.mailbox(email="pat@example.test", provider="other", username="pat@example.test",
                                password="mailbox-pw-1", access_token=None, refresh_token=None,
                                imap_host=tether_sandbox.imap_host,
                                imap_port=tether_sandbox.imap_port, imap_security="none",
                                smtp_host="127.0.0.1", smtp_port=server.port, smtp_security="none")
        sequence = create_sequence(owner.team_id, owner, name="Outreach", mailbox=box,
                                   window_days="0,1,2,3,4,5,6", window_start=0, window_end=1440)
        save_step(sequence, owner, subject="Hello", body=body)
        for address in contacts:
            Contact.create(team=owner.team_id, email=address)
        enroll(sequence, Contact.select(), owner)
        sequence.resume(owner)
        return server, box, sequence

    return make


def sender(app):
    return Sender(Catalog(app.config))


def status_of(address):
    return OutboxEmail.select().join(Contact, on=(OutboxEmail.contact == Contact.id)).where(
        Contact.email == address).get().status


def logged(kind):
    return [e.message for e in SequenceLog.select().where(SequenceLog.kind == kind)]


def test_a_refused_recipient_bounces_the_contact_and_the_others_still_go(app, setup):
    server, box, _ = setup(["ada@client.test", "nobody@client.test", "bob@client.test"])
    sender(app).run(box.id)
    assert [status_of(a) for a in ("ada@client.test", "nobody@client.test", "bob@client.test")] \
        == [SENT, BOUNCED, SENT]
    assert len(server.received) == 2
    bounced = Enrollment.select().join(Contact).where(Contact.email == "nobody@client.test").get()
    assert bounced.status == "bounced"
    (words,) = logged("email_bounced")
    assert "refused by the mail server" in words and "(550 5.1.1)" in words


def test_a_temporary_refusal_waits_and_is_tried_again_later(app, setup):
    server, box, _ = setup(["later@client.test", "ada@client.test"])
    result = sender(app).run(box.id)
    row = OutboxEmail.get(OutboxEmail.to_email == "later@client.test")
    assert row.status == QUEUED and row.attempts == 1 and row.reply == "451 4.3.0"
    assert row.due_at > clock.now() + timedelta(seconds=50)
    assert result.next_at == row.due_at  # the mailbox wakes up for the retry
    assert status_of("ada@client.test") == SENT
    assert "deferred by the mail server (451 4.3.0)" in logged("email_deferred")[0]
    set_now(row.due_at + timedelta(seconds=1))
    sender(app).run(box.id)
    row = OutboxEmail.get_by_id(row.id)
    assert row.status == QUEUED and row.attempts == 2 and row.due_at > clock.now() + timedelta(minutes=4)


def test_a_message_over_the_servers_size_limit_is_not_sent_and_says_why(app, setup):
    server, box, _ = setup(["ada@client.test"], body="x" * 3000, data_size_limit=2000)
    sender(app).run(box.id)
    assert status_of("ada@client.test") == FAILED and server.received == []
    assert "larger than the mail server accepts" in logged("email_failed")[0]


def test_a_message_refused_for_its_content_is_not_sent_and_can_be_sent_again(app, setup, accounts):
    server, box, _ = setup(["spam@client.test"])
    sender(app).run(box.id)
    row = OutboxEmail.get()
    assert row.status == FAILED and "refused it (554 5.7.1)" in logged("email_failed")[0]
    assert outbox.send_again(row, User.get()) is None
    assert OutboxEmail.get_by_id(row.id).status == QUEUED


def test_a_connection_dropped_after_the_final_dot_is_never_resent_blindly(app, setup):
    server, box, _ = setup(["drop@client.test", "ada@client.test"])
    result = sender(app).run(box.id)
    assert status_of("drop@client.test") == SENDING  # held for the Sent folder
    assert status_of("ada@client.test") == SENT      # a new connection for the next one
    assert result.next_at <= clock.now() + outbox.UNKNOWN_SETTLE
    set_now(MONDAY_10 + timedelta(seconds=30))
    sender(app).run(box.id)
    # Other Provider: the server files nothing in Sent, and the answer never came.
    assert status_of("drop@client.test") == UNKNOWN
    sender(app).run(box.id)
    assert status_of("drop@client.test") == UNKNOWN  # never resent by itself
    (line,) = logged("email_unknown")
    assert "Send again" in line and "may already have it" in line
    assert "the whole email was sent, then the connection to the mail server ended" in line


def test_a_sign_in_refused_mid_batch_keeps_the_rest_queued_and_asks_for_a_check(app, setup):
    contacts = [f"c{n}@client.test" for n in range(5)]
    server, box, _ = setup(contacts)
    server.close_after, server.refuse_logins_after = 2, 1
    result = sender(app).run(box.id)
    assert result.check  # one immediate health check
    assert sorted(r.status for r in OutboxEmail.select()) == [QUEUED] * 3 + [SENT] * 2
    assert len(server.received) == 2
    server.close_after = server.refuse_logins_after = None
    set_now(clock.now() + timedelta(minutes=2))
    sender(app).run(box.id)
    assert [r.status for r in OutboxEmail.select()] == [SENT] * 5
    assert len(server.received) == 5  # the first two were not sent again


def test_a_mailbox_deleted_mid_batch_stops_and_its_emails_wait(app, setup):
    server, box, sequence = setup([f"c{n}@client.test" for n in range(4)])
    server.on_data = lambda: (Mailbox.update(deleted_at=clock.now())
                              .where(Mailbox.id == box.id).execute())
    sender(app).run(box.id)
    assert len(server.received) == 1
    assert sorted(r.status for r in OutboxEmail.select()) == [QUEUED] * 3 + [SENT]
    assert outbox.waiting_counts(box.id) == {sequence.id: 3}


def test_an_unknown_outcome_stays_unknown_when_the_batch_then_stops(app, setup):
    server, box, _ = setup(["drop@client.test", "ada@client.test"])
    server.refuse_logins_after = 1  # the connection after the drop is refused
    result = sender(app).run(box.id)
    assert result.check
    assert status_of("drop@client.test") == SENDING  # for the reconciler, not the queue
    assert status_of("ada@client.test") == QUEUED
    assert server.received == []
