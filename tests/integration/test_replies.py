"""Replies and bounces, read from the mailbox over IMAP by the health check's own session: a
reply stops the contact, a bounce marks it, an auto-reply changes nothing, and an outage
hides nothing."""

import smtplib
from datetime import timedelta
from email.message import EmailMessage

import pytest

import clock
from models import events
from models.accounts import User
from models.outbox import OutboxEmail
from models.replies import InboundMessage, InboxCursor
from models.sender import Sender
from models.sequences import Enrollment, SequenceLog
from tests.integration.conftest import grant_tokens, sandbox_mailbox
from tests.integration.test_sending import (
    INBOX_PASSWORD,
    MONDAY,
    mail_of,
    recipients,
    running,
    set_now,
    wait_for,
)

pytestmark = pytest.mark.sandbox

STEPS = [("Quick question, {{first_name}}", "Hi {{first_name}},\n\nOne.", 0),
         ("", "Bumping this up.", 24)]


def _answer(sandbox, sender, to, original, *, headers=True, subject=None, extra=None):
    """The contact replies from their own mailbox, through the sandbox's submission server."""
    message = EmailMessage()
    message["From"], message["To"] = sender, to
    message["Subject"] = subject or f"Re: {original['Subject']}"
    if headers:
        message["In-Reply-To"] = original["Message-ID"]
        message["References"] = original["Message-ID"]
    for name, value in (extra or {}).items():
        message[name] = value
    message.set_content("Yes — let's talk on Thursday.\n\n> " + "quoted original")
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as smtp:
        smtp.login(sender, INBOX_PASSWORD)
        smtp.send_message(message)


def _setup(accounts, sandbox, checker, *people):
    accounts.sign_up()
    owner = User.get()
    set_now(MONDAY.replace(hour=10))
    box = sandbox_mailbox(sandbox, "google")
    contacts = recipients(sandbox, *people)
    sequence = running(owner, box, contacts=contacts, steps=STEPS)
    Sender(checker.catalog).run(box.id)
    wait_for(lambda: all(len(mail_of(sandbox, p)) == 1 for p in contacts), "email 1")
    checker.check(box.id, force=True)  # the first fetch marks where reading starts
    return owner, box, sequence


def _enrollment(address):
    return next(e for e in Enrollment.select() if e.contact.email == address)


def _step_two(sandbox, checker, box):
    """Tomorrow, when email 2 falls due: one more check (fetch) and one send pass."""
    set_now(MONDAY.replace(hour=10) + timedelta(days=1, minutes=1))
    checker.check(box.id, force=True)
    Sender(checker.catalog).run(box.id)


def test_a_reply_stops_the_contact_and_a_headerless_reply_is_matched_by_address(
        accounts, tether_sandbox, checker):
    owner, box, sequence = _setup(accounts, tether_sandbox, checker, "ada@client.test", "bob@client.test")
    ada_first = mail_of(tether_sandbox, "ada@client.test")[0]
    bob_first = mail_of(tether_sandbox, "bob@client.test")[0]
    _answer(tether_sandbox, "ada@client.test", "alex@acme.test", ada_first)
    _answer(tether_sandbox, "bob@client.test", "alex@acme.test", bob_first, headers=False,
            subject="about your note")  # a client that drops In-Reply-To and References
    checker.check(box.id, force=True)
    assert _enrollment("ada@client.test").status == "replied"
    assert _enrollment("bob@client.test").status == "replied"
    log = [e.message for e in SequenceLog.select().where(SequenceLog.kind == "reply")]
    assert any("Reply from ada@client.test: “Yes — let's talk on Thursday.”" in m for m in log)
    _step_two(tether_sandbox, checker, box)
    assert len(mail_of(tether_sandbox, "ada@client.test")) == 1  # no further step
    assert len(mail_of(tether_sandbox, "bob@client.test")) == 1


def test_an_out_of_office_is_logged_and_the_sequence_goes_on(accounts, tether_sandbox, checker):
    owner, box, sequence = _setup(accounts, tether_sandbox, checker, "cy@client.test")
    first = mail_of(tether_sandbox, "cy@client.test")[0]
    _answer(tether_sandbox, "cy@client.test", "alex@acme.test", first, subject="Out of office",
            extra={"Auto-Submitted": "auto-replied"})
    checker.check(box.id, force=True)
    assert _enrollment("cy@client.test").status == "active"
    assert SequenceLog.select().where(SequenceLog.kind == "auto_reply").count() == 1
    _step_two(tether_sandbox, checker, box)
    wait_for(lambda: len(mail_of(tether_sandbox, "cy@client.test")) == 2, "email 2")


def test_a_bounce_marks_the_contact_bounced(accounts, tether_sandbox, checker):
    accounts.sign_up()
    owner = User.get()
    set_now(MONDAY.replace(hour=10))
    box = sandbox_mailbox(tether_sandbox, "google")
    checker.check(box.id, force=True)
    running(owner, box, contacts=["nobody@nowhere.test"], steps=STEPS)
    Sender(checker.catalog).run(box.id)
    wait_for(lambda: _fetch_and(checker, box, lambda: _enrollment("nobody@nowhere.test").status == "bounced"),
             "the bounce", deadline=15)
    (entry,) = [e.message for e in SequenceLog.select().where(SequenceLog.kind == "bounce")]
    assert entry.startswith("Bounced: nobody@nowhere.test cannot receive mail")


def _fetch_and(checker, box, condition):
    checker.check(box.id, force=True)
    return condition()


def test_a_renumbered_inbox_doubles_nothing(accounts, tether_sandbox, checker):
    owner, box, sequence = _setup(accounts, tether_sandbox, checker, "eve@client.test")
    _answer(tether_sandbox, "eve@client.test", "alex@acme.test", mail_of(tether_sandbox, "eve@client.test")[0])
    checker.check(box.id, force=True)
    assert InboundMessage.select().count() == 1
    InboxCursor.update(uidvalidity=InboxCursor.uidvalidity + 1).execute()  # the server renumbered
    checker.check(box.id, force=True)
    assert InboundMessage.select().count() == 1
    assert SequenceLog.select().where(SequenceLog.kind == "reply").count() == 1
    assert clock.now() is not None
def test_a_reply_during_an_outage_is_found_before_the_waiting_step_goes_out(
        accounts, tether_sandbox, checker):
    from models.connections import save_oauth

    owner, box, sequence = _setup(accounts, tether_sandbox, checker, "dee@client.test")
    tether_sandbox.control.remove_access("alex@acme.test")
    checker.check(box.id, force=True)
    events.dispatch()
    first = mail_of(tether_sandbox, "dee@client.test")[0]
    _answer(tether_sandbox, "dee@client.test", "alex@acme.test", first)  # while it is down
    set_now(MONDAY.replace(hour=10) + timedelta(days=1, minutes=1))  # email 2 is due
    grant = tether_sandbox.control.issue_tokens("alex@acme.test", client="google")
    save_oauth(owner.team, owner, checker.catalog.get("google-sandbox"), "alex@acme.test",
               grant_tokens(grant), mailbox_id=box.id)  # the reconnect
    events.dispatch()
    Sender(checker.catalog).run(box.id)  # it must read the INBOX before sending anything
    checker.check(box.id, force=True)
    Sender(checker.catalog).run(box.id)
    assert _enrollment("dee@client.test").status == "replied"
    assert len(mail_of(tether_sandbox, "dee@client.test")) == 1
    assert OutboxEmail.select().where(OutboxEmail.status == "sent").count() == 1


