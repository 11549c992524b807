"""The sandbox's SMTP faults, seen by a plain smtplib client: an answer lost after the final "."
(the message still arrives), and an XOAUTH2 session ended at the Nth message with its token
refused from then on while the refresh token still works."""

import base64
import email
import smtplib
import socket
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
import requests
from imapclient.exceptions import LoginError

from sandbox.control import SandboxError
from tests.sandbox.helpers import (
    imap,
    imap_oauth,
    password_user,
    refresh,
    smtp_oauth,
    wait_for,
)

pytestmark = pytest.mark.sandbox


def message(sender, to, subject):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Message-ID"] = make_msgid(domain="tether.test")
    msg.set_content("Hello from the fault tests.")
    return msg


def subjects(sandbox, address, password="pw", folder="INBOX"):
    client = imap(sandbox)
    client.login(address, password)
    client.select_folder(folder, readonly=True)
    ids = client.search()
    fetched = client.fetch(ids, ["RFC822"]) if ids else {}
    client.logout()
    return sorted(email.message_from_bytes(f[b"RFC822"])["Subject"] for f in fetched.values())


def password_smtp(sandbox, address, password="pw"):
    smtp = smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10)
    smtp.login(address, password)
    return smtp


@pytest.fixture
def people(sandbox):
    """carol sends with a password (Other Provider); dan receives."""
    return password_user(sandbox, "carol@isp.test"), password_user(sandbox, "dan@isp.test")


# ---- drop after the final dot ------------------------------------------------------------------

def test_a_dropped_answer_still_delivers_and_the_next_message_is_answered(sandbox, people):
    carol, dan = people
    sandbox.control.drop_after_final_dot(carol)

    smtp = password_smtp(sandbox, carol)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        smtp.send_message(message(carol, dan, "Lost answer"))
    smtp.close()
    wait_for(lambda: subjects(sandbox, dan) == ["Lost answer"])
    assert sandbox.control.faults() == []  # one message by default: used up

    with password_smtp(sandbox, carol) as smtp:
        assert smtp.send_message(message(carol, dan, "Answered")) == {}
    wait_for(lambda: subjects(sandbox, dan) == ["Answered", "Lost answer"])


def test_the_drop_lasts_for_the_number_of_messages_asked(sandbox, people):
    carol, dan = people
    sandbox.control.drop_after_final_dot(carol, count=2)
    assert sandbox.control.faults() == [
        {"endpoint": "smtp", "mode": "drop_after_dot", "user": carol, "count": 2}]

    for n, left in ((1, [1]), (2, [])):
        smtp = password_smtp(sandbox, carol)
        with pytest.raises(smtplib.SMTPServerDisconnected):
            smtp.send_message(message(carol, dan, f"Lost {n}"))
        smtp.close()
        assert [f["count"] for f in sandbox.control.faults()] == left
    with password_smtp(sandbox, carol) as smtp:
        smtp.send_message(message(carol, dan, "Answered"))
    wait_for(lambda: subjects(sandbox, dan) == ["Answered", "Lost 1", "Lost 2"])


def test_only_the_faulty_users_answers_are_lost(sandbox, people):
    carol, dan = people
    sandbox.control.drop_after_final_dot(dan)
    with password_smtp(sandbox, carol) as smtp:
        assert smtp.send_message(message(carol, dan, "Carol's")) == {}
    assert sandbox.control.faults()[0]["count"] == 1


def test_an_oauth_senders_dropped_message_is_filed_in_sent(sandbox):
    sandbox.control.create_user("ada@gmail-mail.test", "pw", kind="google")
    password_user(sandbox, "bob@elsewhere.test")
    token = sandbox.control.issue_tokens("ada@gmail-mail.test")["access_token"]
    sandbox.control.drop_after_final_dot("ada@gmail-mail.test")
    msg = message("ada@gmail-mail.test", "bob@elsewhere.test", "Filed anyway")

    smtp = smtp_oauth(sandbox, "ada@gmail-mail.test", token)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        smtp.send_message(msg)
    smtp.close()

    ada = imap_oauth(sandbox, "ada@gmail-mail.test", token)
    ada.select_folder("Sent", readonly=True)
    wait_for(lambda: ada.search(["HEADER", "Message-ID", msg["Message-ID"]]))
    ada.logout()
    assert subjects(sandbox, "bob@elsewhere.test") == ["Filed anyway"]


