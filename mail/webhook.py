"""A team's webhook: one signed POST (Standard Webhooks) to a URL a person typed in.

The URL is the person's, so Tether must not become a way to reach this machine, cloud metadata
or (unless the operator allows it) the private network: the host is resolved once and vetted
by mail/hosts.py's rule, and the request goes to exactly the vetted addresses (http.client
with our own socket, not requests: requests resolves the name again, after the vetting).
Redirects are never followed — a 3xx is a failed delivery that names where it pointed — so a
receiver cannot bounce the request to an address the vetting refused. A receiver that hangs
costs at most TIMEOUT per socket operation, and the whole answer read is capped.
"""

import base64
import http.client
import os
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook

from mail.connect import _open as open_vetted  # the one way to reach vetted addresses
from mail.failures import MailError
from mail.hosts import HostPolicy, HostRefused, resolve

TIMEOUT = 10.0        # seconds per connect / send / read: a hanging receiver frees the worker
MAX_ANSWER = 16_384   # bytes of the receiver's answer kept (the delivery log shows its start)
USER_AGENT = "Tether-Webhooks/1"


def new_secret() -> str:
    """A signing secret in the spec's form: whsec_ + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a webhook endpoint, in words; None if it can (the host itself is
    vetted when it is resolved)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 — raises ValueError for a port that is not a number
    except ValueError:
        return "This is not a valid URL."
    if parts.scheme not in ("http", "https"):
        return "A webhook URL starts with https:// (or http://)."
    if not parts.hostname:
        return "The URL has no host name."
    if parts.username or parts.password:
        return "Put no user name or password in the URL: Tether signs each request instead."
    return None


def shown_as(url: str) -> str:
    """The URL without its query (a token may ride there): what pages and logs show."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path or '/'}"


def _addresses(parts, policy: HostPolicy):
    """The vetted addresses to connect to, or what is wrong in words."""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        return resolve(parts.hostname, port, policy, "webhook")
    except HostRefused as e:
        return e.failure.cause
    except MailError as e:
        return f"The host name could not be resolved ({e.failure.cause})"


def host_problem(url: str, policy: HostPolicy) -> str | None:
    """Why the URL's host is refused (checked when saved, and again at each delivery)."""
    found = _addresses(urlsplit(url), policy)
    return found if isinstance(found, str) else None


@dataclass(frozen=True)
class Answer:
    ok: bool
    status: int | None
    error: str  # in words, for the delivery log; never the URL's query or the secret


def sign(secret: str, message_id: str, at: datetime, body: str) -> dict[str, str]:
    """The three Standard Webhooks headers for this body; `at` is naive UTC (clock.now())."""
    return {"webhook-id": message_id,
            "webhook-timestamp": str(int(at.replace(tzinfo=UTC).timestamp())),
            "webhook-signature": Webhook(secret).sign(message_id, at, body)}


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host, port, addresses, timeout):
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses

    def connect(self):
        self.sock = open_vetted(self._addresses, self.host, self.port, self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host, port, addresses, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._addresses = addresses

    def connect(self):
        raw = open_vetted(self._addresses, self.host, self.port, self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


def post(url: str, secret: str, message_id: str, at: datetime, body: str,
         policy: HostPolicy) -> Answer:
    """POST `body` signed with `secret`. A 2xx answer is delivered; anything else (a 3xx
    included: redirects are not followed) is a failure in words."""
    if problem := url_problem(url):
        return Answer(False, None, problem)
    parts = urlsplit(url)
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    addresses = _addresses(parts, policy)
    if isinstance(addresses, str):
        return Answer(False, None, addresses)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               **sign(secret, message_id, at, body)}
    timeout = TIMEOUT  # read now: a test shortens it
    connection = (_PinnedHTTPS if https else _PinnedHTTP)(parts.hostname, port, addresses, timeout)
    try:
        connection.request("POST", path, body=body.encode(), headers=headers)
        response = connection.getresponse()
        response.read(MAX_ANSWER)
        status = response.status
        location = response.getheader("Location", "")
    except TimeoutError:
        return Answer(False, None, f"The receiver did not answer within {timeout:g} seconds.")
    except ssl.SSLError as e:
        return Answer(False, None, f"TLS failed: {e.reason or e}")
    except (OSError, http.client.HTTPException) as e:
        return Answer(False, None, f"Could not reach the receiver: {e.__class__.__name__}: {e}")
    finally:
        connection.close()
    if 200 <= status < 300:
        return Answer(True, status, "")
    if 300 <= status < 400:
        where = shown_as(location) if location.startswith(("http://", "https://")) else "elsewhere"
        return Answer(False, status, f"The receiver answered {status}, a redirect to {where}; "
                      "Tether does not follow redirects. Enter the final URL.")
    return Answer(False, status, f"The receiver answered HTTP {status}.")
