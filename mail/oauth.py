"""OAuth with a provider: the consent URL (PKCE S256), code exchange, ID token checks,
refresh and revocation. Token endpoint failures come back classified (mail.failures).

One HTTP client (requests) with pooled connections; Authlib builds the authorization URL and
the PKCE challenge, joserfc verifies ID tokens against the provider's keys.
"""

import threading
import time
from dataclasses import dataclass, field

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from mail.failures import Failure, Kind, MailError, from_network_error, from_token_response
from mail.providers import Provider

TIMEOUT = 15
_http = requests.Session()
_http.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=64))
_http.mount("https://", requests.adapters.HTTPAdapter(pool_maxsize=64))


@dataclass(frozen=True)
class Tokens:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)  # None: the provider kept the old one
    expires_in: int
    scope: str
    id_token: str | None = field(default=None, repr=False)


def new_state() -> str:
    return generate_token(43)


def new_code_verifier() -> str:
    return generate_token(64)


def authorization_url(provider: Provider, *, redirect_uri: str, state: str, code_verifier: str,
                      nonce: str, login_hint: str = "") -> str:
    """The provider's consent URL for this attempt."""
    session = OAuth2Session(provider.client_id, scope=provider.scope, redirect_uri=redirect_uri,
                            code_challenge_method="S256")
    extra = dict(provider.auth_params)
    if login_hint:
        extra["login_hint"] = login_hint
    url, _ = session.create_authorization_url(provider.authorize_url, state=state,
                                              code_verifier=code_verifier, nonce=nonce, **extra)
    return url


def _post_token(provider: Provider, data: dict) -> Tokens:
    data = {**data, "client_id": provider.client_id, "client_secret": provider.client_secret}
    try:
        response = _http.post(provider.token_url, data=data, timeout=TIMEOUT,
                              headers={"Accept": "application/json"})
    except requests.Timeout as e:
        raise MailError(Failure(Kind.TRANSIENT, "timeout", "The provider did not answer in "
                                "time; Tether will retry.", "token endpoint")) from e
    except requests.RequestException as e:
        cause = e.__context__ if isinstance(e.__context__, OSError) else e
        raise MailError(from_network_error(cause, "token endpoint")) from e
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        raise MailError(from_token_response(response.status_code, body))
    return Tokens(access_token=body["access_token"], refresh_token=body.get("refresh_token"),
                  expires_in=int(body.get("expires_in") or 3600), scope=body.get("scope", ""),
                  id_token=body.get("id_token"))


def exchange_code(provider: Provider, *, code: str, redirect_uri: str, code_verifier: str) -> Tokens:
    return _post_token(provider, {"grant_type": "authorization_code", "code": code,
                                  "redirect_uri": redirect_uri, "code_verifier": code_verifier})


def refresh(provider: Provider, refresh_token: str) -> Tokens:
    return _post_token(provider, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def revoke(provider: Provider, token: str) -> bool:
    """Best effort (RFC 7009): True if the provider confirmed. Microsoft offers no endpoint."""
    if not provider.revoke_url or not token:
        return False
    try:
        response = _http.post(provider.revoke_url, data={
            "token": token, "client_id": provider.client_id,
            "client_secret": provider.client_secret}, timeout=TIMEOUT)
    except requests.RequestException:
        return False
    return response.status_code == 200


class _Keys:
    """The provider's signing keys, cached for an hour and refetched on an unknown key id."""

    def __init__(self):
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, KeySet]] = {}

    def get(self, jwks_uri: str, force: bool = False) -> KeySet:
        with self._lock:
            hit = self._cache.get(jwks_uri)
            if hit and not force and time.monotonic() - hit[0] < 3600:
                return hit[1]
        keys = KeySet.import_key_set(_http.get(jwks_uri, timeout=TIMEOUT).json())
        with self._lock:
            self._cache[jwks_uri] = (time.monotonic(), keys)
        return keys


_keys = _Keys()


class IdTokenInvalid(Exception):
    pass


def verify_id_token(provider: Provider, id_token: str, *, nonce: str, now: float | None = None) -> dict:
    """The ID token's claims after checking signature, issuer, audience, expiry and nonce."""
    try:
        try:
            token = jwt.decode(id_token, _keys.get(provider.jwks_uri))
        except (JoseError, ValueError):
            token = jwt.decode(id_token, _keys.get(provider.jwks_uri, force=True))
    except (JoseError, ValueError, requests.RequestException) as e:
        raise IdTokenInvalid(f"the ID token's signature could not be verified ({e})") from e
    claims = token.claims
    now = time.time() if now is None else now
    if not provider.issuer_ok(str(claims.get("iss", "")), claims):
        raise IdTokenInvalid("the ID token comes from an unexpected issuer")
    aud = claims.get("aud")
    if provider.client_id not in (aud if isinstance(aud, list) else [aud]):
        raise IdTokenInvalid("the ID token was issued to another app")
    if float(claims.get("exp", 0)) < now - 60:
        raise IdTokenInvalid("the ID token has expired")
    if claims.get("nonce") != nonce:
        raise IdTokenInvalid("the ID token does not answer this sign-in (nonce)")
    return claims
