"""Connecting mailboxes through the sandbox, as a user would: real consent, real IMAP/SMTP."""

import re
import sqlite3
from urllib.parse import parse_qs, urlsplit

import pytest

from models.health import MailboxHistory
from models.mailboxes import CONNECTED, Mailbox
from models.oauth_attempts import OAuthAttempt
from sandbox.control import sign_in_and_consent
from tests.integration.conftest import connect, finish_at_tether, start_consent
from tests.support import post_form

pytestmark = pytest.mark.sandbox


@pytest.mark.parametrize("key,kind", [("google-sandbox", "google"), ("microsoft-sandbox", "microsoft")])
def test_connect_an_oauth_mailbox_and_see_it_connected(accounts, client, tether_sandbox, key, kind):
    accounts.sign_up()
    tether_sandbox.control.create_user("alex@acme.test", "mailbox-pw-1", kind=kind)
    response = connect(client, key, "alex@acme.test")
    assert response.status_code == 302 and response.location.endswith("/settings/email-accounts")
    box = Mailbox.get(Mailbox.email == "alex@acme.test")
    assert box.status == CONNECTED and box.provider == key
    assert box.connected_by.email == "owner@acme.test" and box.last_success_at is not None
    assert box.refresh_token is not None and box.next_check_at is not None
    page = client.get("/settings/email-accounts").get_data(as_text=True)
    assert "alex@acme.test is connected." in page  # "Done! …"
    assert f'data-mailbox-id="{box.id}" data-status="connected"' in page


def test_unticked_mail_access_is_refused_and_nothing_is_stored(accounts, client, tether_sandbox):
    accounts.sign_up()
    tether_sandbox.control.create_user("alex@acme.test", "mailbox-pw-1", kind="google")
    response = connect(client, "google-sandbox", "alex@acme.test", grant_mail=False)
    assert response.status_code == 302
    page = client.get("/settings/email-accounts").get_data(as_text=True)
    assert "Mail access was not granted" in page
    assert Mailbox.select().count() == 0
    # …and the stray grant was revoked at the provider.
    assert not tether_sandbox.control.user("alex@acme.test")["apps"]


def test_cancel_at_the_provider_connects_nothing(accounts, client, tether_sandbox):
    accounts.sign_up()
    tether_sandbox.control.create_user("alex@acme.test", "mailbox-pw-1", kind="google")
    response = connect(client, "google-sandbox", "alex@acme.test", allow=False)
    assert "did not grant access" in client.get(response.location).get_data(as_text=True)
    assert Mailbox.select().count() == 0


def test_a_replayed_callback_is_refused(accounts, client, tether_sandbox):
    accounts.sign_up()
    tether_sandbox.control.create_user("alex@acme.test", "mailbox-pw-1", kind="google")
    url = start_consent(client, "/settings/email-accounts/connect/google-sandbox")
    callback = sign_in_and_consent(url, "alex@acme.test", "mailbox-pw-1")
    assert finish_at_tether(client, callback).status_code == 302
    again = finish_at_tether(client, callback)
    assert again.status_code == 400 and "already completed" in again.get_data(as_text=True)
    assert Mailbox.select().count() == 1 and OAuthAttempt.get().used_at is not None


def test_reconnect_with_a_different_address_is_refused_and_keeps_the_old_tokens(accounts, client, tether_sandbox):
    accounts.sign_up()
    control = tether_sandbox.control
    control.create_user("alex@acme.test", "mailbox-pw-1", kind="google")
    control.create_user("eve@acme.test", "mailbox-pw-2", kind="google")
    connect(client, "google-sandbox", "alex@acme.test")
    box = Mailbox.get()
    before = (box.access_token, box.refresh_token)
    url = start_consent(client, f"/settings/email-accounts/{box.id}/reconnect")
    assert "login_hint=alex%40acme.test" in url
    response = finish_at_tether(client, sign_in_and_consent(url, "eve@acme.test", "mailbox-pw-2"))
    text = client.get(response.location).get_data(as_text=True)
    assert "You signed in as eve@acme.test, but this mailbox is alex@acme.test" in text
    after = Mailbox.get_by_id(box.id)
    assert (after.access_token, after.refresh_token) == before
    assert not control.user("eve@acme.test")["apps"]  # the stray token was revoked


