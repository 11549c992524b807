"""The browser side: sign-in, consent with an untickable mail permission, PKCE, the code,
the ID token each flavour issues, and the bad-input answers of the authorization flow."""

import pytest
import requests

from sandbox.control import ConsentError, sign_in_and_consent
from tests.sandbox.helpers import (
    authorize_url,
    exchange_code,
    id_token_claims,
    imap_oauth,
    pkce,
    query,
)

pytestmark = pytest.mark.sandbox


def connect(sandbox, kind, email="ada@example.test", password="pw", **options):
    """Sign in and consent like a person would; returns (callback params, verifier)."""
    verifier, challenge = pkce()
    url = authorize_url(sandbox, kind, challenge, login_hint=email, prompt="consent")
    callback = sign_in_and_consent(url, email, password, **options)
    return query(callback), verifier, url


@pytest.mark.parametrize("kind", ["google", "microsoft"])
def test_consent_flow_gives_tokens_that_open_the_mailbox(sandbox, kind):
    sandbox.control.create_user("ada@example.test", "pw", kind=kind)
    metadata = sandbox.metadata(kind)

    params, verifier, url = connect(sandbox, kind)

    assert params["iss"] == metadata["issuer"]  # RFC 9207
    assert params["state"] == query(url)["state"]
    response = exchange_code(sandbox, kind, params["code"], verifier)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["refresh_token"]
    assert set(tokens["scope"].split()) == set(sandbox.client(kind)["scope"].split())
    imap_oauth(sandbox, "ada@example.test", tokens["access_token"]).logout()


def test_google_id_token_names_the_address(sandbox):
    sandbox.control.create_user("ada@example.test", "pw", kind="google")
    params, verifier, _ = connect(sandbox, "google")
    tokens = exchange_code(sandbox, "google", params["code"], verifier).json()

    claims = id_token_claims(sandbox, "google", tokens["id_token"])

    assert claims["iss"] == sandbox.issuer
    assert claims["aud"] == sandbox.client("google")["client_id"]
    assert claims["email"] == "ada@example.test" and claims["email_verified"] is True


def test_microsoft_id_token_has_tenant_issuer_and_no_email(sandbox):
    user = sandbox.control.create_user("ada@example.test", "pw", kind="microsoft")
    params, verifier, _ = connect(sandbox, "microsoft")
    tokens = exchange_code(sandbox, "microsoft", params["code"], verifier).json()

    claims = id_token_claims(sandbox, "microsoft", tokens["id_token"])

    assert "email" not in claims
    assert claims["preferred_username"] == "ada@example.test"
    assert claims["tid"] == user["tenant_id"]
    template = sandbox.metadata("microsoft")["issuer"]
    assert "{tenantid}" in template
    assert claims["iss"] == template.replace("{tenantid}", claims["tid"])


def test_login_hint_prefills_the_sign_in(sandbox):
    sandbox.control.create_user("ada@example.test", "pw", kind="google")
    _, challenge = pkce()
    page = requests.get(authorize_url(sandbox, "google", challenge,
                                      login_hint="ada@example.test"), timeout=10)
    assert page.status_code == 200
    assert 'value="ada@example.test"' in page.text


@pytest.mark.parametrize(("kind", "message"), [
    ("google", "Wrong password"), ("microsoft", "Your account or password is incorrect")])
def test_wrong_password_at_sign_in(sandbox, kind, message):
    sandbox.control.create_user("ada@example.test", "pw", kind=kind)
    with pytest.raises(ConsentError, match=message):
        connect(sandbox, kind, password="not it")


def test_unticked_mail_permission_leaves_it_out_of_the_grant(sandbox):
    sandbox.control.create_user("ada@example.test", "pw", kind="google")
    params, verifier, _ = connect(sandbox, "google", grant_mail=False)

    tokens = exchange_code(sandbox, "google", params["code"], verifier).json()

    assert "https://mail.google.com/" not in tokens["scope"].split()
    assert "email" in tokens["scope"].split()


def test_cancel_returns_access_denied(sandbox):
    sandbox.control.create_user("ada@example.test", "pw", kind="microsoft")
    params, _, _ = connect(sandbox, "microsoft", allow=False)
    assert params["error"] == "access_denied" and "code" not in params
    assert params["iss"] == sandbox.metadata("microsoft")["issuer"]


def test_bad_pkce_verifier_is_invalid_grant(sandbox):
    sandbox.control.create_user("ada@example.test", "pw", kind="google")
    params, _, _ = connect(sandbox, "google")

    response = exchange_code(sandbox, "google", params["code"], "x" * 50)

    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": "Bad Request"}


