"""Sending tasks: a send pass per mailbox that reschedules itself for its next due email, a
once-a-minute sweep that wakes whatever was missed, and a wake-up when a mailbox reconnects.

The database holds what is due (models/outbox.py); Huey only triggers. Each mailbox's
scheduled pass carries a wake-up number: a pass that finds a newer number stands down, so
rescheduling never multiplies tasks, and the sweep reschedules a pass that was lost.
"""

from datetime import timedelta

from huey import crontab

import clock
from mail import providers
from models import events, instance
from models.mailboxes import CONNECTED
from models.sender import Sender
from models.wakeups import set_wake, wakes_due
from tasks import SENDING, huey, with_db
from tasks.checks import request_check

SWEEP_GRACE = timedelta(seconds=30)  # let each mailbox's own scheduled pass go first
_sender: Sender | None = None


def sender() -> Sender:
    global _sender
    if _sender is None:
        _sender = Sender(providers.current())
    return _sender


@huey.task(priority=SENDING)
@with_db
def send_mailbox(mailbox_id: int, wake: int | None = None):
    """Send what is due from one mailbox, then schedule its next pass."""
    if not instance.live():
        return  # a copied or restored database: its emails stay queued until confirmed
    result = sender().run(mailbox_id, wake)
    if result.check:
        request_check(mailbox_id)  # a refused sign-in: the health engine decides, at once
    if result.next_at is not None:
        wake_at(mailbox_id, result.next_at)


def send_now(mailbox_id: int) -> None:
    """A person made emails due (started a sequence, enrolled contacts, pressed Send again):
    a pass now, rather than at the next minute's sweep. Views call this."""
    send_mailbox(mailbox_id)


def wake_at(mailbox_id: int, when) -> None:
    """Schedule the mailbox's next pass at `when` (by the one clock); older ones stand down."""
    number = set_wake(mailbox_id, when)
    delay = (when - clock.now()).total_seconds()
    if delay <= 0:
        send_mailbox(mailbox_id, number)
    else:
        send_mailbox.schedule((mailbox_id, number), delay=delay)


def wake_what_is_due() -> int:
    """Schedule a pass for every mailbox with sending work and no pass on its way."""
    due = wakes_due(clock.now(), SWEEP_GRACE)
    for mailbox_id, when in due:
        wake_at(mailbox_id, when)
    return len(due)


@huey.periodic_task(crontab(minute="*"))
@with_db
def sweep_outbox():
    """Once a minute: lost passes, new enrollments, windows opening, leases that expired."""
    wake_what_is_due()


@huey.task()
@with_db
def sweep_outbox_now() -> int:
    """The sweep on demand (what the minute's sweep does; tests that move the clock)."""
    return wake_what_is_due()


@events.handler("outbox_wake", wants=lambda event: event.to_status == CONNECTED)
def wake_on_connect(event) -> None:
    """A mailbox is connected again: its waiting emails go out now, not at the next sweep."""
    send_mailbox(event.mailbox_id)
