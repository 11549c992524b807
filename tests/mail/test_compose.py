"""The message as it goes on the wire (mail/send.py compose, mail/headers.py): what a reader
that does not decode encoded words sees, and that every value comes back intact."""

import email
import re
from email import policy
from email.message import EmailMessage

import pytest

from mail.send import HeaderInjection, Outgoing, compose

LINK = ("<https://tether.example.com/u/eyJoIjoiQWJDZEVmR2hJaktsTW5PcCJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ>, "
        "<mailto:alex@acme.test?subject=Unsubscribe%20eyJoIjoiQWJDZEVmR2hJaktsTW5PcCJ9.c2lnbmF0>")


def outgoing(**changes) -> Outgoing:
    values = dict(from_address="alex@acme.test", to_address="dana@example.com",
                  subject="Quick question, Dana", body="Hi Dana,\n\nA question.\n\nAlex",
                  message_id="<abc.tether@acme.test>", from_name="Alex Smith", to_name="Dana",
                  list_unsubscribe=LINK)
    values.update(changes)
    return Outgoing(**values)


def head(raw: bytes) -> str:
    return raw.split(b"\r\n\r\n", 1)[0].decode("ascii")


def long_lines(raw: bytes) -> list[str]:
    """Header lines over 78 characters that hold a space to fold at (a single long word,
    like the signed unsubscribe link, may only be as long as 998)."""
    return [line for line in head(raw).split("\r\n")
            if len(line) > 78 and " " in line.strip().split(": ", 1)[-1]]


def parsed(raw: bytes):
    return email.message_from_bytes(raw, policy=policy.default)


def test_list_unsubscribe_is_written_as_urls_not_encoded_words():
    """RFC 2369 readers (a mail app's unsubscribe button) read the header as written: a long
    signed link must stay `<https://…>`, folded at the comma's space, never `=?utf-8?q?…`."""
    raw = compose(outgoing())
    lines = head(raw)
    assert "=?" not in lines
    match = re.search(r"^List-Unsubscribe: ([^\r\n]*(?:\r\n [^\r\n]*)*)", lines, re.M)
    assert match.group(1).replace("\r\n", "") == LINK  # unfolding gives the value back
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in lines


def test_long_references_fold_between_message_ids_and_lines_stay_short():
    refs = tuple(f"<{n}{'x' * 30}.tether@acme.test>" for n in range(6))
    raw = compose(outgoing(in_reply_to=refs[-1], references=refs, subject=""))
    assert long_lines(raw) == []
    message = parsed(raw)
    assert str(message["References"]).split() == list(refs)
    assert str(message["In-Reply-To"]) == refs[-1]


def test_a_long_ascii_subject_folds_at_spaces_and_reads_back_the_same():
    subject = " ".join(f"word{n}" for n in range(30))
    raw = compose(outgoing(subject=subject))
    assert long_lines(raw) == []
    assert "=?" not in head(raw)
    assert parsed(raw)["Subject"] == subject


@pytest.mark.parametrize("subject", ["Café tomorrow?", "Tab\there", "Looks like =?utf-8?q?x?=",
                                     "ünïcödé " * 20, "two  spaces " + "word " * 20 + " end"])
def test_subjects_that_cannot_be_written_as_they_are_are_encoded_and_read_back(subject):
    raw = compose(outgoing(subject=subject))
    head(raw).encode("ascii")  # the header block stays ASCII
    assert parsed(raw)["Subject"] == subject


@pytest.mark.parametrize("name, shown", [("Alex Smith", "Alex Smith <alex@acme.test>"),
                                         ("Smith, Alex", '"Smith, Alex" <alex@acme.test>'),
                                         ("Zoë Ünal", "Zoë Ünal <alex@acme.test>"),
                                         ("", "alex@acme.test")])
def test_sender_names_are_quoted_or_encoded_as_needed(name, shown):
    message = parsed(compose(outgoing(from_name=name)))
    assert str(message["From"]) == shown
    assert message["From"].addresses[0].addr_spec == "alex@acme.test"


def test_an_international_domain_goes_out_in_its_ascii_form():
    raw = compose(outgoing(to_address="dana@bücher.example"))
    assert "To: Dana <dana@xn--bcher-kva.example>" in head(raw)


@pytest.mark.parametrize("body", ["Hi,\n\nplain\n", "a\r\nb\rc", "", "\x0bodd\x0c", "From me\n.\n"])
def test_a_7bit_body_is_exactly_what_the_email_package_writes(body):
    """The fast path for plain text writes the same bytes as EmailMessage.set_content."""
    reference = EmailMessage(policy=policy.SMTP)
    reference.set_content(body.replace("\r\n", "\n").replace("\r", "\n"), cte="7bit")
    raw = compose(outgoing(body=body))
    assert raw.split(b"\r\n\r\n", 1)[1] == reference.as_bytes().split(b"\r\n\r\n", 1)[1]
    assert parsed(raw).get_content_type() == "text/plain"
    assert parsed(raw)["Content-Transfer-Encoding"] == "7bit"


@pytest.mark.parametrize("body", ["Grüße,\n\nbis bald\n", "a" * 1000, "naïve\x0bline\r\n= sign\n",
                                  "tab\tend é \nthe end"])
def test_a_quoted_printable_body_is_exactly_what_the_email_package_writes(body):
    reference = EmailMessage(policy=policy.SMTP)
    reference.set_content(body.replace("\r\n", "\n").replace("\r", "\n"), cte="quoted-printable")
    raw = compose(outgoing(body=body))
    assert raw.split(b"\r\n\r\n", 1)[1] == reference.as_bytes().split(b"\r\n\r\n", 1)[1]
    assert parsed(raw)["Content-Transfer-Encoding"] == "quoted-printable"


def test_the_header_block_is_what_a_reader_expects():
    """Every header once, in the order the email package wrote them, all lines CRLF."""
    raw = compose(outgoing())
    names = [line.split(":", 1)[0] for line in head(raw).split("\r\n") if not line.startswith(" ")]
    assert names == ["From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe",
                     "List-Unsubscribe-Post", "Content-Type", "Content-Transfer-Encoding",
                     "MIME-Version"]
    assert b"\n" not in raw.replace(b"\r\n", b"")


def test_a_non_ascii_body_is_quoted_printable_and_reads_back():
    body = "Grüße,\n\nbis bald\n"
    message = parsed(compose(outgoing(body=body)))
    assert message["Content-Transfer-Encoding"] == "quoted-printable"
    assert message.get_content().replace("\r\n", "\n") == body


def test_a_line_break_in_a_header_is_refused_not_folded():
    with pytest.raises(HeaderInjection):
        compose(outgoing(subject="Hi\r\nBcc: everyone@example.com"))
    with pytest.raises(HeaderInjection):
        compose(outgoing(list_unsubscribe="<https://x>\nBcc: a@b"))
