"""A stored Other Provider password goes only to the servers and username it was saved for.

An owner or admin manages a member's mailbox, but must never be able to read its password by
pointing Tether at a server of their own with the password field left blank. The servers here
are tiny capturing ones on loopback: the proof is what they heard.
"""

import pytest

from models.mailboxes import Mailbox
from tests import factories
from tests.capture_servers import CaptureServer
from tests.support import post_form
from tests.test_team import _invite, _join

STORED = "members-own-secret-pw"
AGAIN = "Enter the password again to use it with a different server"


@pytest.fixture
def servers():
    """The member's real servers, and the ones an owner would like the password sent to."""
    real = {"imap": CaptureServer("imap"), "smtp": CaptureServer("smtp")}
    theirs = {"imap": CaptureServer("imap", host="127.0.0.2", port=real["imap"].port),
              "smtp": CaptureServer("smtp")}
    yield real, theirs
    for server in (*real.values(), *theirs.values()):
        server.stop()


def _members_mailbox(client, app, real):
    _, link = _invite(client, email="mia@acme.test", role="member")
    _join(app, link)
    return factories.mailbox(owner_email="mia@acme.test", email="pat@example.com",
                             provider="other", access_token=None, refresh_token=None,
                             password=STORED, username="pat@example.com",
                             imap_host="127.0.0.1", imap_port=real["imap"].port,
                             imap_security="none", smtp_host="127.0.0.1",
                             smtp_port=real["smtp"].port, smtp_security="none")


def _form(box, **changes):
    form = {"mailbox_id": str(box.id), "username": box.username, "password": ""}
    for side in ("imap", "smtp"):
        for name in ("host", "port", "security"):
            form[f"{side}_{name}"] = str(getattr(box, f"{side}_{name}"))
    form.update(changes)
    return form


def _changes(theirs):
    return {
        "another IMAP host": {"imap_host": "127.0.0.2"},
        "another SMTP port": {"smtp_port": str(theirs["smtp"].port)},
        "another security": {"imap_security": "ssl"},
        "another username": {"username": "someone-else@example.com"},
    }


@pytest.mark.parametrize("change", ["another IMAP host", "another SMTP port",
                                    "another security", "another username"])
def test_an_owner_cannot_send_a_members_stored_password_to_other_servers(
        accounts, client, app, servers, change):
    real, theirs = servers
    accounts.sign_up()
    box = _members_mailbox(client, app, real)
    form = _form(box, **_changes(theirs)[change])
    page = f"/settings/email-accounts/{box.id}/credentials"

    tested = post_form(client, "/settings/email-accounts/other/test", form, page=page)
    saved = post_form(client, page, form, page=page)

    for response in (tested, saved):
        assert response.status_code == 422
        assert AGAIN in response.get_data(as_text=True)
    for server in (*real.values(), *theirs.values()):
        assert server.connections == 0 and not server.heard(STORED)
    row = Mailbox.get_by_id(box.id)
    assert (row.imap_host, row.smtp_port, row.username) == ("127.0.0.1", real["smtp"].port,
                                                            "pat@example.com")
    assert row.password.reveal() == STORED


def test_the_same_servers_still_use_the_stored_password(accounts, client, app, servers):
    real, theirs = servers
    accounts.sign_up()
    box = _members_mailbox(client, app, real)
    page = f"/settings/email-accounts/{box.id}/credentials"
    response = post_form(client, "/settings/email-accounts/other/test", _form(box), page=page)
    assert response.status_code == 200 and AGAIN not in response.get_data(as_text=True)
    assert real["imap"].heard(STORED) and real["smtp"].heard(STORED)
    assert not any(server.connections for server in theirs.values())


def test_a_new_server_with_the_password_typed_again_is_tested_there(accounts, client, app, servers):
    real, theirs = servers
    accounts.sign_up()
    box = _members_mailbox(client, app, real)
    form = _form(box, imap_host="127.0.0.2", password="typed-just-now")
    response = post_form(client, "/settings/email-accounts/other/test", form,
                         page=f"/settings/email-accounts/{box.id}/credentials")
    assert response.status_code == 200
    assert theirs["imap"].heard("typed-just-now") and not theirs["imap"].heard(STORED)
