"""Tether's own mailer: notification emails sent through the operator's SMTP relay, never
through a user's mailbox (which may be the very thing that is broken)."""

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr


@dataclass(frozen=True)
class Relay:
    host: str
    port: int = 587
    security: str = "starttls"    # starttls | ssl | none (loopback sandbox only)
    username: str = ""
    password: str = field(default="", repr=False)
    sender: str = "Tether <tether@localhost>"

    @property
    def configured(self) -> bool:
        return bool(self.host)


def _no_header_injection(*values: str) -> None:
    for value in values:
        if "\r" in value or "\n" in value:
            raise ValueError("line breaks are not allowed in email headers")


def compose(relay: Relay, to: str, subject: str, text: str, html: str | None = None) -> EmailMessage:
    _no_header_injection(to, subject)
    message = EmailMessage()
    name, address = parseaddr(relay.sender)
    message["From"] = formataddr((name, address))
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=address.rpartition("@")[2] or "tether.local")
    message["Auto-Submitted"] = "auto-generated"  # so auto-replies do not answer it
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def send(relay: Relay, message: EmailMessage, tls: ssl.SSLContext | None = None) -> None:
    """Deliver through the relay; raises smtplib/OSError errors for the caller to retry."""
    tls = tls or ssl.create_default_context()
    if relay.security == "ssl":
        smtp = smtplib.SMTP_SSL(relay.host, relay.port, timeout=20, context=tls)
    else:
        smtp = smtplib.SMTP(relay.host, relay.port, timeout=20)
    with smtp:
        smtp.ehlo()
        if relay.security == "starttls":
            smtp.starttls(context=tls)
            smtp.ehlo()
        if relay.username:
            smtp.login(relay.username, relay.password)
        smtp.send_message(message)
