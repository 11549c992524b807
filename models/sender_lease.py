"""Per mailbox, the sender's row: its lease (one sender, one SMTP connection at a time), the
pause after a failed connection, and the number of its scheduled wake-up (models/wakeups.py).

The lease is short and kept by a heartbeat (models/leases.py) while a pass runs, so a consumer
that dies loses its mailboxes within seconds; the rows a sender claimed carry the same lease.
"""

from datetime import datetime, timedelta

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField

import clock
from models.base import BaseModel
from models.leases import LEASE
from models.mailboxes import Mailbox
from models.outbox import SENDING, OutboxEmail

RETRY_AFTER = timedelta(minutes=1)   # a failed connection: the mailbox's emails wait this long


class OutboxSender(BaseModel):
    """Per mailbox: the sender lease and the scheduled wake-up. `wake` numbers the scheduled
    task: an older one that fires finds a newer number and stands down, so rescheduling never
    multiplies tasks."""

    mailbox = ForeignKeyField(Mailbox, primary_key=True, on_delete="CASCADE")
    lease_owner = CharField(default="")
    lease_until = DateTimeField(null=True)   # while leased: its expiry; then: the last pass's end
    wake = IntegerField(default=0)
    wake_at = DateTimeField(null=True)
    pause_until = DateTimeField(null=True)   # after a connection failure: retry from then


def acquire_sender(mailbox_id: int, owner: str, now: datetime) -> bool:
    """Take the mailbox's sender lease if it is free or expired. One UPDATE: atomic."""
    OutboxSender.insert(mailbox=mailbox_id).on_conflict_ignore().execute()
    taken = (OutboxSender.update(lease_owner=owner, lease_until=now + LEASE)
             .where((OutboxSender.mailbox == mailbox_id)
                    & ((OutboxSender.lease_owner == "") | OutboxSender.lease_until.is_null()
                       | (OutboxSender.lease_until < now)))
             .execute())
    return taken == 1


def renew_sender(mailbox_id: int, owner: str, now: datetime) -> None:
    """The sender lease and the leases of the rows it holds (claimed or transmitting)."""
    (OutboxSender.update(lease_until=now + LEASE)
     .where((OutboxSender.mailbox == mailbox_id) & (OutboxSender.lease_owner == owner)).execute())
    (OutboxEmail.update(lease_until=now + LEASE)
     .where((OutboxEmail.lease_owner == owner) & (OutboxEmail.status == SENDING)).execute())


def release_sender(mailbox_id: int, owner: str) -> None:
    """Free the lease; `lease_until` then keeps when the last pass ended."""
    (OutboxSender.update(lease_owner="", lease_until=clock.now())
     .where((OutboxSender.mailbox == mailbox_id) & (OutboxSender.lease_owner == owner)).execute())


def pause_sender(mailbox_id: int, until: datetime) -> None:
    """No pass sends from the mailbox before `until` (models/wakeups.py respects it)."""
    OutboxSender.update(pause_until=until).where(OutboxSender.mailbox == mailbox_id).execute()
