"""Google's token-revoked names one refresh token, not the user: Tether finds the mailbox that
holds it by the token's identifier (stored beside it) and checks it at once — the check decides.
A token Tether does not hold, or an identifier in a form it does not match, changes nothing.
Issue #20."""

import base64
from datetime import timedelta

import pytest

import clock
from mail.token_identifiers import token_identifier
from models.mailboxes import CONNECTED, RECONNECT_REQUIRED, Mailbox, refresh_token_fields
from tests.integration.conftest import connect
from tests.integration.test_signal_refusals import _forge, _post, alex  # noqa: F401
from tests.integration.test_signals import _owner_inbox, live_tether  # noqa: F401
from tests.integration.test_signup_emails import inbox
from tests.signal_support import (  # noqa: F401
    after_the_connects_sending_pass,
    hourly_worker,
    register_stream,
)
from tests.support import wait_for

pytestmark = pytest.mark.sandbox

TOKEN_REVOKED = "https://schemas.openid.net/secevent/oauth/event-type/token-revoked"
HASH = "hash_base64_sha512_sha512"


def _connected_alex(client, tether_sandbox):
    """alex@acme.test connected through the consent flow, its scheduled check an hour away."""
    tether_sandbox.control.create_user("alex@acme.test", "mailbox-pw-1", kind="google")
    connected_at = clock.now()
    connect(client, "google-sandbox", "alex@acme.test")
    box = Mailbox.get(Mailbox.email == "alex@acme.test")
    assert box.status == CONNECTED
    Mailbox.update(next_check_at=clock.now() + timedelta(hours=1)).where(
        Mailbox.id == box.id).execute()
    after_the_connects_sending_pass(box.id, connected_at)
    return box


@pytest.mark.usefixtures("hourly_worker")
def test_one_revoked_refresh_token_shows_within_seconds_with_one_email(
        app, accounts, client, tether_sandbox, live_tether):  # noqa: F811
    _owner_inbox(accounts, tether_sandbox)
    register_stream(app, live_tether, "google-sandbox")
    box = _connected_alex(client, tether_sandbox)
    control = tether_sandbox.control

    revoked = control.revoke_refresh_token("alex@acme.test", client="google")
    # The identifier Tether stored at the consent is the one Google's signal names.
    assert revoked["token_identifier"] == Mailbox.get_by_id(box.id).refresh_token_identifier

    row = wait_for(lambda: (r := Mailbox.get_by_id(box.id)).status == RECONNECT_REQUIRED and r,
                   "the mailbox to need reconnecting", 15)
    assert row.status_code == "invalid_grant"  # the check's own refresh decided
    assert row.signal_checked_from is not None  # the signal's check, not a scheduled one
    mails = wait_for(lambda: inbox(tether_sandbox, "owner@acme.test", "alex@acme.test"),
                     "the notification email", 15)
    assert len(mails) == 1
    assert [(d["event"], d["status"]) for d in control.signal_deliveries() if d["user"]] == [
        (TOKEN_REVOKED, "delivered")]


@pytest.mark.usefixtures("hourly_worker")
def test_a_revoked_token_tether_does_not_hold_changes_nothing(
        app, accounts, client, tether_sandbox, live_tether):  # noqa: F811
    accounts.sign_up()
    register_stream(app, live_tether, "google-sandbox")
    box = _connected_alex(client, tether_sandbox)
    control = tether_sandbox.control
    other = control.issue_tokens("alex@acme.test", client="google")  # another app session's
    refreshes = control.refresh_count("alex@acme.test")

    control.revoke_refresh_token("alex@acme.test", token=other["refresh_token"])
    wait_for(lambda: [d["status"] for d in control.signal_deliveries() if d["user"]]
             == ["delivered"], "the signal to be acknowledged", 15)
    row = Mailbox.get_by_id(box.id)
    assert row.status == CONNECTED
    # Acknowledged before any check was asked for: none was queued, none began.
    assert row.signal_pending_since is None and row.signal_checked_from is None
    assert control.refresh_count("alex@acme.test") == refreshes


def _token_revoked(tether_sandbox, box, alg, token):
    return _forge(tether_sandbox, box, events={TOKEN_REVOKED: {"subject": {
        "subject_type": "oauth_token", "token_type": "refresh_token",
        "token_identifier_alg": alg, "token": token}}})


def test_the_identifier_in_either_base64_alphabet_asks_for_a_check_of_its_mailbox(
        client, tether_sandbox, alex):  # noqa: F811
    from tasks import huey

    Mailbox.update(refresh_token_fields("1//sbx-held")).where(Mailbox.id == alex.id).execute()
    urlsafe = base64.urlsafe_b64encode(base64.b64decode(token_identifier("1//sbx-held")))
    answer = _post(client, _token_revoked(tether_sandbox, alex, HASH,
                                          urlsafe.decode().rstrip("=")))
    assert answer.status_code == 202
    assert Mailbox.get_by_id(alex.id).signal_pending_since is not None
    assert huey.pending_count() == 1
    assert Mailbox.get_by_id(alex.id).status == CONNECTED  # the check will decide, not the signal


@pytest.mark.parametrize("alg,token", [
    ("prefix", "1//sbx-held-toke"),        # Google's other form: Tether keeps no prefix
    ("plain", "1//sbx-held"),              # not an algorithm anyone defines
    (HASH, "bm90IGEgZGlnZXN0"),            # base64, but not of a SHA-512 digest
    (HASH, "%%% not base64 %%%"),
])
def test_a_token_named_in_a_form_tether_does_not_match_is_acknowledged_and_ignored(
        client, tether_sandbox, alex, alg, token):  # noqa: F811
    """RFC 8935 leaves a well-formed, genuine SET whose subject the receiver cannot use to
    the receiver: acknowledged (202), so the transmitter neither retries nor counts a failure;
    nothing is checked or changed."""
    from tasks import huey

    Mailbox.update(refresh_token_fields("1//sbx-held")).where(Mailbox.id == alex.id).execute()
    assert _post(client, _token_revoked(tether_sandbox, alex, alg, token)).status_code == 202
    row = Mailbox.get_by_id(alex.id)
    assert row.status == CONNECTED and row.signal_pending_since is None
    assert huey.pending_count() == 0


def test_erasing_a_mailbox_forgets_its_token_identifier(client, tether_sandbox, alex):  # noqa: F811
    from tasks import huey

    Mailbox.update(refresh_token_fields("1//sbx-held")).where(Mailbox.id == alex.id).execute()
    row = Mailbox.get_by_id(alex.id)
    row.erase_credentials()
    row.save()
    assert Mailbox.get_by_id(alex.id).refresh_token_identifier == ""
    body = _token_revoked(tether_sandbox, alex, HASH, token_identifier("1//sbx-held"))
    assert _post(client, body).status_code == 202 and huey.pending_count() == 0
