"""The tokens the sandbox issues, shaped like each provider's: opaque bearer tokens, their
rows, the RS256 signing key and the ID tokens it signs. The OAuth endpoints (``oauth.py``)
and the control API's direct grant (``admin.py``) both issue through here.
"""

import base64
import hashlib
import json
import secrets

from flask import current_app
from joserfc import jwt
from joserfc.jwk import RSAKey

from sandbox import accounts, flavours, store
from sandbox.store import AccessToken, Client, Grant, RefreshToken, User, now


def base_url() -> str:
    return current_app.config["SANDBOX_BASE_URL"]


_TOKEN_PREFIX = {"google": ("ya29.sbx-", "1//sbx-"), "microsoft": ("EwB.sbx-", "M.C5.sbx-")}


def generate_token(grant_type, client, user=None, scope=None, expires_in=None,
                   include_refresh_token=True):
    """Opaque bearer tokens shaped like each provider's (Authlib's token generator hook)."""
    access_prefix, refresh_prefix = _TOKEN_PREFIX[client.flavour]
    lifetime = expires_in or store.ACCESS_TOKEN_LIFETIME
    token = {
        "access_token": access_prefix + secrets.token_urlsafe(40),
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": scope,
    }
    if client.flavour == "microsoft":
        token["ext_expires_in"] = lifetime
    if include_refresh_token:
        token["refresh_token"] = refresh_prefix + secrets.token_urlsafe(48)
        if client.testing:  # Google tells a "Testing" app how long its refresh token lives
            token["refresh_token_expires_in"] = store.TESTING_REFRESH_LIFETIME
    return token


def store_tokens(grant: Grant, token: dict) -> None:
    issued = now()
    AccessToken.create(token=token["access_token"], grant=grant, scope=token["scope"],
                       issued_at=issued, expires_in=token["expires_in"])
    if "refresh_token" in token:
        RefreshToken.create(token=token["refresh_token"], grant=grant, issued_at=issued,
                            last_used_at=issued)


def signing_key() -> RSAKey:
    key = current_app.extensions.get("sandbox_signing_key")
    if key is None:
        data = store.kept_secret("signing_jwk", lambda: json.dumps(
            RSAKey.generate_key(2048, private=True, auto_kid=True).as_dict(private=True)))
        key = current_app.extensions["sandbox_signing_key"] = RSAKey.import_key(json.loads(data))
    return key


def id_token(user: User, client: Client, scope: str, access_token: str,
             nonce: str | None = None, auth_time: float | None = None) -> str:
    issued = int(now())
    digest = hashlib.sha256(access_token.encode()).digest()
    claims = {
        "iss": flavours.issuer(client.flavour, base_url(), user.tenant_id),
        "aud": client.client_id,
        "iat": issued,
        "nbf": issued,
        "exp": issued + 3600,
        "at_hash": base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode(),
    }
    claims.update(flavours.identity_claims(client.flavour, user))
    if client.flavour == "google":
        claims["azp"] = client.client_id
        if "email" not in scope.split():  # Google names the address only for the email scope
            claims.pop("email"), claims.pop("email_verified")
    if nonce:
        claims["nonce"] = nonce
    if auth_time:
        claims["auth_time"] = int(auth_time)
    key = signing_key()
    return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key)


def issue_direct(user: User, client: Client, scope: str | None = None) -> dict:
    """Tokens without a browser (the control API's direct grant): a consent, then a token."""
    scope = client.get_allowed_scope(scope or flavours.RECOMMENDED_SCOPE[client.flavour])
    grant = accounts.create_grant(user, client, scope)
    token = generate_token("authorization_code", client, user, scope)
    store_tokens(grant, token)
    if "openid" in scope.split():
        token["id_token"] = id_token(user, client, scope, token["access_token"], auth_time=now())
    return token
