"""One send pass's connections to a mailbox's servers: SMTP to send; IMAP to read the INBOX
for replies before sending, file a copy in Sent and look sent mail up. Each opens when first
needed, signed in through models/credentials.py (so a stale token is refreshed and tried once
more there, never here), and both close when the pass ends.
"""

import clock
from mail import send
from mail.connect import Login, imap_login, smtp_login
from models.credentials import Credentials
from models.mailboxes import Mailbox


class MailSession:
    """Raises MailError (classified) or credentials.Busy when a server cannot be signed in to."""

    def __init__(self, credentials: Credentials, mailbox: Mailbox):
        self.credentials, self.mailbox = credentials, mailbox
        self.smtp = self.imap = None
        self.sending_login: Login | None = None  # how the SMTP connection signed in
        self.sent_folder = ""

    def open_smtp(self):
        """A new signed-in SMTP connection, in place of the previous one."""
        self.drop_smtp()
        _, server = self.credentials.servers(self.mailbox)

        def connect(login: Login):
            self.sending_login = login
            return smtp_login(server, login)

        self.smtp = self.credentials.signed_in(self.mailbox, connect, leased=False)
        # SMTP took this mailbox's login: the next health check need not prove it again.
        Mailbox.update(smtp_proven_at=clock.now()).where(Mailbox.id == self.mailbox.id).execute()
        return self.smtp

    def mailbox_imap(self):
        """The signed-in IMAP connection (opened at first use) with its Sent folder found."""
        if self.imap is None:
            server, _ = self.credentials.servers(self.mailbox)
            self.imap = self.credentials.signed_in(
                self.mailbox, lambda login: imap_login(server, login), leased=False)
            self.sent_folder = send.sent_folder(self.imap)
        return self.imap

    def drop_smtp(self) -> None:
        """Let a connection go that is broken or in doubt; the next email opens another."""
        send.close(self.smtp)
        self.smtp = None

    def drop_imap(self) -> None:
        send.logout(self.imap)
        self.imap = None

    def close(self) -> None:
        self.drop_smtp()
        self.drop_imap()