def test_a_pipelined_chunked_message_loses_its_answer_too(sandbox, people):
    """CHUNKING and PIPELINING, which Dovecot offers: BDAT … LAST is the message's end."""
    carol, dan = people
    sandbox.control.drop_after_final_dot(carol)
    body = b"Subject: Chunked\r\nFrom: carol@isp.test\r\nTo: dan@isp.test\r\n\r\nIn two chunks.\r\n"
    first, second = body[:30], body[30:]
    plain = base64.b64encode(b"\0carol@isp.test\0pw")

    with socket.create_connection((sandbox.smtp_host, sandbox.smtp_port), timeout=10) as conn:
        replies = conn.makefile("rb")
        assert replies.readline().startswith(b"220 ")
        conn.sendall(b"EHLO client.test\r\n")
        while not replies.readline().startswith(b"250 "):
            pass
        conn.sendall(b"AUTH PLAIN " + plain + b"\r\n")
        assert replies.readline().startswith(b"235 ")
        conn.sendall(b"MAIL FROM:<carol@isp.test>\r\nRCPT TO:<dan@isp.test>\r\n"
                     + b"BDAT %d\r\n" % len(first) + first
                     + b"BDAT %d LAST\r\n" % len(second) + second)
        answers = [replies.readline() for _ in range(4)]
    assert [a[:3] for a in answers[:3]] == [b"250"] * 3
    assert answers[3] == b""  # the connection closed instead of the last 250
    wait_for(lambda: subjects(sandbox, dan) == ["Chunked"])


# ---- XOAUTH2 refused from the Nth message -------------------------------------------------------

def test_a_refused_xoauth2_session_ends_at_the_nth_message_and_a_refresh_signs_in_again(sandbox):
    ada, bob = "ada@gmail-mail.test", "bob@elsewhere.test"
    sandbox.control.create_user(ada, "pw", kind="google")
    password_user(sandbox, bob)
    tokens = sandbox.control.issue_tokens(ada)
    smtp = smtp_oauth(sandbox, ada, tokens["access_token"])
    smtp.send_message(message(ada, bob, "Before the fault"))  # not counted

    sandbox.control.refuse_xoauth2(ada, at_message=3)
    smtp.send_message(message(ada, bob, "One"))
    smtp.send_message(message(ada, bob, "Two"))
    assert sandbox.control.faults()[0]["submitted"] == 2
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        smtp.send_message(message(ada, bob, "Three"))
    assert refused.value.smtp_code == 421 and refused.value.smtp_error.startswith(b"4.7.0")
    with pytest.raises(smtplib.SMTPServerDisconnected):
        smtp.noop()  # the session is over
    assert sandbox.control.faults() == []  # it happens once

    # The token in use is refused from now on, everywhere; the refresh token still works.
    with pytest.raises(smtplib.SMTPAuthenticationError) as signed_out:
        smtp_oauth(sandbox, ada, tokens["access_token"])
    assert signed_out.value.smtp_code == 535
    with pytest.raises(LoginError):
        imap_oauth(sandbox, ada, tokens["access_token"])
    assert sandbox.control.refresh_count(ada) == 0
    renewed = refresh(sandbox, "google", tokens["refresh_token"])
    assert renewed.status_code == 200
    assert sandbox.control.refresh_count(ada) == 1
    with smtp_oauth(sandbox, ada, renewed.json()["access_token"]) as again:
        again.send_message(message(ada, bob, "Three"))
    wait_for(lambda: subjects(sandbox, bob) == ["Before the fault", "One", "Three", "Two"])


