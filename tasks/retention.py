"""Retention's daily run (models/retention.py): the worker's scheduler asks every hour, and
the first ask a day after the last run prunes — so a worker that was down at some fixed hour
does not skip a day, and several schedulers still prune once."""

from huey import crontab

import config
from models import retention
from tasks import huey, with_db


@huey.periodic_task(crontab(minute="23"))
@with_db
def prune_daily() -> None:
    if retention.claim_daily_run():
        retention.prune(config.current()["RETENTION_DAYS"], storage=huey.storage)
