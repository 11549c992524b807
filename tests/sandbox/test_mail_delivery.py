"""Sending through submission: the message reaches the recipient's INBOX, OAuth senders get a
Sent copy (as Gmail and Microsoft 365 file one), and an unknown address bounces (RFC 3464)."""

import email
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from tests.sandbox.helpers import imap, imap_oauth, smtp_oauth, wait_for

pytestmark = pytest.mark.sandbox


def message(sender, to, subject):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Message-ID"] = make_msgid(domain="tether.test")
    msg.set_content("Hello from the sandbox tests.")
    return msg


def messages(client, folder):
    """(Message-ID, parsed message) of every message in the folder."""
    client.select_folder(folder, readonly=True)
    ids = client.search()
    fetched = client.fetch(ids, ["RFC822"]) if ids else {}
    return [email.message_from_bytes(data[b"RFC822"]) for data in fetched.values()]


def message_ids(client, folder):
    return {m["Message-ID"] for m in messages(client, folder)}


@pytest.mark.parametrize("kind", ["google", "microsoft"])
def test_sent_message_reaches_inbox_and_senders_sent(sandbox, kind):
    sender = f"ada@{kind}-mail.test"
    sandbox.control.create_user(sender, "pw", kind=kind)
    sandbox.control.create_user("bob@elsewhere.test", "pw", kind="google")
    tokens = sandbox.control.issue_tokens(sender)
    msg = message(sender, "bob@elsewhere.test", "Quarterly numbers")

    with smtp_oauth(sandbox, sender, tokens["access_token"]) as smtp:
        smtp.send_message(msg)

    bob = imap_oauth(sandbox, "bob@elsewhere.test",
                     sandbox.control.issue_tokens("bob@elsewhere.test")["access_token"])
    wait_for(lambda: msg["Message-ID"] in message_ids(bob, "INBOX"))
    bob.logout()
    ada = imap_oauth(sandbox, sender, tokens["access_token"])
    wait_for(lambda: msg["Message-ID"] in message_ids(ada, "Sent"))
    ada.logout()


def test_unknown_address_bounces_to_the_sender(sandbox):
    sender = "ada@gmail-mail.test"
    sandbox.control.create_user(sender, "pw", kind="google")
    tokens = sandbox.control.issue_tokens(sender)
    msg = message(sender, "nobody@nowhere.test", "Are you there?")

    with smtp_oauth(sandbox, sender, tokens["access_token"]) as smtp:
        smtp.send_message(msg)

    ada = imap_oauth(sandbox, sender, tokens["access_token"])
    bounce = wait_for(lambda: next(iter(messages(ada, "INBOX")), None))
    ada.logout()
    assert bounce.get_content_type() == "multipart/report"
    assert bounce.get_param("report-type") == "delivery-status"
    assert bounce["In-Reply-To"] == msg["Message-ID"]
    status = next(p for p in bounce.walk() if p.get_content_type() == "message/delivery-status")
    per_recipient = status.get_payload()[1]
    assert per_recipient["Final-Recipient"] == "rfc822; nobody@nowhere.test"
    assert per_recipient["Action"] == "failed" and per_recipient["Status"].startswith("5.")


def test_password_user_gets_no_sent_copy(sandbox):
    sandbox.control.create_user("carol@isp.test", "pw", kind="other")
    sandbox.control.create_user("dan@isp.test", "pw", kind="other")
    msg = message("carol@isp.test", "dan@isp.test", "No copy")

    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as smtp:
        smtp.login("carol@isp.test", "pw")
        smtp.send_message(msg)

    dan = imap(sandbox)
    dan.login("dan@isp.test", "pw")
    wait_for(lambda: msg["Message-ID"] in message_ids(dan, "INBOX"))
    dan.logout()
    carol = imap(sandbox)
    carol.login("carol@isp.test", "pw")
    assert message_ids(carol, "Sent") == set()
    carol.logout()


def test_dead_token_cannot_send(sandbox):
    sandbox.control.create_user("ada@gmail-mail.test", "pw", kind="google")
    tokens = sandbox.control.issue_tokens("ada@gmail-mail.test")
    sandbox.control.remove_access("ada@gmail-mail.test")

    with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        smtp_oauth(sandbox, "ada@gmail-mail.test", tokens["access_token"])
    assert refused.value.smtp_code == 535
