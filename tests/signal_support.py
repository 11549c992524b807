"""Shared by the push signal tests (integration, browser, benchmark): a real worker whose
scheduled checks are an hour apart, and a sandbox mailbox connected with its OpenID subject."""

from datetime import timedelta

import pytest

import clock
from mail import oauth, providers
from models import signal_streams
from models.signals import PUSH_PATH, SignalStream
from tests import factories
from tests.support import wait_for


@pytest.fixture
def hourly_worker(app, monkeypatch):
    """A real consumer whose scheduled checks are an hour apart: only a signal is quick."""
    from tasks import huey
    from tests.conftest import _start_consumer, _stop_consumer

    monkeypatch.setenv("TETHER_CHECK_INTERVAL_SECONDS", "3600")
    huey.flush()
    proc, log = _start_consumer("hourly-worker")
    yield proc
    _stop_consumer(proc, log)
    huey.flush()


def after_the_connects_sending_pass(mailbox_id: int, since):
    """Wait until the sending pass a connect wakes (outbox_wake) has signed in and ended: a
    revocation made after it can only be found by a check — the signal's, when the scheduled
    one is an hour away — not by that pass's own sign-in."""
    from models.sender_lease import OutboxSender

    return wait_for(lambda: (row := OutboxSender.get_or_none(OutboxSender.mailbox == mailbox_id))
                    and not row.lease_owner and row.lease_until and row.lease_until >= since
                    and row.pause_until is None and row, "the sending pass after the connect", 15)


def register_stream(app, base_url: str, key: str = "google-sandbox"):
    """`signals register KEY` towards `base_url`, then wait for the verification signal."""
    provider = providers.current().get(key)
    signal_streams.register(provider, base_url + PUSH_PATH, app.config)
    wait_for(lambda: SignalStream.get_by_id(key).verified_at, "the verification signal", 15)
    return provider


def subject_mailbox(sandbox, email="alex@acme.test", kind="google", **fields):
    """A connected mailbox holding real sandbox tokens and the subject its ID token named,
    its scheduled check an hour away."""
    sandbox.control.create_user(email, "mailbox-pw-1", kind=kind)
    grant = sandbox.control.issue_tokens(email, client=kind)
    claims = oauth.verify_id_token(providers.current().get(f"{kind}-sandbox"), grant["id_token"],
                                   nonce=None)
    defaults = dict(email=email, provider=f"{kind}-sandbox", access_token=grant["access_token"],
                    refresh_token=grant["refresh_token"], scopes=grant["scope"],
                    access_expires_at=clock.now() + timedelta(hours=1),
                    next_check_at=clock.now() + timedelta(hours=1),
                    openid_iss=claims["iss"], openid_sub=claims["sub"])
    return factories.mailbox(**{**defaults, **fields})
