"""Every SET Tether must refuse is refused per RFC 8935 (400, `err`, `description`) and changes
nothing; a replayed one and one about nobody Tether knows are acknowledged (202) and ignored.
The transmitter's keys come from the running sandbox."""

import base64
import json
import time
from datetime import timedelta

import pytest

import clock
from mail import oauth, providers
from models.mailboxes import CONNECTED, Mailbox
from models.signals import SignalSeen
from tests import factories
from views.signals import PATH

pytestmark = pytest.mark.sandbox

TOKENS_REVOKED = "https://schemas.openid.net/secevent/oauth/event-type/tokens-revoked"
SET_TYPE = "application/secevent+jwt"


@pytest.fixture
def alex(accounts, tether_sandbox):
    """A connected google-sandbox mailbox, with the subject the provider knows it by."""
    from tasks import huey

    huey.flush()
    accounts.sign_up()
    tether_sandbox.control.create_user("alex@acme.test", "mailbox-pw-1", kind="google")
    grant = tether_sandbox.control.issue_tokens("alex@acme.test", client="google")
    claims = oauth.verify_id_token(providers.current().get("google-sandbox"), grant["id_token"],
                                   nonce=None)
    return factories.mailbox(openid_iss=claims["iss"], openid_sub=claims["sub"],
                             next_check_at=clock.now() + timedelta(hours=1))


def _claims(sandbox, box, **changes):
    base = sandbox.config["base_url"]
    claims = {"iss": base + "/", "aud": sandbox.client("google")["client_id"],
              "iat": int(time.time()), "jti": f"jti-{time.monotonic_ns()}",
              "events": {TOKENS_REVOKED: {"subject": {
                  "subject_type": "iss-sub", "iss": base + "/", "sub": box.openid_sub}}}}
    claims.update(changes)
    return claims


def _post(client, body, content_type=SET_TYPE):
    return client.post(PATH, data=body, content_type=content_type)


def _nothing_changed(box):
    from tasks import huey

    row = Mailbox.get_by_id(box.id)
    assert row.status == CONNECTED and row.signal_pending_since is None
    assert SignalSeen.select().count() == 0
    assert huey.pending_count() == 0


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _forge(sandbox, box, header=None, **changes):
    return sandbox.control.sign_set(_claims(sandbox, box, **changes), header)


@pytest.mark.parametrize("case,err", [
    ("bad signature", "invalid_key"),
    ("unknown kid", "invalid_key"),
    ("wrong aud", "invalid_audience"),
    ("wrong iss", "invalid_issuer"),
    ("old iat", "invalid_request"),
    ("iat in the future", "invalid_request"),
    ("no jti", "invalid_request"),
    ("unknown event type", "invalid_request"),
    ("alg none", "invalid_request"),
    ("HS256 with the public key", "invalid_request"),
    ("JWE", "invalid_request"),
    ("10 MB body", "invalid_request"),
    ("not a JWT", "invalid_request"),
    ("wrong content type", "invalid_request"),
])
def test_a_bad_set_is_refused_and_changes_nothing(client, tether_sandbox, alex, case, err):
    sandbox, body, content_type = tether_sandbox, None, SET_TYPE
    if case == "bad signature":
        head, _, sig = _forge(sandbox, alex).split(".")
        body = ".".join([head, _b64(_claims(sandbox, alex, jti="other")), sig])
    elif case == "unknown kid":
        body = _forge(sandbox, alex, header={"kid": "not-a-published-key"})
    elif case == "wrong aud":
        body = _forge(sandbox, alex, aud="someone-else.apps.googleusercontent.com")
    elif case == "wrong iss":
        body = _forge(sandbox, alex, iss="https://evil.example/")
    elif case == "old iat":
        body = _forge(sandbox, alex, iat=int(time.time()) - 2 * 3600)
    elif case == "iat in the future":
        body = _forge(sandbox, alex, iat=int(time.time()) + 3600)
    elif case == "no jti":
        claims = _claims(sandbox, alex)
        del claims["jti"]
        body = sandbox.control.sign_set(claims)
    elif case == "unknown event type":
        body = _forge(sandbox, alex, events={"https://example.com/event/nope": {}})
    elif case == "alg none":
        body = _b64({"alg": "none", "typ": "secevent+jwt"}) + "." + \
            _b64(_claims(sandbox, alex)) + "."
    elif case == "HS256 with the public key":
        body = _b64({"alg": "HS256", "kid": "k"}) + "." + _b64(_claims(sandbox, alex)) + ".c2ln"
    elif case == "JWE":
        body = ".".join([_b64({"alg": "RSA-OAEP", "enc": "A256GCM"}), "a", "b", "c", "d"])
    elif case == "10 MB body":
        body = "a" * (10 * 1024 * 1024)
    elif case == "not a JWT":
        body = "hello"
    elif case == "wrong content type":
        body, content_type = _forge(sandbox, alex), "application/json"
    answer = _post(client, body, content_type)
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.json["err"] == err and answer.json["description"]
    _nothing_changed(alex)


