"""Small clients for the sandbox tests: IMAP/SMTP logins, token requests, PKCE, ID tokens."""

import base64
import hashlib
import secrets
import smtplib
import socket
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from joserfc import jwt
from joserfc.jwk import KeySet

from tests import support

TOKEN_PATHS = {"google": "/token", "microsoft": "/common/oauth2/v2.0/token"}
REVOKE_PATHS = {"google": "/revoke", "microsoft": "/common/oauth2/v2.0/revoke"}


def imap(sandbox) -> IMAPClient:
    client = IMAPClient(sandbox.imap_host, sandbox.imap_port, ssl=False, timeout=10)
    # imaplib sends the AUTHENTICATE reply in two writes; without this each login waits ~40 ms.
    client._imap.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return client


def imap_oauth(sandbox, email: str, access_token: str) -> IMAPClient:
    """An IMAP session logged in with XOAUTH2 (raises imapclient's LoginError if refused)."""
    client = imap(sandbox)
    try:
        client.oauth2_login(email, access_token)
    except Exception:
        client.shutdown()
        raise
    return client


def password_user(sandbox, email: str, password: str = "pw") -> str:
    """A password (Other Provider) user, once Dovecot lets it in: Dovecot looks at its
    passwd-file at most once a second, so a brand-new user may have to wait a moment."""
    sandbox.control.create_user(email, password, kind="other")

    def can_log_in():
        client = imap(sandbox)
        try:
            client.login(email, password)
            client.logout()
            return True
        except LoginError:
            client.shutdown()
            return False

    wait_for(can_log_in, timeout=5)
    return email


def xoauth2_string(email: str, access_token: str) -> str:
    return f"user={email}\x01auth=Bearer {access_token}\x01\x01"


def smtp_oauth(sandbox, email: str, access_token: str) -> smtplib.SMTP:
    """A submission session logged in with XOAUTH2 (SMTPAuthenticationError if refused)."""
    client = smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10)
    try:
        client.ehlo()
        client.auth("XOAUTH2", lambda challenge=None: xoauth2_string(email, access_token),
                    initial_response_ok=True)
    except Exception:
        client.close()
        raise
    return client


def token_request(sandbox, key: str, secret: str | None = None, **form) -> requests.Response:
    client = sandbox.client(key)
    data = {"client_id": client["client_id"],
            "client_secret": secret or client["client_secret"], **form}
    return requests.post(sandbox.issuer + TOKEN_PATHS[client["flavour"]], data=data, timeout=10)


def refresh(sandbox, key: str, refresh_token: str, secret: str | None = None):
    return token_request(sandbox, key, secret, grant_type="refresh_token",
                         refresh_token=refresh_token)


def revoke(sandbox, key: str, token: str) -> requests.Response:
    client = sandbox.client(key)
    return requests.post(sandbox.issuer + REVOKE_PATHS[client["flavour"]], data={"token": token},
                         auth=(client["client_id"], client["client_secret"]), timeout=10)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def authorize_url(sandbox, key: str, challenge: str, **extra) -> str:
    client = sandbox.client(key)
    metadata = sandbox.metadata(key)
    params = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": client["redirect_uris"][0],
        "scope": client["scope"],
        "state": "state-" + secrets.token_hex(4),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "access_type": "offline",
    }
    params.update(extra)
    return metadata["authorization_endpoint"] + "?" + urlencode(
        {k: v for k, v in params.items() if v is not None})


def query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def exchange_code(sandbox, key: str, code: str, verifier: str, redirect_uri: str | None = None):
    return token_request(sandbox, key, grant_type="authorization_code", code=code,
                         code_verifier=verifier,
                         redirect_uri=redirect_uri or sandbox.client(key)["redirect_uris"][0])


def id_token_claims(sandbox, key: str, token: str) -> dict:
    """The ID token's claims, after checking its signature against the published keys."""
    keys = KeySet.import_key_set(requests.get(sandbox.metadata(key)["jwks_uri"], timeout=10).json())
    return jwt.decode(token, keys).claims


def wait_for(condition, timeout: float = 10.0, interval: float = 0.05):
    """Poll until ``condition()`` returns something truthy; fail after ``timeout`` seconds."""
    return support.wait_for(condition, "the condition", timeout, every=interval)
