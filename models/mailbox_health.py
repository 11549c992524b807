"""Mailbox health over time: incidents, time to reconnect and outreach delayed, per mailbox and
for a team, from the status history the state machine writes (models/health.py).

An incident is a mailbox that needed reconnecting. It starts at the first failed check of
the run that led there (a mailbox often goes degraded first, then reconnect_required) and
ends when the mailbox is connected again; one still open counts with its age. A run of
failures that heals by itself (degraded → connected) is no incident: nobody had to act.
Outreach delayed: the emails of the mailbox that fell due during an incident, and how long
each waited (until sent, or until now while it still waits).

Walking a thousand mailboxes' history at every page view is too slow, so each mailbox's
incidents are kept in MailboxIncident, rebuilt from its history by an event handler
(models/events.py) whenever it enters reconnect_required or is connected again. The page
then asks the database for numbers only: lengths and waits in seconds, summed per incident.
"""

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from peewee import (
    JOIN,
    Case,
    DateTimeField,
    DoubleField,
    ForeignKeyField,
    IntegerField,
    SqliteDatabase,
    TextField,
    Value,
    fn,
)

import clock
from models import changes, events
from models.base import BaseModel, db, write_transaction
from models.health import MailboxEvent, MailboxHistory
from models.mailboxes import CONNECTED, DEGRADED, RECONNECT_REQUIRED, Mailbox
from models.outbox_email import CANCELLED, QUEUED, SENDING, OutboxEmail
from models.sequences import Sequence

PERIODS = (7, 30, 90)  # days the page offers; 90 is also the default retention of history
DAY = 86400.0
_FAILED = (DEGRADED, RECONNECT_REQUIRED)


class MailboxIncident(BaseModel):
    """One incident of a mailbox, as walk() finds it in the history (rebuilt, never edited)."""

    mailbox = ForeignKeyField(Mailbox, backref="incidents", on_delete="CASCADE")
    started_at = DateTimeField()           # the first failed check of the run
    ended_at = DateTimeField(null=True)    # connected again; NULL while open
    cause = TextField(default="")
    # Once it is over and every email due meanwhile has gone, its waits no longer change:
    # settle() writes them here, and the page reads them instead of the outbox.
    delayed = IntegerField(null=True)     # emails that waited; NULL until settled
    waited = DoubleField(default=0)       # seconds, all their waits added up
    longest = DoubleField(default=0)      # seconds, the longest wait

    class Meta:
        indexes = ((("mailbox", "started_at"), True),)


# --- the rule: incidents from the history -------------------------------------------------------

def incidents_in(history, status: str, status_since, status_cause: str, deleted: bool,
                 carried: tuple | None = None) -> list[tuple]:
    """The rule itself, on rows already read: [(started_at, ended_at or None, cause)], oldest
    first, from `history` [(at, to_status, kind, cause)] oldest first and the mailbox's
    current status. `carried` is (started_at, cause) of an incident already open when the
    kept history begins (its start was pruned). A mailbox still in reconnect_required whose
    start is in neither counts from its status_since. Pure: migration 0031 runs it too."""
    found = []
    run = [carried[0], carried[1], True] if carried else None  # [start, cause, reached RR]
    for at, to_status, kind, cause in history:
        if to_status in _FAILED and kind != "person":
            run = run or [at, cause, False]
            if to_status == RECONNECT_REQUIRED:
                run[1], run[2] = cause, True
        elif to_status == CONNECTED and run is not None:
            if run[2]:
                found.append((run[0], at, run[1]))
            run = None
    if status == RECONNECT_REQUIRED and not deleted:
        found.append((run[0], None, run[1]) if run and run[2]
                     else (status_since, None, status_cause))
    return found


def walk(mailbox, carried: tuple | None = None) -> list[tuple]:
    """incidents_in() for one mailbox, from all the history still kept."""
    rows = (MailboxHistory.select(MailboxHistory.at, MailboxHistory.to_status,
                                  MailboxHistory.kind, MailboxHistory.cause)
            .where(MailboxHistory.mailbox == mailbox.id)
            .order_by(MailboxHistory.at, MailboxHistory.id).tuples())
    return incidents_in(rows, mailbox.status, mailbox.status_since, mailbox.status_cause,
                        mailbox.deleted_at is not None, carried)


