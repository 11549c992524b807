"""Retention (TETHER_RETENTION_DAYS, default 90): bookkeeping older than that is deleted, in
batches of a bounded size (never one huge DELETE holding the write lock), by a daily run of the
worker (tasks/retention.py).

What goes, once older than N days: status history; transition events every handler has run
(with their delivery records); notifications people have read; alerts delivered or given
up (the Alerts page's delivery log); OAuth attempts (all long expired); inbound messages Tether did not act on; the task queue's unread results
(models/task_results.py). What stays, however old: everything an incident still open relies
on — its events (reminders and the recovery notice find the incident by them) and its
notifications (a reminder is sent once because its notification exists); events not yet
delivered; unread notifications; and the Message-IDs of the inbound messages Tether acted on
(a reply, a bounce, an out-of-office) while their enrollment exists, so a re-read INBOX never
counts them twice.

Mailbox health's incidents (models/mailbox_health.py) go once over for longer than the page
shows (90 days) or N days, whichever is longer: with a short retention the history goes first
and the incidents keep what the page shows. An open incident stays, however old."""

import logging
from datetime import datetime, timedelta

from peewee import IntegrityError

import clock
from models import task_results
from models.alerts import PENDING, AlertDelivery
from models.base import db, write_transaction
from models.events import EventDelivery
from models.health import MailboxEvent, MailboxHistory, open_incident
from models.mailbox_health import PERIODS, MailboxIncident
from models.mailboxes import RECONNECT_REQUIRED, Mailbox
from models.notifications import Notification
from models.oauth_attempts import OAuthAttempt
from models.readiness import Beat
from models.replies import InboundMessage

BATCH = 1000        # rows per DELETE statement
MAX_BATCHES = 500   # per table per run: a backlog bigger than this goes over the next days
EVERY = timedelta(days=1)
log = logging.getLogger(__name__)


def open_incidents() -> list[int]:
    """The incident of every mailbox still in reconnect_required, as models.health says."""
    broken = Mailbox.select(Mailbox.id).where(Mailbox.status == RECONNECT_REQUIRED)
    return sorted({i for i in (open_incident(m.id) for m in broken) if i is not None})


def in_batches(model, condition, batch: int = BATCH) -> list[int]:
    """Delete `model`'s rows matching `condition`, at most `batch` per statement, each in its
    own short transaction, walking the ids upwards (kept rows are never scanned twice).
    Returns the rows each statement deleted."""
    counts, last = [], 0
    for _ in range(MAX_BATCHES):
        with write_transaction():
            ids = [i for (i,) in model.select(model.id).where(condition & (model.id > last))
                   .order_by(model.id).limit(batch).tuples()]
            if ids:
                counts.append(model.delete().where(model.id.in_(ids)).execute())
        if len(ids) < batch:
            break
        last = ids[-1]
    return counts


def _delivered_events(cutoff: datetime, keep: list[int]):
    """Old events every handler has run, outside any open incident. The newest event always
    stays: SQLite gives a new row the highest id in use plus one, and sequence logs and
    notices know events by id, so a reused id would pass for one already handled."""
    newest = MailboxEvent.select(MailboxEvent.id).order_by(MailboxEvent.id.desc()).limit(1)
    return (MailboxEvent.dispatched_at.is_null(False) & (MailboxEvent.at < cutoff)
            & (MailboxEvent.incident.is_null() | MailboxEvent.incident.not_in(keep))
            & (MailboxEvent.id < newest))


def _pruned_events(cutoff: datetime, keep: list[int], batch: int) -> dict[str, list[int]]:
    """Their delivery records first, in batches of their own: a thousand events carry several
    thousand deliveries, too many for one statement."""
    condition = _delivered_events(cutoff, keep)
    going = MailboxEvent.select(MailboxEvent.id).where(condition)
    deliveries = in_batches(EventDelivery, EventDelivery.event.in_(going), batch)
    return {"event_delivery": deliveries, "mailbox_event": in_batches(MailboxEvent, condition, batch)}


def prune(days: int, storage=None, batch: int = BATCH) -> dict[str, list[int]]:
    """Delete what is older than `days` days and nothing anything still needs; `storage` is
    the task queue's (tasks/retention.py passes it). Returns {table: rows per statement}."""
    cutoff = clock.now() - timedelta(days=days)
    keep = open_incidents()
    pruned = {"mailbox_history": in_batches(MailboxHistory, MailboxHistory.at < cutoff, batch)}
    pruned.update(_pruned_events(cutoff, keep, batch))
    pruned["notification"] = in_batches(
        Notification, Notification.read_at.is_null(False) & (Notification.created_at < cutoff)
        & (Notification.incident.is_null() | Notification.incident.not_in(keep)), batch)
    pruned["alert_delivery"] = in_batches(
        AlertDelivery, (AlertDelivery.status != PENDING) & (AlertDelivery.created_at < cutoff), batch)
    pruned["oauth_attempt"] = in_batches(OAuthAttempt, OAuthAttempt.created_at < cutoff, batch)
    # An enrollment gone (its sequence or contact deleted) leaves nothing to match a reply to.
    pruned["inbound_message"] = in_batches(
        InboundMessage, (InboundMessage.received_at < cutoff)
        & InboundMessage.enrollment.is_null(), batch)
    over_before = clock.now() - timedelta(days=max(days, max(PERIODS)))
    pruned["mailbox_incident"] = in_batches(
        MailboxIncident, MailboxIncident.ended_at.is_null(False)
        & (MailboxIncident.ended_at < over_before), batch)
    if storage is not None:
        pruned["task results"] = task_results.prune(storage, cutoff, batch)
    total = {name: sum(counts) for name, counts in pruned.items() if sum(counts)}
    log.info("retention (%s days): pruned %s", days, total or "nothing")
    return pruned


def claim_daily_run(now: datetime | None = None) -> bool:
    """True for the one caller that may run retention now: none has in the last day. The
    hourly task asks; however many workers ask at once, one claims it."""
    now = now or clock.now()
    with write_transaction():
        row = Beat.get_or_none(Beat.name == "retention")
        if row is None:
            try:
                with db.atomic():  # a savepoint: PostgreSQL's transaction survives a clash
                    Beat.create(name="retention", at=now)
                return True
            except IntegrityError:
                return False
        if now - row.at < EVERY:
            return False
        return Beat.update(at=now).where((Beat.name == "retention")
                                         & (Beat.at == row.at)).execute() == 1
