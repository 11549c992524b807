"""The callback's decisions after the code exchange, straight from the domain against the real
sandbox provider and Dovecot: what is stored, what is refused (its tokens revoked, nothing
changed), and how a reconnect re-attaches the mailbox it started from."""

from urllib.parse import parse_qsl, urlsplit

import pytest

from mail import providers
from models import connect_flow as flow
from models.accounts import User
from models.mailboxes import CONNECTED, Mailbox
from sandbox.control import sign_in_and_consent

pytestmark = pytest.mark.sandbox
KEY = "google-sandbox"


@pytest.fixture
def owner(app, tether_sandbox):
    tether_sandbox.control.create_user("alex@acme.test", "mailbox-pw-1", kind="google")
    tether_sandbox.control.create_user("eve@acme.test", "mailbox-pw-2", kind="google")
    return User.open_team("owner@acme.test", "not-a-real-hash", team_name="Acme")


def _round_trip(app, user, email="alex@acme.test", password="mailbox-pw-1", mailbox=None,
                tamper=None, **consent) -> flow.Outcome:
    """Begin, sign in and consent at the sandbox, and bring its answer back to the domain."""
    redirect_uri = app.config["BASE_URL"] + "/oauth/callback"
    catalog = providers.current()
    url = flow.begin(user, catalog.get(KEY), "browser-1", redirect_uri, mailbox)
    answer = sign_in_and_consent(url, email, password, **consent)
    args = dict(parse_qsl(urlsplit(answer).query)) | (tamper or {})
    return flow.finish(flow.Callback(args=args, session_key="browser-1", user=user), catalog,
                       redirect_uri)


def test_a_consent_is_stored_then_a_reconnect_re_attaches_the_same_mailbox(app, owner):
    connected = _round_trip(app, owner)
    assert (connected.kind, connected.category) == (flow.CONNECTED, "success")
    assert connected.message == "Done! alex@acme.test is connected."
    box = Mailbox.get()
    assert connected.mailbox.id == box.id and box.status == CONNECTED
    again = _round_trip(app, owner, mailbox=box)
    assert (again.kind, again.mailbox.id) == (flow.RECONNECTED, box.id)
    assert Mailbox.select().count() == 1


def test_a_refused_consent_changes_nothing_and_its_tokens_are_revoked(app, owner, tether_sandbox):
    _round_trip(app, owner)
    box = Mailbox.get()
    before = (box.access_token, box.refresh_token)
    wrong = _round_trip(app, owner, "eve@acme.test", "mailbox-pw-2", mailbox=box)
    assert (wrong.kind, wrong.reconnect_id, wrong.page_status) == (flow.WRONG_ADDRESS, box.id, None)
    assert not tether_sandbox.control.user("eve@acme.test")["apps"]
    no_mail = _round_trip(app, owner, "eve@acme.test", "mailbox-pw-2", grant_mail=False)
    assert (no_mail.kind, no_mail.reconnect_id) == (flow.NO_MAIL_ACCESS, None)
    duplicate = _round_trip(app, owner)
    assert duplicate.kind == flow.DUPLICATE and "already connected" in duplicate.message
    after = Mailbox.get_by_id(box.id)
    assert (after.access_token, after.refresh_token) == before
    assert Mailbox.select().count() == 1


def test_a_mail_server_that_refuses_the_token_stores_nothing(app, owner, tether_sandbox):
    tether_sandbox.control.set_mail_enabled("alex@acme.test", False)
    outcome = _round_trip(app, owner)
    assert outcome.kind == flow.SERVER_REFUSED and "Nothing was saved" in outcome.message
    assert outcome.mailbox is None and Mailbox.select().count() == 0


def test_a_code_the_provider_will_not_exchange_gets_a_page(app, owner):
    outcome = _round_trip(app, owner, tamper={"code": "not-the-code"})
    assert (outcome.kind, outcome.page_status) == (flow.EXCHANGE_FAILED, 400)
    assert "did not complete the connection" in outcome.message
    assert Mailbox.select().count() == 0
