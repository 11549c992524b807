"""A later sign-up over HTTP with a real worker and the sandbox's mail: the page says the same
whatever the address, and the email says the rest — a link to finish for a new address, a
heads-up for the owner of one that has an account."""

import email
import re
from email import policy

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from models.accounts import Team, User
from tests.support import Accounts, post_form, wait_for

pytestmark = pytest.mark.sandbox

INBOX_PW = "inbox-pw-1"


def inbox(sandbox, address, subject):
    """The messages in the address's INBOX, read over IMAP as its owner would."""
    with IMAPClient(sandbox.imap_host, sandbox.imap_port, ssl=False, timeout=10) as imap:
        try:
            imap.login(address, INBOX_PW)
        except LoginError:
            return []
        imap.select_folder("INBOX", readonly=True)
        ids = imap.search(["SUBJECT", subject])
        fetched = imap.fetch(ids, ["RFC822"]) if ids else {}
    return [email.message_from_bytes(f[b"RFC822"], policy=policy.default) for f in fetched.values()]


def _sign_up(client, address, password, team_name):
    return post_form(client, "/signup", {"email": address, "password": password,
                                         "team_name": team_name, "name": "Kim"}, page="/signup")


def test_a_new_address_gets_a_link_that_finishes_the_sign_up(accounts, client, app,
                                                             tether_sandbox, worker):
    accounts.sign_up()  # the instance's first person: the owner, at once
    accounts.log_out()
    tether_sandbox.control.create_user("kim@globex.test", INBOX_PW, kind="other")

    answer = _sign_up(client, "kim@globex.test", "kims-own-password-1", "Globex")
    assert "Check your inbox" in answer.get_data(as_text=True)

    messages = wait_for(lambda: inbox(tether_sandbox, "kim@globex.test", "Confirm your address"),
                        "the confirmation email")
    body = messages[0].get_body(("plain",)).get_content()
    assert "kims-own-password-1" not in body
    path = re.search(r"https?://[^/\s]+(/signup/confirm\?token=\S+)", body).group(1)

    kim = app.test_client()  # the browser the email is opened in
    page = kim.get(path).get_data(as_text=True)
    assert "kim@globex.test" in page and "Type the password you chose" in page
    token = path.partition("token=")[2]
    done = post_form(kim, "/signup/confirm", {"token": token, "password": "kims-own-password-1"},
                     page=path)
    assert done.status_code == 302
    user = User.get(User.email == "kim@globex.test")
    assert user.role == "owner" and user.team.name == "Globex"
    assert kim.get("/settings/email-accounts").status_code == 200
    assert Accounts(app.test_client()).log_in("kim@globex.test", "kims-own-password-1").status_code == 302


def test_an_address_with_an_account_gets_a_heads_up_and_nothing_changes(accounts, client,
                                                                        tether_sandbox, worker):
    tether_sandbox.control.create_user("owner@acme.test", INBOX_PW, kind="other")
    accounts.sign_up()
    accounts.log_out()
    before = User.get().password_hash

    for attempt in range(2):
        answer = _sign_up(client, "owner@acme.test", f"someone-elses-pw-{attempt}", "Evil")
        assert "Check your inbox" in answer.get_data(as_text=True)

    messages = wait_for(lambda: inbox(tether_sandbox, "owner@acme.test", "tried to sign up"),
                        "the heads-up email")
    body = messages[0].get_body(("plain",)).get_content()
    assert "already has a Tether account" in body and "/login" in body
    assert User.get().password_hash == before and Team.select().count() == 1
    # Two tries in one hour: one email, not one per try — a third is not sent either.
    from tasks.signups import email_sign_up_attempt

    assert email_sign_up_attempt.call_local(User.get().id) is False
    assert len(inbox(tether_sandbox, "owner@acme.test", "tried to sign up")) == 1
