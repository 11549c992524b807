"""Sequence logs follow the mailbox: blocked, unblocked, removed, added back — once each."""

from models import connections, events
from models.accounts import User
from models.health import record_failure, transition
from models.mailboxes import CONNECTED, Mailbox
from models.sequences import Sequence, SequenceLog, create_sequence
from tests import factories
from tests.test_state_machine import REVOKED


def _messages(sequence):
    return [log.message for log in SequenceLog.select().where(
        (SequenceLog.sequence == sequence) & SequenceLog.kind.startswith("mailbox"))
        .order_by(SequenceLog.id)]


def test_an_incident_and_its_reconnect_are_logged_once_in_each_sequence(accounts):
    import tasks.notices  # noqa: F401  (registers the handlers, as a worker does)

    accounts.sign_up()
    owner = User.get()
    box = factories.mailbox()
    outreach = create_sequence(owner.team_id, owner, name="Outreach", mailbox=box)
    Sequence.update(paused=False).where(Sequence.id == outreach.id).execute()  # running
    record_failure(box.id, REVOKED)
    events.dispatch()
    events.dispatch()
    transition(box.id, CONNECTED, cause="Reconnected.")
    events.dispatch()
    blocked, unblocked = _messages(outreach)
    assert blocked.startswith("Mailbox alex@acme.test needs reconnecting (")
    assert "expired or was revoked" in blocked and blocked.endswith("— sequence blocked")
    assert unblocked == "Mailbox alex@acme.test reconnected — sequence unblocked"


def test_delete_and_add_back_read_as_removed_and_added_back(accounts):
    import tasks.notices  # noqa: F401

    accounts.sign_up()
    owner = User.get()
    box = factories.mailbox(provider="other", password="pw")
    outreach = create_sequence(owner.team_id, owner, name="Outreach", mailbox=box)
    Sequence.update(paused=False).where(Sequence.id == outreach.id).execute()  # running
    connections.delete(box, owner)
    events.dispatch()
    row = Mailbox.get_by_id(box.id)
    connections.save_other(owner.team, owner, row.email, {
        "imap_host": "h", "imap_port": 993, "imap_security": "ssl", "smtp_host": "h",
        "smtp_port": 587, "smtp_security": "starttls", "username": row.email}, "pw")
    events.dispatch()
    assert _messages(outreach) == ["Mailbox alex@acme.test removed — sequence blocked",
                                   "Mailbox alex@acme.test added back — sequence unblocked"]
