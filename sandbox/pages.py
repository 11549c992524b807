"""The mailbox user's pages: sign-in, the account chooser and consent (the authorization
endpoint) and "Manage your account → Security → Apps with access", where the user can remove
an app.

The signed-in user is kept in the sandbox's own session cookie (``sandbox_session``), so it
never collides with Tether's cookie on another port of 127.0.0.1. Like a real provider, one
browser may be signed in to several accounts: ``prompt=select_account`` shows the chooser
(those accounts, and "Use another account"); without it the current account goes on.
"""

from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from flask import (
    Blueprint,
    abort,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from sandbox import accounts, flavours, signal_api, signals, store
from sandbox.oauth import server
from sandbox.store import Client, Grant, User, now
from sandbox.tokens import base_url

bp = Blueprint("pages", __name__)


def signed_in_user() -> User | None:
    email = session.get("email")
    return User.find(email) if email else None


MAX_ACCOUNTS = 10  # accounts one browser stays signed in to, latest first


def sign_in(user: User) -> None:
    session["email"] = user.email
    others = [e for e in session.get("accounts", []) if e != user.email]
    session["accounts"] = [user.email, *others][:MAX_ACCOUNTS]
    session["auth_time"] = now()
    if user.require_signin:  # the session-control policy is satisfied by a fresh sign-in
        user.require_signin = False
        user.save()


def signed_in_accounts(flavour: str) -> list[User]:
    """The accounts of this provider this browser is signed in to, latest first."""
    found = [User.find(email) for email in session.get("accounts", [])]
    return [u for u in found if u is not None and u.kind == flavour and u.is_oauth]


def check_credentials(email: str, password: str, flavour: str | None):
    """(user, None) or (None, the message this provider shows)."""
    user = User.find(email)
    if user is None or (flavour and user.kind != flavour) or not user.is_oauth:
        if flavour == "microsoft":
            return None, ("This username may be incorrect. Make sure you typed it correctly. "
                          "Otherwise, contact your admin.")
        return None, "Couldn't find your Google Account"
    if not user.check_password(password):
        if flavour == "microsoft":
            return None, "Your account or password is incorrect."
        return None, "Wrong password. Try again or click Forgot password to reset it."
    return user, None


# -- the authorization endpoint -----------------------------------------------------------------

@bp.route(flavours.PATHS["google"]["authorize"], methods=["GET", "POST"])
def google_authorize():
    """Google's authorization endpoint: sign-in, then consent, then back to the client."""
    return authorize("google")


@bp.route("/<tenant>/oauth2/v2.0/authorize", methods=["GET", "POST"])
def microsoft_authorize(tenant):
    """Microsoft's authorization endpoint (/common or a tenant)."""
    return authorize("microsoft")


def authorize(flavour: str):
    g.flavour = flavour
    g.authorization_issuer = flavours.issuer(flavour, base_url())
    params = request.args

    # An unknown client or a redirect URI that is not registered exactly: both providers show
    # an error page and never redirect.
    client = server.query_client(params.get("client_id"))
    if client is None:
        return error_page(flavour, "unknown_client", 401)
    if not client.check_redirect_uri(params.get("redirect_uri", "")):
        return error_page(flavour, "redirect_uri_mismatch", 400, params.get("redirect_uri"))

    user = signed_in_user()
    try:
        grant = server.get_consent_grant(end_user=user)
    except OAuth2Error as error:
        if not error.redirect_uri:
            return error_page(flavour, error.error, 400, error.description)
        return with_issuer(server.handle_error_response(None, error))

    prompts = set(params.get("prompt", "").split())
    hint = (params.get("login_hint") or "").strip().lower()
    step = request.form.get("step") if request.method == "POST" else None

    if step == "signin":
        user, problem = check_credentials(request.form.get("email", ""),
                                          request.form.get("password", ""), flavour)
        if problem:
            return render_template("signin.html", flavour=flavour, client=client,
                                   email=request.form.get("email", ""), error=problem)
        sign_in(user)
        prompts.discard("login")
    elif step == "another":  # the chooser's "Use another account"
        return render_template("signin.html", flavour=flavour, client=client, email="",
                               error=None)
    elif step == "choose":
        chosen = next((u for u in signed_in_accounts(flavour)
                       if u.email == request.form.get("email", "").strip().lower()), None)
        if chosen is None or chosen.require_signin:  # not signed in here (any more)
            return render_template("signin.html", flavour=flavour, client=client,
                                   email=chosen.email if chosen else "", error=None)
        session["email"], user = chosen.email, chosen
    elif step == "consent" and user is not None and user.kind == flavour:
        if request.form.get("decision") != "allow":
            return server.create_authorization_response(grant_user=None, grant=grant)
        unticked = not request.form.get("mail")
        return approve(grant, user, client, consent_shown=True, unticked_mail=unticked)
    else:
        choices = signed_in_accounts(flavour) if "select_account" in prompts else []
        if choices and "none" not in prompts:
            return render_template("chooser.html", flavour=flavour, client=client,
                                   accounts=choices, hint=hint)
        needs_signin = (user is None or user.kind != flavour or "login" in prompts
                        or (hint and hint != user.email) or user.require_signin)
        if needs_signin:
            if "none" in prompts:
                return redirect_error(grant, "login_required")
            return render_template("signin.html", flavour=flavour, client=client, email=hint,
                                   error=None)

    requested = grant.request.scope
    if "consent" in prompts or user.require_consent or not already_granted(user, client,
                                                                           requested):
        if "none" in prompts:
            return redirect_error(grant, "consent_required")
        mail_scopes = [s for s in requested.split() if s in flavours.MAIL_SCOPES[flavour]]
        other_scopes = [s for s in requested.split() if s not in mail_scopes]
        return render_template("consent.html", flavour=flavour, client=client, user=user,
                               mail_scopes=mail_scopes, other_scopes=other_scopes,
                               descriptions=flavours.SCOPE_DESCRIPTIONS)
    return approve(grant, user, client, consent_shown=False, unticked_mail=False)


def already_granted(user: User, client: Client, scope: str) -> bool:
    granted = set()
    for row in Grant.select().where(Grant.user == user, Grant.client == client,
                                    Grant.removed_at.is_null()):
        granted.update(row.scope.split())
    return set(scope.split()) <= granted


def approve(grant, user: User, client: Client, consent_shown: bool, unticked_mail: bool):
    """Record the consent and send the code back to the client."""
    scopes = grant.request.scope.split()
    if unticked_mail:  # granular consent: the user kept the app away from their mail
        scopes = [s for s in scopes if s not in flavours.MAIL_SCOPES[client.flavour]]
    scope = " ".join(scopes)
    if client.flavour == "google":
        # Google issues a refresh token only for offline access, and only at a consent screen.
        issue_refresh = consent_shown and request.args.get("access_type") == "offline"
    else:
        issue_refresh = "offline_access" in scopes
    with store.db.atomic():
        row = accounts.create_grant(user, client, scope)
        if consent_shown and user.require_consent:
            user.require_consent = False
            user.save()
    g.sandbox_consent = {"grant": row, "issue_refresh": issue_refresh,
                         "auth_time": session.get("auth_time", now())}
    return server.create_authorization_response(grant_user=user, grant=grant)


def redirect_error(grant, error: str):
    error_obj = OAuth2Error(error=error, redirect_uri=grant.request.payload.redirect_uri,
                            state=grant.request.payload.state)
    return with_issuer(server.handle_error_response(None, error_obj))


def with_issuer(response):
    """RFC 9207: error redirects carry ``iss`` too (Authlib adds it only on its own path)."""
    if response.location and "iss=" not in response.location:
        joiner = "&" if "?" in response.location else "?"
        response.location += joiner + urlencode({"iss": g.authorization_issuer})
    return response


def error_page(flavour: str, error: str, status: int, detail: str | None = None):
    return render_template("error.html", flavour=flavour, error=error, detail=detail), status


# -- Manage your account → Security → Apps with access ------------------------------------------

@bp.route("/account/signin", methods=["GET", "POST"])
def account_signin():
    """Sign in to manage the account (outside any OAuth request)."""
    next_url = request.values.get("next") or url_for("pages.account")
    if not next_url.startswith("/"):  # only local pages, never an open redirect
        next_url = url_for("pages.account")
    if request.method == "POST":
        user, problem = check_credentials(request.form.get("email", ""),
                                          request.form.get("password", ""), None)
        if problem:
            return render_template("signin.html", flavour=None, client=None, next=next_url,
                                   email=request.form.get("email", ""), error=problem)
        sign_in(user)
        return redirect(next_url)
    return render_template("signin.html", flavour=None, client=None, next=next_url,
                           email=request.args.get("login_hint", ""), error=None)


@bp.post("/account/signout")
def account_signout():
    session.clear()
    return redirect(url_for("pages.account_signin"))


def require_user() -> User:
    user = signed_in_user()
    if user is None:
        abort(redirect(url_for("pages.account_signin", next=request.full_path.rstrip("?"))))
    return user


@bp.get("/account")
def account():
    """Manage your account: the entry page."""
    return render_template("account.html", user=require_user())


@bp.get("/account/security")
def security():
    return render_template("security.html", user=require_user())


@bp.get("/account/security/apps")
def apps():
    """Apps with access: every client this user has granted, with Remove access."""
    user = require_user()
    return render_template("apps.html", user=user, apps=accounts.apps_with_access(user),
                           mail_scopes=flavours.MAIL_SCOPES.get(user.kind, ()))


@bp.post("/account/security/apps/<client_id>/remove")
def remove_app(client_id):
    user = require_user()
    client = Client.find(client_id)
    if client is None:
        abort(404)
    clients = signals.clients_with_access(user, client)
    accounts.remove_access(user, client)
    signal_api.after_access_change(user, signals.TOKENS_REVOKED, clients)
    return redirect(url_for("pages.apps", removed=client.name))
