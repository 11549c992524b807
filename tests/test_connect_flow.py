"""The OAuth callback's decisions, straight from the domain (no web request): each refusal
says why in the person's words and changes nothing; the answer to a sign-in is only taken
from the browser session and the person who started it, once, in time, from its provider."""

import os
from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

import clock
from mail import providers
from models import connect_flow as flow
from models.accounts import User
from models.mailboxes import Mailbox
from models.oauth_attempts import OAuthAttempt
from tests import factories

GOOGLE = providers.google("client-id", "client-secret")  # answers here never reach Google
CATALOG = {GOOGLE.key: GOOGLE}
REDIRECT = "http://tether.test/oauth/callback"


@pytest.fixture
def owner(app):
    return User.open_team("owner@acme.test", "not-a-real-hash", team_name="Acme")


def _started(user, session_key="browser-1", mailbox=None, provider=GOOGLE) -> str:
    """A consent this person starts; the `state` the provider will hand back."""
    url = flow.begin(user, provider, session_key, REDIRECT, mailbox)
    return parse_qs(urlsplit(url).query)["state"][0]


def _answer(user, session_key="browser-1", catalog=CATALOG, **args) -> flow.Outcome:
    return flow.finish(flow.Callback(args=args, session_key=session_key, user=user),
                       catalog, REDIRECT)


def test_beginning_records_one_attempt_bound_to_the_session_and_the_mailbox(owner):
    box = factories.mailbox()
    url = flow.begin(owner, GOOGLE, "browser-1", REDIRECT, box)
    assert url.startswith(GOOGLE.authorize_url) and "login_hint=alex%40acme.test" in url
    attempt = OAuthAttempt.get()
    assert (attempt.mailbox_id, attempt.expected_email, attempt.user_id) == (
        box.id, "alex@acme.test", owner.id)
    assert parse_qs(urlsplit(url).query)["state"][0] not in attempt.state_digest


def _state_cases(owner):
    """(how the answer arrives, the kind it is refused as); each builds its own attempt."""
    stranger = User.open_team("eve@evil.test", "not-a-real-hash")
    return [
        (lambda: _answer(None, state=_started(owner)), flow.SIGNED_OUT),
        (lambda: _answer(owner, state="made-up"), flow.UNKNOWN),
        (lambda: _answer(owner, "browser-2", state=_started(owner)), flow.FOREIGN),
        (lambda: _answer(stranger, state=_started(owner)), flow.UNKNOWN),
        (lambda: _answer(owner, catalog={}, state=_started(owner)), flow.NO_PROVIDER),
        (lambda: _answer(owner, state=_started(owner), iss="https://evil.test"), flow.MIX_UP),
        (lambda: _answer(owner, catalog={"google": replace(GOOGLE, response_iss=True)},
                         state=_started(owner)), flow.MIX_UP),
    ]


def test_an_answer_to_no_sign_in_of_this_person_here_gets_a_page_and_changes_nothing(owner):
    for answer, kind in _state_cases(owner):
        outcome = answer()
        assert outcome.kind == kind, outcome
        assert outcome.page_status == (401 if kind == flow.SIGNED_OUT else 400)
        assert outcome.message and outcome.mailbox is None
    assert Mailbox.select().count() == 0


def test_a_sign_in_is_answered_once_and_only_in_time(owner):
    state = _started(owner)
    assert _answer(owner, state=state, error="access_denied").kind == flow.DENIED
    again = _answer(owner, state=state, error="access_denied")
    assert (again.kind, again.page_status) == (flow.REUSED, 400)
    assert "already completed" in again.message

    late = _started(owner)
    clock.set_offset(os.environ["TETHER_CLOCK_FILE"], timedelta(minutes=11).total_seconds())
    outcome = _answer(owner, state=late, error="access_denied")
    assert (outcome.kind, outcome.message) == (flow.EXPIRED, flow.STATE_REFUSALS[flow.EXPIRED])


@pytest.mark.parametrize("error, kind, category, words", [
    ("access_denied", flow.DENIED, "info", "You did not grant access"),
    ("server_error", flow.PROVIDER_ERROR, "error", "Google refused the connection (server_error)"),
])
def test_a_refusal_at_the_provider_is_told_and_stores_nothing(owner, error, kind, category, words):
    outcome = _answer(owner, state=_started(owner), error=error)
    assert (outcome.kind, outcome.category, outcome.page_status) == (kind, category, None)
    assert words in outcome.message and outcome.reconnect_id is None
    assert Mailbox.select().count() == 0


@pytest.mark.parametrize("iss, response_iss, accepted", [
    (None, False, True), ("https://accounts.google.com", False, True),
    ("https://accounts.google.com", True, True), (None, True, False),
    ("", False, False), ("https://login.microsoftonline.com/x/v2.0", False, False),
])
def test_the_issuer_of_the_answer_must_be_the_providers(iss, response_iss, accepted):
    assert flow.issuer_accepted(replace(GOOGLE, response_iss=response_iss), iss) is accepted


MAIL = "openid email https://mail.google.com/"


def _consent_cases(owner):
    member = User.create(email="mia@acme.test", team=owner.team, role="member",
                         password_hash="not-a-real-hash")
    mine = factories.mailbox()
    other_team = User.open_team("eve@evil.test", "not-a-real-hash")
    theirs = factories.mailbox(owner_email="eve@evil.test", email="eve@evil.test")
    fresh = OAuthAttempt(mailbox_id=None, expected_email="")
    reconnect = OAuthAttempt(mailbox_id=mine.id, expected_email=mine.email)
    return [
        (fresh, "alex@acme.test", MAIL, owner, None),
        (fresh, "", MAIL, owner, flow.NO_ADDRESS),
        (reconnect, "eve@acme.test", MAIL, owner, flow.WRONG_ADDRESS),
        (fresh, "alex@acme.test", "openid email", owner, flow.NO_MAIL_ACCESS),
        (reconnect, "alex@acme.test", MAIL, owner, None),
        (reconnect, "alex@acme.test", MAIL, member, flow.CANNOT_RECONNECT),
        (OAuthAttempt(mailbox_id=theirs.id, expected_email=theirs.email), theirs.email, MAIL,
         owner, flow.CANNOT_RECONNECT),
        (OAuthAttempt(mailbox_id=theirs.id, expected_email=theirs.email), theirs.email, MAIL,
         other_team, None),
    ]


def test_a_consent_is_stored_only_for_the_right_address_with_mail_access(owner):
    for attempt, email, scope, user, kind in _consent_cases(owner):
        problem = flow.consent_problem(GOOGLE, attempt, email, scope, user)
        assert (problem[0] if problem else None) == kind, (email, scope, user.email)
        assert not problem or problem[1].endswith(".")  # a sentence, in the person's words
