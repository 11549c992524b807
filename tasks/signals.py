"""The check a push signal asks for (models/signals.py): mark that it starts, then the
health engine's forced check (tasks/checks.py request_check), which refreshes and logs in."""

from huey import crontab

from models import signals
from tasks import huey, with_db
from tasks.checks import request_check


@huey.task()
@with_db
def signal_check(mailbox_id: int):
    signals.start_check(mailbox_id)  # before the check is queued: it begins after this
    request_check(mailbox_id)


@huey.periodic_task(crontab(minute="*/10"))
@with_db
def prune_seen_signals():
    """SET ids older than the accepted iat window can go: such a SET is refused anyway."""
    signals.prune()
