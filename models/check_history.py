"""What the last week of checks looked like, per mailbox and hour, for the detail page's small
picture. One row per (mailbox, hour) with counters: a week is 168 rows per mailbox however
often it is checked, and rows older than eight days are pruned by the sweep."""

from datetime import datetime, timedelta

from peewee import DateTimeField, ForeignKeyField, IntegerField

import clock
from models.base import BaseModel
from models.mailboxes import Mailbox

KEEP = timedelta(days=8)


class CheckHour(BaseModel):
    mailbox = ForeignKeyField(Mailbox, on_delete="CASCADE")
    hour = DateTimeField()  # the UTC hour the checks fell in
    passed = IntegerField(default=0)
    transient = IntegerField(default=0)   # outages and the operator's problems
    refused = IntegerField(default=0)     # the token or password was refused

    class Meta:
        indexes = ((("mailbox", "hour"), True),)


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def record(mailbox_id: int, outcome: str) -> None:
    """Count one check: outcome is "passed", "transient" or "refused"."""
    column = getattr(CheckHour, outcome)
    (CheckHour.insert(mailbox=mailbox_id, hour=_hour(clock.now()), **{outcome: 1})
     .on_conflict(conflict_target=[CheckHour.mailbox, CheckHour.hour],
                  update={column: column + 1})
     .execute())


def week(mailbox_id: int) -> list[dict]:
    """168 hourly cells, oldest first: {hour, passed, transient, refused}."""
    end = _hour(clock.now())
    start = end - timedelta(hours=167)
    rows = {r.hour: r for r in CheckHour.select().where((CheckHour.mailbox == mailbox_id)
                                                        & (CheckHour.hour >= start))}
    cells = []
    for n in range(168):
        hour = start + timedelta(hours=n)
        row = rows.get(hour)
        cells.append({"hour": hour, "passed": row.passed if row else 0,
                      "transient": row.transient if row else 0, "refused": row.refused if row else 0})
    return cells


def prune() -> int:
    return CheckHour.delete().where(CheckHour.hour < clock.now() - KEEP).execute()
