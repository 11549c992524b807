"""Connecting a mailbox by OAuth, decided without the web: start a consent, and judge what the
provider's answer calls for (DESIGN §7). The view gathers the request and shows the Outcome.

Every refusal stores nothing and leaves existing credentials as they were; a consent refused
after the code exchange has its tokens revoked at the provider.
"""

import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from mail import oauth
from mail.connect import Login, Server
from mail.failures import Kind, MailError
from mail.probe import probe
from models.accounts import User
from models.connections import DuplicateMailbox, save_oauth
from models.mailboxes import Mailbox
from models.oauth_attempts import OAuthAttempt, digest

# What happened. A refusal with a page of its own comes before any token is held.
SIGNED_OUT, UNKNOWN, FOREIGN, REUSED, EXPIRED = (
    "signed_out", "unknown", "foreign", "reused", "expired")
NO_PROVIDER, MIX_UP, EXCHANGE_FAILED, IDENTITY_UNCONFIRMED = (
    "no_provider", "mix_up", "exchange_failed", "identity_unconfirmed")
# Refusals told with a message on the Email Accounts (or the mailbox's Reconnect) page.
DENIED, PROVIDER_ERROR, NO_ADDRESS, WRONG_ADDRESS, NO_MAIL_ACCESS, CANNOT_RECONNECT = (
    "denied", "provider_error", "no_address", "wrong_address", "no_mail_access",
    "cannot_reconnect")
SERVER_REFUSED, DUPLICATE = "server_refused", "duplicate"
CONNECTED, RECONNECTED = "connected", "reconnected"

STATE_REFUSALS = {
    UNKNOWN: "This sign-in link is not valid any more. Start again from Email Accounts.",
    FOREIGN: "This sign-in was started in another browser session. Start again here.",
    REUSED: "This sign-in was already completed. Nothing was changed.",
    EXPIRED: "This sign-in took too long and expired. Start again.",
}


@dataclass(frozen=True)
class Callback:
    """What the browser brought back from the provider, and who it belongs to."""
    args: Mapping[str, str]  # the callback's query string: state, code, iss, error
    session_key: str         # the browser session's binding to the attempts it started
    user: User | None        # None when the Tether session ended during the round trip


@dataclass(frozen=True)
class Outcome:
    """What the callback did, in the person's words. `page_status` set: shown as a page of its
    own with that HTTP status; else a message of `category` on the next page."""
    kind: str
    message: str
    page_status: int | None = None
    category: str = "error"
    mailbox: Mailbox | None = None  # stored (connected or reconnected)
    reconnect_id: int | None = None  # the mailbox whose Reconnect page to go back to


def begin(user: User, provider, session_key: str, redirect_uri: str,
          mailbox: Mailbox | None = None) -> str:
    """Record a one-time attempt (connect, or reconnect `mailbox`); the provider's consent URL."""
    state, verifier, nonce = oauth.new_state(), oauth.new_code_verifier(), secrets.token_urlsafe(16)
    OAuthAttempt.create(state_digest=digest(state), session_digest=digest(session_key),
                        user=user.id, team=user.team_id, provider=provider.key,
                        code_verifier=verifier, nonce=nonce,
                        mailbox_id=mailbox.id if mailbox else None,
                        expected_email=mailbox.email if mailbox else "")
    return oauth.authorization_url(provider, redirect_uri=redirect_uri, state=state,
                                   code_verifier=verifier, nonce=nonce,
                                   login_hint=mailbox.email if mailbox else "")


def finish(callback: Callback, catalog, redirect_uri: str) -> Outcome:
    """Judge the provider's answer and store the consent if it holds."""
    attempt, provider, refusal = _answered_attempt(callback, catalog)
    if refusal:
        return refusal
    error = callback.args.get("error")
    if error:
        if error == "access_denied":
            return Outcome(DENIED, "You did not grant access, so nothing was connected.",
                           category="info")
        return Outcome(PROVIDER_ERROR, f"{provider.label} refused the connection ({error}). "
                                       "Nothing was changed.")
    try:
        tokens = oauth.exchange_code(provider, code=callback.args.get("code", ""),
                                     redirect_uri=redirect_uri,
                                     code_verifier=attempt.code_verifier.reveal())
        claims = oauth.verify_id_token(provider, tokens.id_token or "", nonce=attempt.nonce)
    except MailError as e:
        return _page(EXCHANGE_FAILED,
                     f"{provider.label} did not complete the connection: {e.failure.cause}")
    except oauth.IdTokenInvalid as e:
        return _page(IDENTITY_UNCONFIRMED, f"Tether could not confirm who signed in: {e}.")
    email = provider.mailbox_address(claims)
    problem = consent_problem(provider, attempt, email, tokens.scope, callback.user)
    if problem:
        oauth.revoke(provider, tokens.refresh_token or tokens.access_token)
        return Outcome(*problem, reconnect_id=attempt.mailbox_id)
    return _store(callback.user, provider, attempt, email, tokens,
                  subject=(str(claims.get("iss", "")), str(claims.get("sub", ""))))


