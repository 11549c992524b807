"""What Tether would send to the real Google and Microsoft: consent URLs and token requests.

Google and Microsoft cannot run here, so a recording transport stands in for their token
endpoints and answers with their documented bodies.
"""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from mail import oauth
from mail.failures import Kind, MailError
from mail.providers import google, microsoft

REDIRECT = "https://tether.example.com/oauth/callback"


class Recorder(requests.adapters.BaseAdapter):
    """Answers every request with (status, body) and keeps what was sent."""

    def __init__(self, status, body):
        super().__init__()
        self.status, self.body, self.sent = status, body, []

    def send(self, request, **kwargs):
        self.sent.append(request)
        response = requests.Response()
        response.status_code = self.status
        response._content = json.dumps(self.body).encode()
        response.headers["Content-Type"] = "application/json"
        response.request = request
        return response

    def close(self):
        pass


@pytest.fixture
def provider_answers(monkeypatch):
    def install(status, body):
        recorder = Recorder(status, body)
        session = requests.Session()
        session.mount("https://", recorder)
        monkeypatch.setattr(oauth, "_http", session)
        return recorder
    return install


def _query(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", {k: v[0] for k, v in parse_qs(parts.query).items()}


def test_google_consent_url():
    url = oauth.authorization_url(google("gid.apps.googleusercontent.com", "gsecret"),
                                  redirect_uri=REDIRECT, state="S" * 43, code_verifier="V" * 64,
                                  nonce="N1", login_hint="alex@acme.com")
    base, q = _query(url)
    assert base == "https://accounts.google.com/o/oauth2/v2/auth"
    assert q == {
        "response_type": "code", "client_id": "gid.apps.googleusercontent.com",
        "redirect_uri": REDIRECT, "scope": "openid email https://mail.google.com/",
        "state": "S" * 43, "nonce": "N1", "access_type": "offline", "prompt": "consent",
        "login_hint": "alex@acme.com", "code_challenge_method": "S256",
        # base64url(sha256("V" * 64)), without padding
        "code_challenge": q["code_challenge"],
    }
    import base64
    import hashlib

    expected = base64.urlsafe_b64encode(hashlib.sha256(b"V" * 64).digest()).rstrip(b"=").decode()
    assert q["code_challenge"] == expected


def test_microsoft_consent_url_uses_the_common_endpoint_and_outlook_scopes_only():
    url = oauth.authorization_url(microsoft("ms-client", "ms-secret"), redirect_uri=REDIRECT,
                                  state="st", code_verifier="V" * 64, nonce="n",
                                  login_hint="alex@contoso.com")
    base, q = _query(url)
    assert base == "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
    assert q["scope"] == ("openid email offline_access "
                          "https://outlook.office.com/IMAP.AccessAsUser.All "
                          "https://outlook.office.com/SMTP.Send")
    assert "graph.microsoft.com" not in url
    assert q["login_hint"] == "alex@contoso.com" and q["code_challenge_method"] == "S256"
    assert q["redirect_uri"] == REDIRECT and q["response_type"] == "code"


def test_google_code_exchange_request(provider_answers):
    recorder = provider_answers(200, {"access_token": "ya29.a", "expires_in": 3599,
                                      "refresh_token": "1//r", "scope": "https://mail.google.com/ openid",
                                      "token_type": "Bearer", "id_token": "x.y.z"})
    tokens = oauth.exchange_code(google("gid", "gsecret"), code="4/code", redirect_uri=REDIRECT,
                                 code_verifier="V" * 64)
    sent = recorder.sent[0]
    assert sent.method == "POST" and sent.url == "https://oauth2.googleapis.com/token"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert {k: v[0] for k, v in parse_qs(sent.body).items()} == {
        "grant_type": "authorization_code", "code": "4/code", "redirect_uri": REDIRECT,
        "code_verifier": "V" * 64, "client_id": "gid", "client_secret": "gsecret"}
    assert tokens.refresh_token == "1//r" and tokens.expires_in == 3599


def test_microsoft_refresh_request_and_rotation(provider_answers):
    recorder = provider_answers(200, {"access_token": "eyJ.new", "refresh_token": "M.R3.new",
                                      "expires_in": 4213, "scope": "https://outlook.office.com/IMAP.AccessAsUser.All"})
    tokens = oauth.refresh(microsoft("ms-client", "ms-secret"), "M.R3.old")
    sent = recorder.sent[0]
    assert sent.url == "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    assert {k: v[0] for k, v in parse_qs(sent.body).items()} == {
        "grant_type": "refresh_token", "refresh_token": "M.R3.old",
        "client_id": "ms-client", "client_secret": "ms-secret"}
    assert tokens.refresh_token == "M.R3.new"


