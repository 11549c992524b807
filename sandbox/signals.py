"""The sandbox as a transmitter of Security Event Tokens (RFC 8417): what it says, in which
dialect, to which stream.

Two dialects share one signing key and one origin:
- **ssf** (OpenID Shared Signals Framework 1.0): issuer = the sandbox's origin, stream config
  `delivery: {method, endpoint_url}`, subject `sub_id: {"format": "iss_sub", …}` (RFC 9493),
  verification `ssf/event-type/verification`;
- **risc** (Google's Cross-Account Protection): issuer written as Google writes it, with a
  trailing slash, stream config `delivery: {delivery_method, url}`, the subject inside the event
  as `{"subject_type": "iss-sub", …}`, verification `risc/event-type/verification`.

A stream belongs to one registered client (its audience) and remembers the dialect it was
created in. Events go only to clients the user had granted access to. Google's token-revoked
names one refresh token, not the user: `{"subject_type": "oauth_token", "token_type":
"refresh_token", "token_identifier_alg": "hash_base64_sha512_sha512", "token": …}` inside the
event, in both dialects (RFC 9493 has no format for a token).
"""

import base64
import hashlib
import json
import secrets
import uuid

from joserfc import jwt

from sandbox import flavours, signal_delivery, store
from sandbox.store import Client, Grant, User

TOKENS_REVOKED = "https://schemas.openid.net/secevent/oauth/event-type/tokens-revoked"
TOKEN_REVOKED = "https://schemas.openid.net/secevent/oauth/event-type/token-revoked"
SESSIONS_REVOKED = "https://schemas.openid.net/secevent/risc/event-type/sessions-revoked"
ACCOUNT_DISABLED = "https://schemas.openid.net/secevent/risc/event-type/account-disabled"
ACCOUNT_ENABLED = "https://schemas.openid.net/secevent/risc/event-type/account-enabled"
CREDENTIAL_CHANGE = ("https://schemas.openid.net/secevent/risc/event-type/"
                     "account-credential-change-required")
VERIFICATION = {
    "ssf": "https://schemas.openid.net/secevent/ssf/event-type/verification",
    "risc": "https://schemas.openid.net/secevent/risc/event-type/verification",
}
EVENTS_SUPPORTED = (TOKENS_REVOKED, TOKEN_REVOKED, SESSIONS_REVOKED, ACCOUNT_DISABLED,
                    ACCOUNT_ENABLED, CREDENTIAL_CHANGE)
SSF_PUSH = "urn:ietf:rfc:8935"
RISC_PUSH = "https://schemas.openid.net/secevent/risc/delivery-method/push"

PATHS = {
    "ssf": {"config": "/.well-known/ssf-configuration", "jwks": "/ssf/jwks",
            "stream": "/ssf/stream", "verify": "/ssf/verify"},
    "risc": {"config": "/.well-known/risc-configuration", "jwks": flavours.PATHS["google"]["jwks"],
             "stream": "/v1beta/stream", "update": "/v1beta/stream:update",
             "verify": "/v1beta/stream:verify"},
}


class StreamError(ValueError):
    """A stream request the transmitter refuses (400 with a message)."""


def issuer(dialect: str, base: str) -> str:
    return base + "/" if dialect == "risc" else base  # Google writes "https://accounts.google.com/"


def configuration(dialect: str, base: str) -> dict:
    """The transmitter configuration document (SSF §7.1; Google's RISC variant)."""
    paths = PATHS[dialect]
    doc = {
        "issuer": issuer(dialect, base),
        "jwks_uri": base + paths["jwks"],
        "delivery_methods_supported": [RISC_PUSH if dialect == "risc" else SSF_PUSH],
        "configuration_endpoint": base + paths["stream"],
        "verification_endpoint": base + paths["verify"],
    }
    if dialect == "ssf":
        doc.update(spec_version="1_0", default_subjects="ALL",
                   authorization_schemes=[{"spec_urn": "urn:ietf:rfc:6749"}])
    return doc


# -- streams ----------------------------------------------------------------------------------

def _key(client: Client) -> str:
    return f"stream:{client.key}"


def stream_of(client: Client) -> dict | None:
    raw = store.Setting.get_value(_key(client))
    return json.loads(raw) if raw else None


def save_stream(client: Client, dialect: str, data: dict, base: str) -> dict:
    """Create or update the client's stream from a request body in `dialect`'s shape."""
    delivery = data.get("delivery") or {}
    if not isinstance(delivery, dict):
        raise StreamError("delivery must be an object")
    if dialect == "risc":
        method, url = delivery.get("delivery_method"), delivery.get("url")
        expected = RISC_PUSH
    else:
        method, url = delivery.get("method"), delivery.get("endpoint_url")
        expected = SSF_PUSH
    if method != expected:
        raise StreamError(f"delivery method must be {expected}")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise StreamError("the push endpoint must be an http(s) URL")
    requested = data.get("events_requested") or []
    if not isinstance(requested, list) or not all(isinstance(e, str) for e in requested):
        raise StreamError("events_requested must be a list of event type URIs")
    previous = stream_of(client) or {}
    stream = {"stream_id": previous.get("stream_id") or str(uuid.uuid4()), "dialect": dialect,
              "url": url, "events_requested": requested}
    store.Setting.put(_key(client), json.dumps(stream))
    return describe(client, stream, base)


