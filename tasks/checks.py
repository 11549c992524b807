"""Health-check tasks: a check per mailbox scheduled at its own time, a sweep that finds what
was missed, and the immediate check that a failed send or fetch asks for.

The database holds every mailbox's next check time; Huey only triggers. A task lost with a
consumer is found again by the sweep, and the per-mailbox lease (models/credentials.py) makes a
duplicate task harmless.
"""

from datetime import timedelta

from huey import crontab

import clock
import config
from mail import providers
from models import check_history, instance, readiness
from models.checks import Checker, LeaseHeld, Settings, due_ids
from tasks import URGENT, huey, with_db
from tasks.notices import deliver_events

_checker: Checker | None = None
# Let each mailbox's own scheduled task go first. Only a task lost with its consumer waits for
# the sweep, which then checks by next_check_at + SWEEP_GRACE + 60 s (its cadence) + pickup:
# the bound of interval + a few seconds (models/checks.py next_check_at) is the chain's.
SWEEP_GRACE = timedelta(seconds=30)
FORCED_RETRY = 2.0  # seconds: a forced check that met another check under way tries again


def checker() -> Checker:
    global _checker
    if _checker is None:
        _checker = Checker(providers.current(),
                           Settings(interval=timedelta(seconds=config.current()["CHECK_INTERVAL_SECONDS"])))
    return _checker


@huey.task()
@with_db
def check_mailbox(mailbox_id: int, force: bool = False):
    """Check one mailbox, then schedule its next check at the time the database says."""
    if not instance.live():
        return  # a copy's refresh would rotate the tokens the live original holds
    try:
        with check_history.timing():  # /metrics' check duration histogram
            next_at = checker().check(mailbox_id, force=force)
    except LeaseHeld:  # a push signal or a failed send must not be lost to a routine check
        check_mailbox.schedule((mailbox_id,), {"force": True}, delay=FORCED_RETRY,
                               priority=URGENT)
        return
    deliver_events()  # notices and sequence logs follow the transition at once
    if next_at is not None:
        delay = max((next_at - clock.now()).total_seconds(), 0)
        check_mailbox.schedule((mailbox_id,), delay=delay)


def schedule_next(mailbox_id: int) -> None:
    """Start a mailbox's chain of checks at the time the database holds (just connected)."""
    from models.mailboxes import Mailbox

    row = Mailbox.get_or_none(Mailbox.id == mailbox_id)
    if row is not None and row.next_check_at is not None:
        delay = max((row.next_check_at - clock.now()).total_seconds(), 0)
        check_mailbox.schedule((mailbox_id,), delay=delay)


def request_check(mailbox_id: int) -> None:
    """Check now: a send or reply fetch hit an authentication error, a person asked, or a
    push signal came. Ahead of the routine checks in the queue."""
    check_mailbox(mailbox_id, force=True, priority=URGENT)


@huey.periodic_task(crontab(minute="*"))
@with_db
def sweep():
    """Once a minute: enqueue every overdue, unleased mailbox (lost tasks, restarts)."""
    readiness.beat("sweep")  # /readyz: a worker with the scheduler is running
    for mailbox_id in due_ids(grace=SWEEP_GRACE):
        check_mailbox(mailbox_id)
    check_history.prune()
