"""The OAuth round trip: start a consent (connect or reconnect) and handle the callback.

Every refusal below stores nothing and leaves existing credentials as they were.
"""

import secrets

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required

from mail import oauth
from mail.connect import Login, Server
from mail.failures import Kind, MailError
from mail.probe import probe
from models.connections import DuplicateMailbox, save_oauth
from models.mailboxes import Mailbox
from models.oauth_attempts import OAuthAttempt, digest
from views.common import can_manage, providers

bp = Blueprint("oauth", __name__)


def redirect_uri() -> str:
    """Exactly what is registered with each provider: BASE_URL + /oauth/callback."""
    return current_app.config["BASE_URL"] + "/oauth/callback"


def _session_binding() -> str:
    if "oauth_binding" not in session:
        session["oauth_binding"] = secrets.token_urlsafe(32)
    return session["oauth_binding"]


def start(provider, mailbox: Mailbox | None = None):
    """Record a one-time attempt and send the browser to the provider's consent page."""
    state, verifier, nonce = oauth.new_state(), oauth.new_code_verifier(), secrets.token_urlsafe(16)
    OAuthAttempt.create(state_digest=digest(state), session_digest=digest(_session_binding()),
                        user=current_user.id, team=current_user.team_id, provider=provider.key,
                        code_verifier=verifier, nonce=nonce,
                        mailbox_id=mailbox.id if mailbox else None,
                        expected_email=mailbox.email if mailbox else "")
    url = oauth.authorization_url(provider, redirect_uri=redirect_uri(), state=state,
                                  code_verifier=verifier, nonce=nonce,
                                  login_hint=mailbox.email if mailbox else "")
    return redirect(url, code=303)


@bp.route("/settings/email-accounts/connect/<provider_key>", methods=["POST"])
@login_required
def connect(provider_key):
    """Add mailbox → Google / Microsoft: off to the provider's consent screen."""
    provider = providers().get(provider_key)
    if provider is None:
        abort(404)
    return start(provider)


REFUSALS = {
    "unknown": "This sign-in link is not valid any more. Start again from Email Accounts.",
    "foreign": "This sign-in was started in another browser session. Start again here.",
    "reused": "This sign-in was already completed. Nothing was changed.",
    "expired": "This sign-in took too long and expired. Start again.",
}


def _refuse(message: str, status: int = 400):
    return render_template("mailboxes/oauth_refused.html", message=message), status


@bp.route("/oauth/callback")
def callback():
    """Where the provider sends the browser back with a code (or an error)."""
    if not current_user.is_authenticated:
        return _refuse("Your Tether session ended while you were at the provider. "
                       "Sign in and start again; nothing was changed.", 401)
    attempt, reason = OAuthAttempt.consume(request.args.get("state", ""),
                                           session.get("oauth_binding", ""))
    if attempt is None or attempt.user_id != current_user.id:
        return _refuse(REFUSALS.get(reason, REFUSALS["unknown"]))
    provider = providers().get(attempt.provider)
    if provider is None:
        return _refuse("That provider is no longer configured.")
    back = url_for("settings.email_accounts")
    # RFC 9207 §2.4, before anything else (errors too): an `iss` naming another provider, or
    # none where this provider always sends one, is a mix-up; its code never leaves Tether.
    iss = request.args.get("iss")
    if (iss is not None or provider.response_iss) and not provider.issuer_matches(iss or ""):
        return _refuse("The answer did not come from the provider this sign-in started with.")

    if request.args.get("error"):
        if request.args["error"] == "access_denied":
            flash("You did not grant access, so nothing was connected.", "info")
        else:
            flash(f"{provider.label} refused the connection ({request.args['error']}). "
                  "Nothing was changed.", "error")
        return redirect(back)
    try:
        tokens = oauth.exchange_code(provider, code=request.args.get("code", ""),
                                     redirect_uri=redirect_uri(),
                                     code_verifier=attempt.code_verifier.reveal())
        claims = oauth.verify_id_token(provider, tokens.id_token or "", nonce=attempt.nonce)
    except MailError as e:
        return _refuse(f"{provider.label} did not complete the connection: {e.failure.cause}")
    except oauth.IdTokenInvalid as e:
        return _refuse(f"Tether could not confirm who signed in: {e}.")

    email = provider.mailbox_address(claims)
    problem = _consent_problem(provider, attempt, email, tokens)
    if problem:
        oauth.revoke(provider, tokens.refresh_token or tokens.access_token)
        flash(problem, "error")
        return redirect(back if not attempt.mailbox_id else
                        url_for("mailboxes.reconnect", mailbox_id=attempt.mailbox_id))

    result = probe(Server(provider.imap_host, provider.imap_port, provider.imap_security),
                   Server(provider.smtp_host, provider.smtp_port, provider.smtp_security),
                   Login(address=email, access_token=tokens.access_token))
    failure = result.worst
    if failure is not None and failure.kind is Kind.RECONNECT:
        flash(f"{email} signed in, but its mail server refused Tether: {failure.cause} "
              "Nothing was saved.", "error")
        return redirect(back)
    try:
        mailbox = save_oauth(current_user.team, current_user._get_current_object(), provider,
                             email, tokens, mailbox_id=attempt.mailbox_id, degraded_by=failure)
    except DuplicateMailbox:
        flash(f"{email} is already connected. Use Reconnect on its row instead.", "error")
        return redirect(back)
    from tasks.checks import schedule_next
    from tasks.notices import dispatch_events

    schedule_next(mailbox.id)
    dispatch_events()  # recovery notice and unblocked sequences' logs, now
    if failure is None:
        flash(f"Done! {email} is connected.", "success")
    else:
        flash(f"{email} is saved, but its mail server is not answering yet: {failure.cause}", "info")
    return redirect(back)


def _consent_problem(provider, attempt, email: str, tokens) -> str | None:
    """Why this consent cannot be stored, in the person's words; None if it can."""
    if not email:
        return f"{provider.label} did not tell Tether which address signed in. Nothing was saved."
    if attempt.expected_email and email != attempt.expected_email:
        return (f"You signed in as {email}, but this mailbox is {attempt.expected_email}. "
                f"Sign in to {provider.label} as {attempt.expected_email}; nothing was changed.")
    if provider.missing_mail_scopes(tokens.scope):
        return ("Mail access was not granted (the permission to read and send email was "
                "unticked), so Tether cannot use this mailbox. Nothing was saved. Try again "
                "and leave mail access ticked.")
    if attempt.mailbox_id:
        mailbox = Mailbox.get_or_none((Mailbox.id == attempt.mailbox_id)
                                      & (Mailbox.team == current_user.team_id))
        if mailbox is None or not can_manage(mailbox):
            return "You can no longer reconnect that mailbox."
    return None


@bp.after_request
def _no_referrer(response):
    """The callback URL carries the code and state: never leak it to the next page's hosts."""
    if request.endpoint == "oauth.callback":
        response.headers["Referrer-Policy"] = "no-referrer"
    return response