def test_reused_code_is_refused(sandbox):
    sandbox.control.create_user("ada@example.test", "pw", kind="microsoft")
    params, verifier, _ = connect(sandbox, "microsoft")
    assert exchange_code(sandbox, "microsoft", params["code"], verifier).status_code == 200

    again = exchange_code(sandbox, "microsoft", params["code"], verifier)

    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant" and again.json()["error_codes"] == [54005]


def test_expired_code_is_refused(sandbox):
    sandbox.control.create_user("ada@example.test", "pw", kind="google")
    params, verifier, _ = connect(sandbox, "google")
    sandbox.control.advance_clock(601)

    response = exchange_code(sandbox, "google", params["code"], verifier)

    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_unknown_client_gets_an_error_page_not_a_redirect(sandbox):
    _, challenge = pkce()
    url = authorize_url(sandbox, "google", challenge, client_id="nobody.apps.test")
    page = requests.get(url, allow_redirects=False, timeout=10)
    assert page.status_code == 401
    assert "Error 401: invalid_client" in page.text


@pytest.mark.parametrize(("kind", "text"), [
    ("google", "Error 400: redirect_uri_mismatch"), ("microsoft", "AADSTS50011")])
def test_wrong_redirect_uri_gets_an_error_page_not_a_redirect(sandbox, kind, text):
    _, challenge = pkce()
    wrong = sandbox.client(kind)["redirect_uris"][0] + "/elsewhere"
    page = requests.get(authorize_url(sandbox, kind, challenge, redirect_uri=wrong),
                        allow_redirects=False, timeout=10)
    assert page.status_code == 400
    assert text in page.text


def test_redirect_uris_can_be_pointed_elsewhere(sandbox):
    sandbox.control.create_user("ada@example.test", "pw", kind="google")
    sandbox.control.set_redirect_uris("google", ["http://localhost/oauth/callback"])
    verifier, challenge = pkce()
    url = authorize_url(sandbox, "google", challenge, login_hint="ada@example.test",
                        redirect_uri="http://localhost/oauth/callback")

    callback = sign_in_and_consent(url, "ada@example.test", "pw")

    assert callback.startswith("http://localhost/oauth/callback?")
    mismatch = exchange_code(sandbox, "google", query(callback)["code"], verifier,
                             redirect_uri="http://localhost/other")
    assert mismatch.status_code == 400 and mismatch.json()["error"] == "redirect_uri_mismatch"


def test_pkce_is_required(sandbox):
    _, challenge = pkce()
    url = authorize_url(sandbox, "google", challenge, code_challenge=None,
                        code_challenge_method=None)
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert query(response.headers["Location"])["error"] == "invalid_request"


def test_google_issues_a_refresh_token_only_at_consent(sandbox):
    sandbox.control.create_user("ada@example.test", "pw", kind="google")
    browser = requests.Session()
    verifier, challenge = pkce()
    first = sign_in_and_consent(authorize_url(sandbox, "google", challenge,
                                              login_hint="ada@example.test"),
                                "ada@example.test", "pw", session=browser)
    assert "refresh_token" in exchange_code(sandbox, "google", query(first)["code"],
                                            verifier).json()

    # Already granted, no prompt=consent: straight back, and no new refresh token.
    verifier, challenge = pkce()
    again = sign_in_and_consent(authorize_url(sandbox, "google", challenge,
                                              login_hint="ada@example.test"),
                                "ada@example.test", "pw", session=browser)
    tokens = exchange_code(sandbox, "google", query(again)["code"], verifier).json()
    assert "access_token" in tokens and "refresh_token" not in tokens


def test_reconnect_after_required_re_sign_in(sandbox):
    sandbox.control.create_user("ada@example.test", "pw", kind="google")
    browser = requests.Session()
    params, verifier, _ = connect(sandbox, "google", session=browser)
    exchange_code(sandbox, "google", params["code"], verifier)
    sandbox.control.require_signin("ada@example.test")

    # The browser is still signed in, but the policy asks for the password again.
    _, challenge = pkce()
    page = browser.get(authorize_url(sandbox, "google", challenge,
                                     login_hint="ada@example.test"), timeout=10)
    assert 'name="password"' in page.text


def test_discovery_documents_list_every_endpoint(sandbox):
    for kind in ("google", "microsoft"):
        metadata = sandbox.metadata(kind)
        for key in ("issuer", "authorization_endpoint", "token_endpoint", "revocation_endpoint",
                    "introspection_endpoint", "jwks_uri"):
            assert metadata[key], key
        assert metadata["code_challenge_methods_supported"] == ["S256"]
        assert metadata["authorization_response_iss_parameter_supported"] is True
