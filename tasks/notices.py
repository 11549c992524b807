"""Event handling tasks: hand transition events to their handlers (notices, sequence logs)
and send the optional reminder for incidents left open."""

from datetime import timedelta

from huey import crontab

import config
from models import blocking as _blocking  # noqa: F401  (registers the sequence-log handler)
from models import events, notices
from models import notifications as _notifications  # noqa: F401  (registers the handlers)
from models.mailboxes import Mailbox
from models.notifications import notify, recipients
from tasks import huey, with_db

MAX_QUICK_RETRIES = 5  # then the once-a-minute pass keeps trying


@huey.task()
@with_db
def dispatch_events(retry: int = 0):
    """Deliver pending transition events now (also run by the sweep every minute)."""
    deliver_events(retry)


def deliver_events(retry: int = 0) -> None:
    """Dispatch now; when a handler failed, try again in seconds (doubling, a few times)."""
    if events.dispatch().failed and retry < MAX_QUICK_RETRIES:
        dispatch_events.schedule((retry + 1,),
                                 delay=events.RETRY_AFTER.total_seconds() * 2 ** retry)


@huey.periodic_task(crontab(minute="*"))
@with_db
def dispatch_and_remind():
    deliver_events()
    hours = config.current()["REMINDER_HOURS"]
    if hours > 0:
        send_reminders(timedelta(hours=hours))


def send_reminders(after: timedelta) -> int:
    """One reminder per incident still open `after` it began (DESIGN: default 24 h)."""
    sent = 0
    for event in _notifications.due_reminders(after):
        mailbox = Mailbox.get_by_id(event.mailbox_id)
        notice = notices.incident_notice(mailbox, mailbox.status_cause,
                                         key=f"reminder:{event.incident}", reminder=True)
        for user in recipients(mailbox):
            if notify(user, mailbox, notice.kind, notice.title, notice.summary,
                      key=f"{notice.key}:bell:{user.id}", incident=event.incident):
                sent += 1
            notices.send_email(user, notice, key=f"{notice.key}:email:{user.id}")
    return sent