def test_adding_an_already_connected_address_is_refused(accounts, client, tether_sandbox):
    accounts.sign_up()
    tether_sandbox.control.create_user("alex@acme.test", "mailbox-pw-1", kind="google")
    connect(client, "google-sandbox", "alex@acme.test")
    response = connect(client, "google-sandbox", "alex@acme.test")
    assert "already connected" in client.get(response.location).get_data(as_text=True)
    assert Mailbox.select().count() == 1


def _wait_until_imap_accepts(sandbox, email, password, deadline=5.0):
    """Dovecot notices a rewritten passwd-file within about a second: wait for that, not longer."""
    import time

    from imapclient import IMAPClient
    from imapclient.exceptions import LoginError

    give_up = time.monotonic() + deadline
    while True:
        with IMAPClient(sandbox.imap_host, sandbox.imap_port, ssl=False, timeout=5) as imap:
            try:
                imap.login(email, password)
                return
            except LoginError:
                if time.monotonic() > give_up:
                    raise
        time.sleep(0.1)


def _other_form(sandbox, email, password):
    return {"email": email, "imap_host": sandbox.imap_host, "imap_port": str(sandbox.imap_port),
            "imap_security": "none", "smtp_host": sandbox.smtp_host,
            "smtp_port": str(sandbox.smtp_port), "smtp_security": "none", "username": "",
            "password": password}


def test_other_provider_with_the_right_and_the_wrong_password(accounts, client, tether_sandbox):
    accounts.sign_up()
    tether_sandbox.control.create_user("pat@example.test", "right-password", kind="other")
    _wait_until_imap_accepts(tether_sandbox, "pat@example.test", "right-password")
    wrong = post_form(client, "/settings/email-accounts/other/new",
                      _other_form(tether_sandbox, "pat@example.test", "wrong-password"),
                      page="/settings/email-accounts/other/new")
    text = wrong.get_data(as_text=True)
    assert wrong.status_code == 422 and text.count("The username or password was rejected.") == 2, text[text.find("probe"):][:1500]
    assert Mailbox.select().count() == 0
    right = post_form(client, "/settings/email-accounts/other/new",
                      _other_form(tether_sandbox, "pat@example.test", "right-password"),
                      page="/settings/email-accounts/other/new")
    assert right.status_code == 302
    box = Mailbox.get()
    assert box.status == CONNECTED and box.password.reveal() == "right-password"


def test_other_provider_update_in_place_and_delete_then_re_add(accounts, client, tether_sandbox):
    accounts.sign_up()
    control = tether_sandbox.control
    control.create_user("pat@example.test", "first-password", kind="other")
    _wait_until_imap_accepts(tether_sandbox, "pat@example.test", "first-password")
    post_form(client, "/settings/email-accounts/other/new",
              _other_form(tether_sandbox, "pat@example.test", "first-password"),
              page="/settings/email-accounts/other/new")
    box = Mailbox.get()
    control.change_password("pat@example.test", "second-password")
    _wait_until_imap_accepts(tether_sandbox, "pat@example.test", "second-password")
    form = _other_form(tether_sandbox, "pat@example.test", "second-password")
    response = post_form(client, f"/settings/email-accounts/{box.id}/credentials", form,
                         page=f"/settings/email-accounts/{box.id}/credentials")
    assert response.status_code == 302, response.get_data(as_text=True)[-2500:]
    assert Mailbox.get_by_id(box.id).password.reveal() == "second-password"

    post_form(client, f"/settings/email-accounts/{box.id}/delete", page="/settings/email-accounts")
    assert Mailbox.get_by_id(box.id).deleted_at is not None
    again = post_form(client, "/settings/email-accounts/other/new", form,
                      page="/settings/email-accounts/other/new")
    assert again.status_code == 302
    back = Mailbox.get_by_id(box.id)  # the same row: history and sequences come back
    assert back.deleted_at is None and back.status == CONNECTED
    assert Mailbox.select().count() == 1
    assert MailboxHistory.select().where(MailboxHistory.mailbox == box.id).count() >= 3


