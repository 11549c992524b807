"""mail.oauth against the sandbox's token and revocation endpoints: real HTTP and the answers
Google and Microsoft give, connections reused across refreshes, and the network failing."""

import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from urllib.parse import urlsplit

import pytest

from mail import oauth
from mail.failures import Kind, MailError
from mail.providers import sandbox_providers

pytestmark = pytest.mark.sandbox


@pytest.fixture
def providers(sandbox):
    found = sandbox_providers(str(sandbox.folder / "sandbox.json"))
    return {"google": found["google-sandbox"], "microsoft": found["microsoft-sandbox"]}


def grant(sandbox, kind, email=None):
    email = email or f"ada@{kind}-mail.test"
    sandbox.control.create_user(email, "pw", kind=kind)
    return email, sandbox.control.issue_tokens(email, client=kind)


def refused(call) -> MailError:
    with pytest.raises(MailError) as raised:
        call()
    return raised.value


def pool_counts(url) -> tuple[int, int]:
    """(connections opened, requests sent) by the shared pool to `url`'s host so far."""
    where = urlsplit(url)
    pools = oauth._http.get_adapter(url).poolmanager.pools
    mine = [pools[key] for key in pools.keys()]  # urllib3 refuses to iterate it
    mine = [p for p in mine if (p.host, p.port) == (where.hostname, where.port)]
    return sum(p.num_connections for p in mine), sum(p.num_requests for p in mine)


def test_refreshes_one_after_another_reuse_one_connection(sandbox, providers):
    provider = providers["google"]
    email, tokens = grant(sandbox, "google")
    opened, sent = pool_counts(provider.token_url)
    for _ in range(20):
        assert oauth.refresh(provider, tokens["refresh_token"]).access_token
    assert pool_counts(provider.token_url)[1] - sent == 20  # all through the shared pool
    assert pool_counts(provider.token_url)[0] - opened <= 1
    assert sandbox.control.refresh_count(email) == 20


def test_refreshes_side_by_side_share_the_pool(sandbox, providers):
    provider = providers["google"]
    grants = [grant(sandbox, "google", f"m{n}@google-mail.test")[1] for n in range(8)]
    opened, sent = pool_counts(provider.token_url)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda g: oauth.refresh(provider, g["refresh_token"]), grants * 5))
    # Each mailbox gets its own new access token, never another's.
    assert len({a.access_token for a in answers}) == 40
    assert pool_counts(provider.token_url)[1] - sent == 40
    assert pool_counts(provider.token_url)[0] - opened <= 4


def test_microsoft_rotates_the_refresh_token_and_google_keeps_it(sandbox, providers):
    _, ms = grant(sandbox, "microsoft")
    rotated = oauth.refresh(providers["microsoft"], ms["refresh_token"])
    assert rotated.refresh_token and rotated.refresh_token != ms["refresh_token"]
    assert rotated.expires_in > 0 and "IMAP.AccessAsUser.All" in rotated.scope
    _, g = grant(sandbox, "google")
    assert oauth.refresh(providers["google"], g["refresh_token"]).refresh_token is None


def test_a_revoked_google_grant_asks_for_a_reconnect(sandbox, providers):
    _, tokens = grant(sandbox, "google")
    assert oauth.revoke(providers["google"], tokens["refresh_token"]) is True
    failure = refused(lambda: oauth.refresh(providers["google"], tokens["refresh_token"])).failure
    assert failure.kind is Kind.RECONNECT and failure.code == "invalid_grant"


def test_microsoft_says_by_code_that_access_was_removed(sandbox, providers):
    email, tokens = grant(sandbox, "microsoft")
    sandbox.control.remove_access(email)
    failure = refused(lambda: oauth.refresh(providers["microsoft"], tokens["refresh_token"])).failure
    assert failure.kind is Kind.RECONNECT and failure.code == "invalid_grant/65001"


@pytest.mark.parametrize(("kind", "code"), [("google", "temporarily_unavailable"),
                                            ("microsoft", "temporarily_unavailable/90006")])
def test_an_outage_at_the_token_endpoint_is_transient(sandbox, providers, kind, code):
    _, tokens = grant(sandbox, kind)
    sandbox.control.set_fault("unavailable", seconds=60)
    failure = refused(lambda: oauth.refresh(providers[kind], tokens["refresh_token"])).failure
    assert failure.kind is Kind.TRANSIENT and failure.code == code


def test_a_gateway_timeout_answer_is_transient(sandbox, providers):
    _, tokens = grant(sandbox, "google")
    sandbox.control.set_fault("timeout", seconds=60, delay=0.05)  # a 504 after 50 ms
    failure = refused(lambda: oauth.refresh(providers["google"], tokens["refresh_token"])).failure
    assert failure.kind is Kind.TRANSIENT and "provider" in failure.cause


def test_a_token_endpoint_that_answers_too_late_is_transient(sandbox, providers, monkeypatch):
    monkeypatch.setattr(oauth, "TIMEOUT", 0.5)
    _, tokens = grant(sandbox, "microsoft")
    sandbox.control.set_fault("timeout", seconds=60, delay=3)
    failure = refused(lambda: oauth.refresh(providers["microsoft"], tokens["refresh_token"])).failure
    assert failure.kind is Kind.TRANSIENT and failure.code == "timeout"
    assert "did not answer in time" in failure.cause


def test_a_revocation_endpoint_that_answers_too_late_is_reported_as_not_done(sandbox, providers,
                                                                              monkeypatch):
    monkeypatch.setattr(oauth, "TIMEOUT", 0.5)
    _, tokens = grant(sandbox, "google")
    sandbox.control.set_fault("timeout", seconds=60, delay=3, endpoint="revoke")
    assert oauth.revoke(providers["google"], tokens["refresh_token"]) is False


def test_a_token_endpoint_nobody_listens_on_is_transient(providers):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gone = replace(providers["google"], token_url=f"http://127.0.0.1:{port}/token")
    failure = refused(lambda: oauth.refresh(gone, "1//r")).failure
    assert failure.kind is Kind.TRANSIENT and failure.where == "token endpoint"
    assert "could not be reached" in failure.cause
