"""The OAuth 2.0 / OpenID Connect server, built on Authlib: grants and the JSON endpoints.

Token, revocation (RFC 7009), introspection (RFC 7662, what Dovecot asks at every OAuth
login), discovery and JWKS. The interactive authorization endpoint is in ``pages.py``.
Authlib decides *that* a request fails; ``flavours.token_error`` decides how each provider
says so, from the reason noted on the way (``store.note_reason``).
"""

import json

from authlib.consts import default_json_headers
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, grants
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import Blueprint, current_app, g, jsonify
from joserfc.jwk import KeySet

from sandbox import accounts, faults, flavours, store
from sandbox.store import (
    AccessToken,
    AuthCode,
    Client,
    Grant,
    RefreshToken,
    TokenRefresh,
    User,
    note_reason,
    now,
)
from sandbox.tokens import base_url, generate_token, id_token, signing_key, store_tokens

bp = Blueprint("oauth", __name__)


# -- Authlib wiring -----------------------------------------------------------------------------

class SandboxServer(AuthorizationServer):
    def query_client(self, client_id):
        client = Client.find(client_id)
        flavour = g.get("flavour")
        if client is None or (flavour and client.flavour != flavour):
            note_reason("unknown_client")
            return None
        return client

    def save_token(self, token, request):
        source = request.authorization_code or request.refresh_token
        store_tokens(source.grant, token)
        if request.refresh_token is not None:
            TokenRefresh.create(grant=source.grant, at=now())

    def handle_error_response(self, request, error):
        if error.redirect_uri:  # an authorization response: back to the client with the error
            return super().handle_error_response(request, error)
        status, body = flavours.token_error(g.get("flavour", "google"), error.error,
                                            error.description, store.noted_reason(),
                                            base_url(), now())
        headers = dict(default_json_headers)
        if status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="token"'
        return current_app.response_class(json.dumps(body), status=status, headers=headers)