def _answered_attempt(callback: Callback, catalog):
    """(attempt, provider, None) for an answer to a sign-in this person started here, now,
    from the provider it went to; else (None, None, the refusal). The attempt is used up."""
    if callback.user is None:
        return None, None, _page(SIGNED_OUT, "Your Tether session ended while you were at the "
                                 "provider. Sign in and start again; nothing was changed.", 401)
    attempt, reason = OAuthAttempt.consume(callback.args.get("state", ""), callback.session_key)
    if attempt is None or attempt.user_id != callback.user.id:
        kind = reason if reason in STATE_REFUSALS else UNKNOWN
        return None, None, _page(kind, STATE_REFUSALS[kind])
    provider = catalog.get(attempt.provider)
    if provider is None:
        return None, None, _page(NO_PROVIDER, "That provider is no longer configured.")
    if not issuer_accepted(provider, callback.args.get("iss")):
        return None, None, _page(MIX_UP, "The answer did not come from the provider this "
                                         "sign-in started with.")
    return attempt, provider, None


def issuer_accepted(provider, iss: str | None) -> bool:
    """RFC 9207 §2.4, before anything else (errors too): an `iss` naming another provider, or
    none where this provider always sends one, is a mix-up; its code never leaves Tether."""
    if iss is None and not provider.response_iss:
        return True
    return provider.issuer_matches(iss or "")


def consent_problem(provider, attempt, email: str, granted_scope: str,
                    user: User) -> tuple[str, str] | None:
    """(kind, why) this consent cannot be stored, in the person's words; None if it can."""
    if not email:
        return NO_ADDRESS, (f"{provider.label} did not tell Tether which address signed in. "
                            "Nothing was saved.")
    if attempt.expected_email and email != attempt.expected_email:
        return WRONG_ADDRESS, (
            f"You signed in as {email}, but this mailbox is {attempt.expected_email}. "
            f"Sign in to {provider.label} as {attempt.expected_email}; nothing was changed.")
    if provider.missing_mail_scopes(granted_scope):
        return NO_MAIL_ACCESS, (
            "Mail access was not granted (the permission to read and send email was "
            "unticked), so Tether cannot use this mailbox. Nothing was saved. Try again "
            "and leave mail access ticked.")
    if attempt.mailbox_id:
        mailbox = Mailbox.get_or_none((Mailbox.id == attempt.mailbox_id)
                                      & (Mailbox.team == user.team_id))
        if mailbox is None or not mailbox.managed_by(user):
            return CANNOT_RECONNECT, "You can no longer reconnect that mailbox."
    return None


def _store(user: User, provider, attempt, email: str, tokens, subject) -> Outcome:
    """Log in to the mail servers with the new token, then store it: a server that refuses
    Tether stores nothing; one that is down stores the mailbox as degraded."""
    result = probe(Server(provider.imap_host, provider.imap_port, provider.imap_security),
                   Server(provider.smtp_host, provider.smtp_port, provider.smtp_security),
                   Login(address=email, access_token=tokens.access_token))
    failure = result.worst
    if failure is not None and failure.kind is Kind.RECONNECT:
        return Outcome(SERVER_REFUSED, f"{email} signed in, but its mail server refused "
                                       f"Tether: {failure.cause} Nothing was saved.")
    try:
        mailbox = save_oauth(user.team, user, provider, email, tokens, subject=subject,
                             mailbox_id=attempt.mailbox_id, degraded_by=failure)
    except DuplicateMailbox:
        return Outcome(DUPLICATE, f"{email} is already connected. Use Reconnect on its row "
                                  "instead.")
    kind = RECONNECTED if attempt.mailbox_id else CONNECTED
    if failure is None:
        return Outcome(kind, f"Done! {email} is connected.", category="success", mailbox=mailbox)
    return Outcome(kind, f"{email} is saved, but its mail server is not answering yet: "
                         f"{failure.cause}", category="info", mailbox=mailbox)


def _page(kind: str, message: str, status: int = 400) -> Outcome:
    return Outcome(kind, message, page_status=status)