def test_a_good_set_asks_for_one_check_and_a_replay_is_acknowledged_and_ignored(
        client, tether_sandbox, alex):
    from tasks import huey

    body = _forge(tether_sandbox, alex)
    assert _post(client, body).status_code == 202
    assert Mailbox.get_by_id(alex.id).signal_pending_since is not None
    assert huey.pending_count() == 1  # one signal check queued
    assert _post(client, body).status_code == 202  # the transmitter's retry
    assert huey.pending_count() == 1 and SignalSeen.select().count() == 1
    # Another event about the same person before the check ran: covered by the queued one.
    assert _post(client, _forge(tether_sandbox, alex)).status_code == 202
    assert huey.pending_count() == 1
    assert Mailbox.get_by_id(alex.id).status == CONNECTED  # a signal never flips it itself


def test_a_set_about_someone_tether_does_not_know_is_acknowledged(client, tether_sandbox, alex):
    from tasks import huey

    body = _forge(tether_sandbox, alex, events={TOKENS_REVOKED: {"subject": {
        "subject_type": "iss-sub", "iss": tether_sandbox.config["base_url"] + "/",
        "sub": "999999999999"}}})
    assert _post(client, body).status_code == 202
    assert huey.pending_count() == 0
    assert Mailbox.get_by_id(alex.id).signal_pending_since is None


def test_the_ssf_spelling_of_the_subject_is_accepted_too(client, tether_sandbox, alex):
    from tasks import huey

    base = tether_sandbox.config["base_url"]
    body = _forge(tether_sandbox, alex, sub_id={"format": "iss_sub", "iss": base,
                                                "sub": alex.openid_sub},
                  events={"https://schemas.openid.net/secevent/risc/event-type/"
                          "account-credential-change-required": {}})
    assert _post(client, body).status_code == 202
    assert huey.pending_count() == 1


def test_the_endpoint_needs_no_session_or_csrf_and_sets_no_cookie(client, tether_sandbox, alex):
    answer = _post(client, _forge(tether_sandbox, alex))
    assert answer.status_code == 202 and "Set-Cookie" not in answer.headers


def test_admins_see_push_detection_per_provider_and_members_do_not(
        app, client, accounts, tether_sandbox, alex):
    """Off until registered, then waiting, then active with the last signal's time."""
    from models.signals import SignalStream

    page = client.get("/settings/email-accounts").get_data(as_text=True)
    assert "Push detection off" in page and "signals register google-sandbox" in page
    SignalStream.create(provider="google-sandbox", endpoint_url="http://x" + PATH,
                        registered_at=clock.now())
    page = client.get("/settings/email-accounts").get_data(as_text=True)
    assert "Registered, not verified yet" in page
    verification = {"https://schemas.openid.net/secevent/risc/event-type/verification":
                    {"state": "s"}}
    assert _post(client, _forge(tether_sandbox, alex, events=verification)).status_code == 202
    assert _post(client, _forge(tether_sandbox, alex)).status_code == 202
    page = client.get("/settings/email-accounts").get_data(as_text=True)
    google = page.split('data-provider="google-sandbox"')[1].split("</li>")[0]
    assert "Push detection active" in google and "Last signal just now" in google

    from models.accounts import User

    User.update(role="member").execute()
    page = client.get("/settings/email-accounts").get_data(as_text=True)
    assert "Push detection" not in page


def test_signals_register_points_the_providers_stream_at_tether(app, tether_sandbox):
    runner = app.test_cli_runner()
    for key, client in (("google-sandbox", "google"), ("microsoft-sandbox", "microsoft")):
        result = runner.invoke(args=["signals", "register", key])
        assert result.exit_code == 0, result.output
        stream = tether_sandbox.control.signal_streams()[client]
        url = stream["delivery"].get("url") or stream["delivery"].get("endpoint_url")
        assert url == app.config["BASE_URL"].rstrip("/") + PATH
    # Registering again updates the same stream (SSF: PATCH with its stream_id).
    assert runner.invoke(args=["signals", "register", "microsoft-sandbox"]).exit_code == 0
    assert runner.invoke(args=["signals", "status"]).output.count("registered") == 2
    refused = runner.invoke(args=["signals", "register", "nowhere"])
    assert refused.exit_code == 1 and "No provider 'nowhere'" in refused.output


def test_make_runs_seed_registers_both_sandbox_streams(app, tether_sandbox):
    from models import demo

    demo.register_signal_streams(dict(app.config))
    streams = tether_sandbox.control.signal_streams()
    assert set(streams) == {"google", "microsoft"}
    assert streams["google"]["delivery"]["url"] == app.config["BASE_URL"].rstrip("/") + PATH
