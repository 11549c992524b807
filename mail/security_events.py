"""Security Event Tokens pushed by a provider (RFC 8417 SETs, RFC 8935 push delivery; the
OpenID Shared Signals Framework and Google's RISC dialect of it): is this SET genuine, fresh and
for us, and which (issuer, sub) is it about?

Plain Python, like the rest of mail/: models/signals.py decides what Tether does with an event.
Every refusal is a `Refused` carrying RFC 8935's error code and a description in words.
"""

import base64
import json
import threading
import time
from dataclasses import dataclass

import requests
from joserfc import jwt
from joserfc.errors import JoseError

from mail import oauth
from mail.providers import Provider

_OAUTH = "https://schemas.openid.net/secevent/oauth/event-type/"
_RISC = "https://schemas.openid.net/secevent/risc/event-type/"
VERIFICATION = {_RISC + "verification",
                "https://schemas.openid.net/secevent/ssf/event-type/verification"}
# Every event type Google sends. Each asks for a check, never a status change by itself:
# the check's own refresh decides (a stale or duplicated event is then harmless).
CHECK_EVENTS = {_OAUTH + "tokens-revoked", _OAUTH + "token-revoked", _RISC + "sessions-revoked",
                _RISC + "account-disabled", _RISC + "account-enabled",
                _RISC + "account-credential-change-required"}
KNOWN_EVENTS = CHECK_EVENTS | VERIFICATION

MAX_BYTES = 64 * 1024  # a SET is a few hundred bytes; anything near this is not one
# A transmitter retries for a while (the sandbox: 10 minutes); accept an iat that old, and a
# little from the future (clocks differ).
MAX_AGE = 3600
MAX_SKEW = 300
CONFIG_TTL = 3600


class Refused(Exception):
    """RFC 8935 §2.3: `err` is one of invalid_request, invalid_key, invalid_issuer,
    invalid_audience, authentication_failed, access_denied."""

    def __init__(self, err: str, description: str):
        super().__init__(description)
        self.err, self.description = err, description


@dataclass(frozen=True)
class SecurityEvent:
    provider: Provider
    issuer: str
    jti: str
    iat: float
    event_types: tuple[str, ...]
    subject_iss: str = ""   # the OpenID issuer that named the user ("" : no iss-sub subject)
    subject_sub: str = ""
    token_alg: str = ""     # an oauth_token subject (token-revoked): how `token` names it
    token: str = ""

    @property
    def is_verification(self) -> bool:
        return all(t in VERIFICATION for t in self.event_types)


# -- transmitter configuration ------------------------------------------------------------------

_lock = threading.Lock()
_configs: dict[str, tuple[float, dict]] = {}


def transmitter(provider: Provider) -> dict:
    """The provider's transmitter configuration (issuer, jwks_uri, stream endpoints), cached."""
    url = provider.signals_config_url
    with _lock:
        hit = _configs.get(url)
        if hit and time.monotonic() - hit[0] < CONFIG_TTL:
            return hit[1]
    doc = oauth.get_json(url)
    if not isinstance(doc, dict) or not doc.get("issuer") or not doc.get("jwks_uri"):
        raise ValueError(f"{url} is not a transmitter configuration")
    with _lock:
        _configs[url] = (time.monotonic(), doc)
    return doc


def _provider_for(issuer: str, providers) -> tuple[Provider, dict]:
    for provider in providers:
        if not provider.signals_config_url:
            continue
        try:
            config = transmitter(provider)
        except (requests.RequestException, ValueError):
            continue  # that transmitter is unreachable: its SETs cannot be checked now
        if config["issuer"] == issuer:
            return provider, config
    raise Refused("invalid_issuer", "this issuer is not a transmitter Tether knows")


# -- the SET ------------------------------------------------------------------------------------

def _segment(part: str) -> dict:
    try:
        value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, UnicodeDecodeError) as e:
        raise Refused("invalid_request", "the SET is not a JWT") from e
    if not isinstance(value, dict):
        raise Refused("invalid_request", "the SET is not a JWT")
    return value


