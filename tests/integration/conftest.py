"""Tether against the sandbox provider: real OAuth round trips, real Dovecot."""

import os
import shutil
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

import clock
from mail import providers
from mail.oauth import Tokens
from mail.providers import Catalog
from models.checks import Checker, Settings
from sandbox.control import sign_in_and_consent
from tests import factories
from tests.support import post_form


@pytest.fixture
def tether_sandbox(app, sandbox):
    """The sandbox, wired into the app as a demo install is: its providers and mailer."""
    target = os.environ["TETHER_SANDBOX_CONFIG"]
    shutil.copy(sandbox.folder / "sandbox.json", target)
    app.config["SANDBOX_CONFIG"] = target
    providers.use(Catalog(app.config))
    return sandbox


def start_consent(client, path):
    """Press a Tether button that starts an OAuth round trip; returns the provider's URL."""
    response = post_form(client, path, page="/settings/email-accounts")
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return response.location


def finish_at_tether(client, callback_url):
    """The browser arriving back at Tether's callback."""
    parts = urlsplit(callback_url)
    assert parts.path == "/oauth/callback", callback_url
    return client.get(f"{parts.path}?{parts.query}")


def connect(client, provider_key, email, password="mailbox-pw-1", **consent):
    """Add mailbox → provider → sign in and consent → back at Tether."""
    url = start_consent(client, f"/settings/email-accounts/connect/{provider_key}")
    return finish_at_tether(client, sign_in_and_consent(url, email, password, **consent))


@pytest.fixture
def checker(app, tether_sandbox):
    return Checker(Catalog(app.config), Settings(interval=timedelta(minutes=5)))


def sandbox_mailbox(sandbox, kind="google", email="alex@acme.test"):
    """A connected mailbox holding real sandbox tokens (the direct grant, no browser)."""
    sandbox.control.create_user(email, "mailbox-pw-1", kind=kind)
    tokens = sandbox.control.issue_tokens(email, client=kind)
    return factories.mailbox(email=email, provider=f"{kind}-sandbox",
                             access_token=tokens["access_token"],
                             refresh_token=tokens["refresh_token"], scopes=tokens["scope"],
                             access_expires_at=clock.now() + timedelta(seconds=tokens["expires_in"]))


def grant_tokens(grant: dict) -> Tokens:
    """The sandbox's direct grant, in the shape a consent's tokens have."""
    return Tokens(access_token=grant["access_token"], refresh_token=grant["refresh_token"],
                  expires_in=int(grant["expires_in"]), scope=grant["scope"])
