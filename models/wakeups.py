"""When each mailbox's sender next has work, and its scheduled wake-up.

The database holds what is due (models/outbox.py, models/sequences.py); a wake-up is one
scheduled send pass per mailbox, numbered in its sender row (models/sender_lease.py) so that a
superseded one stands down. The sweep (tasks/sending.py) asks which mailboxes have work and no
wake-up on its way.
"""

from datetime import datetime, timedelta

from peewee import fn

from models import outbox
from models.base import write_transaction
from models.mailboxes import CONNECTED, Mailbox, limit_on
from models.outbox import QUEUED, SENDING, OutboxEmail, day_start
from models.sender_lease import OutboxSender
from models.sequences import Enrollment, Sequence


def current_wake(mailbox_id: int) -> int | None:
    return OutboxSender.select(OutboxSender.wake).where(OutboxSender.mailbox == mailbox_id).scalar()


def set_wake(mailbox_id: int, at: datetime) -> int:
    """Record the next wake-up and return its number (the scheduled task's argument)."""
    with write_transaction():
        OutboxSender.insert(mailbox=mailbox_id).on_conflict_ignore().execute()
        (OutboxSender.update(wake=OutboxSender.wake + 1, wake_at=at)
         .where(OutboxSender.mailbox == mailbox_id).execute())
        return OutboxSender.select(OutboxSender.wake).where(OutboxSender.mailbox == mailbox_id).scalar()


def wake_times(now: datetime, mailbox_ids=None) -> dict[int, datetime]:
    """When each connected mailbox next has sending work: a due step or a queued row, inside
    its sequence's window and the daily limit; or a row to reconcile. One pass of grouped
    queries for all mailboxes (the sweep) or a few (a sender's next wake-up)."""
    boxes = Mailbox.select(Mailbox.id, Mailbox.daily_limit, Mailbox.warmup_start,
                           Mailbox.warmup_step, Mailbox.warmup_since).where(
        Mailbox.deleted_at.is_null() & (Mailbox.status == CONNECTED))
    if mailbox_ids is not None:
        boxes = boxes.where(Mailbox.id.in_(list(mailbox_ids)))
    limits = {mid: limit_on(*ramp, now) for mid, *ramp in boxes.tuples()}
    if not limits:
        return {}
    sequences = list(Sequence.select().where(Sequence.mailbox.in_(list(limits))
                                             & (Sequence.paused == False)))  # noqa: E712
    sequence_ids = [s.id for s in sequences]
    steps_due = dict(Enrollment.select(Enrollment.sequence, fn.MIN(Enrollment.next_due_at))
                     .where(Enrollment.sequence.in_(sequence_ids) & (Enrollment.status == "active")
                            & Enrollment.next_due_at.is_null(False))
                     .group_by(Enrollment.sequence).tuples()) if sequence_ids else {}
    rows_due = dict(OutboxEmail.select(OutboxEmail.sequence, fn.MIN(OutboxEmail.due_at))
                    .where(OutboxEmail.sequence.in_(sequence_ids) & (OutboxEmail.status == QUEUED))
                    .group_by(OutboxEmail.sequence).tuples()) if sequence_ids else {}
    attempted, waiting = outbox.attempted_today(limits, now), outbox.waiting_rows(limits)
    paused = dict(OutboxSender.select(OutboxSender.mailbox, OutboxSender.pause_until)
                  .where(OutboxSender.mailbox.in_(list(limits))
                         & (OutboxSender.pause_until > now)).tuples())
    tomorrow = day_start(now) + timedelta(days=1)
    found: dict[int, datetime] = {}

    def consider(mailbox_id, moment):
        if moment is not None and (mailbox_id not in found or moment < found[mailbox_id]):
            found[mailbox_id] = moment

    for sequence in sequences:
        mid = sequence.mailbox_id
        sent = attempted.get(mid, 0)
        for moment, full in ((steps_due.get(sequence.id), sent + waiting.get(mid, 0)),
                             (rows_due.get(sequence.id), sent)):
            if moment is None:
                continue
            if full >= limits[mid]:
                moment = max(moment, tomorrow)
            moment = max(moment, now, paused.get(mid, now))
            consider(mid, sequence.next_send_time(moment))
    for mid, moment in (OutboxEmail.select(OutboxEmail.mailbox, fn.MIN(OutboxEmail.lease_until))
                        .where(OutboxEmail.mailbox.in_(list(limits))
                               & (OutboxEmail.status == SENDING))
                        .group_by(OutboxEmail.mailbox).tuples()):
        consider(mid, max(moment, paused.get(mid, moment)))
    return found


def wakes_due(now: datetime, grace: timedelta) -> list[tuple[int, datetime]]:
    """The sweep's question: mailboxes with sending work and no wake-up on its way — none
    scheduled, one that should have fired more than `grace` ago, or one later than the work
    (new enrollments). A mailbox whose sender is at work reschedules itself."""
    times = wake_times(now)
    if not times:
        return []
    senders = {s.mailbox_id: s for s in OutboxSender.select().where(
        OutboxSender.mailbox.in_(list(times)))}
    due = []
    for mailbox_id, at in sorted(times.items()):
        sender = senders.get(mailbox_id)
        if sender and sender.lease_owner and sender.lease_until and sender.lease_until > now:
            continue
        if (sender is None or sender.wake_at is None or sender.wake_at < now - grace
                or at < sender.wake_at - timedelta(seconds=1)):
            due.append((mailbox_id, at))
    return due