def parse(body: bytes, providers, now: float | None = None) -> SecurityEvent:
    """Check a pushed SET completely; the event, or `Refused`."""
    if len(body) > MAX_BYTES:
        raise Refused("invalid_request", "the body is too large for a SET")
    try:
        token = body.decode("ascii").strip()
    except UnicodeDecodeError as e:
        raise Refused("invalid_request", "the SET is not a JWT") from e
    parts = token.split(".")
    if len(parts) == 5:
        raise Refused("invalid_request", "encrypted SETs (JWE) are not accepted: sign them")
    if len(parts) != 3:
        raise Refused("invalid_request", "the SET is not a JWT")
    header, unverified = _segment(parts[0]), _segment(parts[1])
    if header.get("alg") != "RS256":
        raise Refused("invalid_request", f"alg {header.get('alg')!r} is not accepted: RS256 only")
    provider, config = _provider_for(str(unverified.get("iss", "")), providers)
    claims = _verified(token, header, config["jwks_uri"])
    return _event(provider, config, claims, time.time() if now is None else now)


def _verified(token: str, header: dict, jwks_uri: str) -> dict:
    kid = header.get("kid")
    try:
        keys = oauth.signing_keys(jwks_uri)
        if not any(k.kid == kid for k in keys.keys):  # rotated: look once more
            keys = oauth.signing_keys(jwks_uri, refetch=True)
    except (requests.RequestException, ValueError) as e:
        raise Refused("invalid_key", "the transmitter's keys could not be fetched") from e
    if not any(k.kid == kid for k in keys.keys):
        raise Refused("invalid_key", "the SET is signed with a key the transmitter does not "
                                     "publish")
    try:
        return jwt.decode(token, keys, algorithms=["RS256"]).claims
    except (JoseError, ValueError) as e:
        raise Refused("invalid_key", "the SET's signature does not verify") from e


def _event(provider: Provider, config: dict, claims: dict, now: float) -> SecurityEvent:
    aud = claims.get("aud")
    if provider.client_id not in (aud if isinstance(aud, list) else [aud]):
        raise Refused("invalid_audience", "the SET is addressed to another app")
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        raise Refused("invalid_request", "the SET has no iat")
    if iat < now - MAX_AGE or iat > now + MAX_SKEW:
        raise Refused("invalid_request", "the SET's iat is too old or in the future")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= 200:
        raise Refused("invalid_request", "the SET has no usable jti")
    events = claims.get("events")
    if not isinstance(events, dict) or not events:
        raise Refused("invalid_request", "the SET names no event")
    unknown = [t for t in events if t not in KNOWN_EVENTS]
    if unknown:
        raise Refused("invalid_request", f"unknown event type {unknown[0]}")
    iss, sub = _subject(claims, events)
    alg, token = _token_subject(claims, events)
    return SecurityEvent(provider, config["issuer"], jti, float(iat), tuple(events), iss, sub,
                         alg, token)


def _subject(claims: dict, events: dict) -> tuple[str, str]:
    """(iss, sub) of an iss-sub subject: SSF's top-level `sub_id` (RFC 9493 `"format":
    "iss_sub"`) or the RISC profile's `subject` inside the event (Google spells it
    `"subject_type": "iss-sub"`). Other subjects (a token identifier) name no user: ("", "")."""
    candidates = [claims.get("sub_id")] + [e.get("subject") for e in events.values()
                                           if isinstance(e, dict)]
    for subject in candidates:
        if not isinstance(subject, dict):
            continue
        kind = subject.get("format") or subject.get("subject_type")
        if kind in ("iss_sub", "iss-sub"):
            iss, sub = subject.get("iss"), subject.get("sub")
            if isinstance(iss, str) and isinstance(sub, str) and iss and sub:
                return iss, sub
    return "", ""


def _token_subject(claims: dict, events: dict) -> tuple[str, str]:
    """(token_identifier_alg, token) of a refresh token named by an `oauth_token` subject
    (Google: `"subject_type": "oauth_token", "token_type": "refresh_token"`), or ("", "")."""
    candidates = [claims.get("sub_id")] + [e.get("subject") for e in events.values()
                                           if isinstance(e, dict)]
    for subject in candidates:
        if not isinstance(subject, dict):
            continue
        if (subject.get("format") or subject.get("subject_type")) != "oauth_token":
            continue
        if subject.get("token_type", "refresh_token") != "refresh_token":
            continue  # Google names refresh tokens only; Tether keeps no other kind for long
        alg, token = subject.get("token_identifier_alg"), subject.get("token")
        if isinstance(alg, str) and isinstance(token, str) and len(token) <= 200:
            return alg, token
    return "", ""


def same_issuer(a: str, b: str) -> bool:
    """Google writes its RISC subjects' issuer with a trailing slash, its ID tokens' without."""
    return bool(a) and a.rstrip("/") == b.rstrip("/")
