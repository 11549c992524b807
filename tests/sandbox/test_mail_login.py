"""XOAUTH2 logins to the sandbox's Dovecot: a live token works, every way of killing it shows
at the very next login, as Gmail and Microsoft 365 answer (imapclient's LoginError, smtplib's
535)."""

import smtplib

import pytest
import requests
from imapclient.exceptions import LoginError

from tests.sandbox.helpers import imap, imap_oauth, revoke, smtp_oauth

pytestmark = pytest.mark.sandbox

FLAVOURS = ["google", "microsoft"]


def mailbox(sandbox, kind, name="ada"):
    email = f"{name}@{kind}-mail.test"
    sandbox.control.create_user(email, "correct horse", kind=kind)
    return email, sandbox.control.issue_tokens(email)


def assert_imap_refused(sandbox, email, access_token):
    with pytest.raises(LoginError, match=r"AUTHENTICATIONFAILED"):
        imap_oauth(sandbox, email, access_token)


@pytest.mark.parametrize("kind", FLAVOURS)
def test_fresh_token_opens_the_mailbox(sandbox, kind):
    email, tokens = mailbox(sandbox, kind)
    client = imap_oauth(sandbox, email, tokens["access_token"])
    folders = {name for _flags, _sep, name in client.list_folders()}
    client.logout()
    assert {"INBOX", "Sent"} <= folders


@pytest.mark.parametrize("kind", FLAVOURS)
def test_revoked_token_is_refused_at_the_next_login(sandbox, kind):
    email, tokens = mailbox(sandbox, kind)
    imap_oauth(sandbox, email, tokens["access_token"]).logout()

    assert revoke(sandbox, kind, tokens["refresh_token"]).status_code == 200

    assert_imap_refused(sandbox, email, tokens["access_token"])


def test_remove_access_on_the_users_own_page_ends_mail_access(sandbox):
    email, tokens = mailbox(sandbox, "google")
    browser = requests.Session()
    page = browser.post(sandbox.issuer + "/account/signin",
                        data={"email": email, "password": "correct horse",
                              "next": "/account/security/apps"})
    assert "Apps with access" in page.text and "Tether (Google sandbox)" in page.text
    client_id = sandbox.client("google")["client_id"]

    page = browser.post(sandbox.issuer + f"/account/security/apps/{client_id}/remove")

    assert "no longer has access" in page.text
    assert "No apps have access" in page.text
    assert_imap_refused(sandbox, email, tokens["access_token"])


@pytest.mark.parametrize("kind", FLAVOURS)
def test_password_change_kills_the_token(sandbox, kind):
    email, tokens = mailbox(sandbox, kind)
    sandbox.control.change_password(email, "battery staple")
    assert_imap_refused(sandbox, email, tokens["access_token"])


def test_expired_tokens_are_refused(sandbox):
    email, tokens = mailbox(sandbox, "google")
    sandbox.control.expire_tokens(email)
    assert_imap_refused(sandbox, email, tokens["access_token"])

    # An access token also simply runs out after its hour, by the sandbox's clock.
    fresh = sandbox.control.issue_tokens(email)
    imap_oauth(sandbox, email, fresh["access_token"]).logout()
    sandbox.control.advance_clock(3600)
    assert_imap_refused(sandbox, email, fresh["access_token"])


@pytest.mark.parametrize("kind", FLAVOURS)
def test_imap_turned_off_refuses_a_valid_token(sandbox, kind):
    email, tokens = mailbox(sandbox, kind)
    sandbox.control.set_mail_enabled(email, False)

    assert_imap_refused(sandbox, email, tokens["access_token"])
    with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        smtp_oauth(sandbox, email, tokens["access_token"])
    assert refused.value.smtp_code == 535 and refused.value.smtp_error.startswith(b"5.7.8")

    sandbox.control.set_mail_enabled(email, True)
    imap_oauth(sandbox, email, tokens["access_token"]).logout()


def test_introspection_outage_is_a_temporary_login_failure(sandbox):
    email, tokens = mailbox(sandbox, "microsoft")
    sandbox.control.set_fault("unavailable", seconds=60, endpoint="introspect")

    with pytest.raises(LoginError, match=r"UNAVAILABLE"):
        imap_oauth(sandbox, email, tokens["access_token"])

    sandbox.control.clear_faults()
    imap_oauth(sandbox, email, tokens["access_token"]).logout()


def test_token_without_the_mail_permission_cannot_log_in(sandbox):
    email = "ada@gmail-mail.test"
    sandbox.control.create_user(email, "pw", kind="google")
    tokens = sandbox.control.issue_tokens(email, scope="openid email")
    assert_imap_refused(sandbox, email, tokens["access_token"])


def test_token_of_another_mailbox_is_refused(sandbox):
    _, tokens = mailbox(sandbox, "google", "ada")
    other, _ = mailbox(sandbox, "google", "bob")
    assert_imap_refused(sandbox, other, tokens["access_token"])


def test_password_user_logs_in_over_imap_and_smtp(sandbox):
    sandbox.control.create_user("carol@isp.test", "plain pw", kind="other")

    client = imap(sandbox)
    client.login("carol@isp.test", "plain pw")
    client.logout()
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as smtp:
        smtp.login("carol@isp.test", "plain pw")

    with pytest.raises(LoginError):
        imap(sandbox).login("carol@isp.test", "wrong")


def test_oauth_mailbox_refuses_a_password_login(sandbox):
    email, _ = mailbox(sandbox, "google")
    with pytest.raises(LoginError, match=r"AUTHENTICATIONFAILED"):
        imap(sandbox).login(email, "correct horse")


def test_system_mailer_account_logs_in_to_submission(sandbox):
    system = sandbox["system_smtp"]
    with smtplib.SMTP(system["host"], system["port"], timeout=10) as smtp:
        smtp.login(system["username"], system["password"])
