"""Sending one email over an SMTP connection that is reused across a batch, and the Sent
folder over IMAP: our own copy appended after a send, and a Message-ID looked up after a crash.

Plain Python: no Flask, no Peewee. Connection-level failures (the login, a dropped connection
before the message was complete, 421) come out as mail.failures.MailError, classified there.
What happens to *one message* is told by SMTP reply codes (RFC 5321) and enhanced status
codes (RFC 3463), never by the reply's text:

- Refused: a permanent no for this message — the recipient (5xx at RCPT), its size (552,
  x.3.4, or larger than the SIZE the server announced) or its content (other 5xx);
- Deferred: a temporary no (4xx) — the same message may be tried again later;
- OutcomeUnknown: the whole message and its final "." went out, and the connection died
  before the server answered. It may have been accepted: never resend it blindly.
"""

import re
import secrets
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import quoprimime
from email.utils import format_datetime

from imapclient.exceptions import IMAPClientError
from imapclient.imapclient import SEEN, SENT

from mail import headers
from mail.failures import MailError, from_imap_error, from_network_error, from_smtp_error
from mail.headers import LINE

SENT_NAMES = ("Sent", "Sent Items", "Sent Messages", "[Gmail]/Sent Mail", "INBOX.Sent")
_ENHANCED = re.compile(rb"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
_LINE_BREAK = re.compile(r"[\r\n\x00]")


class HeaderInjection(ValueError):
    """A header value holds a line break: refused, never folded into a new header."""


class Refused(Exception):
    """A permanent refusal of this one message."""

    def __init__(self, code: int, reply: bytes | str, *, recipient=False, too_big=False):
        self.code, self.recipient, self.too_big = code, recipient, too_big
        self.reply = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
        super().__init__(self.shown)

    @property
    def shown(self) -> str:
        """The code as people and logs see it: "550 5.1.1"."""
        return shown_code(self.code, self.reply)


class Deferred(Exception):
    """A temporary refusal of this one message (4xx): try it again later."""

    def __init__(self, code: int, reply: bytes | str):
        self.code = code
        self.reply = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
        super().__init__(self.shown)

    @property
    def shown(self) -> str:
        return shown_code(self.code, self.reply)


class OutcomeUnknown(Exception):
    """The message was complete on the wire and no answer came back."""


def shown_code(code: int, reply: bytes | str) -> str:
    raw = reply.encode() if isinstance(reply, str) else (reply or b"")
    match = _ENHANCED.match(raw)
    return f"{code} {match.group(0).decode().strip()}" if match else str(code)


def _enhanced(reply) -> tuple[int, int, int] | None:
    raw = reply.encode() if isinstance(reply, str) else (reply or b"")
    match = _ENHANCED.match(raw)
    return tuple(int(g) for g in match.groups()) if match else None


# --- Composing ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outgoing:
    from_address: str
    to_address: str
    subject: str
    body: str
    message_id: str
    from_name: str = ""
    to_name: str = ""
    date: datetime | None = None        # naive UTC (Tether's clock); now if None
    in_reply_to: str = ""
    references: tuple[str, ...] = field(default_factory=tuple)
    # RFC 2369's "<https://…>, <mailto:…>"; with a web link the message also says it takes
    # RFC 8058's one-click POST there. Empty: neither header (e.g. a test send).
    list_unsubscribe: str = ""
    # More (name, value) header lines, e.g. the test send's mark; checked like the others.
    extra_headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def new_message_id(address: str) -> str:
    """A Message-ID of our own, on the sending address's domain, assigned before sending so
    a send whose outcome is unknown can be looked up in the Sent folder."""
    domain = address.rpartition("@")[2] or "tether.invalid"
    return f"<{secrets.token_hex(12)}.tether@{domain}>"


def compose(out: Outgoing) -> bytes:
    """The message as it goes on the wire (CRLF line endings). Raises HeaderInjection for a
    line break in any header value and ValueError for an address that cannot be written."""
    values = {"From name": out.from_name, "From": out.from_address, "To name": out.to_name,
              "To": out.to_address, "Subject": out.subject, "Message-ID": out.message_id,
              "In-Reply-To": out.in_reply_to, "References": " ".join(out.references),
              "List-Unsubscribe": out.list_unsubscribe,
              **{name: value for name, value in out.extra_headers}}
    for name, value in values.items():
        if _LINE_BREAK.search(value or ""):
            raise HeaderInjection(f"{name} contains a line break")
    when = (out.date or datetime.now(UTC).replace(tzinfo=None)).replace(tzinfo=UTC)
    lines = [headers.address_line("From", out.from_name or "", wire_address(out.from_address)),
             headers.address_line("To", out.to_name or "", wire_address(out.to_address)),
             headers.line("Subject", out.subject),
             headers.line("Date", format_datetime(when)),
             headers.line("Message-ID", out.message_id)]
    if out.in_reply_to:
        lines.append(headers.line("In-Reply-To", out.in_reply_to))
    if out.references:
        lines.append(headers.line("References", " ".join(out.references)))
    if out.list_unsubscribe:
        lines.append(headers.line("List-Unsubscribe", out.list_unsubscribe))
        if "<https://" in out.list_unsubscribe or "<http://" in out.list_unsubscribe:
            lines.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
    lines += [headers.line(name, value) for name, value in out.extra_headers]
    # One text/plain part, written as EmailMessage.set_content writes it (a test compares the
    # bytes): 7bit when it can be, else quoted-printable; every line ending CRLF.
    body = out.body.replace("\r\n", "\n").replace("\r", "\n")
    if body.isascii() and _short_lines(body):
        # bytes.splitlines, as set_content: str's would also break at \v, \f and others
        cte, payload = "7bit", b"\n".join(body.encode("ascii").splitlines()).decode("ascii") + "\n"
    else:
        normal = b"\n".join(body.encode("utf-8").splitlines()) + b"\n"
        cte, payload = "quoted-printable", quoprimime.body_encode(normal.decode("latin-1"), LINE)
    lines += ['Content-Type: text/plain; charset="utf-8"',
              f"Content-Transfer-Encoding: {cte}", "MIME-Version: 1.0"]
    return ("\r\n".join(lines) + "\r\n\r\n" + payload.replace("\n", "\r\n")).encode("ascii")


def wire_address(address: str) -> str:
    """The address as SMTP carries it: an international domain in its ASCII (IDNA) form."""
    local, _, domain = address.rpartition("@")
    if not local.isascii():
        raise ValueError(f"the address {address} has characters before the @ that mail "
                         "servers without SMTPUTF8 cannot take")
    return f"{local}@{domain.encode('idna').decode('ascii')}"


def _short_lines(text: str) -> bool:
    return all(len(line) <= 900 for line in text.split("\n"))


# --- Sending on an open connection -------------------------------------------------------------

def deliver(smtp: smtplib.SMTP, sender: str, recipient: str, data: bytes, *,
            fresh: bool = True, oauth: bool = True) -> str:
    """Send one composed message on an authenticated connection. Returns the server's
    acceptance ("250 2.0.0 …"). Raises Refused, Deferred, OutcomeUnknown, or MailError when
    the connection itself failed before the message was complete (nothing was sent)."""
    limit = int(smtp.esmtp_features.get("size", "0") or 0) if smtp.does_esmtp else 0
    if limit and len(data) > limit:
        raise Refused(552, f"5.3.4 message of {len(data)} bytes over the server's limit of {limit}",
                      too_big=True)
    sender, recipient = wire_address(sender), wire_address(recipient)
    options = [f"SIZE={len(data)}"] if smtp.does_esmtp and smtp.has_extn("size") else []
    try:
        code, reply = smtp.mail(sender, options)
        _check(smtp, "MAIL", code, reply, fresh=fresh, oauth=oauth)
        code, reply = smtp.rcpt(recipient)
        _check(smtp, "RCPT", code, reply, fresh=fresh, oauth=oauth)
        code, reply = smtp.docmd("DATA")
        if code != 354:
            _check(smtp, "DATA", code, reply, fresh=fresh, oauth=oauth)
            raise _connection_error(smtplib.SMTPDataError(code, reply), fresh, oauth)
        smtp.send(_dot_stuffed(data))  # raises before the final "." is out: nothing was sent
    except smtplib.SMTPServerDisconnected as e:
        raise _connection_error(e, fresh, oauth) from e
    except smtplib.SMTPException as e:
        raise _connection_error(e, fresh, oauth) from e
    except (OSError, ssl.SSLError) as e:
        raise MailError(from_network_error(e, "SMTP")) from e
    try:
        code, reply = smtp.getreply()
    except (smtplib.SMTPServerDisconnected, OSError) as e:
        raise OutcomeUnknown(str(e)) from e
    if code == 250:
        return f"{code} {reply.decode(errors='replace')}"[:200]
    _check(smtp, "END", code, reply, fresh=fresh, oauth=oauth)
    raise Refused(code, reply)  # a 2xx/3xx that is not 250 after the data: not an acceptance


def _dot_stuffed(data: bytes) -> bytes:
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def _connection_error(exc, fresh, oauth) -> MailError:
    return MailError(from_smtp_error(exc, credential_fresh=fresh, oauth=oauth))


def _check(smtp, stage: str, code: int, reply: bytes, *, fresh: bool, oauth: bool) -> None:
    """Raise for a reply that is not a success at `stage` (MAIL, RCPT, DATA, END)."""
    if 200 <= code < 400:
        return
    if code in (421, 454, 530, 534, 535):
        # The session or its sign-in is gone (421 closing, 454 temporary authentication
        # failure, 530/534/535 sign-in refused): a matter for the connection, not the message.
        exc = (smtplib.SMTPResponseException(code, reply) if code == 421
               else smtplib.SMTPAuthenticationError(code, reply))
        raise _connection_error(exc, fresh, oauth)
    if stage != "END":
        _quietly_reset(smtp)  # the transaction stays open after a refused MAIL/RCPT/DATA
    enhanced = _enhanced(reply)
    if 400 <= code < 500 or (stage == "RCPT" and code == 552):
        # RFC 5321 §4.5.3.1.10: a 552 at RCPT means "too many recipients", a temporary matter.
        raise Deferred(code, reply)
    if stage == "RCPT" or (stage == "END" and enhanced is not None and enhanced[1] == 1):
        raise Refused(code, reply, recipient=True)
    too_big = code == 552 or (enhanced is not None and enhanced[1:] == (3, 4))
    raise Refused(code, reply, too_big=too_big and stage in ("MAIL", "END"))


def _quietly_reset(smtp) -> None:
    try:
        smtp.rset()
    except (smtplib.SMTPException, OSError):
        pass


def close(smtp) -> None:
    """QUIT, or just drop a connection that is already broken."""
    if smtp is None:
        return
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


# --- The Sent folder ---------------------------------------------------------------------------

def sent_folder(imap) -> str:
    """The mailbox's Sent folder: the one flagged \\Sent (RFC 6154), else a usual name."""
    try:
        found = imap.find_special_folder(SENT)
        if found:
            return found
        names = {name for _flags, _sep, name in imap.list_folders()}
    except (OSError, ssl.SSLError) as e:
        raise MailError(from_network_error(e, "IMAP")) from e
    except IMAPClientError as e:
        raise MailError(from_imap_error(e)) from e
    return next((n for n in SENT_NAMES if n in names), "Sent")


def append_sent(imap, folder: str, data: bytes, when: datetime | None = None) -> None:
    """File our copy of a sent message, read (\\Seen), as a provider that keeps Sent would."""
    try:
        imap.append(folder, data, flags=[SEEN],
                    msg_time=(when or datetime.now(UTC).replace(tzinfo=None)).replace(tzinfo=UTC))
    except (OSError, ssl.SSLError) as e:
        raise MailError(from_network_error(e, "IMAP")) from e
    except IMAPClientError as e:
        raise MailError(from_imap_error(e)) from e


def find_in_sent(imap, folder: str, message_ids: list[str]) -> set[str]:
    """Which of `message_ids` the Sent folder holds (SEARCH HEADER Message-ID …)."""
    found = set()
    try:
        imap.select_folder(folder, readonly=True)
        for message_id in message_ids:
            if imap.search(["HEADER", "Message-ID", message_id]):
                found.add(message_id)
    except (OSError, ssl.SSLError) as e:
        raise MailError(from_network_error(e, "IMAP")) from e
    except IMAPClientError as e:
        raise MailError(from_imap_error(e)) from e
    return found


def logout(imap) -> None:
    if imap is None:
        return
    try:
        imap.logout()
    except (IMAPClientError, OSError, ssl.SSLError):
        try:
            imap.shutdown()
        except Exception:  # noqa: S110 — already broken; nothing to report
            pass
