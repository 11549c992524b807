"""The smarthost Dovecot's submission relays to: it delivers into Dovecot over LMTP.

Every domain is local — the sandbox is the whole world. A message to a user lands in their
INBOX; one to an address nobody has comes back to the sender as a delivery status
notification (RFC 3464). For OAuth (Google/Microsoft) senders it also files a copy in Sent,
as Gmail and Microsoft 365 do; password (Other Provider) senders get none.
"""

import asyncio
import imaplib
import logging
import smtplib
import time
from email import message_from_bytes, policy
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.parser import BytesHeaderParser
from email.utils import formatdate, make_msgid

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, syntax

from sandbox import store
from sandbox.dovecot import MASTER_USER
from sandbox.store import User

log = logging.getLogger("sandbox.smarthost")
MAILER_DAEMON = "mailer-daemon@sandbox.test"


class XClientSMTP(SMTP):
    """aiosmtpd plus Postfix's XCLIENT, which Dovecot sends to a trusted relay to say who
    logged in (LOGIN=…)."""

    @syntax("XCLIENT attribute=value ...")
    async def smtp_XCLIENT(self, arg):
        attrs = dict(item.split("=", 1) for item in (arg or "").split() if "=" in item)
        login = attrs.get("LOGIN", "")
        self.session.login_user = None if login in ("", "[UNAVAILABLE]") else login.lower()
        await self.push("220 sandbox.test ESMTP")


class Delivery:
    """The aiosmtpd handler: accept everything, then deliver, copy to Sent, or bounce."""

    def __init__(self, lmtp_socket: str, imap_host: str, imap_port: int, master_password: str):
        self.lmtp_socket = lmtp_socket
        self.imap = (imap_host, imap_port)
        self.master_password = master_password

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return [*responses[:-1], "250-XCLIENT LOGIN ADDR PORT PROTO HELO SESSION TTL TIMEOUT",
                responses[-1]]

    async def handle_DATA(self, server, session, envelope):
        login = getattr(session, "login_user", None)
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, self.deliver, envelope.mail_from,
                                       list(envelope.rcpt_tos), envelope.original_content, login)
        except Exception:
            log.exception("delivery failed")
            return "451 4.3.0 Temporary delivery failure in the sandbox"
        return "250 2.0.0 OK"

    # -- the work, in a worker thread -----------------------------------------------------------

    def deliver(self, sender: str, recipients: list[str], content: bytes, login: str | None):
        content = with_standard_headers(content)
        with store.db.connection_context():
            local = {rcpt: resolve(rcpt) for rcpt in recipients}
            author = User.find(login) if login else User.find(sender)
            bounce_to = User.find(sender) or author
        for email in sorted({user.email for user in local.values() if user is not None}):
            self.lmtp(sender, email, content)
        unknown = [rcpt for rcpt, user in local.items() if user is None]
        if author is not None and author.is_oauth:
            self.file_in_sent(author.email, content)
        if unknown and sender and bounce_to is not None:
            dsn = bounce(bounce_to.email, unknown, content)
            self.lmtp("", bounce_to.email, dsn)
        log.info("from=%s login=%s delivered=%s bounced=%s", sender, login,
                 [u.email for u in local.values() if u], unknown)

    def lmtp(self, sender: str, rcpt: str, content: bytes) -> None:
        with smtplib.LMTP(self.lmtp_socket) as client:
            client.sendmail(sender, [rcpt], content)

    def file_in_sent(self, email: str, content: bytes) -> None:
        """APPEND to the sender's Sent as the master user (no user token needed)."""
        client = imaplib.IMAP4(*self.imap)
        try:
            client.login(f"{email}*{MASTER_USER}", self.master_password)
            client.append("Sent", r"(\Seen)", imaplib.Time2Internaldate(time.time()), content)
        finally:
            try:
                client.logout()
            except (imaplib.IMAP4.error, OSError):
                pass


def resolve(address: str) -> User | None:
    """The user an address reaches; ``name+tag@domain`` reaches ``name@domain``."""
    address = (address or "").strip().lower()
    user = User.find(address)
    if user is None and "+" in address.partition("@")[0]:
        local, _, domain = address.partition("@")
        user = User.find(local.split("+", 1)[0] + "@" + domain)
    return user


def with_standard_headers(content: bytes) -> bytes:
    """Add Message-ID and Date when the client left them out, as Gmail and Outlook do."""
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(content)
    extra = b""
    if headers["Message-ID"] is None:
        extra += f"Message-ID: {make_msgid(domain='sandbox.test')}\r\n".encode()
    if headers["Date"] is None:
        extra += f"Date: {formatdate(localtime=False, usegmt=True)}\r\n".encode()
    return extra + content


def bounce(to: str, failed: list[str], original: bytes) -> bytes:
    """An RFC 3464 delivery status notification: multipart/report; report-type=delivery-status."""
    original_msg = message_from_bytes(original)
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = f"Mail Delivery Subsystem <{MAILER_DAEMON}>"
    report["To"] = to
    report["Subject"] = "Delivery Status Notification (Failure)"
    report["Date"] = formatdate(localtime=False, usegmt=True)
    report["Message-ID"] = make_msgid(domain="sandbox.test")
    report["Auto-Submitted"] = "auto-replied"
    report["X-Failed-Recipients"] = ", ".join(failed)
    if original_msg["Message-ID"]:  # lets a client tie the bounce to what it sent
        report["In-Reply-To"] = original_msg["Message-ID"]
        report["References"] = original_msg["Message-ID"]
    report.attach(MIMEText(
        "Address not found\n\n"
        f"Your message wasn't delivered to {', '.join(failed)} because the address couldn't "
        "be found, or is unable to receive mail.\n"))

    per_message = Message()
    per_message["Reporting-MTA"] = "dns; sandbox.test"
    per_message["Arrival-Date"] = formatdate(localtime=False, usegmt=True)
    blocks = [per_message]
    for rcpt in failed:
        block = Message()
        block["Final-Recipient"] = f"rfc822; {rcpt}"
        block["Action"] = "failed"
        block["Status"] = "5.1.1"
        block["Diagnostic-Code"] = ("smtp; 550 5.1.1 The email account that you tried to reach "
                                    "does not exist.")
        blocks.append(block)
    status = MIMEBase("message", "delivery-status")
    status.set_payload(blocks)
    report.attach(status)
    report.attach(MIMEMessage(original_msg))
    return report.as_bytes(policy=policy.compat32.clone(linesep="\r\n"))


class Smarthost:
    def __init__(self, host: str, port: int, delivery: Delivery):
        self.controller = _Controller(delivery, hostname=host, port=port,
                                      server_hostname="sandbox.test")

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


class _Controller(Controller):
    def factory(self):
        return XClientSMTP(self.handler, hostname="sandbox.test")
