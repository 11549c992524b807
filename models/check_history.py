"""What the last week of checks looked like, per mailbox and hour, for the detail page's small
picture. One row per (mailbox, hour) with counters: a week is 168 rows per mailbox however
often it is checked, and rows older than eight days are pruned by the sweep.

Beside it, every check ever made per outcome, for /metrics (models/metrics.py): counters that
only grow, and how long the checks took, in histogram buckets. The same call bumps both, in the
check's own transaction: one more statement, no more commits. Both are SQL built once."""

import contextlib
import contextvars
import time
from datetime import datetime, timedelta

from peewee import (
    BigIntegerField,
    CharField,
    DateTimeField,
    DoubleField,
    ForeignKeyField,
    IntegerField,
)

import clock
from models.base import BaseModel, hot, names
from models.mailboxes import Mailbox

KEEP = timedelta(days=8)
OUTCOMES = ("passed", "transient", "refused")
# Upper bounds, in seconds, of the duration buckets: an IMAP + SMTP login takes a second or
# two; a slow provider, a refresh and a retry, tens; past a minute a timeout is near.
BUCKETS = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class CheckHour(BaseModel):
    mailbox = ForeignKeyField(Mailbox, on_delete="CASCADE")
    hour = DateTimeField()  # the UTC hour the checks fell in
    passed = IntegerField(default=0)
    transient = IntegerField(default=0)   # outages and the operator's problems
    refused = IntegerField(default=0)     # the token or password was refused

    class Meta:
        indexes = ((("mailbox", "hour"), True),)


class CheckTotal(BaseModel):
    """All checks ever made with one outcome; the duration histogram of those that were timed
    (run by the worker's task). A bucket column counts the checks that took at most its bound
    and more than the previous one: one column bumped per check; /metrics adds them up."""

    outcome = CharField(primary_key=True)
    checks = BigIntegerField(default=0)
    timed = BigIntegerField(default=0)
    seconds = DoubleField(default=0)  # the timed checks' durations, summed
    le_0_25 = BigIntegerField(default=0)
    le_0_5 = BigIntegerField(default=0)
    le_1 = BigIntegerField(default=0)
    le_2_5 = BigIntegerField(default=0)
    le_5 = BigIntegerField(default=0)
    le_10 = BigIntegerField(default=0)
    le_30 = BigIntegerField(default=0)
    le_60 = BigIntegerField(default=0)
    le_inf = BigIntegerField(default=0)


def bucket_column(bound: float) -> str:
    """The CheckTotal column of the bucket whose upper bound is `bound` (inf: the last)."""
    return "le_inf" if bound == float("inf") else "le_" + f"{bound:g}".replace(".", "_")


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


_started: contextvars.ContextVar[float | None] = contextvars.ContextVar("check_started", default=None)


@contextlib.contextmanager
def timing():
    """`with timing(): checker.check(…)`: the check recorded inside is timed from here."""
    token = _started.set(time.monotonic())
    try:
        yield
    finally:
        _started.reset(token)


def record(mailbox_id: int, outcome: str, seconds: float | None = None) -> None:
    """Count one check: outcome is "passed", "transient" or "refused"; it took `seconds`
    (by default: since timing() began, if it did). Two INSERT … ON CONFLICT statements, as
    SQL built once (models.base.hot): every check runs them."""
    assert outcome in OUTCOMES
    hour = CheckHour.hour.db_value(_hour(clock.now()))
    _bump_hour(mailbox_id, hour, *(int(outcome == name) for name in OUTCOMES))
    started = _started.get()
    if seconds is None and started is not None:
        seconds = time.monotonic() - started
    _count(outcome, seconds)


@hot
def _bump_hour(p):
    table, c = names(CheckHour)
    counts = [c[name] for name in OUTCOMES]
    # Names come from the model and values are parameters: nothing here is user input.
    return (f"INSERT INTO {table} ({c['mailbox']}, {c['hour']}, {', '.join(counts)}) "  # noqa: S608
            f"VALUES ({', '.join([p] * (2 + len(counts)))}) "
            f"ON CONFLICT ({c['mailbox']}, {c['hour']}) DO UPDATE SET "
            + ", ".join(f"{col} = {table}.{col} + excluded.{col}" for col in counts))


_TOTALS = ("checks", "timed", "seconds", *(bucket_column(b) for b in (*BUCKETS, float("inf"))))


def _count(outcome: str, seconds: float | None) -> None:
    """The all-time totals: one INSERT … ON CONFLICT adding this check to every column (0
    to all but its own bucket), whatever was timed."""
    bumps = dict.fromkeys(_TOTALS, 0)
    bumps["checks"] = 1
    if seconds is not None:
        bound = next((b for b in BUCKETS if seconds <= b), float("inf"))
        bumps.update({"timed": 1, "seconds": seconds, bucket_column(bound): 1})
    _bump_total(outcome, *bumps.values())


@hot
def _bump_total(p):
    table, c = names(CheckTotal)
    cols = [c[name] for name in _TOTALS]
    return (f"INSERT INTO {table} ({c['outcome']}, {', '.join(cols)}) "  # noqa: S608
            f"VALUES ({', '.join([p] * (1 + len(cols)))}) "
            f"ON CONFLICT ({c['outcome']}) DO UPDATE SET "
            + ", ".join(f"{col} = {table}.{col} + excluded.{col}" for col in cols))


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
