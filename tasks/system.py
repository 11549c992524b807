"""Housekeeping tasks: the worker's view of the clock and the database, for health checks."""

import clock
from models.accounts import Team
from tasks import huey, with_db


@huey.task()
@with_db
def worker_status() -> dict:
    """What the worker sees: its clock and how many teams the database holds."""
    return {"now": clock.now().isoformat(), "teams": Team.select().count()}
