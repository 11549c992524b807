"""Sequence logs follow mailbox transitions: blocked, unblocked, removed, added back.

The toggle itself is derived from the mailbox (models/sequences.py); this handler writes the
log entry each affected sequence shows, once per transition event.
"""

from models import events, outbox
from models.connections import REMOVED
from models.health import MailboxEvent
from models.mailboxes import CONNECTED, Mailbox
from models.sequence_log import REMOVED as SEQUENCE_REMOVED
from models.sequences import log_mailbox_transition


def _entered_by_removal(event: MailboxEvent) -> bool:
    """Was the state this event leaves entered by a deletion (so leaving it = added back)?"""
    previous = (MailboxEvent.select(MailboxEvent.kind)
                .where((MailboxEvent.mailbox == event.mailbox_id) & (MailboxEvent.id < event.id))
                .order_by(MailboxEvent.id.desc()).tuples().first())
    return bool(previous) and previous[0] == REMOVED


@events.handler("sequence_log")
def sequence_log(event: MailboxEvent) -> None:
    mailbox = Mailbox.get_by_id(event.mailbox_id)
    old = SEQUENCE_REMOVED if _entered_by_removal(event) else event.from_status
    new = SEQUENCE_REMOVED if event.kind == REMOVED else event.to_status
    # Sending (models/outbox.py): an unblocking entry says how many emails were waiting.
    waiting = outbox.waiting_counts(mailbox.id) if new == CONNECTED else None
    log_mailbox_transition(mailbox, old, new, event.cause, waiting=waiting, event_id=event.id,
                           at=event.at)
