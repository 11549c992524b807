"""Mailbox health over time: incidents, time to reconnect and outreach delayed, per mailbox and
for a team, read from the status history the state machine writes (models/health.py).

An incident is a mailbox that needed reconnecting. It starts at the first failed check of
the run that led there (a mailbox often goes degraded first, then reconnect_required) and
ends when the mailbox is connected again; one still open counts with its age. A run of
failures that recovers by itself (degraded → connected) is no incident: nobody had to act.
Outreach delayed: the emails of the mailbox that fell due during an incident, and how long
each waited (until sent, or until now while it still waits).
"""

import bisect
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from peewee import JOIN

import clock
from models.health import MailboxHistory
from models.mailboxes import CONNECTED, DEGRADED, RECONNECT_REQUIRED
from models.outbox_email import CANCELLED, OutboxEmail
from models.sequences import Sequence

PERIODS = (7, 30, 90)  # days the page offers; 90 is also the default retention of history
_FAILED = (DEGRADED, RECONNECT_REQUIRED)


@dataclass(frozen=True, slots=True)
class Incident:
    mailbox_id: int
    started_at: datetime        # the first failed check of the run
    ended_at: datetime | None   # connected again; None while still open
    cause: str

    def length(self, now: datetime) -> timedelta:
        return (self.ended_at or now) - self.started_at

    def overlaps(self, since: datetime) -> bool:
        return self.ended_at is None or self.ended_at >= since


def incidents(mailboxes, now: datetime | None = None) -> dict[int, list[Incident]]:
    """{mailbox id: its incidents, oldest first} from all the history still kept.

    `mailboxes` are rows with id, status, status_since and status_cause: a mailbox whose
    history was pruned while it stayed broken still shows its open incident, from
    status_since."""
    now = now or clock.now()
    by_id = {m.id: m for m in mailboxes}
    found: dict[int, list[Incident]] = {m: [] for m in by_id}
    if not by_id:
        return found
    rows = (MailboxHistory
            .select(MailboxHistory.mailbox, MailboxHistory.at, MailboxHistory.to_status,
                    MailboxHistory.kind, MailboxHistory.cause)
            .where(MailboxHistory.mailbox.in_(list(by_id)))
            .order_by(MailboxHistory.mailbox, MailboxHistory.at, MailboxHistory.id).tuples())
    runs: dict[int, list] = {}  # mailbox → [started_at, cause, reached reconnect_required]
    for mailbox_id, at, to_status, kind, cause in rows:
        run = runs.get(mailbox_id)
        if to_status in _FAILED and kind != "person":
            if run is None:
                run = runs[mailbox_id] = [at, cause, False]
            if to_status == RECONNECT_REQUIRED:
                run[1], run[2] = cause, True
        elif to_status == CONNECTED and run is not None:
            if run[2]:
                found[mailbox_id].append(Incident(mailbox_id, run[0], at, run[1]))
            del runs[mailbox_id]
    for mailbox_id, mailbox in by_id.items():
        if mailbox.status != RECONNECT_REQUIRED:
            continue
        run = runs.get(mailbox_id)
        if run and run[2]:
            found[mailbox_id].append(Incident(mailbox_id, run[0], None, run[1]))
        else:  # its start is older than the history kept
            found[mailbox_id].append(Incident(mailbox_id, mailbox.status_since, None,
                                              mailbox.status_cause))
    return found


@dataclass(frozen=True, slots=True)
class Delay:
    """The emails that fell due during one incident and how long each waited."""

    emails: int = 0
    waits: tuple = ()  # timedelta per email


