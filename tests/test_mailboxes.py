"""Email Accounts without a provider round trip: bad input, roles, isolation, live polling,
disable / enable / delete, and what the database holds."""

import re
import socket
import time

from models import changes
from models.health import MailboxHistory, transition
from models.mailboxes import DEGRADED, DISABLED, RECONNECT_REQUIRED, Mailbox
from models.oauth_attempts import OAuthAttempt
from tests import factories
from tests.support import Accounts, post_form

OTHER_FORM = {"email": "pat@example.com", "imap_host": "imap.example.com", "imap_port": "993",
              "imap_security": "ssl", "smtp_host": "smtp.example.com", "smtp_port": "587",
              "smtp_security": "starttls", "username": "", "password": "pw-123456"}


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_other_provider_form_rejects_bad_input_and_stores_nothing(accounts, client):
    accounts.sign_up()
    bad = {**OTHER_FORM, "email": "not an address", "imap_port": "99999", "smtp_host": "",
           "password": ""}
    response = post_form(client, "/settings/email-accounts/other/new", bad,
                         page="/settings/email-accounts/other/new")
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    for words in ("Enter the mailbox&#39;s email address", "between 1 and 65535",
                  "Enter the server&#39;s host name", "Enter the mailbox&#39;s password"):
        assert words in text
    assert Mailbox.select().count() == 0


def test_metadata_and_link_local_hosts_are_refused(accounts, client):
    accounts.sign_up()
    form = {**OTHER_FORM, "imap_host": "169.254.169.254", "smtp_host": "169.254.10.1"}
    response = post_form(client, "/settings/email-accounts/other/new", form,
                         page="/settings/email-accounts/other/new")
    assert response.status_code == 422
    assert response.get_data(as_text=True).count("link-local or cloud metadata address") == 2
    assert Mailbox.select().count() == 0


def test_connection_test_reports_imap_and_smtp_separately_in_plain_words(accounts, client):
    accounts.sign_up()
    form = {**OTHER_FORM, "imap_host": "127.0.0.1", "imap_port": str(_closed_port()),
            "imap_security": "none", "smtp_host": "no-such-host.invalid"}
    response = post_form(client, "/settings/email-accounts/other/test", form,
                         page="/settings/email-accounts/other/new")
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    imap = re.search(r'data-probe="imap">(.*?)</li>', text, re.S).group(1)
    smtp = re.search(r'data-probe="smtp">(.*?)</li>', text, re.S).group(1)
    assert "refused the connection" in imap and "(refused)" in imap
    assert "could not be found (DNS)" in smtp
    assert Mailbox.select().count() == 0


def test_another_teams_mailbox_is_a_404_everywhere(accounts, client, app):
    accounts.sign_up()
    theirs = factories.mailbox()
    rival = app.test_client()
    Accounts(rival).sign_up(email="boss@rival.test", team_name="Rival")
    for path in (f"/settings/email-accounts/{theirs.id}", f"/settings/email-accounts/{theirs.id}/reconnect",
                 f"/settings/email-accounts/{theirs.id}/delete"):
        assert rival.get(path).status_code == 404, path
    for path in (f"/settings/email-accounts/{theirs.id}/disable", f"/settings/email-accounts/{theirs.id}/delete"):
        assert post_form(rival, path, page="/settings/email-accounts").status_code == 404
    assert "alex@acme.test" not in rival.get("/settings/email-accounts").get_data(as_text=True)
    assert Mailbox.get_by_id(theirs.id).status == "connected"


