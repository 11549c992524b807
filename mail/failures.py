"""The one place that turns a provider's answer into a classified failure.

Every failure is exactly one of three kinds (DESIGN §3): the person must reconnect, the operator
must fix the app, or it will pass. We branch on codes — OAuth `error`, Microsoft `error_codes`,
IMAP response codes (RFC 5530), SMTP reply codes — never on description text, which providers
reword and translate.
"""

import re
import smtplib
import socket
import ssl
import sys
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    RECONNECT = "reconnect"          # the token or password is dead: only the person can fix it
    APP = "app_misconfigured"        # Tether's own client credentials or keys: the operator's job
    TRANSIENT = "transient"          # outage, throttling, network: wait and retry, ask no one


@dataclass(frozen=True)
class Failure:
    kind: Kind
    code: str     # the provider's code as shown in history, e.g. "invalid_grant/700082"
    cause: str    # plain words for the person who owns the mailbox (or the operator, for APP)
    where: str = ""  # "token endpoint", "IMAP", "SMTP", "DNS", …
    # A login refused with a token that was not refreshed just now: refresh, then try again.
    stale_token: bool = False

    @property
    def needs_reconnect(self) -> bool:
        return self.kind is Kind.RECONNECT


class MailError(Exception):
    """Raised by mail/ with the classified failure attached."""

    def __init__(self, failure: Failure):
        super().__init__(f"{failure.where}: {failure.code}: {failure.cause}")
        self.failure = failure


# --- OAuth token endpoint -------------------------------------------------------------------

# Microsoft's AADSTS codes (PROVIDERS.md). Retryable codes win over everything else.
MS_RETRYABLE = {50033, 90006, 90024, 50087, 70012, 90033}
MS_APP = {7000222: "The app's client secret has expired.",
          7000215: "The app's client secret is wrong."}
MS_RECONNECT = {
    50173: "The password was changed, so the old sign-in no longer counts.",
    700082: "The connection expired after a long time without use.",
    70008: "The connection expired or was revoked.",
    65001: "Permission for Tether was withdrawn or never granted.",
    50076: "Multi-factor sign-in is required.",
    50078: "The multi-factor sign-in has expired.",
    70043: "The organisation's sign-in frequency policy requires signing in again.",
    53003: "An administrator's conditional access policy blocked the connection.",
    50057: "The account has been disabled.",
}
TOKEN_EXPIRED_OR_REVOKED = "Token expired or revoked"  # DESIGN §1's words, also in sequence logs


def from_token_response(status: int, body) -> Failure:
    """Classify an unsuccessful token endpoint answer (HTTP status and parsed JSON body)."""
    where = "token endpoint"
    body = body if isinstance(body, dict) else {}
    error = str(body.get("error") or "")
    codes = {int(c) for c in body.get("error_codes") or [] if str(c).isdigit()}
    shown = error + ("/" + ",".join(str(c) for c in sorted(codes)) if codes else "")

    if status == 429 or status >= 500 or error in ("temporarily_unavailable", "server_error") \
            or codes & MS_RETRYABLE:
        return Failure(Kind.TRANSIENT, shown or f"HTTP {status}",
                       "The provider is temporarily unavailable; Tether will keep retrying.", where)
    for code, words in MS_APP.items():
        if code in codes:
            return Failure(Kind.APP, shown, words + " An administrator must update it.", where)
    if error in ("invalid_client", "unauthorized_client"):
        return Failure(Kind.APP, shown, "The provider no longer accepts Tether's app "
                       "credentials (client id or secret). An administrator must update them.", where)
    if error in ("invalid_grant", "interaction_required", "consent_required", "login_required",
                 "invalid_scope"):
        for code, words in MS_RECONNECT.items():
            if code in codes:
                return Failure(Kind.RECONNECT, shown, words, where)
        if body.get("error_subtype") == "invalid_rapt":
            return Failure(Kind.RECONNECT, error + "/invalid_rapt", "The organisation requires "
                           "signing in again (session control policy).", where)
        return Failure(Kind.RECONNECT, shown, TOKEN_EXPIRED_OR_REVOKED, where)
    # An answer we do not recognise is not proof of expiry: never cry wolf.
    return Failure(Kind.TRANSIENT, shown or f"HTTP {status}",
                   "The provider gave an unexpected answer; Tether will retry.", where)


# --- IMAP and SMTP --------------------------------------------------------------------------

IMAP_TRANSIENT_CODES = {"UNAVAILABLE", "INUSE", "LIMIT", "SERVERBUG", "OVERQUOTA"}
_IMAP_CODE = re.compile(r"\[([A-Z][A-Z0-9-]*)")
AUTH_REFUSED = "The mail server refused the sign-in."
STALE_TOKEN = "The mail server refused a token that may simply be out of date."


# Microsoft 365's answer when SMTP AUTH ("Authenticated SMTP") is off for the tenant or the
# mailbox: a valid token is refused, and only an administrator's setting helps, not a reconnect.
SMTP_AUTH_DISABLED = "5.7.139"
SMTP_AUTH_DISABLED_CAUSE = (
    "Microsoft 365 does not allow SMTP sign-in for this mailbox: an administrator must turn on "
    "Authenticated SMTP for it (Microsoft 365 admin center → Users → the user → Mail → Manage "
    "email apps), or for the whole organization. Reconnecting will not help; Tether checks "
    "again every hour and resumes by itself.")


