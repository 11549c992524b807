"""Sequences follow their mailbox, for real: a revoked token at the sandbox blocks each active
sequence once, with the cause in its log; a person's pause survives; an outage blocks nothing."""

from datetime import timedelta

import pytest

import clock
import tasks.notices  # noqa: F401  (registers the event handlers, as a worker does)
from models import events
from models.accounts import User
from models.mailboxes import Mailbox
from models.sequences import ACTIVE, BLOCKED, PAUSED, Sequence, SequenceLog, create_sequence
from tests.integration.conftest import grant_tokens, sandbox_mailbox

pytestmark = pytest.mark.sandbox


def _sequences(box, owner):
    running = []
    for name in ("Q4 outreach", "Partners"):
        sequence = create_sequence(owner.team_id, owner, name=name, mailbox=box)
        Sequence.update(paused=False).where(Sequence.id == sequence.id).execute()
        running.append(sequence)
    paused = create_sequence(owner.team_id, owner, name="On hold", mailbox=box)
    return running, paused


def _mailbox_logs(sequence):
    return [log.message for log in SequenceLog.select().where(
        (SequenceLog.sequence == sequence) & SequenceLog.kind.startswith("mailbox"))]


def test_a_revoked_token_blocks_each_active_sequence_once_and_names_the_cause(accounts, tether_sandbox, checker):
    accounts.sign_up()
    owner = User.get()
    box = sandbox_mailbox(tether_sandbox, "google")
    running, paused = _sequences(box, owner)
    tether_sandbox.control.remove_access("alex@acme.test")
    checker.check(box.id, force=True)
    checker.check(box.id, force=True)
    events.dispatch()
    events.dispatch()
    for sequence in running:
        assert Sequence.get_by_id(sequence.id).state == BLOCKED
        (entry,) = _mailbox_logs(sequence)
        assert entry.startswith("Mailbox alex@acme.test needs reconnecting (")
        assert "(Token expired or revoked)" in entry and entry.endswith("— sequence blocked")
    assert Sequence.get_by_id(paused.id).state == PAUSED
    assert _mailbox_logs(paused)[0].endswith("— sequence stays paused")

    # Reconnected: the running ones turn green by themselves; the paused one stays paused.
    grant = tether_sandbox.control.issue_tokens("alex@acme.test", client="google")
    from models.connections import save_oauth

    save_oauth(owner.team, owner, checker.catalog.get("google-sandbox"), "alex@acme.test",
               grant_tokens(grant), mailbox_id=box.id)
    events.dispatch()
    assert [Sequence.get_by_id(s.id).state for s in running] == [ACTIVE, ACTIVE]
    assert Sequence.get_by_id(paused.id).state == PAUSED
    assert _mailbox_logs(running[0])[-1] == "Mailbox alex@acme.test reconnected — sequence unblocked"


def test_an_outage_blocks_nothing(accounts, tether_sandbox, checker):
    accounts.sign_up()
    owner = User.get()
    box = sandbox_mailbox(tether_sandbox, "google")
    running, _ = _sequences(box, owner)
    Mailbox.update(access_expires_at=clock.now() - timedelta(minutes=1)).execute()
    tether_sandbox.control.set_fault("unavailable", seconds=600)
    checker.check(box.id, force=True)
    events.dispatch()
    assert Mailbox.get_by_id(box.id).status == "degraded"
    assert [Sequence.get_by_id(s.id).state for s in running] == [ACTIVE, ACTIVE]
    assert _mailbox_logs(running[0]) == []