def delays(found: dict[int, list[Incident]], since: datetime,
           now: datetime | None = None) -> dict[Incident, Delay]:
    """For every incident overlapping `since`…now: the emails that waited. One query over the
    outbox rows of the mailboxes that had one, due since the earliest of them."""
    now = now or clock.now()
    relevant = {m: [i for i in found_list if i.overlaps(since)]
                for m, found_list in found.items()}
    relevant = {m: v for m, v in relevant.items() if v}
    result: dict[Incident, Delay] = {}
    if not relevant:
        return result
    earliest = min(i.started_at for v in relevant.values() for i in v)
    ids = list(relevant)
    # A queued row has no mailbox yet (it is set at the claim): it goes out from its
    # sequence's. A row sent already names the mailbox it went from.
    rows = (OutboxEmail
            .select(OutboxEmail.mailbox, Sequence.mailbox, OutboxEmail.due_at,
                    OutboxEmail.sent_at)
            .join(Sequence, JOIN.INNER, on=(OutboxEmail.sequence == Sequence.id))
            .where((OutboxEmail.mailbox.in_(ids)
                    | (OutboxEmail.mailbox.is_null() & Sequence.mailbox.in_(ids)))
                   & (OutboxEmail.due_at >= earliest) & (OutboxEmail.due_at < now)
                   & (OutboxEmail.status != CANCELLED))
            .tuples())
    due: dict[int, list[tuple]] = {}
    for sent_from, sequence_mailbox, due_at, sent_at in rows:
        due.setdefault(sent_from or sequence_mailbox, []).append((due_at, sent_at))
    for mailbox_id, found_list in relevant.items():
        emails = sorted(due.get(mailbox_id, ()), key=lambda r: r[0])
        starts = [r[0] for r in emails]
        for incident in found_list:
            end = incident.ended_at or now
            first, last = bisect.bisect_left(starts, incident.started_at), bisect.bisect_left(starts, end)
            waits = tuple(max((sent_at or now) - due_at, timedelta(0))
                          for due_at, sent_at in emails[first:last])
            result[incident] = Delay(len(waits), waits)
    return result


@dataclass(frozen=True, slots=True)
class Figures:
    """One period's statistics, for a mailbox or a team."""

    days: int
    covered: timedelta           # how much of the period had a mailbox to measure
    incidents: int = 0
    still_open: int = 0
    median: timedelta | None = None   # time to reconnect
    worst: timedelta | None = None
    delayed: int = 0                  # emails that waited
    longest_wait: timedelta | None = None
    waited: timedelta = timedelta(0)  # all their waits added up
    lengths: list = field(default_factory=list)

    @property
    def no_data(self) -> bool:
        return self.covered <= timedelta(0)


def figures(found_lists, delay: dict[Incident, Delay], days: int, covered: timedelta,
            now: datetime | None = None) -> Figures:
    """Statistics over the last `days` days of the incidents in `found_lists` (lists of
    incidents, one per mailbox): those that overlap the period count whole."""
    now = now or clock.now()
    since = now - timedelta(days=days)
    chosen = [i for found in found_lists for i in found if i.overlaps(since)]
    if not chosen:
        return Figures(days, covered)
    lengths = sorted(i.length(now) for i in chosen)
    waits = [w for i in chosen for w in delay.get(i, Delay()).waits]
    return Figures(days, covered, incidents=len(chosen),
                   still_open=sum(i.ended_at is None for i in chosen),
                   median=statistics.median(lengths), worst=lengths[-1], delayed=len(waits),
                   longest_wait=max(waits) if waits else None,
                   waited=sum(waits, timedelta(0)), lengths=lengths)


def covered(created: list[datetime], days: int, now: datetime | None = None) -> timedelta:
    """How much of the last `days` days any of these mailboxes existed."""
    now = now or clock.now()
    if not created:
        return timedelta(0)
    return now - max(min(created), now - timedelta(days=days))


def broken_per_day(found_lists, days: int, now: datetime | None = None) -> list[tuple]:
    """[(day, mailboxes in an incident at some time that day)], oldest first: the chart."""
    now = now or clock.now()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - timedelta(days=days - 1)
    counts = [set() for _ in range(days)]
    for found in found_lists:
        for i in found:
            start = max(i.started_at, first)
            end = i.ended_at or now
            if end < first:
                continue
            day = (start - first).days
            while 0 <= day < days and first + timedelta(days=day) <= end:
                counts[day].add(i.mailbox_id)
                day += 1
    return [(first + timedelta(days=n), len(c)) for n, c in enumerate(counts)]
