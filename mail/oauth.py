"""OAuth with a provider: the consent URL (PKCE S256), code exchange, ID token checks,
refresh and revocation. Token endpoint failures come back classified (mail.failures).

Authlib's OAuth 2 client builds every request to the provider (consent URL, PKCE, token and
revocation POSTs, client authentication); its connections come from one pooled requests
session. joserfc verifies ID tokens against the provider's keys.
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
# The one HTTP transport to providers. A health-check cycle refreshes thousands of tokens:
# every call's client borrows these adapters, so connections are pooled and reused.
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


def _client(provider: Provider, **options) -> OAuth2Session:
    """Authlib's client for one call, on the shared connection pool.

    One per call rather than one per provider: the session keeps the token it last received
    and `refresh_token()` returns that attribute, so a session shared by the check threads
    could hand one mailbox the tokens of another. Building one is cheap next to the round
    trip; the costly part, the connections, lives in `_http`'s adapters, which it borrows.
    Never close it (`with`, `.close()`): that would close the shared adapters.
    """
    client = OAuth2Session(provider.client_id, provider.client_secret,
                           # Google and Microsoft both take the credentials in the form.
                           token_endpoint_auth_method="client_secret_post",
                           revocation_endpoint_auth_method="client_secret_post",
                           default_timeout=TIMEOUT, **options)
    for prefix, adapter in _http.adapters.items():
        client.mount(prefix, adapter)
    client.register_compliance_hook("access_token_response", _token_or_failure)
    client.register_compliance_hook("refresh_token_response", _token_or_failure)
    return client


def _token_or_failure(response: requests.Response) -> requests.Response:
    """Authlib's compliance hook, run on the token endpoint's answer before Authlib parses it.

    Anything but a token is classified here from the whole answer: Authlib's own error keeps
    only `error` and its description (Microsoft's `error_codes` and Google's `error_subtype`
    would be lost), and it turns a 5xx into requests' HTTPError before looking at the body.
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body \
            or "error" in body:
        raise MailError(from_token_response(response.status_code, body))
    return response


def _over_the_network(call):
    """Run a token request; time-outs and connection trouble are transient failures."""
    try:
        return call()
    except requests.Timeout as e:
        raise MailError(Failure(Kind.TRANSIENT, "timeout", "The provider did not answer in "
                                "time; Tether will retry.", "token endpoint")) from e
    except requests.RequestException as e:
        cause = e.__context__ if isinstance(e.__context__, OSError) else e
        raise MailError(from_network_error(cause, "token endpoint")) from e


def _tokens(token: dict, *, refresh_token: str | None) -> Tokens:
    return Tokens(access_token=token["access_token"], refresh_token=refresh_token,
                  expires_in=int(token.get("expires_in") or 3600), scope=token.get("scope") or "",
                  id_token=token.get("id_token"))


def authorization_url(provider: Provider, *, redirect_uri: str, state: str, code_verifier: str,
                      nonce: str, login_hint: str = "") -> str:
    """The provider's consent URL for this attempt. With `login_hint`, the known address of a
    mailbox being reconnected, the provider is asked for that account; without, the person
    adds a mailbox and the provider lets them choose the account (its auth_params)."""
    client = _client(provider, scope=provider.scope, redirect_uri=redirect_uri,
                     code_challenge_method="S256")
    if login_hint:
        extra = dict(provider.reconnect_params, login_hint=login_hint)
    else:
        extra = dict(provider.auth_params)
    url, _ = client.create_authorization_url(provider.authorize_url, state=state,
                                             code_verifier=code_verifier, nonce=nonce, **extra)
    return url


# Authlib's default asks for "…;charset=UTF-8"; requests' own form header is what providers
# document and what Tether has always sent.
_TOKEN_HEADERS = {"Accept": "application/json"}


def exchange_code(provider: Provider, *, code: str, redirect_uri: str, code_verifier: str) -> Tokens:
    client = _client(provider, redirect_uri=redirect_uri)
    token = _over_the_network(lambda: client.fetch_token(
        provider.token_url, grant_type="authorization_code", code=code,
        code_verifier=code_verifier, headers=dict(_TOKEN_HEADERS)))
    return _tokens(token, refresh_token=token.get("refresh_token"))


def refresh(provider: Provider, refresh_token: str) -> Tokens:
    # The client holds the grant it refreshes. Authlib leaves an empty token out of the form
    # (the provider then refuses the request) instead of failing on a client without a token.
    client = _client(provider, token={"refresh_token": refresh_token})
    token = _over_the_network(lambda: client.refresh_token(provider.token_url,
                                                           headers=dict(_TOKEN_HEADERS)))
    # Authlib fills in the old refresh token when the answer has none; Tether's callers want
    # to know whether the provider rotated it (Microsoft) or kept it (Google).
    kept = token.get("refresh_token") in (None, refresh_token)
    return _tokens(token, refresh_token=None if kept else token["refresh_token"])


def revoke(provider: Provider, token: str) -> bool:
    """Best effort (RFC 7009): True if the provider confirmed. Microsoft offers no endpoint."""
    if not provider.revoke_url or not token:
        return False
    try:
        response = _client(provider).revoke_token(provider.revoke_url, token=token)
    except requests.RequestException:
        return False
    return response.status_code == 200


class _Keys:
    """The provider's signing keys, cached for an hour and refetched on an unknown key id."""

    def __init__(self):
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, KeySet]] = {}

    def get(self, jwks_uri: str, force: bool = False, min_gap: float = 0.0) -> KeySet:
        """`min_gap`: a forced refetch waits that long after the last fetch, so a stream of
        made-up key ids (push signals arrive unauthenticated) cannot hammer the provider."""
        with self._lock:
            hit = self._cache.get(jwks_uri)
            age = time.monotonic() - hit[0] if hit else None
            if hit and (not force or age < min_gap) and age < 3600:
                return hit[1]
        keys = KeySet.import_key_set(_http.get(jwks_uri, timeout=TIMEOUT).json())
        with self._lock:
            self._cache[jwks_uri] = (time.monotonic(), keys)
        return keys


_keys = _Keys()


def signing_keys(jwks_uri: str, *, refetch: bool = False) -> KeySet:
    """A provider's published keys (cached for an hour); `refetch` for a key id not in them."""
    return _keys.get(jwks_uri, force=refetch, min_gap=5.0)


def get_json(url: str) -> dict:
    """A provider's JSON document (discovery, transmitter configuration) over the shared pool."""
    response = _http.get(url, timeout=TIMEOUT, allow_redirects=False)
    response.raise_for_status()
    return response.json()


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
