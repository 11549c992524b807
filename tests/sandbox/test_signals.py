"""The sandbox transmits Security Event Tokens: configuration, JWKS, streams in both dialects,
pushes on Remove access / password change / disable, retries until a 202, delay and drop."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from sandbox.control import SandboxError
from tests.support import wait_for

pytestmark = pytest.mark.sandbox

SSF = "/.well-known/ssf-configuration"
RISC = "/.well-known/risc-configuration"
TOKENS_REVOKED = "https://schemas.openid.net/secevent/oauth/event-type/tokens-revoked"
SESSIONS_REVOKED = "https://schemas.openid.net/secevent/risc/event-type/sessions-revoked"
DISABLED = "https://schemas.openid.net/secevent/risc/event-type/account-disabled"


class Receiver:
    """A push endpoint that records every SET and answers what the test says (202 by default)."""

    def __init__(self):
        self.received: list[tuple[str, str]] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                receiver.received.append((self.headers["Content-Type"], body))
                status = receiver.answers.pop(0) if receiver.answers else 202
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/signals"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def claims(self, jwks: dict) -> list[dict]:
        keys = KeySet.import_key_set(jwks)
        return [jwt.decode(body, keys, algorithms=["RS256"]).claims for _, body in self.received]


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.server.shutdown()


def _auth(sandbox, key):
    client = sandbox.client(key)
    return (client["client_id"], client["client_secret"])


def _register(sandbox, key, url):
    base = sandbox.config["base_url"]
    if key == "google":
        doc = requests.get(base + RISC, timeout=5).json()
        answer = requests.post(doc["configuration_endpoint"] + ":update", auth=_auth(sandbox, key),
                               json={"delivery": {"delivery_method": doc[
                                   "delivery_methods_supported"][0], "url": url},
                                     "events_requested": []}, timeout=5)
    else:
        doc = requests.get(base + SSF, timeout=5).json()
        answer = requests.post(doc["configuration_endpoint"], auth=_auth(sandbox, key),
                               json={"delivery": {"method": "urn:ietf:rfc:8935",
                                                  "endpoint_url": url}}, timeout=5)
    assert answer.status_code in (200, 201), answer.text
    return doc, answer.json()


def test_configuration_documents_name_each_dialect(sandbox):
    base = sandbox.config["base_url"]
    ssf = requests.get(base + SSF, timeout=5).json()
    risc = requests.get(base + RISC, timeout=5).json()
    assert ssf["issuer"] == base and risc["issuer"] == base + "/"  # Google's trailing slash
    assert ssf["delivery_methods_supported"] == ["urn:ietf:rfc:8935"]
    assert risc["delivery_methods_supported"] == [
        "https://schemas.openid.net/secevent/risc/delivery-method/push"]
    assert requests.get(ssf["jwks_uri"], timeout=5).json()["keys"]


def test_stream_management_needs_the_clients_credentials(sandbox, receiver):
    base = sandbox.config["base_url"]
    answer = requests.post(base + "/ssf/stream", json={"delivery": {
        "method": "urn:ietf:rfc:8935", "endpoint_url": receiver.url}},
        auth=("nobody", "nothing"), timeout=5)
    assert answer.status_code == 401
    _, stream = _register(sandbox, "microsoft", receiver.url)
    assert stream["delivery"] == {"method": "urn:ietf:rfc:8935", "endpoint_url": receiver.url}
    read = requests.get(base + "/ssf/stream", auth=_auth(sandbox, "microsoft"), timeout=5)
    assert read.json()["stream_id"] == stream["stream_id"]
    bad = requests.post(base + "/v1beta/stream:update", auth=_auth(sandbox, "google"),
                        json={"delivery": {"method": "urn:ietf:rfc:8935", "url": receiver.url}},
                        timeout=5)
    assert bad.status_code == 400  # Google's dialect says delivery_method


def test_remove_access_pushes_tokens_revoked_in_googles_dialect(sandbox, receiver):
    doc, _ = _register(sandbox, "google", receiver.url)
    sandbox.control.create_user("ada@acme.test", "pw", kind="google")
    sandbox.control.issue_tokens("ada@acme.test")
    sub = sandbox.control.user("ada@acme.test")["sub"]
    sandbox.control.remove_access("ada@acme.test")
    wait_for(lambda: receiver.received, "the SET to arrive", 10)
    content_type, _ = receiver.received[0]
    assert content_type == "application/secevent+jwt"
    [claims] = receiver.claims(requests.get(doc["jwks_uri"], timeout=5).json())
    assert claims["iss"] == doc["issuer"] and claims["aud"] == sandbox.client("google")["client_id"]
    assert claims["events"][TOKENS_REVOKED]["subject"] == {
        "subject_type": "iss-sub", "iss": doc["issuer"], "sub": sub}


def test_password_change_and_disable_push_in_the_ssf_dialect(sandbox, receiver):
    doc, _ = _register(sandbox, "microsoft", receiver.url)
    sandbox.control.create_user("sam@contoso.test", "pw", kind="microsoft")
    sandbox.control.issue_tokens("sam@contoso.test")
    sandbox.control.change_password("sam@contoso.test", "pw2")
    sandbox.control.issue_tokens("sam@contoso.test")
    sandbox.control.disable_user("sam@contoso.test")
    wait_for(lambda: len(receiver.received) == 2, "two SETs", 10)
    jwks = requests.get(doc["jwks_uri"], timeout=5).json()
    claims = sorted(receiver.claims(jwks), key=lambda c: list(c["events"]) != [SESSIONS_REVOKED])
    assert list(claims[0]["events"]) == [SESSIONS_REVOKED]
    assert list(claims[1]["events"]) == [DISABLED]
    assert claims[0]["sub_id"]["format"] == "iss_sub"
    assert claims[0]["sub_id"]["sub"] == sandbox.control.user("sam@contoso.test")["sub"]
    assert claims[0]["iss"] == doc["issuer"]


def test_a_receiver_that_does_not_answer_202_gets_the_set_again(sandbox, receiver):
    _register(sandbox, "google", receiver.url)
    receiver.answers = [503, 500]
    sandbox.control.create_user("ada@acme.test", "pw", kind="google")
    sandbox.control.issue_tokens("ada@acme.test")
    sandbox.control.remove_access("ada@acme.test")
    wait_for(lambda: [d["status"] for d in sandbox.control.signal_deliveries()] == ["delivered"],
             "delivery after two refusals", 15)
    [delivery] = sandbox.control.signal_deliveries()
    assert delivery["attempts"] == 3 and len(receiver.received) == 3
    assert len({body for _, body in receiver.received}) == 1  # the same SET, same jti


def test_controls_drop_and_delay_pushes(sandbox, receiver):
    _register(sandbox, "google", receiver.url)
    sandbox.control.create_user("ada@acme.test", "pw", kind="google")
    sandbox.control.signal_fault("drop", count=1)
    sandbox.control.emit_signal("ada@acme.test", TOKENS_REVOKED)
    sandbox.control.signal_fault("delay", count=1, seconds=1)
    sandbox.control.emit_signal("ada@acme.test", TOKENS_REVOKED)
    wait_for(lambda: len(receiver.received) == 1, "the delayed SET", 10)
    assert [d["status"] for d in sandbox.control.signal_deliveries()] == ["dropped", "delivered"]
    with pytest.raises(SandboxError):
        sandbox.control.signal_fault("explode")


def test_verification_event_reaches_the_stream(sandbox, receiver):
    doc, stream = _register(sandbox, "microsoft", receiver.url)
    requests.post(doc["verification_endpoint"], auth=_auth(sandbox, "microsoft"),
                  json={"stream_id": stream["stream_id"], "state": "s-1"}, timeout=5)
    wait_for(lambda: receiver.received, "the verification SET", 10)
    [claims] = receiver.claims(requests.get(doc["jwks_uri"], timeout=5).json())
    assert claims["events"] == {
        "https://schemas.openid.net/secevent/ssf/event-type/verification": {"state": "s-1"}}
    assert json.dumps(claims["sub_id"]) and claims["sub_id"]["format"] == "opaque"


TOKEN_REVOKED = "https://schemas.openid.net/secevent/oauth/event-type/token-revoked"


def test_revoking_one_refresh_token_refuses_it_and_pushes_token_revoked_naming_it(
        sandbox, receiver):
    """Google's token-revoked: the subject is the token, by base64(SHA-512(SHA-512(token)));
    that token is refused as Google refuses it, the user's other grant keeps working."""
    import base64
    import hashlib

    from tests.sandbox.helpers import refresh

    doc, _ = _register(sandbox, "google", receiver.url)
    sandbox.control.create_user("ada@acme.test", "pw", kind="google")
    kept = sandbox.control.issue_tokens("ada@acme.test")["refresh_token"]
    held = sandbox.control.issue_tokens("ada@acme.test")["refresh_token"]  # the newest
    done = sandbox.control.revoke_refresh_token("ada@acme.test", client="google")
    expected = base64.b64encode(hashlib.sha512(hashlib.sha512(held.encode()).digest())
                                .digest()).decode()
    assert done["token_identifier"] == expected and done["queued"] == 1

    refused = refresh(sandbox, "google", held)
    assert refused.status_code == 400
    assert refused.json() == {"error": "invalid_grant",
                              "error_description": "Token has been expired or revoked."}
    assert refresh(sandbox, "google", kept).status_code == 200
    wait_for(lambda: receiver.received, "the SET to arrive", 10)
    [claims] = receiver.claims(requests.get(doc["jwks_uri"], timeout=5).json())
    assert claims["events"] == {TOKEN_REVOKED: {"subject": {
        "subject_type": "oauth_token", "token_type": "refresh_token",
        "token_identifier_alg": "hash_base64_sha512_sha512", "token": expected}}}
    with pytest.raises(SandboxError):  # already dead: nothing to revoke by that value
        sandbox.control.revoke_refresh_token("ada@acme.test", token=held)
