"""The transmitter's HTTP side: configuration documents, JWKS, stream management (both
dialects, see signals.py) and its controls under /control/signals.

Stream management authenticates the receiver by its OAuth client credentials (HTTP Basic):
the stream's audience is that client. Google asks for a service account's signed JWT instead;
the sandbox keeps to the credentials Tether already has.
"""

from flask import Blueprint, abort, current_app, jsonify, make_response, request

from sandbox import accounts, signal_delivery, signals
from sandbox.signals import StreamError
from sandbox.store import Client, User

bp = Blueprint("signals", __name__)


def base() -> str:
    return current_app.config["SANDBOX_BASE_URL"]


@bp.errorhandler(StreamError)
@bp.errorhandler(ValueError)
def bad_request(error):
    return jsonify({"error": "bad_request", "message": str(error)}), 400


def _client() -> Client:
    auth = request.authorization
    client = Client.find(auth.username) if auth and auth.username else None
    if client is None or client.flavour == "resource" or not auth.password or \
            not client.check_client_secret(auth.password):
        abort(make_response(jsonify({"error": "unauthorized",
                                     "message": "client credentials required"}), 401))
    return client


def _body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise StreamError("the body must be a JSON object")
    return data


@bp.get("/.well-known/ssf-configuration")
def ssf_configuration():
    return jsonify(signals.configuration("ssf", base()))


@bp.get("/.well-known/risc-configuration")
def risc_configuration():
    return jsonify(signals.configuration("risc", base()))


@bp.get(signals.PATHS["ssf"]["jwks"])
def jwks():
    from sandbox.tokens import signing_key

    return jsonify({"keys": [signing_key().as_dict(private=False)]})


# -- SSF stream management (§8.1.1) ----------------------------------------------------------

@bp.post(signals.PATHS["ssf"]["stream"])
def ssf_create():
    client = _client()
    if signals.stream_of(client):
        return jsonify({"error": "conflict", "message": "a stream exists: update it"}), 409
    return jsonify(signals.save_stream(client, "ssf", _body(), base())), 201


@bp.route(signals.PATHS["ssf"]["stream"], methods=["PATCH", "PUT"])
def ssf_update():
    client = _client()
    stream = signals.stream_of(client)
    data = _body()
    if not stream or data.get("stream_id") != stream["stream_id"]:
        abort(make_response(jsonify({"error": "not_found", "message": "no such stream"}), 404))
    return jsonify(signals.save_stream(client, "ssf", data, base()))


@bp.get(signals.PATHS["ssf"]["stream"])
def ssf_read():
    return _read(_client())


@bp.delete(signals.PATHS["ssf"]["stream"])
def ssf_delete():
    signals.delete_stream(_client())
    return "", 204


@bp.post(signals.PATHS["ssf"]["verify"])
def ssf_verify():
    client = _client()
    signals.verify(client, str(_body().get("state", "")), base())
    return "", 204


# -- Google's RISC stream management ---------------------------------------------------------

@bp.get(signals.PATHS["risc"]["stream"])
def risc_read():
    return _read(_client())


@bp.post(signals.PATHS["risc"]["update"])
def risc_update():
    return jsonify(signals.save_stream(_client(), "risc", _body(), base()))


@bp.post(signals.PATHS["risc"]["verify"])
def risc_verify():
    signals.verify(_client(), str(_body().get("state", "")), base())
    return jsonify({})


def _read(client: Client):
    stream = signals.stream_of(client)
    if not stream:
        abort(make_response(jsonify({"error": "not_found", "message": "no stream"}), 404))
    return jsonify(signals.describe(client, stream, base()))


# -- controls ---------------------------------------------------------------------------------

@bp.get("/control/signals/deliveries")
def deliveries():
    """Every push so far: url, event, user, attempts, status (delivered, retrying, refused,
    dropped, abandoned) and the last HTTP status."""
    return jsonify(signal_delivery.deliveries())


@bp.post("/control/signals/faults")
def set_fault():
    """``{"mode": "delay", "seconds": S, "count": N}`` or ``{"mode": "drop", "count": N}``."""
    data = request.get_json(silent=True) or {}
    return jsonify(signal_delivery.set_fault(data.get("mode", ""), data.get("count", 1),
                                             data.get("seconds", 0))), 201


@bp.delete("/control/signals/faults")
def clear_faults():
    signal_delivery.clear()
    return jsonify({"ok": True})


@bp.get("/control/signals/streams")
def list_streams():
    return jsonify({client.key: signals.describe(client, stream, base())
                    for client, stream in signals.streams()})


@bp.post("/control/signals/sign")
def forge():
    """Sign any claims (and header fields) with the transmitter's key: tests build the bad SETs
    a receiver must refuse (wrong audience, old iat, replayed jti…)."""
    data = request.get_json(silent=True) or {}
    if not isinstance(data.get("claims"), dict):
        raise StreamError("claims must be an object")
    return jsonify({"set": signals.sign(data["claims"], data.get("header") or {})})


@bp.post("/control/signals/emit")
def emit():
    """``{"email", "event", "count"?: 1, "client"?}``: push an event about a user as is,
    without changing anything at the provider (a stale or duplicated signal, a burst)."""
    data = request.get_json(silent=True) or {}
    user = User.find(data.get("email"))
    if user is None:
        abort(make_response(jsonify({"error": "not_found", "message": "no such user"}), 404))
    event = data.get("event", signals.TOKENS_REVOKED)
    if event not in signals.EVENTS_SUPPORTED:
        raise StreamError("unknown event type")
    count = int(data.get("count", 1))
    if not 1 <= count <= 1000:
        raise StreamError("count must be between 1 and 1000")
    key = data.get("client")
    clients = [c for c in Client.select().where(Client.flavour == user.kind)
               if not key or key in (c.key, c.client_id)]
    return jsonify({"queued": signals.emit(user, event, clients, base(), count=count)})


def after_access_change(user: User, event: str, clients: list[Client]) -> None:
    """Tell the streams of `clients` (found before the change ended their grants)."""
    signals.emit(user, event, clients, base())


def disable(user: User) -> None:
    """The provider's admin disabled the account: every grant ends, apps are told."""
    clients = signals.clients_with_access(user)
    accounts.remove_access(user, reason="account_disabled")
    after_access_change(user, signals.ACCOUNT_DISABLED, clients)
