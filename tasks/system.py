"""Housekeeping tasks: the worker's view of the clock and the database, for health checks,
and taking over at start what an ended consumer of this machine left leased."""

import threading

import clock
from models import leases
from models.accounts import Team
from tasks import huey, with_db

_took_over = threading.Event()


@huey.on_startup()
def take_over_from_ended_workers():
    """Once per consumer process (Huey runs this in each worker thread): a consumer killed
    mid-work left leases that would hold its mailboxes for up to a lease; free them now and
    start their checks and sending at once."""
    if _took_over.is_set():
        return
    _took_over.set()
    from tasks.checks import check_mailbox
    from tasks.sending import send_mailbox

    with_db(_take_over)(check_mailbox, send_mailbox)


def _take_over(check_mailbox, send_mailbox) -> None:
    checks, sending = leases.free_dead_owners(clock.now())
    for mailbox_id in sorted(checks):
        check_mailbox(mailbox_id, force=True)
    for mailbox_id in sorted(sending):
        send_mailbox(mailbox_id)


@huey.task()
@with_db
def worker_status() -> dict:
    """What the worker sees: its clock and how many teams the database holds."""
    return {"now": clock.now().isoformat(), "teams": Team.select().count()}
