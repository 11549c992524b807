"""One way to sign in to a mailbox (models/credentials.py), whoever asks: the health check and
the sender get the same answer for a provider whose settings are gone, and a sender never
refreshes a token while a check holds the mailbox — it waits a moment and then sends."""

from datetime import timedelta

import pytest

import clock
from mail.providers import Catalog
from models import credentials
from models.accounts import User
from models.checks import Checker
from models.mailboxes import DEGRADED, Mailbox
from models.outbox import OutboxEmail
from models.sender import BUSY_RETRY, Sender
from models.sender_lease import RETRY_AFTER, OutboxSender
from tests.integration.conftest import sandbox_mailbox
from tests.integration.test_sending import MONDAY, mail_of, recipients, running, set_now

pytestmark = pytest.mark.sandbox


class Without:
    """The app's provider catalog after an operator removed one provider's settings."""

    def __init__(self, catalog, key):
        self.settings, self._catalog, self._key = catalog.settings, catalog, key

    def get(self, key):
        return None if key == self._key else self._catalog.get(key)


def _paused_for(box, retry, since) -> bool:
    """The mailbox's sender waits `retry` from a moment of the pass that began at `since`."""
    return since + retry <= OutboxSender.get_by_id(box.id).pause_until <= clock.now() + retry


def _waiting_email(accounts, sandbox):
    accounts.sign_up()
    owner = User.get()
    set_now(MONDAY.replace(hour=10))
    box = sandbox_mailbox(sandbox, "google")
    (ada,) = recipients(sandbox, "ada@client.test")
    running(owner, box, contacts=[ada], steps=[("Hello {{first_name}}", "One", 0)])
    return box, ada


def test_a_provider_whose_settings_are_gone_is_the_operators_to_fix_for_the_check_and_the_sender(
        accounts, app, tether_sandbox):
    box, ada = _waiting_email(accounts, tether_sandbox)
    catalog = Without(Catalog(app.config), "google-sandbox")

    since = clock.now()
    run = Sender(catalog).run(box.id)
    assert run.check  # the sender asks the health engine to look, at once
    assert _paused_for(box, RETRY_AFTER, since)
    assert mail_of(tether_sandbox, ada) == []

    Checker(catalog).check(box.id, force=True)
    row = Mailbox.get_by_id(box.id)
    assert row.status == DEGRADED and row.status_code == "provider not configured"
    assert row.status_cause == ("The google-sandbox provider is not configured on this server "
                                "any more. An administrator must restore its settings.")


def test_a_sender_whose_token_is_due_while_a_check_holds_the_mailbox_waits_then_sends_once(
        accounts, app, tether_sandbox):
    box, ada = _waiting_email(accounts, tether_sandbox)
    Mailbox.update(access_expires_at=clock.now() + timedelta(minutes=1)).where(
        Mailbox.id == box.id).execute()  # inside the refresh margin: due
    stored = Mailbox.get_by_id(box.id).refresh_token.reveal()
    assert credentials.acquire(box.id, "a-check-that-may-be-rotating-the-token")

    since = clock.now()
    run = Sender(Catalog(app.config)).run(box.id)
    assert not run.check  # nothing is wrong with the mailbox
    assert _paused_for(box, BUSY_RETRY, since)
    row = Mailbox.get_by_id(box.id)
    assert row.refreshed_at is None and row.refresh_token.reveal() == stored  # not refreshed
    assert row.lease_owner == "a-check-that-may-be-rotating-the-token"
    assert mail_of(tether_sandbox, ada) == []

    credentials.release(box.id, "a-check-that-may-be-rotating-the-token")
    set_now(clock.now() + BUSY_RETRY)
    Sender(Catalog(app.config)).run(box.id)
    row = Mailbox.get_by_id(box.id)
    assert row.refreshed_at is not None and row.lease_owner == ""  # refreshed, lease let go
    assert len(mail_of(tether_sandbox, ada)) == 1
    assert [e.status for e in OutboxEmail.select()] == ["sent"]
