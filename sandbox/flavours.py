"""What makes the sandbox look like Google or like Microsoft: paths, scopes, claims, errors.

Each registered client has a flavour; each endpoint path belongs to one flavour, so even a
request naming an unknown client is answered in the dialect of the provider it was sent to.
The error bodies follow ../shared/PROVIDERS.md: Tether's failure classification is tested
against exactly these answers.
"""

import datetime
import uuid

GOOGLE_MAIL_SCOPE = "https://mail.google.com/"
MICROSOFT_IMAP_SCOPE = "https://outlook.office.com/IMAP.AccessAsUser.All"
MICROSOFT_SMTP_SCOPE = "https://outlook.office.com/SMTP.Send"

MAIL_SCOPES = {
    "google": (GOOGLE_MAIL_SCOPE,),
    "microsoft": (MICROSOFT_IMAP_SCOPE, MICROSOFT_SMTP_SCOPE),
}
BASIC_SCOPES = {
    "google": ("openid", "email", "profile"),
    "microsoft": ("openid", "email", "profile", "offline_access"),
}
SCOPES_SUPPORTED = {f: BASIC_SCOPES[f] + MAIL_SCOPES[f] for f in MAIL_SCOPES}
# What a client should ask for (PROVIDERS.md, "Scopes and authorization parameters").
RECOMMENDED_SCOPE = {
    "google": f"openid email {GOOGLE_MAIL_SCOPE}",
    "microsoft": f"openid email offline_access {MICROSOFT_IMAP_SCOPE} {MICROSOFT_SMTP_SCOPE}",
}

SCOPE_DESCRIPTIONS = {
    "openid": "Associate you with your personal info",
    "email": "See your primary email address",
    "profile": "See your personal info, including any personal info you've made public",
    "offline_access": "Maintain access to data you have given it access to",
    GOOGLE_MAIL_SCOPE: "Read, compose, send, and permanently delete all your email from Gmail",
    MICROSOFT_IMAP_SCOPE: "Read and write access to your mail through IMAP",
    MICROSOFT_SMTP_SCOPE: "Send email from your mailbox through SMTP",
}

PATHS = {
    "google": {
        "metadata": "/.well-known/openid-configuration",
        "authorize": "/o/oauth2/v2/auth",
        "token": "/token",
        "revoke": "/revoke",
        "jwks": "/oauth2/v3/certs",
    },
    "microsoft": {
        "metadata": "/common/v2.0/.well-known/openid-configuration",
        "authorize": "/common/oauth2/v2.0/authorize",
        "token": "/common/oauth2/v2.0/token",
        "revoke": "/common/oauth2/v2.0/revoke",
        "jwks": "/common/discovery/v2.0/keys",
    },
}
INTROSPECT_PATH = "/introspect"

DISPLAY = {
    "google": {"provider": "Google", "account": "Google Account"},
    "microsoft": {"provider": "Microsoft", "account": "Microsoft account"},
}


def has_mail_scope(flavour: str, scope: str) -> bool:
    granted = set((scope or "").split())
    return any(s in granted for s in MAIL_SCOPES.get(flavour, ()))


def issuer(flavour: str, base: str, tenant_id: str = "{tenantid}") -> str:
    """Google's issuer is the bare origin; Microsoft's is templated with the tenant id."""
    if flavour == "microsoft":
        return f"{base}/{tenant_id}/v2.0"
    return base


def identity_claims(flavour: str, user) -> dict:
    """Who the mailbox is, as each provider's ID token says it (Microsoft omits `email`)."""
    if flavour == "microsoft":
        return {
            "sub": user.subject,
            "oid": user.object_id,
            "tid": user.tenant_id,
            "preferred_username": user.email,
            "name": user.name,
            "ver": "2.0",
        }
    return {"sub": user.subject, "email": user.email, "email_verified": True, "name": user.name}


