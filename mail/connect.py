"""Logging in to a mailbox's IMAP and SMTP servers, by XOAUTH2 or password.

TLS is verified by default (imaplib/smtplib do not verify unless given a default context).
Every socket gets TCP_NODELAY: imaplib sends the AUTHENTICATE reply in two writes, and Nagle's
algorithm would add ~40 ms to every login.
"""

import functools
import smtplib
import socket
import ssl
from dataclasses import dataclass, field

import imapclient
from imapclient.exceptions import IMAPClientError

from mail.failures import MailError, from_imap_error, from_network_error, from_smtp_error

TIMEOUT = 15


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    security: str  # "ssl" (implicit TLS), "starttls", or "none" (loopback sandbox only)


@dataclass(frozen=True)
class Login:
    address: str
    username: str = ""                               # password logins; defaults to address
    password: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    fresh: bool = True  # a token refreshed just now (a refusal then proves it dead)

    @property
    def oauth(self) -> bool:
        return self.access_token is not None


@functools.cache
def default_tls() -> ssl.SSLContext:
    """One verifying context for every connection: building one loads the CA store, which
    costs more CPU than the login itself. SSLContext is safe to share between threads."""
    return ssl.create_default_context()


def xoauth2(address: str, token: str) -> str:
    return f"user={address}\x01auth=Bearer {token}\x01\x01"


def _nodelay(sock) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass


def imap_login(server: Server, login: Login, tls: ssl.SSLContext | None = None):
    """An authenticated IMAPClient, or MailError with the classified failure."""
    tls = tls or default_tls()
    try:
        client = imapclient.IMAPClient(server.host, port=server.port, ssl=server.security == "ssl",
                                       ssl_context=tls, timeout=TIMEOUT)
    except (OSError, ssl.SSLError) as e:
        raise MailError(from_network_error(e, "IMAP")) from e
    except IMAPClientError as e:
        raise MailError(from_imap_error(e, oauth=login.oauth)) from e
    _nodelay(client._imap.sock)
    try:
        if server.security == "starttls":
            client.starttls(tls)
        if login.oauth:
            client.oauth2_login(login.address, login.access_token)
        else:
            client.login(login.username or login.address, login.password or "")
    except (OSError, ssl.SSLError) as e:
        _quietly_close(client)
        raise MailError(from_network_error(e, "IMAP")) from e
    except IMAPClientError as e:  # LoginError, IMAP4.error/abort: all derive from it
        _quietly_close(client)
        raise MailError(from_imap_error(e, credential_fresh=login.fresh, oauth=login.oauth)) from e
    return client


def _quietly_close(client) -> None:
    try:
        client.shutdown()
    except Exception:  # noqa: S110 — the connection is already broken; nothing to report
        pass


def imap_check(server: Server, login: Login, tls=None, then=None) -> None:
    """Login + NOOP + LOGOUT: the IMAP half of a health check. `then(client)` runs on the
    same session before logging out — the reply fetch shares the check's login, because
    providers throttle logins."""
    client = imap_login(server, login, tls)
    try:
        client.noop()
        if then is not None:
            then(client)
        client.logout()
    except (OSError, ssl.SSLError) as e:
        raise MailError(from_network_error(e, "IMAP")) from e
    except IMAPClientError as e:
        raise MailError(from_imap_error(e, oauth=login.oauth)) from e


def smtp_login(server: Server, login: Login, tls: ssl.SSLContext | None = None) -> smtplib.SMTP:
    """An authenticated SMTP connection, or MailError with the classified failure."""
    tls = tls or default_tls()
    try:
        if server.security == "ssl":
            smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=TIMEOUT, context=tls)
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT)
        _nodelay(smtp.sock)
        smtp.ehlo()
        if server.security == "starttls":
            smtp.starttls(context=tls)
            smtp.ehlo()
    except smtplib.SMTPException as e:  # before OSError: SMTPException is an OSError
        raise MailError(from_smtp_error(e, oauth=login.oauth)) from e
    except (OSError, ssl.SSLError) as e:
        raise MailError(from_network_error(e, "SMTP")) from e
    try:
        if login.oauth:
            text = xoauth2(login.address, login.access_token)
            # The first call sends the initial response; on failure the server sends a JSON
            # challenge and expects an empty line back, then answers 535.
            smtp.auth("XOAUTH2", lambda challenge=None: text if challenge is None else "")
        else:
            smtp.login(login.username or login.address, login.password or "")
    except smtplib.SMTPException as e:  # before OSError: SMTPException is an OSError
        smtp.close()
        raise MailError(from_smtp_error(e, credential_fresh=login.fresh, oauth=login.oauth)) from e
    except (OSError, ssl.SSLError) as e:
        raise MailError(from_network_error(e, "SMTP")) from e
    return smtp


def smtp_check(server: Server, login: Login, tls=None) -> None:
    """EHLO + AUTH + QUIT without sending: the SMTP half of a health check."""
    smtp = smtp_login(server, login, tls)
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