def test_google_refresh_without_a_new_refresh_token_keeps_none(provider_answers):
    provider_answers(200, {"access_token": "ya29.b", "expires_in": 3599, "scope": "x"})
    assert oauth.refresh(google("gid", "s"), "1//r").refresh_token is None


def test_a_revoked_google_token_raises_a_reconnect_failure(provider_answers):
    provider_answers(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
    with pytest.raises(MailError) as raised:
        oauth.refresh(google("gid", "s"), "1//r")
    assert raised.value.failure.kind is Kind.RECONNECT


def test_microsoft_issuer_is_checked_against_the_tenant_template():
    provider = microsoft("ms-client", "s")
    tid = "9188040d-6c67-4c5b-b112-36a304b66dad"
    assert provider.issuer_ok(f"https://login.microsoftonline.com/{tid}/v2.0", {"tid": tid})
    assert not provider.issuer_ok(f"https://login.microsoftonline.com/{tid}/v2.0", {"tid": "other"})
    assert not provider.issuer_ok("https://evil.example/v2.0", {"tid": tid})
    assert provider.mailbox_address({"preferred_username": "Alex@Contoso.com"}) == "alex@contoso.com"
    assert google("g", "s").mailbox_address({"email": "a@b.c", "email_verified": False}) == ""


# --- What reaches the classification: the whole answer, through Authlib's client -------------

def ms_error(code, error="invalid_grant", text="The grant is no longer valid."):
    """Microsoft's body, with a description that carries no AADSTS text (Microsoft's wording
    changes; its codes are what Tether branches on)."""
    return {"error": error, "error_description": text, "error_codes": [code],
            "timestamp": "2026-11-28 09:00:00Z", "trace_id": "t", "correlation_id": "c"}


class Page(Recorder):
    """Answers with a raw body, as a gateway or load balancer in front of the provider does."""

    def send(self, request, **kwargs):
        self.sent.append(request)
        response = requests.Response()
        response.status_code, response._content, response.request = self.status, self.body, request
        response.headers["Content-Type"] = "text/html"
        return response


@pytest.mark.parametrize(("status", "code", "kind", "words"), [
    (400, 700082, Kind.RECONNECT, "long time without use"),
    (400, 50173, Kind.RECONNECT, "password was changed"),
    (400, 70043, Kind.RECONNECT, "sign-in frequency"),
    (401, 7000222, Kind.APP, "client secret has expired"),
    (400, 50033, Kind.TRANSIENT, "temporarily unavailable"),
])
def test_a_microsoft_refresh_error_without_aadsts_text_is_classified_by_its_error_codes(
        provider_answers, status, code, kind, words):
    error = "invalid_client" if kind is Kind.APP else "invalid_grant"
    provider_answers(status, ms_error(code, error))
    with pytest.raises(MailError) as raised:
        oauth.refresh(microsoft("ms-client", "ms-secret"), "M.R3.old")
    failure = raised.value.failure
    assert failure.kind is kind and failure.code == f"{error}/{code}"
    assert words in failure.cause and failure.where == "token endpoint"


def test_a_microsoft_code_exchange_error_keeps_its_error_codes(provider_answers):
    provider_answers(400, ms_error(54005, text="The code was already redeemed."))
    with pytest.raises(MailError) as raised:
        oauth.exchange_code(microsoft("ms-client", "s"), code="0.A", redirect_uri=REDIRECT,
                            code_verifier="V" * 64)
    assert raised.value.failure.kind is Kind.RECONNECT
    assert raised.value.failure.code == "invalid_grant/54005"


def test_googles_error_subtype_reaches_the_classification(provider_answers):
    provider_answers(400, {"error": "invalid_grant", "error_description": "reauth related error",
                           "error_subtype": "invalid_rapt"})
    with pytest.raises(MailError) as raised:
        oauth.refresh(google("gid", "s"), "1//r")
    assert raised.value.failure.kind is Kind.RECONNECT
    assert raised.value.failure.code == "invalid_grant/invalid_rapt"


@pytest.mark.parametrize(("status", "page", "code"), [
    (502, b"<html><body>Bad Gateway</body></html>", "HTTP 502"), (503, b"", "HTTP 503"),
    (429, b"<html>Too Many Requests</html>", "HTTP 429"),
    (500, b'{"error": "server_error"}', "server_error"),
])
@pytest.mark.parametrize("call", ["refresh", "exchange_code"])
def test_an_outage_page_is_a_transient_failure_not_an_http_error(monkeypatch, status, page, code,
                                                                 call):
    session = requests.Session()
    session.mount("https://", Page(status, page))
    monkeypatch.setattr(oauth, "_http", session)
    provider = google("gid", "s")
    with pytest.raises(MailError) as raised:
        if call == "refresh":
            oauth.refresh(provider, "1//r")
        else:
            oauth.exchange_code(provider, code="4/c", redirect_uri=REDIRECT, code_verifier="V" * 64)
    # Classified as the provider's answer, not as a network error raised by raise_for_status.
    assert raised.value.failure.kind is Kind.TRANSIENT and raised.value.failure.code == code
    assert "provider" in raised.value.failure.cause


@pytest.mark.parametrize("body", [{}, {"token_type": "Bearer"}, ["access_token"],
                                  {"access_token": "ya29.x", "error": "server_error"}])
def test_a_200_that_holds_no_token_is_never_taken_for_one(provider_answers, body):
    provider_answers(200, body)
    with pytest.raises(MailError) as raised:
        oauth.refresh(google("gid", "s"), "1//r")
    assert raised.value.failure.kind is Kind.TRANSIENT


def test_microsoft_answering_with_the_same_refresh_token_counts_as_kept(provider_answers):
    provider_answers(200, {"access_token": "eyJ.new", "refresh_token": "M.R3.same", "expires_in": 3600})
    tokens = oauth.refresh(microsoft("ms-client", "s"), "M.R3.same")
    assert tokens.refresh_token is None and tokens.access_token == "eyJ.new"
    assert tokens.scope == "" and tokens.id_token is None


def test_google_revoke_request(provider_answers):
    recorder = provider_answers(200, {})
    assert oauth.revoke(google("gid", "gsecret"), "1//r") is True
    sent = recorder.sent[0]
    assert sent.method == "POST" and sent.url == "https://oauth2.googleapis.com/revoke"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert {k: v[0] for k, v in parse_qs(sent.body).items()} == {
        "token": "1//r", "client_id": "gid", "client_secret": "gsecret"}


def test_a_revoke_google_refuses_is_reported_as_not_done(provider_answers):
    provider_answers(400, {"error": "invalid_token", "error_description": "Token expired or revoked"})
    assert oauth.revoke(google("gid", "s"), "1//r") is False


def test_microsoft_has_no_revocation_endpoint_so_nothing_is_sent(provider_answers):
    recorder = provider_answers(200, {})
    assert oauth.revoke(microsoft("ms-client", "s"), "M.R3") is False
    assert recorder.sent == []


def test_adding_asks_for_the_account_chooser_and_reconnecting_names_the_address():
    """A browser signed in to one account must be able to add another (select_account); a
    reconnect asks for the mailbox's own account (login_hint) and no chooser."""
    for provider, add, again in ((google("g", "s"), "select_account consent", "consent"),
                                 (microsoft("m", "s"), "select_account", None)):
        _, adding = _query(oauth.authorization_url(provider, redirect_uri=REDIRECT, state="s",
                                                   code_verifier="V" * 64, nonce="n"))
        _, reconnecting = _query(oauth.authorization_url(
            provider, redirect_uri=REDIRECT, state="s", code_verifier="V" * 64, nonce="n",
            login_hint="alex@acme.com"))
        assert adding["prompt"] == add and "login_hint" not in adding
        assert reconnecting.get("prompt") == again
        assert reconnecting["login_hint"] == "alex@acme.com"
