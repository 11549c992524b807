"""Alerts out: post queued alerts to a team's chat and webhook destinations (one task per
alert, so one hanging receiver holds one worker thread, never the rest), retry what failed
when it is due, and look hourly for connections that expire soon."""

from huey import crontab

import clock
import config
from models import alert_delivery, expiry, notices
from models.mailboxes import RECONNECT_REQUIRED, Mailbox
from tasks import URGENT, huey, with_db

SOON = 60  # seconds: a retry due within this is scheduled; later ones wait for the sweep


@huey.task(priority=URGENT)
@with_db
def deliver_alert(delivery_id: int):
    alert_delivery.attempt(delivery_id)
    _schedule_soon_retry()


@huey.task()
@with_db
def send_alerts():
    """Queue every due alert (after events were dispatched, and every minute)."""
    queue_due()


def queue_due() -> int:
    due = alert_delivery.due()
    for delivery_id in due:
        deliver_alert(delivery_id)
    return len(due)


def _schedule_soon_retry() -> None:
    wait = alert_delivery.next_due_in()
    if wait is not None and 0 < wait.total_seconds() <= SOON:
        send_alerts.schedule(delay=wait.total_seconds() + 0.5)


@huey.periodic_task(crontab(minute="*"))
@with_db
def alerts_sweep():
    queue_due()


@huey.periodic_task(crontab(minute="7"))
@with_db
def expiring_connections():
    find_expiring()


def find_expiring() -> int:
    """mailbox.expiring_soon for each OAuth mailbox whose token dies soon (once per deadline)."""
    now, testing = clock.now(), config.current()["GOOGLE_TESTING_MODE"]
    told = 0
    for mailbox in Mailbox.select().where(Mailbox.deleted_at.is_null()
                                          & (Mailbox.status != RECONNECT_REQUIRED)):
        if found := expiry.soonest(mailbox, now=now, google_testing=testing):
            told += notices.expiring_soon(mailbox, *found)
    return told