def metadata(flavour: str, base: str) -> dict:
    """The OpenID discovery document: everything a client needs to talk to this flavour."""
    paths = PATHS[flavour]
    return {
        "issuer": issuer(flavour, base),
        "authorization_endpoint": base + paths["authorize"],
        "token_endpoint": base + paths["token"],
        "revocation_endpoint": base + paths["revoke"],
        "introspection_endpoint": base + INTROSPECT_PATH,
        "jwks_uri": base + paths["jwks"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public" if flavour == "google" else "pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": list(SCOPES_SUPPORTED[flavour]),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": sorted(
            {"iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash"}
            | set(identity_claims(flavour, _Sample()).keys())
        ),
        "authorization_response_iss_parameter_supported": True,
    }


class _Sample:
    """Enough of a user to list the claim names in the discovery document."""

    subject = object_id = tenant_id = email = name = ""


# -- error answers ------------------------------------------------------------------------------

GOOGLE_DEAD = "Token has been expired or revoked."

# reason -> (Google: status, error, description, extra) and (Microsoft: status, error, code, text)
_ERRORS = {
    "revoked": ((400, "invalid_grant", GOOGLE_DEAD), (400, "invalid_grant", 70008,
                "The provided authorization code or refresh token has expired due to inactivity. "
                "Send a new interactive authorization request for this user and resource.")),
    "rotated": ((400, "invalid_grant", GOOGLE_DEAD), (400, "invalid_grant", 70008,
                "The refresh token was already redeemed and has been replaced by a newer one.")),
    "access_removed": ((400, "invalid_grant", GOOGLE_DEAD), (400, "invalid_grant", 65001,
                       "The user or administrator has not consented to use the application. "
                       "Send an interactive authorization request for this user and resource.")),
    "consent_required": ((400, "invalid_grant", GOOGLE_DEAD), (400, "invalid_grant", 65001,
                         "The user or administrator has not consented to use the application. "
                         "Send an interactive authorization request for this user and resource.")),
    "password_changed": ((400, "invalid_grant", GOOGLE_DEAD), (400, "invalid_grant", 50173,
                         "The provided grant has expired due to it being revoked, a fresh auth "
                         "token is needed. The user might have changed or reset their password.")),
    "expired": ((400, "invalid_grant", GOOGLE_DEAD), (400, "invalid_grant", 700082,
                "The refresh token has expired due to inactivity.")),
    "signin_required": ((400, "invalid_grant", "reauth related error (invalid_rapt)"),
                        (400, "invalid_grant", 70043,
                         "The refresh token has expired or is invalid due to sign-in frequency "
                         "checks by conditional access.")),
    "unknown_token": ((400, "invalid_grant", "Bad Request"), (400, "invalid_grant", 9002313,
                      "Invalid request. Request is malformed or invalid.")),
    "code_invalid": ((400, "invalid_grant", "Bad Request"), (400, "invalid_grant", 9002313,
                     "Invalid request. Request is malformed or invalid.")),
    "code_used": ((400, "invalid_grant", "Bad Request"), (400, "invalid_grant", 54005,
                  "OAuth2 Authorization code was already redeemed, please retry with a new valid "
                  "code or use an existing refresh token.")),
    "code_expired": ((400, "invalid_grant", "Bad Request"), (400, "invalid_grant", 70008,
                     "The provided authorization code or refresh token has expired due to "
                     "inactivity.")),
    "pkce_failed": ((400, "invalid_grant", "Bad Request"), (400, "invalid_grant", 501481,
                    "The Code_Verifier does not match the code_challenge supplied in the "
                    "authorization request.")),
    "redirect_mismatch": ((400, "redirect_uri_mismatch", "Bad Request"), (400, "invalid_grant",
                          50148, "The redirect_uri does not match the one used in the "
                          "authorization request.")),
    "client_mismatch": ((400, "unauthorized_client", "Unauthorized"), (400, "invalid_grant",
                        70000, "The provided grant is invalid or malformed.")),
    "secret_expired": ((401, "invalid_client", "Unauthorized"), (401, "invalid_client", 7000222,
                       "The provided client secret keys for the app are expired. Create new "
                       "keys for the app, or consider using certificate credentials.")),
    "secret_invalid": ((401, "invalid_client", "Unauthorized"), (401, "invalid_client", 7000215,
                       "Invalid client secret provided. Ensure the secret being sent in the "
                       "request is the client secret value, not the client secret ID.")),
    "unknown_client": ((401, "invalid_client", "The OAuth client was not found."),
                       (400, "unauthorized_client", 700016,
                        "Application was not found in the directory.")),
    "unavailable": ((503, "temporarily_unavailable",
                     "The service is currently unavailable. Please try again later."),
                    (503, "temporarily_unavailable", 90006,
                     "An internal server error occurred. Please retry the request.")),
}

# Authlib's own error names, when no specific reason was noted.
_GENERIC_MICROSOFT_CODES = {
    "invalid_request": 900144,
    "invalid_scope": 70011,
    "unsupported_grant_type": 70003,
    "invalid_client": 7000215,
    "invalid_grant": 70000,
    "unauthorized_client": 700016,
}


def token_error(flavour: str, error: str, description: str | None, reason: str | None,
                base: str, now: float) -> tuple[int, dict]:
    """The status and JSON body a provider answers at its token endpoint."""
    known = _ERRORS.get(reason) if reason else None
    if flavour == "microsoft":
        if known:
            status, err, code, text = known[1]
        else:
            status, err = (401 if error == "invalid_client" else 400), error
            code, text = _GENERIC_MICROSOFT_CODES.get(error, 90014), description or error
        return status, microsoft_error(err, code, text, base, now)
    if known:
        status, err, text = known[0]
    else:
        status, err, text = (401 if error == "invalid_client" else 400), error, description
    body = {"error": err, "error_description": text or err}
    if reason == "signin_required":
        body["error_subtype"] = "invalid_rapt"
        body["error_uri"] = "https://support.google.com/a/answer/9368756"
    return status, body


def microsoft_error(error: str, code: int, text: str, base: str, now: float) -> dict:
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = datetime.datetime.fromtimestamp(now, datetime.UTC)
    timestamp = stamp.strftime("%Y-%m-%d %H:%M:%SZ")
    return {
        "error": error,
        "error_description": f"AADSTS{code}: {text} Trace ID: {trace} "
        f"Correlation ID: {correlation} Timestamp: {timestamp}",
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"{base}/error?code={code}",
    }
