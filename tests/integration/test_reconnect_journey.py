"""The seed's story end to end over HTTP: access removed at the provider → one email in the
owner's inbox with a working link → bell → signed-out link → sign in → confirm → consent →
green, with real consumers doing the checking and the sending."""

import email
import re
from email import policy
from urllib.parse import urlsplit

import pytest
from imapclient import IMAPClient

from models.mailboxes import CONNECTED, RECONNECT_REQUIRED, Mailbox
from sandbox.control import sign_in_and_consent
from tests.integration.conftest import connect, finish_at_tether
from tests.support import (
    Accounts,
    post_form,
    wait_for,  # noqa: E402
)

pytestmark = pytest.mark.sandbox




def inbox(sandbox, address, kind, subject="Action needed"):
    """The messages in the address's INBOX, read over IMAP as its owner would."""
    token = sandbox.control.issue_tokens(address, client=kind)["access_token"]
    with IMAPClient(sandbox.imap_host, sandbox.imap_port, ssl=False, timeout=10) as imap:
        imap.oauth2_login(address, token)
        imap.select_folder("INBOX", readonly=True)
        ids = imap.search(["SUBJECT", subject])
        fetched = imap.fetch(ids, ["RFC822"]) if ids else {}
    return [email.message_from_bytes(f[b"RFC822"], policy=policy.default) for f in fetched.values()]


def owner_connects(accounts, client, sandbox, kind, address="alex@acme.test"):
    sandbox.control.create_user(address, "mailbox-pw-1", kind=kind)
    accounts.sign_up(email=address)
    connect(client, f"{kind}-sandbox", address)
    return Mailbox.get(Mailbox.email == address)


@pytest.mark.parametrize("kind,provider_words", [("google", "Google (sandbox)"),
                                                 ("microsoft", "Microsoft (sandbox)")])
def test_removed_access_is_emailed_and_fixed_through_the_link(accounts, client, app, tether_sandbox,
                                                              worker, kind, provider_words):
    from tasks.checks import request_check

    address = f"alex.{kind}@acme.test"  # each run its own inbox: no stray mail from another
    box = owner_connects(accounts, client, tether_sandbox, kind, address)
    tether_sandbox.control.remove_access(address)
    request_check(box.id)
    wait_for(lambda: Mailbox.get_by_id(box.id).status == RECONNECT_REQUIRED, "the incident")

    messages = wait_for(lambda: inbox(tether_sandbox, address, kind), "the email")
    assert len(messages) == 1
    body = messages[0].get_body(("plain",)).get_content()
    assert messages[0]["Subject"] == f"Action needed: reconnect {address} to Tether"
    assert "Click the Reconnect icon." in body and "7. " in body
    link = re.search(r"Reconnect now: (\S+)", body).group(1)
    assert 'aria-label="Notifications: 1 unread"' in client.get("/sequences").get_data(as_text=True)

    # The link, opened in a browser that is signed out: sign in, then the confirmation.
    browser = app.test_client()
    path = urlsplit(link).path
    to_login = browser.get(path)
    assert "/login" in to_login.location
    signed_in = Accounts(browser).log_in(email=address, next_url=path)
    confirm = browser.get(browser.get(signed_in.location).location)
    text = confirm.get_data(as_text=True)
    assert f"sign in to <strong>{provider_words}</strong> as <strong>{address}</strong>" in text
    started = post_form(browser, f"/settings/email-accounts/{box.id}/reconnect",
                        page=f"/settings/email-accounts/{box.id}/reconnect")
    back = finish_at_tether(browser, sign_in_and_consent(started.location, address, "mailbox-pw-1"))
    assert f"Done! {address} is connected." in browser.get(back.location).get_data(as_text=True)
    assert Mailbox.get_by_id(box.id).status == CONNECTED
    # …and the recovery notice follows, once.
    recovered = wait_for(lambda: inbox(tether_sandbox, address, kind, "is reconnected"), "the recovery email")
    assert len(recovered) == 1


def test_a_hundred_failing_checks_by_two_consumers_send_exactly_one_email(
        accounts, client, tether_sandbox, worker, second_worker):
    from tasks import huey
    from tasks.checks import check_mailbox

    box = owner_connects(accounts, client, tether_sandbox, "google")
    tether_sandbox.control.remove_access("alex@acme.test")
    for _ in range(100):
        check_mailbox(box.id, force=True)
    wait_for(lambda: huey.pending_count() == 0, "the queue to drain", deadline=60)
    wait_for(lambda: inbox(tether_sandbox, "alex@acme.test", "google"), "the email")
    wait_for(lambda: _all_dispatched(), "every event to be handled")
    assert len(inbox(tether_sandbox, "alex@acme.test", "google")) == 1


def _all_dispatched():
    from models.health import MailboxEvent

    return not MailboxEvent.select().where(MailboxEvent.dispatched_at.is_null()).exists()


def test_the_email_still_goes_out_once_when_the_consumer_died_after_the_transition(
        accounts, client, tether_sandbox, worker):
    from mail.failures import Failure, Kind
    from models.checks import Checker  # noqa: F401
    from models.health import record_failure
    from tasks.notices import dispatch_events

    box = owner_connects(accounts, client, tether_sandbox, "google")
    # The consumer wrote the transition and was SIGKILLed before any handler ran.
    record_failure(box.id, Failure(Kind.RECONNECT, "invalid_grant",
                                   "The connection token expired or was revoked.", "token endpoint"))
    dispatch_events()  # what the next sweep or task does
    dispatch_events()
    wait_for(lambda: inbox(tether_sandbox, "alex@acme.test", "google"), "the email")
    wait_for(_all_dispatched, "every event to be handled")
    assert len(inbox(tether_sandbox, "alex@acme.test", "google")) == 1


def test_a_rotated_client_secret_emails_the_operator_once_and_prompts_no_user(
        accounts, client, tether_sandbox, worker):
    from datetime import timedelta

    import clock
    from tasks.checks import request_check

    address = "alex.ops@acme.test"
    box = owner_connects(accounts, client, tether_sandbox, "google", address)
    Mailbox.update(access_expires_at=clock.now() - timedelta(minutes=1)).execute()
    tether_sandbox.control.rotate_secret("google")
    for _ in range(3):
        request_check(box.id)
    wait_for(lambda: Mailbox.get_by_id(box.id).status == "degraded", "the operator's problem")
    alerts = wait_for(lambda: inbox(tether_sandbox, address, "google", "Tether operator"), "the alert")
    wait_for(_all_dispatched, "every event to be handled")
    assert len(inbox(tether_sandbox, address, "google", "Tether operator")) == len(alerts) == 1
    assert inbox(tether_sandbox, address, "google", "Action needed") == []
