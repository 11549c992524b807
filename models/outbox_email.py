"""One outbox row (OutboxEmail): an email of a step to one enrolled contact, its statuses and
phases, and the counts of rows that the daily limit and the pages read. The rules that move a
row from status to status are models/outbox.py's."""

from datetime import datetime

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField, fn

import clock
from models.base import BaseModel
from models.contacts import Contact
from models.mailboxes import Mailbox
from models.sequences import Enrollment, Sequence, SequenceStep

QUEUED, SENDING, SENT, UNKNOWN, FAILED, BOUNCED, CANCELLED = (
    "queued", "sending", "sent", "unknown", "failed", "bounced", "cancelled")
CLAIMED, TRANSMITTING = "claimed", "transmitting"  # a `sending` row's phase
# Sent in full, and the connection ended before the server answered: a `sending` row that
# waits for the reconciler, told apart from one a crash interrupted (still TRANSMITTING).
ANSWER_LOST = "answer_lost"
STATUS_LABELS = {QUEUED: "Waiting", SENDING: "Sending", SENT: "Sent", UNKNOWN: "Outcome unknown",
                 FAILED: "Not sent", BOUNCED: "Bounced", CANCELLED: "Cancelled"}


class OutboxEmail(BaseModel):
    enrollment = ForeignKeyField(Enrollment, backref="emails", on_delete="CASCADE")
    # The step's id, not its position: removing an earlier step renumbers positions.
    step = ForeignKeyField(SequenceStep, null=True, on_delete="SET NULL")
    sequence = ForeignKeyField(Sequence, backref="emails", on_delete="CASCADE")
    contact = ForeignKeyField(Contact, on_delete="CASCADE")
    position = IntegerField()            # the step's position when planned ("email 2")
    status = CharField(default=QUEUED)
    phase = CharField(default="")        # claimed / transmitting, while `sending`
    due_at = DateTimeField()             # may go out from then on (inside the window)
    created_at = DateTimeField(default=clock.now)
    mailbox = ForeignKeyField(Mailbox, null=True, on_delete="SET NULL")  # set at the claim
    to_email = CharField(default="")
    subject = TextField(default="")      # as sent, for the thread's later "Re:" steps
    message_id = CharField(null=True, unique=True)
    lease_owner = CharField(default="")
    lease_until = DateTimeField(null=True)
    attempts = IntegerField(default=0)
    attempted_at = DateTimeField(null=True)  # the last time it went on the wire
    sent_at = DateTimeField(null=True)
    reply = CharField(default="")        # the server's answer, e.g. "250 2.0.0 OK" / "550 5.1.1"
    error = TextField(default="")        # plain words

    class Meta:
        indexes = ((("enrollment", "step"), True),
                   (("sequence", "status", "due_at"), False),
                   (("mailbox", "status", "attempted_at"), False),
                   # the emails due while a mailbox was broken (models/mailbox_health.py)
                   (("mailbox", "due_at"), False))

    @property
    def number(self) -> int:
        return self.position + 1

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def can_send_again(self) -> bool:
        return self.status in (UNKNOWN, FAILED)


def day_start(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


# ---- Counting against the daily limit ----------------------------------------------------------

def attempted_today(mailbox_ids, now) -> dict[int, int]:
    """Emails that went (or may have gone) on the wire today, per sending mailbox."""
    rows = (OutboxEmail.select(OutboxEmail.mailbox, fn.COUNT(OutboxEmail.id))
            .where(OutboxEmail.mailbox.in_(list(mailbox_ids))
                   & OutboxEmail.status.in_((SENT, UNKNOWN, SENDING))
                   & (OutboxEmail.attempted_at >= day_start(now)))
            .group_by(OutboxEmail.mailbox).tuples())
    return dict(rows)


def waiting_rows(mailbox_ids) -> dict[int, int]:
    """Queued rows, per mailbox their sequence sends from (they will go out from it)."""
    rows = (OutboxEmail.select(Sequence.mailbox, fn.COUNT(OutboxEmail.id))
            .join(Sequence, on=(OutboxEmail.sequence == Sequence.id))
            .where(Sequence.mailbox.in_(list(mailbox_ids)) & (OutboxEmail.status == QUEUED))
            .group_by(Sequence.mailbox).tuples())
    return dict(rows)


def sends_today(mailbox_ids) -> dict[int, int]:
    """{mailbox_id: emails sent today (UTC)} — for "today's sends / daily limit"."""
    ids = list(mailbox_ids)
    counts = dict.fromkeys(ids, 0)
    if not ids:
        return counts
    rows = (OutboxEmail.select(OutboxEmail.mailbox, fn.COUNT(OutboxEmail.id))
            .where(OutboxEmail.mailbox.in_(ids) & OutboxEmail.status.in_((SENT, UNKNOWN))
                   & (OutboxEmail.attempted_at >= day_start(clock.now())))
            .group_by(OutboxEmail.mailbox).tuples())
    counts.update(dict(rows))
    return counts


def waiting_counts(mailbox_id: int) -> dict[int, int]:
    """{sequence_id: emails waiting to go out from this mailbox}: queued or unsettled rows and
    steps already due — what "N waiting emails will be sent" counts after a reconnect."""
    now = clock.now()
    sequence_ids = [s for (s,) in Sequence.select(Sequence.id)
                    .where(Sequence.mailbox == mailbox_id).tuples()]
    counts = dict.fromkeys(sequence_ids, 0)
    if not sequence_ids:
        return counts
    for sid, n in (OutboxEmail.select(OutboxEmail.sequence, fn.COUNT(OutboxEmail.id))
                   .where(OutboxEmail.sequence.in_(sequence_ids)
                          & OutboxEmail.status.in_((QUEUED, SENDING)))
                   .group_by(OutboxEmail.sequence).tuples()):
        counts[sid] += n
    for sid, n in (Enrollment.select(Enrollment.sequence, fn.COUNT(Enrollment.id))
                   .where(Enrollment.sequence.in_(sequence_ids) & (Enrollment.status == "active")
                          & (Enrollment.next_due_at <= now))
                   .group_by(Enrollment.sequence).tuples()):
        counts[sid] += n
    return counts
