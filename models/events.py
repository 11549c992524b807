"""Hands mailbox transition events to their handlers, at most once per (event, channel).

An event opens or closes an incident, so "once per event" is "once per incident". A delivery
is claimed with a lease before its handler runs and marked done after: two workers never run
the same delivery, and a worker that dies mid-handler leaves a claim that expires and is taken
again (the crash loses nothing). Handlers are registered by the modules that own them: the
notices' channels (models/notices/channels.py) and the sequence log (models/blocking.py).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from peewee import CharField, DateTimeField, ForeignKeyField, IntegrityError

import clock
from models.base import BaseModel, db
from models.health import MailboxEvent

LEASE = timedelta(minutes=2)  # a worker that died mid-handler: its claim is taken after this
# A handler that raised (a locked database, the mail relay down) while its worker lives on is
# tried again this soon, not after a whole lease: a late log entry could otherwise land after
# the entry of the recovery that followed it.
RETRY_AFTER = timedelta(seconds=2)
log = logging.getLogger(__name__)
_handlers: dict[str, tuple[Callable, Callable]] = {}


class EventDelivery(BaseModel):
    event = ForeignKeyField(MailboxEvent, backref="deliveries", on_delete="CASCADE")
    channel = CharField()
    claimed_until = DateTimeField()
    done_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("event", "channel"), True),)


def handler(channel: str, wants: Callable[[MailboxEvent], bool] = lambda e: True):
    """Register `fn(event)` for `channel`, for the events `wants` accepts."""

    def register(fn):
        _handlers[channel] = (fn, wants)
        return fn

    return register


def _claim(event_id: int, channel: str) -> bool:
    now = clock.now()
    try:
        with db.atomic():
            EventDelivery.create(event=event_id, channel=channel, claimed_until=now + LEASE)
        return True
    except IntegrityError:
        taken = (EventDelivery.update(claimed_until=now + LEASE)
                 .where((EventDelivery.event == event_id) & (EventDelivery.channel == channel)
                        & EventDelivery.done_at.is_null() & (EventDelivery.claimed_until < now))
                 .execute())
        return taken == 1


@dataclass(frozen=True)
class Dispatched:
    delivered: int
    failed: int  # handlers that raised: each is tried again after RETRY_AFTER


def dispatch(limit: int = 500) -> Dispatched:
    """Deliver pending events to every interested handler."""
    delivered = failed = 0
    # A list, not a lazy cursor: an open SELECT holds SQLite's read snapshot, and the writes
    # below would then fail at once instead of waiting for the lock.
    pending = list(MailboxEvent.select().where(MailboxEvent.dispatched_at.is_null())
                   .order_by(MailboxEvent.id).limit(limit))
    for event in pending:
        wanted = [channel for channel, (_, wants) in list(_handlers.items()) if wants(event)]
        for channel in wanted:
            ran = deliver_once(event, channel, _handlers[channel][0])
            delivered += ran is True
            failed += ran is False
        # Whoever sees the last delivery done closes the event, whichever worker ran it.
        if all(_done(event.id, channel) for channel in wanted):
            MailboxEvent.update(dispatched_at=clock.now()).where(MailboxEvent.id == event.id).execute()
    return Dispatched(delivered, failed)


def deliver_once(event: MailboxEvent, channel: str, fn: Callable[[MailboxEvent], object]) -> bool | None:
    """Run `fn(event)` as the one delivery of `event` on `channel`: True if it ran now, False
    if it raised (it is tried again after RETRY_AFTER), None if it is done already or another
    worker holds it. A registered handler's channel or any other name (a reminder's)."""
    if _done(event.id, channel) or not _claim(event.id, channel):
        return None  # finished, or another worker holds it now
    try:
        fn(event)
    except Exception:
        log.exception("handler %s failed for mailbox event %s", channel, event.id)
        _release_soon(event.id, channel)
        return False
    (EventDelivery.update(done_at=clock.now())
     .where((EventDelivery.event == event.id) & (EventDelivery.channel == channel)).execute())
    return True


def _release_soon(event_id: int, channel: str) -> None:
    try:
        (EventDelivery.update(claimed_until=clock.now() + RETRY_AFTER)
         .where((EventDelivery.event == event_id) & (EventDelivery.channel == channel)).execute())
    except Exception:  # the database itself is failing: the lease expiring retries it too
        log.exception("could not release delivery %s/%s early", event_id, channel)


def _done(event_id: int, channel: str) -> bool:
    return (EventDelivery.select().where((EventDelivery.event == event_id)
                                         & (EventDelivery.channel == channel)
                                         & EventDelivery.done_at.is_null(False)).exists())
