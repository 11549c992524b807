"""The token endpoint answers each failure exactly as Google or Microsoft does
(../shared/PROVIDERS.md): Tether's classification is tested against these bodies."""

import pytest

from tests.sandbox.helpers import refresh, revoke, token_request

pytestmark = pytest.mark.sandbox

GOOGLE_DEAD = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}


def tokens_for(sandbox, kind, name="ada"):
    email = f"{name}@{kind}-mail.test"
    sandbox.control.create_user(email, "pw", kind=kind)
    return email, sandbox.control.issue_tokens(email)


def assert_microsoft_error(response, error, code, status=400):
    body = response.json()
    assert response.status_code == status
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert {"timestamp", "trace_id", "correlation_id", "error_uri"} <= body.keys()


def test_google_refresh_after_revocation_is_invalid_grant(sandbox):
    _, tokens = tokens_for(sandbox, "google")
    revoke(sandbox, "google", tokens["access_token"])

    response = refresh(sandbox, "google", tokens["refresh_token"])

    assert response.status_code == 400
    assert response.json() == GOOGLE_DEAD


def test_microsoft_refresh_after_revocation_carries_error_codes(sandbox):
    _, tokens = tokens_for(sandbox, "microsoft")
    revoke(sandbox, "microsoft", tokens["refresh_token"])

    assert_microsoft_error(refresh(sandbox, "microsoft", tokens["refresh_token"]),
                           "invalid_grant", 70008)


@pytest.mark.parametrize(("action", "code"), [
    ("change_password", 50173), ("expire_tokens", 700082), ("remove_access", 65001),
    ("require_consent", 65001), ("require_signin", 70043)])
def test_microsoft_says_why_the_grant_died(sandbox, action, code):
    email, tokens = tokens_for(sandbox, "microsoft")
    control = sandbox.control
    if action == "change_password":
        control.change_password(email, "new")
    else:
        getattr(control, action)(email)

    assert_microsoft_error(refresh(sandbox, "microsoft", tokens["refresh_token"]),
                           "invalid_grant", code)


def test_google_session_policy_answers_invalid_rapt(sandbox):
    email, tokens = tokens_for(sandbox, "google")
    sandbox.control.require_signin(email)

    response = refresh(sandbox, "google", tokens["refresh_token"])

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_grant" and body["error_subtype"] == "invalid_rapt"


def test_microsoft_rotates_refresh_tokens_and_the_old_one_fails(sandbox):
    _, tokens = tokens_for(sandbox, "microsoft")

    first = refresh(sandbox, "microsoft", tokens["refresh_token"])
    assert first.status_code == 200
    rotated = first.json()["refresh_token"]
    assert rotated != tokens["refresh_token"]

    assert_microsoft_error(refresh(sandbox, "microsoft", tokens["refresh_token"]),
                           "invalid_grant", 70008)
    assert refresh(sandbox, "microsoft", rotated).status_code == 200


def test_google_keeps_the_same_refresh_token(sandbox):
    _, tokens = tokens_for(sandbox, "google")
    for _ in range(2):
        response = refresh(sandbox, "google", tokens["refresh_token"])
        assert response.status_code == 200
        body = response.json()
        assert "refresh_token" not in body and body["access_token"] != tokens["access_token"]


def test_rotated_client_secret_answers_invalid_client(sandbox):
    _, google = tokens_for(sandbox, "google")
    _, microsoft = tokens_for(sandbox, "microsoft", "bob")
    sandbox.control.rotate_secret("google")
    new_secret = sandbox.control.rotate_secret("microsoft")

    response = refresh(sandbox, "google", google["refresh_token"])
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client", "error_description": "Unauthorized"}

    assert_microsoft_error(refresh(sandbox, "microsoft", microsoft["refresh_token"]),
                           "invalid_client", 7000222, status=401)
    assert refresh(sandbox, "microsoft", microsoft["refresh_token"], secret=new_secret).ok


def test_unknown_client_at_the_token_endpoint(sandbox):
    response = token_request(sandbox, "google", grant_type="refresh_token", refresh_token="x",
                             client_id="nobody.apps.googleusercontent.com")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_garbage_refresh_token(sandbox):
    response = refresh(sandbox, "google", "1//not-a-token")
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": "Bad Request"}


def test_token_endpoint_fault_returns_503_for_the_set_time_then_recovers(sandbox):
    _, google = tokens_for(sandbox, "google")
    _, microsoft = tokens_for(sandbox, "microsoft", "bob")
    sandbox.control.set_fault("unavailable", seconds=120)

    response = refresh(sandbox, "google", google["refresh_token"])
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert_microsoft_error(refresh(sandbox, "microsoft", microsoft["refresh_token"]),
                           "temporarily_unavailable", 90006, status=503)
    assert refresh(sandbox, "google", google["refresh_token"]).status_code == 503

    sandbox.control.advance_clock(121)  # the fault's window runs on the sandbox clock

    assert sandbox.control.faults() == []
    assert refresh(sandbox, "google", google["refresh_token"]).status_code == 200
    assert refresh(sandbox, "microsoft", microsoft["refresh_token"]).status_code == 200


def test_slow_token_endpoint_makes_a_client_time_out(sandbox):
    import requests

    _, google = tokens_for(sandbox, "google")
    sandbox.control.set_fault("timeout", seconds=60, delay=1.5)
    client = sandbox.client("google")
    with pytest.raises(requests.Timeout):
        requests.post(sandbox.issuer + "/token", timeout=0.5, data={
            "grant_type": "refresh_token", "refresh_token": google["refresh_token"],
            "client_id": client["client_id"], "client_secret": client["client_secret"]})


def test_testing_mode_refresh_tokens_die_after_seven_days(sandbox):
    sandbox.control.set_testing("google", True)
    _, tokens = tokens_for(sandbox, "google")
    assert tokens["refresh_token_expires_in"] == 7 * 86400

    sandbox.control.advance_clock(6 * 86400)
    assert refresh(sandbox, "google", tokens["refresh_token"]).status_code == 200
    sandbox.control.advance_clock(86400 + 1)

    response = refresh(sandbox, "google", tokens["refresh_token"])
    assert response.status_code == 400 and response.json() == GOOGLE_DEAD


def test_refreshes_are_counted_per_user(sandbox):
    ada, ada_tokens = tokens_for(sandbox, "microsoft")
    bob, bob_tokens = tokens_for(sandbox, "microsoft", name="bob")
    first = refresh(sandbox, "microsoft", ada_tokens["refresh_token"])
    second = refresh(sandbox, "microsoft", first.json()["refresh_token"])
    assert second.status_code == 200
    assert refresh(sandbox, "microsoft", ada_tokens["refresh_token"]).status_code == 400  # rotated
    assert sandbox.control.refresh_count(ada) == 2  # the refused one does not count
    assert sandbox.control.refresh_count(bob) == 0