def test_members_manage_only_the_mailboxes_they_connected(accounts, client, app):
    from tests.test_team import _invite, _join

    accounts.sign_up()
    owners = factories.mailbox()
    _, link = _invite(client, email="mia@acme.test", role="member")
    member, _ = _join(app, link)
    mine = factories.mailbox(owner_email="mia@acme.test", email="mia@acme.test")
    page = member.get("/settings/email-accounts").get_data(as_text=True)
    assert "alex@acme.test" in page  # the whole team's mailboxes are visible
    assert post_form(member, f"/settings/email-accounts/{owners.id}/disable",
                     page="/settings/email-accounts").status_code == 403
    assert post_form(member, f"/settings/email-accounts/{mine.id}/disable",
                     page="/settings/email-accounts").status_code == 303
    assert Mailbox.get_by_id(mine.id).status == DISABLED
    assert Mailbox.get_by_id(owners.id).status == "connected"


def test_the_page_poll_answers_nothing_changed_in_a_few_bytes_until_a_status_changes(accounts, client):
    accounts.sign_up()
    box = factories.mailbox()
    page = client.get("/settings/email-accounts").get_data(as_text=True)
    version = re.search(r'data-live-version="(\d+)"', page).group(1)
    poll = {"since": version, "rendered_at": str(int(time.time()))}
    quiet = client.get("/settings/email-accounts", query_string=poll, headers={"HX-Request": "true"})
    assert quiet.status_code == 204 and quiet.data == b""
    transition(box.id, RECONNECT_REQUIRED, cause="Token expired or revoked.")
    fresh = client.get("/settings/email-accounts", query_string=poll, headers={"HX-Request": "true"})
    body = fresh.get_data(as_text=True)
    assert fresh.status_code == 200 and "<html" not in body
    assert f'data-mailbox-id="{box.id}" data-status="reconnect_required"' in body
    assert "Reconnect required" in body


def test_disable_enable_and_delete_keep_history_and_erase_credentials(accounts, client):
    accounts.sign_up()
    box = factories.mailbox()
    post_form(client, f"/settings/email-accounts/{box.id}/disable", page="/settings/email-accounts")
    assert Mailbox.get_by_id(box.id).status == DISABLED
    post_form(client, f"/settings/email-accounts/{box.id}/enable", page="/settings/email-accounts")
    assert Mailbox.get_by_id(box.id).status == "checking"
    response = post_form(client, f"/settings/email-accounts/{box.id}/delete", page="/settings/email-accounts")
    assert response.status_code == 303
    gone = Mailbox.get_by_id(box.id)
    assert gone.deleted_at is not None and gone.status == DISABLED
    assert gone.access_token is None and gone.refresh_token is None and gone.password is None
    assert [h.to_status for h in MailboxHistory.select().order_by(MailboxHistory.id)] == [
        DISABLED, "checking", DISABLED]
    assert "Removed by" in MailboxHistory.select().order_by(MailboxHistory.id.desc()).first().cause
    assert client.get(f"/settings/email-accounts/{box.id}").status_code == 404
    assert "alex@acme.test" not in client.get("/settings/email-accounts").get_data(as_text=True)


def test_a_degraded_mailbox_says_since_when_and_never_asks_to_reconnect(accounts, client):
    from mail.failures import Failure, Kind

    accounts.sign_up()
    box = factories.mailbox()
    transition(box.id, DEGRADED, failure=Failure(Kind.TRANSIENT, "HTTP 503", "The provider is "
                                                 "temporarily unavailable.", "token endpoint"))
    html = client.get("/settings/email-accounts").get_data(as_text=True)
    assert "Degraded" in html and "Delayed since" in html
    assert "urgent" not in html  # no highlighted Reconnect button


def test_a_callback_with_missing_unknown_or_foreign_state_changes_nothing(accounts, client, app):
    accounts.sign_up()
    assert client.get("/oauth/callback?code=abc").status_code == 400
    assert client.get("/oauth/callback?code=abc&state=made-up").status_code == 400
    # A state started by another session of the same person is refused too.
    other = app.test_client()
    Accounts(other).log_in()
    started = post_form(other, "/settings/email-accounts/connect/nope", page="/settings/email-accounts")
    assert started.status_code == 404  # unknown provider key
    assert OAuthAttempt.select().count() == 0 and Mailbox.select().count() == 0
    assert changes.version(1) == 0
