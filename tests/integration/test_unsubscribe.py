"""Unsubscribing for real: the outreach email that lands in the recipient's Dovecot INBOX
carries List-Unsubscribe (https link and mailto) and List-Unsubscribe-Post; a one-click POST to
its link, as Gmail sends it, stops the contact in every sequence of that team and keeps them
out of later ones; an email to its mailto, read by the reply reader, does the same."""

import re
import smtplib
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import pytest

from models.accounts import User
from models.contacts import Contact
from models.sender import Sender
from models.sequences import Enrollment, SequenceLog, enroll
from models.suppressions import Suppression
from tests import factories
from tests.integration.conftest import sandbox_mailbox
from tests.integration.test_sending import (
    INBOX_PASSWORD,
    MONDAY,
    mail_of,
    recipients,
    running,
    set_now,
    wait_for,
)
from tests.support import Accounts

pytestmark = pytest.mark.sandbox

STEPS = [("Quick question, {{first_name}}",
          "Hi {{first_name}},\n\nOne.\n\nNot for you? {{unsubscribe_url}}", 0),
         ("", "Bumping this up.", 24)]
ADA, BOB = "ada@client.test", "bob@client.test"


def _statuses(address, team_id):
    return sorted(e.status for e in Enrollment.select().join(Contact)
                  .where((Contact.email == address) & (Contact.team == team_id)))


def _setup(accounts, sandbox, checker):
    """Team Acme writes to Ada and Bob from two sequences; team Beta writes to Ada too."""
    accounts.sign_up()
    owner = User.get()
    set_now(MONDAY.replace(hour=10))
    box = sandbox_mailbox(sandbox, "google")
    people = recipients(sandbox, ADA, BOB)
    running(owner, box, contacts=people, steps=STEPS, name="Outreach")
    running(owner, box, contacts=[ADA], steps=STEPS, name="Webinar")
    Sender(checker.catalog).run(box.id)
    wait_for(lambda: len(mail_of(sandbox, ADA)) == 2 and len(mail_of(sandbox, BOB)) == 1,
             "the first emails")
    checker.check(box.id, force=True)  # the first fetch marks where reading starts
    Accounts(accounts.client.application.test_client()).sign_up(email="owner@beta.test",
                                                                 team_name="Beta")
    beta = User.get(User.email == "owner@beta.test")
    running(beta, factories.mailbox(owner_email="owner@beta.test", email="sam@beta.test"),
            contacts=[ADA], steps=STEPS, name="Beta outreach")
    return owner, beta, box


def test_a_one_click_post_to_the_received_emails_link_stops_the_contact_in_the_whole_team(
        accounts, app, tether_sandbox, checker):
    owner, beta, box = _setup(accounts, tether_sandbox, checker)
    received = mail_of(tether_sandbox, ADA)[0]
    header = str(received["List-Unsubscribe"])
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(r"<https?://[^>]+/u/[\w.-]+>, <mailto:alex@acme\.test\?subject=[^>]+>",
                        header), header
    link = re.search(r"<(https?://[^>]+)>", header).group(1)
    assert f"Not for you? {link}" in received.get_content()  # {{unsubscribe_url}}: the same

    # What Gmail sends (RFC 8058): a POST with this body, no cookie, no CSRF token.
    gmail = app.test_client()
    answer = gmail.post(urlsplit(link).path, data={"List-Unsubscribe": "One-Click"},
                        content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 200
    assert _statuses(ADA, owner.team_id) == ["unsubscribed", "unsubscribed"]
    assert _statuses(BOB, owner.team_id) == ["active"]
    assert _statuses(ADA, beta.team_id) == ["active"]  # another team's Ada: untouched
    replay = gmail.post(urlsplit(link).path, data={"List-Unsubscribe": "One-Click"},
                        content_type="multipart/form-data")
    assert replay.status_code == 200
    assert SequenceLog.select().where(SequenceLog.kind == "unsubscribed").count() == 2

    # Tomorrow email 2 is due: Bob gets it, Ada gets nothing more.
    set_now(MONDAY.replace(hour=10) + timedelta(days=1, minutes=1))
    checker.check(box.id, force=True)
    Sender(checker.catalog).run(box.id)
    wait_for(lambda: len(mail_of(tether_sandbox, BOB)) == 2, "Bob's email 2")
    assert len(mail_of(tether_sandbox, ADA)) == 2

    # A later sequence skips her.
    later = running(owner, box, contacts=[], steps=STEPS, name="Later")
    assert enroll(later, Contact.select().where(Contact.team == owner.team_id), owner) == (1, 0, 1)
    assert [e.contact.email for e in Enrollment.select().where(Enrollment.sequence == later)] \
        == [BOB]


def test_an_email_to_the_mailto_unsubscribes_the_same_way(accounts, tether_sandbox, checker):
    owner, beta, box = _setup(accounts, tether_sandbox, checker)
    received = mail_of(tether_sandbox, ADA)[0]
    mailto = re.search(r"<mailto:([^?>]+)\?subject=([^>]+)>",
                       str(received["List-Unsubscribe"]))
    # What a mail app's "Unsubscribe" does with a mailto: a new email, not a reply.
    message = EmailMessage()
    message["From"], message["To"] = ADA, mailto.group(1)
    message["Subject"] = unquote(mailto.group(2))
    message.set_content("This message will unsubscribe you from the sender's list.")
    with smtplib.SMTP(tether_sandbox.smtp_host, tether_sandbox.smtp_port, timeout=10) as smtp:
        smtp.login(ADA, INBOX_PASSWORD)
        smtp.send_message(message)
    wait_for(lambda: checker.check(box.id, force=True) or
             _statuses(ADA, owner.team_id) == ["unsubscribed", "unsubscribed"],
             "the mailto unsubscribe", deadline=15)
    assert Suppression.get().reason == "mailto"
    lines = [e.message for e in SequenceLog.select().where(SequenceLog.kind == "unsubscribed")]
    assert lines == [f"Unsubscribed: {ADA} unsubscribed by email — no further steps "
                     "for this contact"] * 2  # each of the team's sequences she was in
    assert _statuses(BOB, owner.team_id) == ["active"]
    assert _statuses(ADA, beta.team_id) == ["active"]  # another team's Ada: untouched

    # A later sequence skips her, as after a one-click POST.
    later = running(owner, box, contacts=[], steps=STEPS, name="Later")
    assert enroll(later, Contact.select().where(Contact.team == owner.team_id), owner) == (1, 0, 1)
    assert [e.contact.email for e in Enrollment.select().where(Enrollment.sequence == later)] \
        == [BOB]
