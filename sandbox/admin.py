"""Provider controls: a small admin page and the JSON API under /control (see README.md).

This plays the provider's admin console and its outages. It has no authentication: the
sandbox listens on loopback only and exists for the demo and the tests.
"""

import datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from sandbox import (
    accounts,
    faults,
    signal_api,
    signal_delivery,
    signals,
    smtp_faults,
    store,
    tokens,
)
from sandbox.accounts import AccountError
from sandbox.store import Client, User

bp = Blueprint("admin", __name__, url_prefix="/control")


@bp.errorhandler(AccountError)
@bp.errorhandler(ValueError)
def bad_input(error):
    return jsonify({"error": "bad_request", "message": str(error)}), 400


@bp.errorhandler(404)
def not_found(error):
    return jsonify({"error": "not_found", "message": error.description}), 404


def body() -> dict:
    return request.get_json(silent=True) or request.form.to_dict()


def user_or_404(email) -> User:
    user = User.find(email)
    if user is None:
        abort(404, f"no user {email}")
    return user


def client_or_404(key) -> Client:
    client = Client.get_or_none((Client.key == key) | (Client.client_id == key))
    if client is None or client.flavour == "resource":
        abort(404, f"no client {key}")
    return client


def flag(value) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes", "on")
    return bool(value)


def done(**extra):
    """The JSON answer, or back to the admin page when the page's own form posted."""
    if request.form.get("_page"):
        return redirect(url_for("admin.page"))
    return jsonify({"ok": True, **extra})


@bp.get("/")
def page():
    """The admin page: users, clients, faults and the clock, with a form for each control."""
    return render_template(
        "control.html",
        users=User.select().order_by(User.email),
        clients=Client.select().where(Client.flavour != "resource").order_by(Client.key),
        faults=faults.active(),
        smtp_faults=smtp_faults.active(),
        now=datetime.datetime.fromtimestamp(store.now(), datetime.UTC),
        offset=store.clock_offset(),
    )


@bp.get("/health")
def health():
    return jsonify({"ok": True, "now": store.now()})


@bp.post("/reset")
def reset():
    """Forget every user (but the system mailer), grant, token, fault and clock change."""
    accounts.reset()
    faults.clear()
    smtp_faults.clear()
    signal_delivery.clear()
    signals.delete_streams()
    return done()


# -- users --------------------------------------------------------------------------------------

@bp.get("/users")
def list_users():
    return jsonify([u.as_dict() for u in User.select().order_by(User.email)])


@bp.post("/users")
def create_user():
    data = body()
    user = accounts.create_user(data.get("email", ""), data.get("password", ""),
                                data.get("kind", "google"), data.get("name") or None)
    if request.form.get("_page"):
        return redirect(url_for("admin.page"))
    return jsonify(user.as_dict()), 201


@bp.get("/users/<email>")
def get_user(email):
    user = user_or_404(email)
    return jsonify(dict(user.as_dict(), apps=[
        {"client": a["client"].key, "scopes": sorted(a["scopes"]), "granted_at": a["granted_at"]}
        for a in accounts.apps_with_access(user)], refreshes=accounts.refresh_count(user)))


@bp.delete("/users/<email>")
def delete_user(email):
    accounts.delete_user(user_or_404(email))
    return done()


@bp.post("/users/<email>/password")
def change_password(email):
    user = user_or_404(email)
    clients = signals.clients_with_access(user)
    accounts.change_password(user, body().get("password", ""))
    signal_api.after_access_change(user, signals.SESSIONS_REVOKED, clients)
    return done()


@bp.post("/users/<email>/disable")
def disable_user(email):
    """The admin disables the account: grants end, apps get account-disabled."""
    signal_api.disable(user_or_404(email))
    return done()


@bp.post("/users/<email>/expire-tokens")
def expire_tokens(email):
    accounts.expire_tokens(user_or_404(email))
    return done()


@bp.post("/users/<email>/remove-access")
def remove_access(email):
    """What "Remove access" does, for one client (``client``) or every app."""
    key = body().get("client")
    user, client = user_or_404(email), client_or_404(key) if key else None
    clients = signals.clients_with_access(user, client)
    removed = accounts.remove_access(user, client)
    signal_api.after_access_change(user, signals.TOKENS_REVOKED, clients)
    return done(removed=removed)


@bp.post("/users/<email>/revoke-refresh-token")
def revoke_refresh_token(email):
    """One refresh token dies — ``token``, or the newest live one of ``client`` (the one the
    app holds) — and that client's stream gets token-revoked naming it by Google's identifier
    (``alg``: hash_base64_sha512_sha512, the default, or prefix)."""
    data, user = body(), user_or_404(email)
    client = client_or_404(data["client"]) if data.get("client") else None
    alg = data.get("alg") or signals.TOKEN_HASH_ALG
    if alg not in (signals.TOKEN_HASH_ALG, "prefix"):
        raise AccountError("alg must be hash_base64_sha512_sha512 or prefix")
    row = accounts.revoke_refresh_token(user, data.get("token") or None, client)
    subject = signals.token_subject(row.token, alg)
    queued = signals.emit_token_revoked(row.grant.client, row.token, user.email,
                                        signal_api.base(), alg)
    return done(token_identifier=subject["token"], queued=queued)


