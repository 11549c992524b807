"""Reading new mail: replies, bounces and auto-replies recognised; odd messages survive."""

from mail.inbox import parse

DSN = b"""From: MAILER-DAEMON@sandbox.test
To: alex@acme.test
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn-1@sandbox.test>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

This is the mail system. Your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; sandbox.test

Final-Recipient: rfc822; nobody@nowhere.test
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <nobody@nowhere.test>: Recipient address rejected

--B
Content-Type: message/rfc822

From: alex@acme.test
To: nobody@nowhere.test
Message-ID: <step-1@tether.test>
Subject: Quick question

Hi
--B--
"""


def test_a_reply_names_the_message_it_answers():
    item = parse(7, b"From: Jordan <Jordan@Globex.test>\r\nSubject: Re: Quick question\r\n"
                    b"Message-ID: <r1@globex.test>\r\nIn-Reply-To: <step-1@tether.test>\r\n"
                    b"References: <step-0@tether.test> <step-1@tether.test>\r\n\r\n"
                    b"Sounds good, call me.\r\n\r\n> Hi Jordan,\r\n> quoted text\r\n")
    assert item.from_address == "jordan@globex.test"
    assert "<step-1@tether.test>" in item.in_reply_to and "<step-0@tether.test>" in item.in_reply_to
    assert item.snippet == "Sounds good, call me." and not item.auto_reply and not item.is_bounce


def test_a_delivery_status_notification_is_a_bounce_with_its_reason():
    item = parse(8, DSN)
    assert item.bounced == ["nobody@nowhere.test"]
    assert "550 5.1.1" in item.bounce_reason


def test_out_of_office_replies_are_auto_replies():
    for header in (b"Auto-Submitted: auto-replied", b"X-Autoreply: yes", b"Precedence: auto_reply"):
        item = parse(9, b"From: riley@initech.test\r\nSubject: Out of office\r\n" + header
                     + b"\r\nIn-Reply-To: <step-1@tether.test>\r\n\r\nI am away.\r\n")
        assert item.auto_reply, header
    assert not parse(10, b"From: a@b.test\r\nAuto-Submitted: no\r\n\r\nhi\r\n").auto_reply


def test_malformed_and_strangely_encoded_messages_do_not_stop_the_fetch():
    odd = parse(11, b"From: =?x-unknown?q?J=F6rg?= <jorg@x.test>\r\nContent-Type: text/plain; "
                    b"charset=x-martian\r\nContent-Transfer-Encoding: base64\r\n\r\n%%%not base64")
    assert odd.from_address == "jorg@x.test"
    assert parse(12, b"\x00\xff garbage without headers").uid == 12
    html = parse(13, b"From: a@b.test\r\nContent-Type: text/html\r\n\r\n<p>Yes, <b>please</b></p>")
    assert html.snippet == "Yes, please"