def delete_stream(client: Client) -> None:
    store.Setting.delete().where(store.Setting.key == _key(client)).execute()


def delete_streams() -> None:
    store.Setting.delete().where(store.Setting.key.startswith("stream:")).execute()


def describe(client: Client, stream: dict, base: str) -> dict:
    """The stream configuration as its dialect shows it."""
    dialect = stream["dialect"]
    delivered = [e for e in EVENTS_SUPPORTED
                 if not stream["events_requested"] or e in stream["events_requested"]]
    out = {"iss": issuer(dialect, base), "aud": client.client_id,
           "events_supported": list(EVENTS_SUPPORTED),
           "events_requested": stream["events_requested"], "events_delivered": delivered}
    if dialect == "risc":
        out["delivery"] = {"delivery_method": RISC_PUSH, "url": stream["url"]}
    else:
        out["stream_id"] = stream["stream_id"]
        out["delivery"] = {"method": SSF_PUSH, "endpoint_url": stream["url"]}
    return out


def streams() -> list[tuple[Client, dict]]:
    found = []
    for client in Client.select().where(Client.flavour != "resource"):
        stream = stream_of(client)
        if stream:
            found.append((client, stream))
    return found


# -- events -----------------------------------------------------------------------------------

def sign(claims: dict, header: dict | None = None) -> str:
    """An RS256 SET with the sandbox's key (the control API's forging hook uses it too)."""
    from sandbox.tokens import signing_key

    key = signing_key()
    head = {"alg": "RS256", "kid": key.kid, "typ": "secevent+jwt", **(header or {})}
    return jwt.encode(head, claims, key, algorithms=[head["alg"]])


def subject(dialect: str, user: User, client: Client, base: str) -> dict:
    """Who the event is about: the OpenID issuer that named the user, and its `sub`."""
    if dialect == "risc":
        return {"subject_type": "iss-sub", "iss": issuer("risc", base), "sub": user.subject}
    return {"format": "iss_sub", "iss": flavours.issuer(client.flavour, base, user.tenant_id),
            "sub": user.subject}


TOKEN_HASH_ALG = "hash_base64_sha512_sha512"


def token_subject(refresh_token: str, alg: str = TOKEN_HASH_ALG) -> dict:
    """A refresh token as Google's token-revoked names it: base64 of SHA-512 of the SHA-512
    digest of the token (or, for `prefix`, its first 16 characters)."""
    if alg == "prefix":
        value = refresh_token[:16]
    else:
        inner = hashlib.sha512(refresh_token.encode()).digest()
        value = base64.b64encode(hashlib.sha512(inner).digest()).decode()
    return {"subject_type": "oauth_token", "token_type": "refresh_token",
            "token_identifier_alg": alg, "token": value}


def build(client: Client, stream: dict, event: str, payload: dict, base: str,
          user: User | None = None) -> str:
    dialect = stream["dialect"]
    claims = {"iss": issuer(dialect, base), "aud": client.client_id, "iat": int(store.now()),
              "jti": secrets.token_hex(16), "events": {event: dict(payload)}}
    if "subject" in payload:  # the event names its own subject: a refresh token
        return sign(claims)
    if user is not None:
        about = subject(dialect, user, client, base)
        if dialect == "risc":
            claims["events"][event]["subject"] = about
        else:
            claims["sub_id"] = about
    elif dialect == "ssf":  # a verification event is about the stream itself
        claims["sub_id"] = {"format": "opaque", "id": stream["stream_id"]}
    return sign(claims)


def clients_with_access(user: User, client: Client | None = None) -> list[Client]:
    """The clients the user granted access to (alive now), before an action ends the grants."""
    query = (Client.select().join(Grant).where(Grant.user == user, Grant.removed_at.is_null())
             .distinct())
    if client is not None:
        query = query.where(Client.id == client.id)
    return list(query)


def emit(user: User, event: str, clients: list[Client], base: str, payload=None,
         count: int = 1) -> int:
    """Push `event` about `user` to each of `clients` that has a stream asking for it."""
    queued = 0
    for client in clients:
        stream = stream_of(client)
        if not stream or (stream["events_requested"] and event not in stream["events_requested"]):
            continue
        for _ in range(count):
            signal_delivery.push(stream["url"], build(client, stream, event, payload or {},
                                                       base, user), event, user.email)
            queued += 1
    return queued


def emit_token_revoked(client: Client, refresh_token: str, about: str, base: str,
                       alg: str = TOKEN_HASH_ALG) -> int:
    """Push token-revoked naming one refresh token to `client`'s stream, if it asks for it."""
    stream = stream_of(client)
    if not stream or (stream["events_requested"]
                      and TOKEN_REVOKED not in stream["events_requested"]):
        return 0
    payload = {"subject": token_subject(refresh_token, alg)}
    signal_delivery.push(stream["url"], build(client, stream, TOKEN_REVOKED, payload, base),
                         TOKEN_REVOKED, about)
    return 1


def verify(client: Client, state: str, base: str) -> None:
    """The verification event (SSF §8.1.4): proves the push path works end to end."""
    stream = stream_of(client)
    if not stream:
        raise StreamError("no stream to verify: create one first")
    event = VERIFICATION[stream["dialect"]]
    signal_delivery.push(stream["url"], build(client, stream, event, {"state": state}, base),
                         event, "")
