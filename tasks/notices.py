"""Event handling tasks: hand transition events to their handlers (notices, sequence logs,
the mailboxes' incidents), send the optional reminder for incidents left open, send the
notice emails that waited for a system mailer, and settle the waits of incidents that are
over (models/mailbox_health.py)."""

from datetime import timedelta

from huey import crontab

import config
from models import blocking as _blocking  # noqa: F401  (registers the sequence-log handler)
from models import events, mailbox_health, notices
from tasks import URGENT, huey, with_db
from tasks.alerts import queue_due

MAX_QUICK_RETRIES = 5  # then the once-a-minute pass keeps trying


@huey.task(priority=URGENT)
@with_db
def dispatch_events(retry: int = 0):
    """Deliver pending transition events now (also run by the sweep every minute)."""
    deliver_events(retry)


def deliver_events(retry: int = 0) -> None:
    """Dispatch now; when a handler failed, try again in seconds (doubling, a few times).
    Alerts the dispatch queued for chat and webhooks go out at once (tasks/alerts.py)."""
    dispatched = events.dispatch()
    if dispatched.delivered:
        queue_due()
    if dispatched.failed and retry < MAX_QUICK_RETRIES:
        dispatch_events.schedule((retry + 1,),
                                 delay=events.RETRY_AFTER.total_seconds() * 2 ** retry)


@huey.periodic_task(crontab(minute="*"))
@with_db
def dispatch_and_remind():
    deliver_events()
    hours = config.current()["REMINDER_HOURS"]
    if hours > 0:
        send_reminders(timedelta(hours=hours))
    notices.send_waiting()  # a mailer configured since: what waited for it goes now
    mailbox_health.settle()  # incidents whose delayed emails have all gone: their waits are final


def send_reminders(after: timedelta) -> int:
    """One reminder per incident still open `after` it began (DESIGN: default 24 h)."""
    return notices.remind(after)