class S256Challenge(CodeChallenge):
    """PKCE is mandatory here, and only with S256."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge': PKCE is required.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant, result):
        try:
            super().validate_code_verifier(grant, result)
        except InvalidGrantError:
            note_reason("pkce_failed")
            raise


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def save_authorization_code(self, code, request):
        consent = g.sandbox_consent  # set by the consent page: the grant and its options
        data = request.payload.data
        AuthCode.create(
            code=code,
            grant=consent["grant"],
            redirect_uri=request.payload.redirect_uri,
            scope=consent["grant"].scope,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            auth_time=consent["auth_time"],
            issue_refresh=consent["issue_refresh"],
            created_at=now(),
        )

    def query_authorization_code(self, code, client):
        row = (AuthCode.select(AuthCode, Grant).join(Grant)
               .where(AuthCode.code == code).first())
        if row is None or row.grant.client_id != client.id:
            note_reason("code_invalid")
            return None
        if row.used_at is not None:
            note_reason("code_used")
            return None
        if now() > row.created_at + store.CODE_LIFETIME:
            note_reason("code_expired")
            return None
        if row.grant.removed_at is not None:
            note_reason(row.grant.removed_reason)
            return None
        if row.redirect_uri != self.request.payload.redirect_uri:
            note_reason("redirect_mismatch")  # Authlib refuses it right after this
        return row

    def delete_authorization_code(self, authorization_code):
        # Kept, marked used, so a second redemption is told "already redeemed".
        authorization_code.used_at = now()
        authorization_code.save()

    def authenticate_user(self, authorization_code):
        return authorization_code.grant.user

    def generate_token(self, user=None, scope=None, grant_type=None, expires_in=None,
                       include_refresh_token=True):
        include = self.request.authorization_code.issue_refresh
        return super().generate_token(user, scope, grant_type, expires_in, include)

    def create_token_response(self):
        status, token, headers = super().create_token_response()
        code = self.request.authorization_code
        if "openid" in token["scope"].split():
            token["id_token"] = id_token(code.grant.user, self.request.client, token["scope"],
                                         token["access_token"], code.nonce, code.auth_time)
        return status, token, headers


class RefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def authenticate_refresh_token(self, refresh_token):
        row = (RefreshToken.select(RefreshToken, Grant, Client).join(Grant).join(Client)
               .where(RefreshToken.token == refresh_token).first())
        if row is None:
            note_reason("unknown_token")
            return None
        if row.grant.client_id != self.request.client.id:
            note_reason("client_mismatch")
            return None
        problem = row.problem()
        if problem:
            note_reason(problem)
            return None
        return row

    def authenticate_user(self, refresh_token):
        return refresh_token.grant.user

    def issue_token(self, user, refresh_token):
        # Microsoft hands out a new refresh token on every use; Google never does.
        rotate = refresh_token.grant.client.flavour == "microsoft"
        scope = self.request.payload.scope or refresh_token.get_scope()
        return self.generate_token(user=user, scope=scope, include_refresh_token=rotate)

    def revoke_old_credential(self, refresh_token):
        if refresh_token.grant.client.flavour == "microsoft":
            refresh_token.dead_at, refresh_token.dead_reason = now(), "rotated"
        refresh_token.last_used_at = now()
        refresh_token.save()

    def create_token_response(self):
        status, token, headers = super().create_token_response()
        if "openid" in token["scope"].split():
            token["id_token"] = id_token(self.request.user, self.request.client, token["scope"],
                                         token["access_token"])
        return status, token, headers


def find_token(token_string, hint=None):
    """An access or refresh token row with its grant, user and client in one query."""
    models = [AccessToken, RefreshToken]
    if hint == "refresh_token":
        models.reverse()
    for model in models:
        row = (model.select(model, Grant, User, Client).join(Grant).join(User)
               .switch(Grant).join(Client).where(model.token == token_string).first())
        if row is not None:
            return row
    return None


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string, token_type_hint):
        return find_token(token_string, token_type_hint)

    def revoke_token(self, token, request):
        accounts.revoke_grant(token.grant)


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string, token_type_hint):
        return find_token(token_string, token_type_hint)

    def check_permission(self, token, client, request):
        return client.flavour == "resource" or token.check_client(client)

    def create_endpoint_response(self, request):
        client = self.authenticate_endpoint_client(request)
        token = self.authenticate_token(request, client)
        return 200, introspection(token, for_mail_server=client.flavour == "resource"), \
            default_json_headers


def introspection(token, for_mail_server: bool) -> dict:
    """RFC 7662's answer. The mail server also gets ``mail_login``: allowed only for a live
    access token with mail scope, on a mailbox whose IMAP/SMTP is on. Dovecot checks it as its
    ``active_attribute`` and lets a login through when the attribute is *missing*, so it is
    always present."""
    body = {"active": False}
    if token is not None and token.problem() is None:
        grant = token.grant
        user, client = grant.user, grant.client
        body = {
            "active": True,
            "scope": token.get_scope(),
            "client_id": client.client_id,
            "token_type": "Bearer" if isinstance(token, AccessToken) else "refresh_token",
            "exp": int(token.expires_at()),
            "iat": int(token.issued_at),
            "sub": user.subject,
            "username": user.email,
            "email": user.email,
            "iss": flavours.issuer(client.flavour, base_url(), user.tenant_id),
        }
    if for_mail_server:
        allowed = (body["active"] and isinstance(token, AccessToken)
                   and token.grant.user.mail_enabled
                   and flavours.has_mail_scope(token.grant.client.flavour, token.scope))
        body["mail_login"] = "allowed" if allowed else "refused"
    return body


class FlavouredIssuer(IssuerParameter):
    """RFC 9207 ``iss`` on authorization responses; the consent page sets which one."""

    def get_issuer(self):
        return g.get("authorization_issuer")


server = SandboxServer()


def init_app(app) -> None:
    server.init_app(app)
    server.register_token_generator("default", generate_token)
    server.register_grant(CodeGrant, [S256Challenge(required=True)])
    server.register_grant(RefreshGrant)
    server.register_endpoint(Revocation)
    server.register_endpoint(Introspection)
    server.register_extension(FlavouredIssuer())
    app.register_blueprint(bp)


# -- endpoints ----------------------------------------------------------------------------------

def _token(flavour):
    g.flavour = flavour
    return (faults.intercept("token", flavour, base_url())
            or server.create_token_response())


@bp.post(flavours.PATHS["google"]["token"])
def google_token():
    """Google's token endpoint (authorization_code and refresh_token grants)."""
    return _token("google")


@bp.post("/<tenant>/oauth2/v2.0/token")
def microsoft_token(tenant):
    """Microsoft's token endpoint, for /common and any tenant."""
    return _token("microsoft")


def _revoke(flavour):
    g.flavour = flavour
    return (faults.intercept("revoke", flavour, base_url())
            or server.create_endpoint_response(Revocation.ENDPOINT_NAME))


@bp.post(flavours.PATHS["google"]["revoke"])
def google_revoke():
    """RFC 7009 revocation: revoking either token ends the whole grant, as at Google."""
    return _revoke("google")


@bp.post("/<tenant>/oauth2/v2.0/revoke")
def microsoft_revoke(tenant):
    """RFC 7009 revocation for the microsoft flavour (a sandbox convenience)."""
    return _revoke("microsoft")


@bp.post(flavours.INTROSPECT_PATH)
def introspect():
    """RFC 7662 introspection, for the mail server (and for clients, about their own tokens)."""
    return (faults.intercept("introspect", "google", base_url())
            or server.create_endpoint_response(Introspection.ENDPOINT_NAME))


@bp.get(flavours.PATHS["google"]["metadata"])
def google_metadata():
    return jsonify(flavours.metadata("google", base_url()))


@bp.get("/<tenant>/v2.0/.well-known/openid-configuration")
def microsoft_metadata(tenant):
    doc = flavours.metadata("microsoft", base_url())
    if tenant not in ("common", "organizations", "consumers"):
        doc["issuer"] = flavours.issuer("microsoft", base_url(), tenant)
    return jsonify(doc)


@bp.get(flavours.PATHS["google"]["jwks"])
@bp.get("/<tenant>/discovery/v2.0/keys")
def jwks(tenant=None):
    return jsonify(KeySet([signing_key()]).as_dict(private=False))
