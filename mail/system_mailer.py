"""Tether's own mailer: notification emails sent through the operator's SMTP relay, never
through a user's mailbox (which may be the very thing that is broken).

The relay is TETHER_MAIL_SMTP_HOST and its siblings; in the demo, the sandbox's system account.
With neither, notices wait (models/notices/waiting.py) and the operators are told: a warning
when a process starts, a banner on their pages.
"""

import logging
import smtplib
import ssl
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr

import config
from mail import sandbox_file
from mail.failures import from_network_error, from_smtp_error

log = logging.getLogger(__name__)
WHAT_TO_SET = ("TETHER_MAIL_SMTP_HOST (and TETHER_MAIL_SMTP_PORT, TETHER_MAIL_SMTP_SECURITY, "
               "TETHER_MAIL_SMTP_USERNAME, TETHER_MAIL_SMTP_PASSWORD, TETHER_MAIL_FROM)")


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


def relay() -> Relay:
    """The operator's SMTP relay; in the demo, the sandbox's system mailer account; else an
    unconfigured Relay (notices then wait for one)."""
    s = config.current()
    if s["MAIL_SMTP_HOST"]:
        return Relay(s["MAIL_SMTP_HOST"], s["MAIL_SMTP_PORT"], s["MAIL_SMTP_SECURITY"],
                     s["MAIL_SMTP_USERNAME"], s["MAIL_SMTP_PASSWORD"], s["MAIL_FROM"])
    try:
        box = getattr(sandbox_file.read(s.get("SANDBOX_CONFIG")), "system_smtp", None)
    except (OSError, sandbox_file.SandboxFileError):
        log.exception("the sandbox's file cannot be read: no demo mailer")
        box = None
    if box is not None:
        return Relay(box.host, box.port, box.security, box.username, box.password,
                     box.sender or s["MAIL_FROM"])
    return Relay("")


# --- what went wrong, for the operator --------------------------------------------------------

def explain(exc: BaseException, mail_relay: Relay) -> str:
    """A failed send in an operator's words: refused, TLS, sign-in or unreachable, and what to
    look at. The network and sign-in cases are mail/failures.py's classification."""
    where = f"{mail_relay.host}:{mail_relay.port}"
    if isinstance(exc, smtplib.SMTPNotSupportedError) and "STARTTLS" in str(exc).upper():
        return (f"TLS: {where} does not offer STARTTLS. Check TETHER_MAIL_SMTP_SECURITY "
                "(starttls, ssl) and TETHER_MAIL_SMTP_PORT (587 for starttls, 465 for ssl).")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        answers = "; ".join(f"{code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
                            for code, reply in exc.recipients.values())
        return f"Refused: {where} would not take the recipient ({answers})."
    if isinstance(exc, smtplib.SMTPSenderRefused | smtplib.SMTPDataError):
        reply = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        return (f"Refused: {where} would not take the message ({exc.smtp_code} {reply}). "
                "Check TETHER_MAIL_FROM: the relay may only send from its own addresses.")
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        failure = from_smtp_error(exc, oauth=False)
        return (f"Sign-in refused by {where} ({failure.code}): check TETHER_MAIL_SMTP_USERNAME "
                "and TETHER_MAIL_SMTP_PASSWORD.")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return (f"Unreachable: {where} closed the connection. If it expects TLS from the first "
                "byte (port 465), set TETHER_MAIL_SMTP_SECURITY=ssl.")
    if isinstance(exc, smtplib.SMTPException):
        failure = from_smtp_error(exc, oauth=False)
        return f"Refused by {where} ({failure.code}): {failure.cause}"
    failure = from_network_error(exc, "mail relay")
    kind = {"TLS": "TLS", "TLS certificate": "TLS", "refused": "Refused"}.get(failure.code, "Unreachable")
    return f"{kind}: {failure.cause} ({where}, TETHER_MAIL_SMTP_HOST/PORT/SECURITY)"


def send_test(address: str) -> tuple[bool, str]:
    """(sent, what to tell the operator) for a test email to `address`."""
    mail_relay = relay()
    if not mail_relay.configured:
        return False, f"No system mailer is configured: set {WHAT_TO_SET} and try again."
    where = f"{mail_relay.host}:{mail_relay.port} ({mail_relay.security})"
    try:
        message = compose(mail_relay, address.strip(), "Tether test email",
                          "This is a test from Tether's system mailer. Notices about mailboxes "
                          "that need reconnecting will arrive the same way.\n")
        send(mail_relay, message)
    except ValueError as e:
        return False, f"Not sent: {e}."
    except (smtplib.SMTPException, OSError) as e:
        return False, f"Not sent. {explain(e, mail_relay)}"
    return True, f"Sent a test email to {address.strip()} through {where}."


# --- telling the operators while there is none ------------------------------------------------

_warned = threading.Event()


def warn_if_missing(settings: dict) -> bool:
    """Log a WARNING, once per process, when no system mailer is configured. The demo is
    spared: outside production the sandbox is the mailer, and `make run` starts it beside
    Tether, so its file may appear a moment after this process starts."""
    if settings["MAIL_SMTP_HOST"] or _warned.is_set():
        return False
    if settings["ENV"] != "production" and settings.get("SANDBOX_CONFIG"):
        return False
    _warned.set()
    log.warning("No system mailer is configured: notice emails (reconnect requests, operator "
                "alerts) wait until one is. Set %s, restart Tether, and try it with "
                "`flask --app app mail test you@example.com`.", WHAT_TO_SET)
    return True