def _login_refused(where, code, *, credential_fresh: bool, oauth: bool) -> Failure:
    """A definite "no" to our credentials. With OAuth it proves the token dead only when the
    token was refreshed just now; a valid token refused means the mailbox refuses the app."""
    if not credential_fresh:
        return Failure(Kind.TRANSIENT, code, STALE_TOKEN, where, stale_token=True)
    if code.endswith(SMTP_AUTH_DISABLED):
        return Failure(Kind.RECONNECT, code, SMTP_AUTH_DISABLED_CAUSE, where)
    cause = ("The mailbox refuses Tether's access (for example IMAP was switched off, or the "
             "account settings changed)." if oauth else
             "The username or password was rejected.")
    return Failure(Kind.RECONNECT, code, cause, where)


def from_imap_error(exc: Exception, *, credential_fresh: bool = True, oauth: bool = True) -> Failure:
    """Classify an imapclient/imaplib error raised at login or during a command."""
    text = str(exc.args[0] if exc.args else exc)
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    match = _IMAP_CODE.search(text)
    code = match.group(1) if match else ""
    name = type(exc).__name__
    if code in IMAP_TRANSIENT_CODES:
        return Failure(Kind.TRANSIENT, f"IMAP {code}", "The mail server is busy or "
                       "temporarily unavailable.", "IMAP")
    if name in ("LoginError",) or code in ("AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED"):
        return _login_refused("IMAP", f"IMAP {code or 'NO'}", credential_fresh=credential_fresh,
                              oauth=oauth)
    # abort (BYE, dropped connection), BAD "authenticated but not connected", anything else.
    return Failure(Kind.TRANSIENT, f"IMAP {code or name}", "The mail server dropped or "
                   "refused the request; Tether will retry.", "IMAP")


def from_smtp_error(exc: Exception, *, credential_fresh: bool = True, oauth: bool = True) -> Failure:
    """Classify an smtplib error raised while connecting or authenticating."""
    code = getattr(exc, "smtp_code", None)
    if isinstance(exc, smtplib.SMTPAuthenticationError) and code in (535, 534, 530):
        enhanced = (exc.smtp_error.split(b" ", 1)[0].decode(errors="replace")
                    if isinstance(exc.smtp_error, bytes) else "")
        shown = f"SMTP {code}" + (f" {enhanced}" if enhanced[:1].isdigit() else "")
        return _login_refused("SMTP", shown, credential_fresh=credential_fresh, oauth=oauth)
    if code is not None and 400 <= code < 500:
        return Failure(Kind.TRANSIENT, f"SMTP {code}", "The mail server asked Tether to try "
                       "again later.", "SMTP")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return Failure(Kind.TRANSIENT, "SMTP AUTH unsupported", "The mail server does not offer "
                       "a sign-in method Tether can use here.", "SMTP")
    return Failure(Kind.TRANSIENT, f"SMTP {code or type(exc).__name__}", "The mail server "
                   "dropped or refused the request; Tether will retry.", "SMTP")


# --- The network under all of it --------------------------------------------------------------

def from_network_error(exc: BaseException, where: str) -> Failure:
    """DNS, refused, reset, time-outs and TLS: always transient, worded for a person."""
    if isinstance(exc, socket.gaierror):
        return Failure(Kind.TRANSIENT, "DNS", f"The {where} server name could not be found (DNS).", where)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Failure(Kind.TRANSIENT, "TLS certificate", f"The {where} server's certificate "
                       "could not be verified.", where)
    if isinstance(exc, ssl.SSLError):
        return Failure(Kind.TRANSIENT, "TLS", f"The secure (TLS) connection to the {where} "
                       "server failed — check the port and security setting.", where)
    if isinstance(exc, ConnectionRefusedError):
        return Failure(Kind.TRANSIENT, "refused", f"The {where} server refused the connection "
                       "— check the host and port.", where)
    if isinstance(exc, TimeoutError | socket.timeout):
        return Failure(Kind.TRANSIENT, "timeout", f"The {where} server did not answer in time.", where)
    if isinstance(exc, ConnectionResetError):
        return Failure(Kind.TRANSIENT, "reset", f"The {where} server closed the connection.", where)
    return Failure(Kind.TRANSIENT, type(exc).__name__, f"The {where} server could not be "
                   "reached.", where)


def undecryptable(error: Exception | None = None) -> Failure:
    """Stored credentials that no configured key opens: the operator's key, never the person's
    sign-in nor the provider's. `error` is the SecretUnreadable (models/crypto.py), by default
    the one being handled: its key id is what the operator must put back."""
    error = error if error is not None else sys.exception()
    key_id = getattr(error, "key_id", "") or "?"
    if getattr(error, "missing", True):
        what = (f"encryption key {key_id} is missing from TETHER_ENCRYPTION_KEYS (it encrypted "
                "this mailbox's stored credentials)")
    else:
        what = (f"the encryption key {key_id} in TETHER_ENCRYPTION_KEYS is another key than the "
                "one that encrypted this mailbox's stored credentials")
    return Failure(Kind.APP, "secret undecryptable", f"Tether's encryption keys changed: {what}. "
                   f"An administrator must put {key_id} back (copy it from the original server's "
                   "TETHER_ENCRYPTION_KEYS) on every web and worker process and restart them. "
                   "Nobody needs to reconnect.", "Tether")
