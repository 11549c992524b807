"""Logging in to a mailbox's IMAP and SMTP servers, by XOAUTH2 or password.

TLS is verified by default (imaplib/smtplib do not verify unless given a default context).
Every socket gets TCP_NODELAY: imaplib sends the AUTHENTICATE reply in two writes, and Nagle's
algorithm would add ~40 ms to every login.

A user-entered server (one that carries a HostPolicy) is vetted at each connection and the
socket goes to exactly the addresses vetted (mail.hosts.resolve): imaplib and smtplib would
otherwise resolve the name again. TLS still checks the certificate against the host *name*
(SNI and hostname verification use `host`, never the address).
"""

import functools
import smtplib
import socket
import ssl
from dataclasses import dataclass, field

import imapclient
from imapclient import imap4
from imapclient import tls as imap_tls
from imapclient.exceptions import IMAPClientError

from mail.failures import (
    Failure,
    Kind,
    MailError,
    from_imap_error,
    from_network_error,
    from_smtp_error,
)
from mail.hosts import HostPolicy, resolve

TIMEOUT = 15


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    security: str  # "ssl" (implicit TLS), "starttls", or "none" (loopback sandbox only)
    # Set for hosts a person typed (Other Provider): vetted against it at every connection.
    # None for the operator's provider hosts (Google, Microsoft, the sandbox), which come
    # from configuration, not from a user, and are connected to by name.
    policy: HostPolicy | None = None


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


def _addresses(server: Server, where: str):
    """The vetted addresses of a user-entered host (resolved now, once); None to connect by
    name. Raises HostRefused / MailError before anything is sent."""
    if server.policy is None:
        return None
    addresses = resolve(server.host, server.port, server.policy, where)
    if server.security == "none" and not server.policy.allow_loopback:
        # Plain text is offered only where loopback hosts are (the sandbox): never send a
        # password unencrypted because a row says so after the deployment stopped allowing it.
        raise MailError(_plaintext_refused(server, where))
    return addresses


def _plaintext_refused(server: Server, where: str) -> Failure:
    return Failure(Kind.RECONNECT, "host refused", f"Tether does not connect to {server.host} "
                   "without encryption. Choose SSL/TLS or STARTTLS.", where)


def _open(addresses, host: str, port: int, timeout) -> socket.socket:
    """A connected TCP socket: to the vetted addresses in order, or by name."""
    if addresses is None:
        sock = socket.create_connection((host, port), timeout)
    else:
        error = None
        for family, sockaddr in addresses:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(timeout)
                sock.connect(sockaddr)
                break
            except OSError as e:
                sock.close()
                error = e
        else:
            raise error or OSError(f"no address for {host}")
    _nodelay(sock)
    return sock


class _IMAP4(imap4.IMAP4WithTimeout):
    def __init__(self, host, port, timeout, addresses):
        self._addresses = addresses
        super().__init__(host, port, timeout)

    def _create_socket(self, timeout=None):
        return _open(self._addresses, self.host, self.port,
                     timeout if timeout is not None else self._timeout)


class _IMAP4TLS(imap_tls.IMAP4_TLS):
    def __init__(self, host, port, ssl_context, timeout, addresses):
        self._addresses = addresses
        super().__init__(host, port, ssl_context, timeout)

    def _create_socket(self, timeout=None):
        sock = _open(self._addresses, self.host, self.port,
                     timeout if timeout is not None else self._timeout)
        return imap_tls.wrap_socket(sock, self.ssl_context, self.host)  # checked against the name


class _IMAPClient(imapclient.IMAPClient):
    """IMAPClient whose connection goes to the vetted addresses (STARTTLS, in imaplib, also
    verifies against `host`)."""

    def __init__(self, host, addresses, **kwargs):
        self._addresses = addresses
        super().__init__(host, **kwargs)

    def _create_IMAP4(self):
        timeout = getattr(self._timeout, "connect", None)
        if self.ssl:
            return _IMAP4TLS(self.host, self.port, self.ssl_context, timeout, self._addresses)
        return _IMAP4(self.host, self.port, timeout, self._addresses)


class _SMTP(smtplib.SMTP):
    def __init__(self, addresses, *args, **kwargs):
        self._addresses = addresses
        super().__init__(*args, **kwargs)

    def _get_socket(self, host, port, timeout):
        return _open(self._addresses, host, port, timeout)


class _SMTPSSL(smtplib.SMTP_SSL, _SMTP):
    """SMTP_SSL._get_socket wraps what _SMTP._get_socket opens (next in the MRO), with
    server_hostname = the host name; STARTTLS in smtplib does the same."""

    def __init__(self, addresses, *args, **kwargs):
        self._addresses = addresses
        smtplib.SMTP_SSL.__init__(self, *args, **kwargs)


def imap_login(server: Server, login: Login, tls: ssl.SSLContext | None = None):
    """An authenticated IMAPClient, or MailError with the classified failure."""
    tls = tls or default_tls()
    addresses = _addresses(server, "IMAP")
    try:
        client = _IMAPClient(server.host, addresses, port=server.port,
                             ssl=server.security == "ssl", ssl_context=tls, timeout=TIMEOUT)
    except (OSError, ssl.SSLError) as e:
        raise MailError(from_network_error(e, "IMAP")) from e
    except IMAPClientError as e:
        raise MailError(from_imap_error(e, oauth=login.oauth)) from e
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


def imap_check(server: Server, login: Login, then=None) -> None:
    """Login, then `then(client)` (or NOOP), then LOGOUT: the IMAP half of a connection test
    and of a health check, whose `then` is the reply fetch (its STATUS is the check's command:
    one login per mailbox per cycle, because providers throttle logins)."""
    client = imap_login(server, login)
    try:
        if then is None:
            client.noop()
        else:
            then(client)
        client.logout()
    except (OSError, ssl.SSLError) as e:
        raise MailError(from_network_error(e, "IMAP")) from e
    except IMAPClientError as e:
        raise MailError(from_imap_error(e, oauth=login.oauth)) from e


def smtp_login(server: Server, login: Login, tls: ssl.SSLContext | None = None) -> smtplib.SMTP:
    """An authenticated SMTP connection, or MailError with the classified failure."""
    tls = tls or default_tls()
    addresses = _addresses(server, "SMTP")
    try:
        if server.security == "ssl":
            smtp = _SMTPSSL(addresses, server.host, server.port, timeout=TIMEOUT, context=tls)
        else:
            smtp = _SMTP(addresses, server.host, server.port, timeout=TIMEOUT)
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


def smtp_check(server: Server, login: Login) -> None:
    """EHLO + AUTH + QUIT without sending: the SMTP half of a health check."""
    smtp = smtp_login(server, login)
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