def test_a_callback_from_another_browser_session_or_too_late_is_refused(accounts, client, app, tether_sandbox):
    import os
    from datetime import timedelta

    import clock
    from tests.support import Accounts

    accounts.sign_up()
    tether_sandbox.control.create_user("alex@acme.test", "mailbox-pw-1", kind="google")
    url = start_consent(client, "/settings/email-accounts/connect/google-sandbox")
    callback = sign_in_and_consent(url, "alex@acme.test", "mailbox-pw-1")
    elsewhere = app.test_client()
    Accounts(elsewhere).log_in()  # the same person, another browser
    foreign = finish_at_tether(elsewhere, callback)
    assert foreign.status_code == 400 and "another browser session" in foreign.get_data(as_text=True)

    url = start_consent(client, "/settings/email-accounts/connect/google-sandbox")
    callback = sign_in_and_consent(url, "alex@acme.test", "mailbox-pw-1")
    clock.set_offset(os.environ["TETHER_CLOCK_FILE"], timedelta(minutes=11).total_seconds())
    late = finish_at_tether(client, callback)
    assert late.status_code == 400 and "took too long" in late.get_data(as_text=True)
    assert Mailbox.select().count() == 0


def code_redeemed(sandbox, code: str) -> bool:
    """Whether the provider's token endpoint ever took this code (read from its own records)."""
    with sqlite3.connect(sandbox.folder / "runtime" / "sandbox.db") as db:
        row = db.execute("SELECT used_at FROM authcode WHERE code = ?", (code,)).fetchone()
    assert row is not None, "no such code at the provider"
    return row[0] is not None


@pytest.mark.parametrize("key,kind", [("google-sandbox", "google"), ("microsoft-sandbox", "microsoft")])
def test_an_answer_without_iss_is_refused_and_its_code_never_redeemed(accounts, client, tether_sandbox, key, kind):
    """Both sandbox flavours advertise RFC 9207's `iss`: an answer without it is a mix-up."""
    accounts.sign_up()
    tether_sandbox.control.create_user("alex@acme.test", "mailbox-pw-1", kind=kind)
    url = start_consent(client, f"/settings/email-accounts/connect/{key}")
    callback = sign_in_and_consent(url, "alex@acme.test", "mailbox-pw-1")
    assert "iss=" in callback
    response = finish_at_tether(client, re.sub(r"&iss=[^&]*|iss=[^&]*&", "", callback))
    assert response.status_code == 400
    assert "did not come from the provider" in response.get_data(as_text=True)
    assert Mailbox.select().count() == 0
    assert not code_redeemed(tether_sandbox, parse_qs(urlsplit(callback).query)["code"][0])


def test_a_google_code_delivered_on_a_microsoft_sign_in_never_reaches_microsoft(accounts, client, tether_sandbox):
    accounts.sign_up()
    tether_sandbox.control.create_user("alex@acme.test", "mailbox-pw-1", kind="google")
    microsoft_url = start_consent(client, "/settings/email-accounts/connect/microsoft-sandbox")
    microsoft_state = parse_qs(urlsplit(microsoft_url).query)["state"][0]
    google_callback = sign_in_and_consent(
        start_consent(client, "/settings/email-accounts/connect/google-sandbox"),
        "alex@acme.test", "mailbox-pw-1")
    code = parse_qs(urlsplit(google_callback).query)["code"][0]
    response = client.get(f"/oauth/callback?code={code}&state={microsoft_state}")
    assert response.status_code == 400
    assert "did not come from the provider" in response.get_data(as_text=True)
    assert Mailbox.select().count() == 0
    assert not code_redeemed(tether_sandbox, code)


def test_microsoft_is_asked_to_let_the_person_pick_an_account_not_to_consent_again(accounts, client, tether_sandbox):
    """prompt=consent would block people whose tenant admin consented for them while user
    consent is off; Google still needs it (a refresh token only comes with a consent)."""
    accounts.sign_up()
    microsoft = parse_qs(urlsplit(start_consent(
        client, "/settings/email-accounts/connect/microsoft-sandbox")).query)
    google = parse_qs(urlsplit(start_consent(
        client, "/settings/email-accounts/connect/google-sandbox")).query)
    assert microsoft["prompt"] == ["select_account"]
    # Adding a mailbox: Google's account chooser too, so another account can be added.
    assert google["prompt"] == ["select_account consent"] and google["access_type"] == ["offline"]