def rebuild(mailbox_id: int) -> None:
    """Replace the mailbox's kept incidents with what its history says now. Incidents that
    started before the oldest history row kept are left as they are: retention prunes the
    history sooner than the incidents (models/retention.py), and the page still shows them.
    One of those still open is carried into the walk, which closes it when the history
    says the mailbox was connected again."""
    mailbox = Mailbox.get_or_none(Mailbox.id == mailbox_id)
    if mailbox is None:
        return
    i, h = MailboxIncident, MailboxHistory
    oldest = h.select(fn.MIN(h.at)).where(h.mailbox == mailbox_id).scalar()
    before = (i.mailbox == mailbox_id) & (i.started_at < oldest) if oldest else (i.mailbox == mailbox_id)
    carried = (i.select(i.started_at, i.cause).where(before & i.ended_at.is_null())
               .order_by(i.started_at.desc()).tuples().first())
    found = walk(mailbox, carried)
    with write_transaction():
        i.delete().where((i.mailbox == mailbox_id) & ~(before & i.ended_at.is_null(False))).execute()
        if found:
            i.insert_many([{"mailbox": mailbox_id, "started_at": s, "ended_at": e,
                            "cause": c} for s, e, c in found]).execute()
        changes.bump(mailbox.team_id)  # an open page shows the new figures


def _opens_or_closes(event: MailboxEvent) -> bool:
    """Entering reconnect_required opens an incident; only a connect that does not come from
    degraded can close one (a degraded mailbox healing by itself had none open)."""
    return event.to_status == RECONNECT_REQUIRED or (event.to_status == CONNECTED
                                                     and event.from_status != DEGRADED)


@events.handler("mailbox_health", wants=_opens_or_closes)
def _on_transition(event: MailboxEvent) -> None:
    rebuild(event.mailbox_id)


# --- what the page reads: numbers, from the database --------------------------------------------

def _seconds(later, earlier):
    """`later - earlier` in seconds, as each backend spells it."""
    if isinstance(db.obj, SqliteDatabase):
        return (fn.julianday(later) - fn.julianday(earlier)) * DAY
    return fn.date_part("epoch", later - earlier)


def _whole_seconds(later, earlier):
    return _seconds(later, earlier).cast("bigint")


class Measured(NamedTuple):
    """One incident in numbers: seconds, measured back from now. A tuple, not a dataclass:
    the page builds thousands of them, and a frozen dataclass costs several times more each."""

    mailbox_id: int
    length: float      # time to reconnect so far (whole seconds from the page's query)
    started_ago: float
    ended_ago: float   # 0 while open
    still_open: bool
    delayed: int = 0   # emails that waited
    waited: float = 0.0
    longest: float = 0.0

    def within(self, days: int) -> bool:
        return self.ended_ago <= days * DAY


def measured(mailbox_ids, now: datetime | None = None, days: int = max(PERIODS)) -> list[Measured]:
    """Every incident of these mailboxes (a list or a subquery of ids) that was open at some
    time in the last `days` days, with the emails that waited for it: settled figures from
    the incident's row, the others counted in the outbox now. Rows are read as plain tuples
    (thousands of them: Peewee's per-row conversion would cost more than the query)."""
    now = now or clock.now()
    i = MailboxIncident
    ended = fn.COALESCE(i.ended_at, Value(now))
    overlapping = (i.mailbox.in_(mailbox_ids)
                   & (i.ended_at.is_null() | (i.ended_at >= now - timedelta(days=days))))
    # The database measures the seconds, whole: converting thousands of timestamps (or even
    # floats) in Python costs more than the query itself. An open incident's "ended ago"
    # comes back NULL; only an unsettled incident needs its id (to find its waits).
    query = (i.select(Case(None, [(i.delayed.is_null(), i.id)]), i.mailbox,
                      _whole_seconds(Value(now), i.started_at), _whole_seconds(Value(now), i.ended_at),
                      i.delayed, i.waited.cast("bigint"), i.longest.cast("bigint"))
             .where(overlapping))
    rows = db.execute(query).fetchall()
    unsettled = _waits(overlapping & i.delayed.is_null(), ended, now)
    found = []
    for incident_id, mailbox_id, started, ago, delayed, waited, longest in rows:
        if incident_id is not None:
            delayed, waited, longest, _ = unsettled.get(incident_id, (0, 0.0, 0.0, 0))
        found.append(Measured(mailbox_id, started - (ago or 0), started, ago or 0, ago is None,
                              delayed, waited, longest))
    return found


