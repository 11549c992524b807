"""prompt=select_account: a browser signed in to one account at the sandbox is offered every
account it is signed in to and "Use another account" — so it can consent as another — while
an authorization without the prompt goes on as the current account, as before."""

import re

import pytest
import requests

from sandbox.control import sign_in_and_consent
from tests.sandbox.helpers import authorize_url, exchange_code, id_token_claims, pkce, query

pytestmark = pytest.mark.sandbox

ADD = {"google": "select_account consent", "microsoft": "select_account"}


def _signed_in_as(sandbox, kind, email, browser):
    """The browser signs in (and consents) once, as a person who connected `email` before."""
    verifier, challenge = pkce()
    sign_in_and_consent(authorize_url(sandbox, kind, challenge, login_hint=email),
                        email, "pw", session=browser)


def _chooser_accounts(html):
    return re.findall(r'name="step" value="choose">\s*<input type="hidden" name="email" '
                      r'value="([^"]+)"', html)


@pytest.mark.parametrize("kind", ["google", "microsoft"])
def test_a_browser_signed_in_as_a_chooses_b_and_the_code_is_bs(sandbox, kind):
    for email in ("a@example.test", "b@example.test"):
        sandbox.control.create_user(email, "pw", kind=kind)
    browser = requests.Session()
    _signed_in_as(sandbox, kind, "a@example.test", browser)

    verifier, challenge = pkce()
    url = authorize_url(sandbox, kind, challenge, prompt=ADD[kind])
    page = browser.get(url, timeout=10)
    assert "Use another account" in page.text
    assert _chooser_accounts(page.text) == ["a@example.test"]

    callback = sign_in_and_consent(url, "b@example.test", "pw", session=browser)
    tokens = exchange_code(sandbox, kind, query(callback)["code"], verifier).json()
    claims = id_token_claims(sandbox, kind, tokens["id_token"])
    assert claims.get("email", claims.get("preferred_username")) == "b@example.test"

    # Both are signed in now; the latest first.
    _, challenge = pkce()
    again = browser.get(authorize_url(sandbox, kind, challenge, prompt=ADD[kind]), timeout=10)
    assert _chooser_accounts(again.text) == ["b@example.test", "a@example.test"]


def test_choosing_a_signed_in_account_needs_no_password(sandbox):
    sandbox.control.create_user("a@example.test", "pw", kind="google")
    browser = requests.Session()
    _signed_in_as(sandbox, "google", "a@example.test", browser)
    verifier, challenge = pkce()
    url = authorize_url(sandbox, "google", challenge, prompt="select_account consent")
    chooser = browser.get(url, timeout=10)
    consent = browser.post(chooser.url, data={"step": "choose", "email": "a@example.test"},
                           timeout=10)
    assert 'name="password"' not in consent.text and "wants to access" in consent.text


def test_an_account_this_browser_is_not_signed_in_to_cannot_be_chosen(sandbox):
    sandbox.control.create_user("a@example.test", "pw", kind="google")
    sandbox.control.create_user("eve@example.test", "pw", kind="google")
    browser = requests.Session()
    _signed_in_as(sandbox, "google", "a@example.test", browser)
    _, challenge = pkce()
    url = authorize_url(sandbox, "google", challenge, prompt="select_account consent")
    chooser = browser.get(url, timeout=10)
    forged = browser.post(chooser.url, data={"step": "choose", "email": "eve@example.test"},
                          timeout=10)
    assert 'name="password"' in forged.text, "a sign-in, never eve's consent"


def test_without_select_account_the_current_account_goes_on(sandbox):
    sandbox.control.create_user("a@example.test", "pw", kind="google")
    browser = requests.Session()
    _signed_in_as(sandbox, "google", "a@example.test", browser)
    _, challenge = pkce()
    page = browser.get(authorize_url(sandbox, "google", challenge, prompt="consent"), timeout=10)
    assert "Use another account" not in page.text and "wants to access" in page.text
