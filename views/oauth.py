"""The OAuth round trip: start a consent (connect or reconnect) and handle the callback.

What the answer means is decided in models/connect_flow.py; this shows it.
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

from models import connect_flow
from models.mailboxes import Mailbox
from views import reconnect_all
from views.common import providers

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
    url = connect_flow.begin(current_user._get_current_object(), provider, _session_binding(),
                             redirect_uri(), mailbox)
    return redirect(url, code=303)


@bp.route("/settings/email-accounts/connect/<provider_key>", methods=["POST"])
@login_required
def connect(provider_key):
    """Add mailbox → Google / Microsoft: off to the provider's consent screen."""
    provider = providers().get(provider_key)
    if provider is None:
        abort(404)
    return start(provider)


@bp.route("/oauth/callback")
def callback():
    """Where the provider sends the browser back with a code (or an error)."""
    user = current_user._get_current_object() if current_user.is_authenticated else None
    outcome = connect_flow.finish(
        connect_flow.Callback(args=request.args.to_dict(), user=user,
                              session_key=session.get("oauth_binding", "")),
        providers(), redirect_uri())
    if outcome.page_status:
        return (render_template("mailboxes/oauth_refused.html", message=outcome.message),
                outcome.page_status)
    if outcome.mailbox:
        _check_soon(outcome.mailbox.id)
    flash(outcome.message, outcome.category)
    back = reconnect_all.back_to_round(
        outcome.mailbox.id if outcome.mailbox else outcome.reconnect_id, outcome.message)
    if back:  # "Reconnect all mine" goes on with the next mailbox
        return back
    if outcome.reconnect_id:
        return redirect(url_for("mailboxes.reconnect", mailbox_id=outcome.reconnect_id))
    return redirect(url_for("settings.email_accounts"))


def _check_soon(mailbox_id: int) -> None:
    """A stored consent: its checks start, and what it unblocks is told now, not later."""
    from tasks.checks import schedule_next
    from tasks.notices import dispatch_events

    schedule_next(mailbox_id)
    dispatch_events()  # recovery notice and unblocked sequences' logs


@bp.after_request
def _no_referrer(response):
    """The callback URL carries the code and state: never leak it to the next page's hosts."""
    if request.endpoint == "oauth.callback":
        response.headers["Referrer-Policy"] = "no-referrer"
    return response