def test_a_password_user_cannot_be_given_an_xoauth2_fault(sandbox, people):
    carol, _ = people
    with pytest.raises(SandboxError) as refused:
        sandbox.control.refuse_xoauth2(carol, at_message=2)
    assert refused.value.status == 400
    assert "does not sign in with XOAUTH2" in refused.value.body["message"]
    assert sandbox.control.faults() == []


@pytest.mark.parametrize("payload,status,words", [
    ({"mode": "drop_after_dot", "user": "nobody@isp.test"}, 404, "no user nobody@isp.test"),
    ({"mode": "drop_after_dot"}, 400, "user is required"),
    ({"mode": "drop_after_dot", "user": "carol@isp.test", "count": 0}, 400,
     "count must be a whole number of at least 1"),
    ({"mode": "drop_after_dot", "user": "carol@isp.test", "count": "two"}, 400,
     "count must be a whole number of at least 1"),
    ({"mode": "refuse_xoauth2", "user": "ada@gmail-mail.test"}, 400,
     "at_message must be a whole number of at least 1"),
    ({"mode": "lose_everything", "user": "carol@isp.test"}, 400,
     "mode must be one of drop_after_dot, refuse_xoauth2"),
])
def test_a_bad_smtp_fault_is_refused_with_a_reason_and_sets_nothing(sandbox, people, payload,
                                                                    status, words):
    sandbox.control.create_user("ada@gmail-mail.test", "pw", kind="google")
    response = requests.post(sandbox["control_url"] + "/faults",
                             json={"endpoint": "smtp", **payload}, timeout=10)
    assert response.status_code == status
    assert words in response.json()["message"]
    assert sandbox.control.faults() == []


def test_smtp_faults_are_listed_on_the_control_page_and_cleared_with_the_others(sandbox, people):
    carol, _ = people
    sandbox.control.create_user("ada@gmail-mail.test", "pw", kind="google")
    sandbox.control.drop_after_final_dot(carol, count=2)
    sandbox.control.refuse_xoauth2("ada@gmail-mail.test", at_message=7)
    sandbox.control.set_fault("unavailable", seconds=60)
    assert {f["mode"] for f in sandbox.control.faults()} == {
        "unavailable", "drop_after_dot", "refuse_xoauth2"}
    page = requests.get(sandbox["control_url"] + "/", timeout=10).text
    assert 'drop the connection after the final "." of the next 2 messages' in page
    assert "end the XOAUTH2 session with 421 at message 7" in page

    sandbox.control.clear_faults()
    assert sandbox.control.faults() == []
    sandbox.control.drop_after_final_dot(carol)
    sandbox.control.reset()
    assert sandbox.control.faults() == []


def test_the_control_page_sets_an_smtp_fault(sandbox, people):
    carol, _ = people
    response = requests.post(sandbox["control_url"] + "/faults", data={
        "_page": "1", "endpoint": "smtp", "mode": "drop_after_dot", "user": carol,
        "count": "3"}, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert sandbox.control.faults() == [
        {"endpoint": "smtp", "mode": "drop_after_dot", "user": carol, "count": 3}]


# ---- slow DATA ------------------------------------------------------------------------------

def test_a_slow_answer_comes_late_the_message_arrives_at_once_and_the_next_is_answered_promptly(
        sandbox, people):
    import time

    carol, dan = people
    sandbox.control.slow_data(carol, seconds=1.5)
    smtp = password_smtp(sandbox, carol)
    started = time.monotonic()
    smtp.send_message(message(carol, dan, "Slow answer"))
    assert time.monotonic() - started >= 1.5
    wait_for(lambda: subjects(sandbox, dan) == ["Slow answer"])
    started = time.monotonic()
    smtp.send_message(message(carol, dan, "Prompt answer"))  # the fault was for one message
    assert time.monotonic() - started < 1.5
    smtp.quit()
    assert sandbox.control.faults() == []


def test_a_slow_data_fault_needs_a_sensible_delay(sandbox, people):
    carol, _ = people
    for seconds in (0, -1, "soon", 601):
        with pytest.raises(SandboxError):
            sandbox.control.slow_data(carol, seconds=seconds)
    assert sandbox.control.faults() == []
