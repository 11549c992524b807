"""Reading a real mailbox (the sandbox's Dovecot): incremental fetches, real DSNs."""

import smtplib
import time
from email.message import EmailMessage

import pytest

from mail.connect import Login, Server, imap_login, smtp_login
from mail.inbox import Cursor, fetch_new

pytestmark = pytest.mark.sandbox


def _send(sandbox, sender, token, to, subject, **headers):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("Hello there.")
    smtp = smtp_login(Server(sandbox.smtp_host, sandbox.smtp_port, "none"),
                      Login(address=sender, access_token=token))
    with smtp:
        smtp.send_message(message)


def _login(sandbox, address):
    token = sandbox.control.issue_tokens(address, client="google")["access_token"]
    return token, imap_login(Server(sandbox.imap_host, sandbox.imap_port, "none"),
                             Login(address=address, access_token=token))


def _until(fn, deadline=10.0):
    give_up = time.monotonic() + deadline
    while True:
        result = fn()
        if result or time.monotonic() > give_up:
            return result
        time.sleep(0.1)


def test_fetches_are_incremental_and_a_renumbered_folder_is_read_again(sandbox):
    for user in ("alex@acme.test", "jordan@globex.test"):
        sandbox.control.create_user(user, "pw-123456", kind="google")
    alex_token, _ = _login(sandbox, "alex@acme.test")
    _, jordan = _login(sandbox, "jordan@globex.test")
    _send(sandbox, "alex@acme.test", alex_token, "jordan@globex.test", "One",
          Message_ID="<one@tether.test>")
    first, cursor = _until(lambda: (r := fetch_new(jordan, Cursor()))[0] and r)
    assert [m.subject for m in first] == ["One"] and cursor.last_uid >= 1
    _send(sandbox, "alex@acme.test", alex_token, "jordan@globex.test", "Two")
    second, cursor2 = _until(lambda: (r := fetch_new(jordan, cursor))[0] and r)
    assert [m.subject for m in second] == ["Two"]
    nothing, _ = fetch_new(jordan, cursor2)
    assert nothing == []
    # The server renumbered the folder (UIDVALIDITY changed): everything is read again.
    again, _ = fetch_new(jordan, Cursor(uidvalidity=cursor2.uidvalidity + 1, last_uid=cursor2.last_uid))
    assert [m.subject for m in again] == ["One", "Two"]
    jordan.logout()


def test_a_bounce_from_the_mail_server_names_the_failed_address(sandbox):
    sandbox.control.create_user("alex@acme.test", "pw-123456", kind="google")
    token, alex = _login(sandbox, "alex@acme.test")
    try:
        _send(sandbox, "alex@acme.test", token, "nobody@nowhere.test", "Quick question")
    except smtplib.SMTPRecipientsRefused:
        pytest.fail("the sandbox should accept and then bounce, as a real relay does")
    bounces = _until(lambda: [m for m in fetch_new(alex, Cursor())[0] if m.is_bounce])
    assert bounces and bounces[0].bounced == ["nobody@nowhere.test"]
    alex.logout()