@bp.post("/users/<email>/mail")
def set_mail(email):
    """Turn IMAP/SMTP on or off for the mailbox (``{"enabled": false}``)."""
    accounts.set_mail_enabled(user_or_404(email), flag(body().get("enabled", True)))
    return done()


@bp.post("/users/<email>/require-consent")
def require_consent(email):
    accounts.require_consent(user_or_404(email))
    return done()


@bp.post("/users/<email>/require-signin")
def require_signin(email):
    accounts.require_signin(user_or_404(email))
    return done()


@bp.post("/users/<email>/tokens")
def issue_tokens(email):
    """The direct grant: access, refresh and ID tokens without a browser."""
    user = user_or_404(email)
    if not user.is_oauth:
        raise AccountError(f"{user.email} is a password ({user.kind}) user")
    data = body()
    client = client_or_404(data.get("client") or user.kind)
    if client.flavour != user.kind:
        raise AccountError(f"{user.email} is a {user.kind} user, not a {client.flavour} one")
    return jsonify(tokens.issue_direct(user, client, data.get("scope"))), 201


# -- clients ------------------------------------------------------------------------------------

@bp.get("/clients")
def list_clients():
    clients = Client.select().where(Client.flavour != "resource")
    return jsonify({c.key: c.as_dict() for c in clients})


@bp.post("/clients/<key>/rotate-secret")
def rotate_secret(key):
    return done(client_secret=accounts.rotate_secret(client_or_404(key)))


@bp.post("/clients/<key>/redirect-uris")
def set_redirect_uris(key):
    data = request.get_json(silent=True) or {"redirect_uris": request.form.getlist("redirect_uris")}
    accounts.set_redirect_uris(client_or_404(key), data.get("redirect_uris"))
    return done()


@bp.post("/clients/<key>/testing")
def set_testing(key):
    """Google's "Testing" publishing status: refresh tokens die 7 days after consent."""
    accounts.set_testing(client_or_404(key), flag(body().get("enabled", True)))
    return done()


# -- faults and the clock -----------------------------------------------------------------------

@bp.get("/faults")
def list_faults():
    return jsonify(faults.active() + smtp_faults.active())


@bp.post("/faults")
def set_fault():
    """``{"endpoint": "token", "mode": "unavailable"|"slow"|"timeout", "seconds": N}``, or a
    user's SMTP fault: ``{"endpoint": "smtp", "mode": "drop_after_dot", "user", "count"}`` or
    ``{"endpoint": "smtp", "mode": "refuse_xoauth2", "user", "at_message"}`` or
    ``{"endpoint": "smtp", "mode": "slow_data", "user", "seconds", "count"}``."""
    data = body()
    if data.get("endpoint") == "smtp":
        fault = set_smtp_fault(data)
    else:
        fault = faults.set_fault(data.get("endpoint", "token"), data.get("mode", "unavailable"),
                                 float(data.get("seconds", 60)),
                                 float(data["delay"]) if data.get("delay") else None)
    if request.form.get("_page"):
        return redirect(url_for("admin.page"))
    return jsonify(fault), 201


def set_smtp_fault(data: dict) -> dict:
    if not data.get("user"):
        raise ValueError("user is required: whose messages the fault is for")
    user = user_or_404(data["user"])
    mode = data.get("mode")
    if mode == "drop_after_dot":
        return smtp_faults.drop_after_dot(user.email, data.get("count", 1))
    if mode == "refuse_xoauth2":
        if not user.is_oauth:
            raise AccountError(f"{user.email} is a password ({user.kind}) user: it does not "
                               "sign in with XOAUTH2")
        return smtp_faults.refuse_xoauth2(user.email, data.get("at_message"))
    if mode == "slow_data":
        return smtp_faults.slow_data(user.email, data.get("seconds"), data.get("count", 1))
    raise ValueError(f"mode must be one of {', '.join(smtp_faults.MODES)}")


@bp.delete("/faults")
@bp.post("/faults/clear")
def clear_faults():
    faults.clear()
    smtp_faults.clear()
    return done()


@bp.get("/clock")
def clock():
    return jsonify({"now": store.now(), "offset": store.clock_offset()})


@bp.post("/clock/advance")
def advance_clock():
    """Move the sandbox clock forward (``{"seconds": N}``): expiry and fault windows follow."""
    seconds = float(body().get("seconds", 0))
    if seconds < 0:
        raise ValueError("the clock only moves forward")
    store.set_clock_offset(store.clock_offset() + seconds)
    current_app.logger.info("sandbox clock advanced by %ss", seconds)
    return done(now=store.now(), offset=store.clock_offset())