def _waits(condition, ended, now) -> dict[int, tuple]:
    """{incident id: (emails, seconds waited in all, longest wait, still waiting)} for the
    incidents matching `condition`. Sent emails name the mailbox they went from; a queued one
    has none yet and goes from its sequence's."""
    i, o = MailboxIncident, OutboxEmail
    wait = _seconds(fn.COALESCE(o.sent_at, Value(now)), o.due_at)
    # No "due before now" here: with it, SQLite walks the outbox first instead of the incidents.
    in_window = (o.due_at >= i.started_at) & (o.due_at < ended)
    waiting = fn.SUM(Case(None, [(o.status.in_((QUEUED, SENDING)), 1)], 0))
    sent = (i.select(i.id, fn.COUNT(o.id), fn.SUM(wait), fn.MAX(wait), waiting)
            .join(o, JOIN.INNER, on=(o.mailbox == i.mailbox) & in_window)
            .where(condition & (o.status != CANCELLED)).group_by(i.id))
    queued = (i.select(i.id, fn.COUNT(o.id), fn.SUM(wait), fn.MAX(wait), fn.COUNT(o.id))
              .join(Sequence, JOIN.INNER, on=(Sequence.mailbox == i.mailbox))
              .join(o, JOIN.INNER, on=(o.sequence == Sequence.id) & (o.status == QUEUED)
                    & o.mailbox.is_null() & in_window)
              .where(condition).group_by(i.id))
    found: dict[int, tuple] = {}
    for incident_id, count, total, longest, pending in [*db.execute(sent).fetchall(),
                                                        *db.execute(queued).fetchall()]:
        before = found.get(incident_id, (0, 0.0, 0.0, 0))
        found[incident_id] = (before[0] + count, before[1] + float(total or 0),
                              max(before[2], float(longest or 0)), before[3] + int(pending or 0))
    return found


def settle(limit: int = 500) -> int:
    """Write the final waits of incidents that are over and whose emails due meanwhile have
    all gone (the worker's once-a-minute pass). Returns how many were settled."""
    now = clock.now()
    i = MailboxIncident
    over = list(i.select(i.id).where(i.ended_at.is_null(False) & i.delayed.is_null())
                .order_by(i.id).limit(limit).tuples())
    if not over:
        return 0
    ids = [incident_id for (incident_id,) in over]
    waits = _waits(i.id.in_(ids), fn.COALESCE(i.ended_at, Value(now)), now)
    settled = 0
    for incident_id in ids:
        count, total, longest, pending = waits.get(incident_id, (0, 0.0, 0.0, 0))
        if pending:
            continue  # an email due meanwhile still waits: its wait is still growing
        settled += (i.update(delayed=count, waited=total, longest=longest)
                    .where((i.id == incident_id) & i.delayed.is_null()).execute())
    return settled


@dataclass(frozen=True, slots=True)
class Figures:
    """One period's statistics, for a mailbox or a team."""

    days: int
    covered: float = 0.0                 # seconds of the period any of them existed
    incidents: int = 0
    still_open: int = 0
    median: timedelta | None = None      # time to reconnect
    worst: timedelta | None = None
    delayed: int = 0                     # emails that waited
    longest_wait: timedelta | None = None
    waited: timedelta = timedelta(0)     # all their waits added up

    @property
    def no_data(self) -> bool:
        return self.covered <= 0


def figures(incidents: list[Measured], days: int, covered: float) -> Figures:
    """Statistics over the last `days` days: every incident open at some time in them counts
    whole (an open one with its age so far)."""
    limit = days * DAY
    chosen = [m for m in incidents if m.ended_ago <= limit]  # within(days), inlined
    if not chosen:
        return Figures(days, covered)
    lengths = [m.length for m in chosen]
    delayed = sum(m.delayed for m in chosen)
    return Figures(days, covered, incidents=len(chosen),
                   still_open=sum(m.still_open for m in chosen),
                   median=timedelta(seconds=statistics.median(lengths)),
                   worst=timedelta(seconds=max(lengths)), delayed=delayed,
                   longest_wait=timedelta(seconds=max(m.longest for m in chosen)) if delayed else None,
                   waited=timedelta(seconds=sum(m.waited for m in chosen)))


def covered(age_seconds: float | None, days: int) -> float:
    """How much of the last `days` days (seconds) a mailbox `age_seconds` old existed."""
    return min(max(age_seconds or 0.0, 0.0), days * DAY)


def count_and_age(mailbox_where, now: datetime | None = None) -> tuple[int, float | None]:
    """How many mailboxes match, and the age in seconds of the oldest (None: there are
    none), in one query."""
    now = now or clock.now()
    count, age = (Mailbox.select(fn.COUNT(Mailbox.id), fn.MAX(_seconds(Value(now), Mailbox.created_at)))
                  .where(mailbox_where).tuples().get())
    return count, float(age) if age is not None else None


def broken_per_day(incidents: list[Measured], days: int, now: datetime | None = None) -> list[tuple]:
    """[(day, mailboxes in an incident at some time that day)], oldest first: the chart."""
    now = now or clock.now()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - timedelta(days=days - 1)
    into_first = (now - first).total_seconds()  # seconds from the first day's start to now
    counts = [set() for _ in range(days)]
    for m in incidents:
        start = max(into_first - m.started_ago, 0.0)
        end = into_first - m.ended_ago
        if end < 0:
            continue
        for day in range(int(start // DAY), min(int(end // DAY), days - 1) + 1):
            counts[day].add(m.mailbox_id)
    return [(first + timedelta(days=n), len(c)) for n, c in enumerate(counts)]
