"""The outbox (DESIGN §4): one row per (enrollment, step), and the rules that take an email from
"due" to "sent" without losing it or sending it twice.

- A row is planned when its step falls due inside the sequence's sending window and the
  mailbox's daily limit. The limit belongs to the mailbox, across all its sequences, and
  counts per **UTC day**: sequences of one mailbox may live in different time zones, and the
  mailbox needs one day boundary (the provider's own quota knows nothing of our sequences).
- A sender (models/sender.py) holds the mailbox's sender lease (one SMTP connection per
  mailbox, reused across a batch), claims rows (`sending`, with a lease, a Message-ID) and commits before any network
  I/O; it marks a row `transmitting` right before the SMTP transaction and `sent` after the
  server's 250, in the same transaction as the enrollment's next step and the log entry.
- A row left `sending` by a consumer that died is settled by the reconciler: never
  transmitted → queued again; transmitted → looked up in the Sent folder by Message-ID; not
  there where the provider files sent mail itself → queued again; not there otherwise →
  `unknown`, shown to people with "Send again", never resent by itself.
"""

from datetime import datetime, timedelta

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField, fn

import clock
from mail.send import Outgoing, new_message_id
from models import changes, leases
from models.base import BaseModel, write_transaction
from models.contacts import Contact
from models.mailboxes import CONNECTED, Mailbox
from models.sequences import Enrollment, Sequence, SequenceLog, SequenceStep, write_log
from models.templating import render_subject, render_template_text

QUEUED, SENDING, SENT, UNKNOWN, FAILED, BOUNCED, CANCELLED = (
    "queued", "sending", "sent", "unknown", "failed", "bounced", "cancelled")
CLAIMED, TRANSMITTING = "claimed", "transmitting"  # a `sending` row's phase
# Sent in full, and the connection ended before the server answered: a `sending` row that
# waits for the reconciler, told apart from one a crash interrupted (still TRANSMITTING).
ANSWER_LOST = "answer_lost"
STATUS_LABELS = {QUEUED: "Waiting", SENDING: "Sending", SENT: "Sent", UNKNOWN: "Outcome unknown",
                 FAILED: "Not sent", BOUNCED: "Bounced", CANCELLED: "Cancelled"}

LEASE = leases.LEASE  # a claimed row and a mailbox's sender; the sender's heartbeat renews both
BATCH = 50                           # rows claimed per transaction
RETRIES = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15),
           timedelta(hours=1))       # after a 4xx; the last repeats
MAX_ATTEMPTS = 12                    # deferred this often → not sent, with "Send again"
UNKNOWN_SETTLE = timedelta(seconds=5)  # a dropped answer: look in Sent after this pause


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
                   (("mailbox", "status", "attempted_at"), False))

    @property
    def number(self) -> int:
        return self.position + 1

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def can_send_again(self) -> bool:
        return self.status in (UNKNOWN, FAILED)


class Unsendable(Exception):
    """This email cannot be written for this contact; the words say why, for the log."""


def day_start(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _window_open(sequence: Sequence, now: datetime) -> bool:
    return sequence.next_send_time(now) == now


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


# ---- Planning: due steps become outbox rows ------------------------------------------------------

def _open_sequences(mailbox_id, now) -> list[Sequence]:
    """The mailbox's running sequences whose sending window is open now."""
    return [s for s in Sequence.select().where((Sequence.mailbox == mailbox_id)
                                               & (Sequence.paused == False))  # noqa: E712
            if _window_open(s, now)]


def plan(mailbox: Mailbox, now: datetime) -> int:
    """Create queued rows for the enrollments whose step is due, inside each sequence's window
    and the mailbox's daily limit. Runs under the mailbox's sender lease, so two planners
    never count the same room twice (and the unique index refuses a second row anyway).
    Returns the rows created."""
    sequences = _open_sequences(mailbox.id, now)
    if not sequences:
        return 0
    by_id = {s.id: s for s in sequences}
    due = (Enrollment.select(Enrollment.id, Enrollment.sequence, Enrollment.contact,
                             Enrollment.step_index)
           .where(Enrollment.sequence.in_(list(by_id)) & (Enrollment.status == "active")
                  & (Enrollment.next_due_at <= now))
           .order_by(Enrollment.next_due_at, Enrollment.id))
    with write_transaction():
        used = (attempted_today([mailbox.id], now).get(mailbox.id, 0)
                + waiting_rows([mailbox.id]).get(mailbox.id, 0))
        room = max(mailbox.limit_on(now) - used, 0)
        batch = list(due.limit(room + 1).tuples())
        full, batch = len(batch) > room, batch[:room]
        steps = StepCache()
        wanted, finished = {}, []
        for enrollment_id, sequence_id, contact_id, index in batch:
            step = steps.at(sequence_id, index)
            if step is None:  # past the last step (steps were removed): done
                finished.append(enrollment_id)
            else:
                wanted[(enrollment_id, step.id)] = dict(
                    enrollment=enrollment_id, step=step.id, sequence=sequence_id,
                    contact=contact_id, position=index, status=QUEUED, due_at=now, created_at=now)
        existing = {}
        if wanted:
            for row in OutboxEmail.select().where(
                    OutboxEmail.enrollment.in_(list({e for e, _ in wanted}))):
                if (row.enrollment_id, row.step_id) in wanted:
                    existing[(row.enrollment_id, row.step_id)] = row
        new = [fields for key, fields in wanted.items() if key not in existing]
        for start in range(0, len(new), 200):
            OutboxEmail.insert_many(new[start:start + 200]).execute()
        if wanted:
            (Enrollment.update(next_due_at=None)
             .where(Enrollment.id.in_([e for e, _ in wanted])).execute())
        for row in existing.values():
            if row.status == SENT:  # already out: only the enrollment lagged behind
                _advance(row, row.sent_at or now, now, steps)
        if finished:
            (Enrollment.update(status="finished", next_due_at=None, status_changed_at=now)
             .where(Enrollment.id.in_(finished) & (Enrollment.status == "active")).execute())
        if full:  # what is still due now waits for tomorrow
            _note_daily_limit(mailbox, by_id, due, now, used + len(new))
        if new:
            changes.bump(mailbox.team_id)
    return len(new)


class StepCache:
    """A sequence's steps, read once per batch rather than once per email."""

    def __init__(self):
        self._by_sequence: dict[int, list[SequenceStep]] = {}

    def of(self, sequence_id: int) -> list[SequenceStep]:
        if sequence_id not in self._by_sequence:
            self._by_sequence[sequence_id] = list(
                SequenceStep.select().where(SequenceStep.sequence == sequence_id)
                .order_by(SequenceStep.position))
        return self._by_sequence[sequence_id]

    def at(self, sequence_id: int, position: int) -> SequenceStep | None:
        return next((s for s in self.of(sequence_id) if s.position == position), None)

    def get(self, sequence_id: int, step_id: int | None) -> SequenceStep | None:
        return next((s for s in self.of(sequence_id) if s.id == step_id), None)


def _note_daily_limit(mailbox, by_id, due, now, used) -> None:
    """Say it once per sequence and UTC day: the limit is reached, the rest wait."""
    waiting = {sid for (sid,) in due.select(Enrollment.sequence).order_by().distinct().tuples()}
    today = day_start(now)
    noted = {sid for (sid,) in SequenceLog.select(SequenceLog.sequence).where(
        SequenceLog.sequence.in_(list(waiting)) & (SequenceLog.kind == "daily_limit")
        & (SequenceLog.created_at >= today)).tuples()}
    for sequence_id in sorted(waiting - noted):
        write_log(by_id[sequence_id], "daily_limit",
                  f"Daily limit reached: {mailbox.email} has sent or queued {used} of its "
                  f"{mailbox.limit_on(now)} emails for today, across all its sequences. The "
                  "rest wait until tomorrow (the day starts at 00:00 UTC).")
    if waiting - noted:
        changes.bump(mailbox.team_id)


# ---- Claiming and transmitting -----------------------------------------------------------------

def claim(mailbox: Mailbox, owner: str, now: datetime, size: int = BATCH) -> list[OutboxEmail]:
    """Take up to `size` due rows of the mailbox's open sequences, oldest first, and commit
    the claim (status `sending`, lease, Message-ID) before anything goes on the wire."""
    sequences = _open_sequences(mailbox.id, now)
    if not sequences:
        return []
    sequence_ids = [s.id for s in sequences]
    with write_transaction():
        room = mailbox.limit_on(now) - attempted_today([mailbox.id], now).get(mailbox.id, 0)
        if room <= 0:
            return []
        _cancel_stale(sequence_ids, now)
        ids = [i for (i,) in OutboxEmail.select(OutboxEmail.id).where(
            OutboxEmail.sequence.in_(sequence_ids) & (OutboxEmail.status == QUEUED)
            & (OutboxEmail.due_at <= now)).order_by(OutboxEmail.due_at, OutboxEmail.id)
            .limit(min(size, room)).tuples()]
        if not ids:
            return []
        (OutboxEmail.update(status=SENDING, phase=CLAIMED, lease_owner=owner,
                            lease_until=now + LEASE, mailbox=mailbox.id)
         .where(OutboxEmail.id.in_(ids) & (OutboxEmail.status == QUEUED)).execute())
        for (row_id,) in list(OutboxEmail.select(OutboxEmail.id).where(
                (OutboxEmail.lease_owner == owner) & OutboxEmail.message_id.is_null()).tuples()):
            (OutboxEmail.update(message_id=new_message_id(mailbox.email))
             .where(OutboxEmail.id == row_id).execute())
    return list(OutboxEmail.select(OutboxEmail, Contact, Sequence)
                .join(Contact, on=(OutboxEmail.contact == Contact.id))
                .join_from(OutboxEmail, Sequence, on=(OutboxEmail.sequence == Sequence.id))
                .where((OutboxEmail.lease_owner == owner) & (OutboxEmail.status == SENDING)
                       & (OutboxEmail.phase == CLAIMED))
                .order_by(OutboxEmail.due_at, OutboxEmail.id))


def _cancel_stale(sequence_ids, now) -> None:
    """Queued rows whose contact stopped (replied, bounced, unsubscribed) or whose step was
    removed are cancelled; for a removed step the enrollment's new current step is planned."""
    stale = list(OutboxEmail.select(OutboxEmail.id, OutboxEmail.enrollment, OutboxEmail.step)
                 .join(Enrollment, on=(OutboxEmail.enrollment == Enrollment.id))
                 .where(OutboxEmail.sequence.in_(sequence_ids) & (OutboxEmail.status == QUEUED)
                        & (OutboxEmail.step.is_null() | (Enrollment.status != "active")))
                 .tuples())
    for row_id, enrollment_id, step_id in stale:
        OutboxEmail.update(status=CANCELLED, error="Its step was removed or the contact "
                           "stopped.").where(OutboxEmail.id == row_id).execute()
        if step_id is None:
            (Enrollment.update(next_due_at=now)
             .where((Enrollment.id == enrollment_id) & (Enrollment.status == "active")
                    & Enrollment.next_due_at.is_null()).execute())


GO, SKIP, STOP = "go", "skip", "stop"


def begin_transmit(row: OutboxEmail, owner: str, mailbox_id: int, subject: str,
                   now: datetime) -> str:
    """Right before the SMTP transaction, for every email: is the mailbox still connected,
    the sequence still running, the contact still active (else STOP the batch, or SKIP this
    row), and the row still ours? Then commit the `transmitting` phase (a crash from here on
    is looked up in Sent) and renew the row's lease."""
    with write_transaction():
        verdict = _still_allowed(row, owner, mailbox_id)
        if verdict != GO:
            return verdict
        taken = (OutboxEmail.update(phase=TRANSMITTING, attempted_at=now, subject=subject,
                                    attempts=OutboxEmail.attempts + 1, to_email=row.contact.email,
                                    lease_until=now + LEASE)
                 .where((OutboxEmail.id == row.id) & (OutboxEmail.lease_owner == owner)
                        & (OutboxEmail.status == SENDING)).execute())
    row.to_email, row.subject, row.attempts = row.contact.email, subject, row.attempts + 1
    row.attempted_at = now
    return GO if taken else SKIP


def _still_allowed(row, owner, mailbox_id) -> str:
    state = (Enrollment.select(Enrollment.status, Sequence.paused, Sequence.mailbox,
                               Mailbox.status, Mailbox.deleted_at)
             .join(Sequence, on=(Enrollment.sequence == Sequence.id))
             .join(Mailbox, on=(Sequence.mailbox == Mailbox.id))
             .where(Enrollment.id == row.enrollment_id).tuples().first())
    if state is None:
        return SKIP  # the contact or the sequence was deleted: the row went with it
    enrollment, paused, sends_from, status, deleted_at = state
    if paused or sends_from != mailbox_id or status != CONNECTED or deleted_at is not None:
        return STOP  # deleted, disabled, broken or paused mid-batch: the rest wait
    if enrollment != "active":
        (OutboxEmail.update(status=CANCELLED, phase="", lease_owner="", lease_until=None,
                            error="The contact stopped before it was sent.")
         .where((OutboxEmail.id == row.id) & (OutboxEmail.lease_owner == owner)).execute())
        return SKIP
    return GO


def requeue(owner: str, ids=None) -> int:
    """Rows this sender holds go back to the queue: those never transmitted, and `ids` that
    are known not to have gone out (the connection failed before the message was complete).
    A row whose outcome is unknown is never requeued here: the reconciler decides it."""
    known = OutboxEmail.phase == CLAIMED
    if ids:
        known = known | OutboxEmail.id.in_(list(ids))
    return (OutboxEmail.update(status=QUEUED, phase="", lease_owner="", lease_until=None)
            .where((OutboxEmail.lease_owner == owner) & (OutboxEmail.status == SENDING) & known)
            .execute())


# ---- Outcomes ------------------------------------------------------------------------------------

def _finish(row, owner, **fields) -> bool:
    fields.update(phase="", lease_owner="", lease_until=None)
    return (OutboxEmail.update(**fields)
            .where((OutboxEmail.id == row.id) & (OutboxEmail.lease_owner == owner)
                   & (OutboxEmail.status == SENDING)).execute()) == 1


def _advance(row, sent_at: datetime, now: datetime, steps: StepCache | None = None) -> None:
    """The enrollment moves to the step after this one, due its delay after this send."""
    steps = steps or StepCache()
    step = steps.get(row.sequence_id, row.step_id)
    position = row.position if step is None else step.position
    following = steps.at(row.sequence_id, position + 1)
    if following is not None:
        fields = {"next_due_at": sent_at + following.delay}
    else:  # that was the last step
        fields = {"next_due_at": None, "status": "finished", "status_changed_at": now}
    (Enrollment.update(step_index=position + 1, **fields)
     .where((Enrollment.id == row.enrollment_id) & (Enrollment.status == "active")).execute())


def mark_sent(row: OutboxEmail, owner: str, reply: str, now: datetime,
              sent_at: datetime | None = None, found_in_sent: bool = False,
              steps: StepCache | None = None, bump: bool = True) -> bool:
    """The server said 250 (or the Sent folder holds it): sent, the contact moves on, logged.
    `bump=False` leaves telling open pages to the caller (a batch does it once a second)."""
    sent_at = sent_at or now
    with write_transaction():
        if not _finish(row, owner, status=SENT, sent_at=sent_at, reply=reply[:200], error=""):
            return False
        _advance(row, sent_at, now, steps)
        how = (" (found in the Sent folder after the connection was interrupted)"
               if found_in_sent else "")
        write_log(row.sequence_id, "email_sent",
                  f"Email {row.number} “{row.subject}” sent to {row.to_email}{how} — "
                  f"Message-ID {row.message_id}", contact=row.contact_id,
                  details={"outbox": row.id, "step": row.number, "to": row.to_email,
                           "message_id": row.message_id, "at": sent_at.isoformat()})
        if bump:
            changes.bump(_team_of(row))
    return True


def bounce(row: OutboxEmail, owner: str, code: str, now: datetime) -> bool:
    """The server refused the recipient for good: the contact is bounced in every sequence,
    and the sequences go on with their other contacts."""
    with write_transaction():
        if not _finish(row, owner, status=BOUNCED, reply=code, error="The mail server refused "
                       "the address."):
            return False
        affected = list(Enrollment.select(Enrollment.sequence).where(
            (Enrollment.contact == row.contact_id) & (Enrollment.status == "active")).tuples())
        (Enrollment.update(status="bounced", next_due_at=None, status_changed_at=now)
         .where((Enrollment.contact == row.contact_id) & (Enrollment.status == "active")).execute())
        (OutboxEmail.update(status=CANCELLED, error="The contact's address bounced.")
         .where((OutboxEmail.contact == row.contact_id) & (OutboxEmail.status == QUEUED)).execute())
        write_log(row.sequence_id, "email_bounced",
                  f"Email {row.number} to {row.to_email} was refused by the mail server: the "
                  f"address does not exist or takes no mail ({code}). The contact is marked "
                  "bounced; the sequence goes on with the others.", contact=row.contact_id,
                  details={"outbox": row.id, "code": code})
        for (sequence_id,) in affected:
            if sequence_id != row.sequence_id:
                write_log(sequence_id, "email_bounced",
                          f"{row.to_email} is marked bounced: the mail server refused the "
                          f"address in another sequence ({code}).", contact=row.contact_id)
        changes.bump(_team_of(row))
    return True


def fail(row: OutboxEmail, owner: str, words: str, now: datetime, code: str = "") -> bool:
    """Not sent and not retried by itself: the log says why; "Send again" after a fix."""
    with write_transaction():
        if not _finish(row, owner, status=FAILED, reply=code, error=words):
            return False
        write_log(row.sequence_id, "email_failed",
                  f"Email {row.number} to {row.contact.email} was not sent: {words}",
                  contact=row.contact_id, details={"outbox": row.id, "code": code})
        changes.bump(_team_of(row))
    return True


def defer(row: OutboxEmail, owner: str, code: str, now: datetime) -> bool:
    """A temporary refusal (4xx): the row waits and is tried again, a little later each time."""
    if row.attempts >= MAX_ATTEMPTS:
        return fail(row, owner, f"the mail server kept deferring it ({code}); Tether gave up "
                    f"after {row.attempts} tries.", now, code)
    retry_at = now + RETRIES[min(row.attempts, len(RETRIES)) - 1]
    with write_transaction():
        if not _finish(row, owner, status=QUEUED, due_at=retry_at, reply=code,
                       error="Deferred by the mail server."):
            return False
        write_log(row.sequence_id, "email_deferred",
                  f"Email {row.number} to {row.to_email} was deferred by the mail server "
                  f"({code}); Tether tries again at {row.sequence.local_time(retry_at)}.",
                  contact=row.contact_id, details={"outbox": row.id, "code": code})
        changes.bump(_team_of(row))
    return True


def hold_for_reconcile(row: OutboxEmail, owner: str, now: datetime) -> None:
    """No answer after the final ".": leave it `sending`, owned by no one, and let the
    reconciler look in Sent once the provider had a moment to file it."""
    (OutboxEmail.update(phase=ANSWER_LOST, lease_owner="", lease_until=now + UNKNOWN_SETTLE)
     .where((OutboxEmail.id == row.id) & (OutboxEmail.lease_owner == owner)).execute())


def _team_of(row) -> int:
    return row.sequence.team_id  # joined by claim() and adopt_orphans(); else one query


# ---- Reconciling what a crash left unknown ------------------------------------------------------

def adopt_orphans(mailbox_id: int, owner: str, now: datetime) -> list[OutboxEmail]:
    """Rows sent from this mailbox and left `sending` by a sender whose lease expired. Those
    never transmitted go straight back to the queue; the others are taken over (leased to
    `owner`) for a look in the Sent folder and returned."""
    orphans = (OutboxEmail.select(OutboxEmail.id)
               .where((OutboxEmail.mailbox == mailbox_id) & (OutboxEmail.status == SENDING)
                      & (OutboxEmail.lease_until < now)))
    with write_transaction():
        ids = [i for (i,) in orphans.tuples()]
        if not ids:
            return []
        (OutboxEmail.update(lease_owner=owner, lease_until=now + LEASE)
         .where(OutboxEmail.id.in_(ids) & (OutboxEmail.status == SENDING)
                & (OutboxEmail.lease_until < now)).execute())
        (OutboxEmail.update(status=QUEUED, phase="", lease_owner="", lease_until=None)
         .where((OutboxEmail.lease_owner == owner) & (OutboxEmail.status == SENDING)
                & OutboxEmail.phase.not_in((TRANSMITTING, ANSWER_LOST))).execute())
    return list(OutboxEmail.select(OutboxEmail, Contact, Sequence)
                .join(Contact, on=(OutboxEmail.contact == Contact.id))
                .join_from(OutboxEmail, Sequence, on=(OutboxEmail.sequence == Sequence.id))
                .where((OutboxEmail.lease_owner == owner) & (OutboxEmail.status == SENDING))
                .order_by(OutboxEmail.id))


def release_orphans(owner: str, retry_at: datetime) -> None:
    """The Sent folder could not be read: leave the rows `sending`, to be looked at again."""
    (OutboxEmail.update(lease_owner="", lease_until=retry_at)
     .where((OutboxEmail.lease_owner == owner) & (OutboxEmail.status == SENDING)).execute())


def _interruption(row: OutboxEmail) -> str:
    """What cut the send short, as the sender recorded it (the row's phase)."""
    if row.phase == ANSWER_LOST:
        return ("the whole email was sent, then the connection to the mail server ended before "
                "it answered")
    return "Tether stopped (a restart or a crash) while the email was being handed over"


def settle(row: OutboxEmail, owner: str, *, found: bool, provider_files_sent: bool,
           now: datetime) -> str:
    """Decide an orphan after the Sent folder was searched for its Message-ID."""
    if found:
        mark_sent(row, owner, "found in Sent", now, sent_at=row.attempted_at or now,
                  found_in_sent=True)
        return SENT
    with write_transaction():
        if provider_files_sent:
            # The provider files every accepted message in Sent: not there, not accepted.
            if _finish(row, owner, status=QUEUED):
                write_log(row.sequence_id, "email_requeued",
                          f"Email {row.number} to {row.to_email} had not gone out when "
                          f"{_interruption(row)} (it is not in the Sent folder); it is sent "
                          "again.", contact=row.contact_id,
                          details={"outbox": row.id, "message_id": row.message_id})
                changes.bump(_team_of(row))
            return QUEUED
        what = _interruption(row)
        if _finish(row, owner, status=UNKNOWN, error=f"{what[0].upper()}{what[1:]}, and this "
                   "mailbox keeps no copy of it in Sent."):
            write_log(row.sequence_id, "email_unknown",
                      f"Email {row.number} to {row.to_email}: Tether cannot tell whether it "
                      f"went out — {what}, and there is no copy in the Sent folder. The contact "
                      "may already have it: check with them or in your Sent folder, and press "
                      "“Send again” only if it did not arrive.", contact=row.contact_id,
                      details={"outbox": row.id, "message_id": row.message_id})
            changes.bump(_team_of(row))
        return UNKNOWN


# ---- What people do ----------------------------------------------------------------------------

def send_again(row: OutboxEmail, user) -> str | None:
    """The one-click "Send again" for an email whose outcome is unknown or that was not sent.
    Returns why not, or None. It keeps its Message-ID, so a copy that did arrive after all is
    recognised as the same message by the recipient's mail program."""
    if not row.can_send_again:
        return "This email is not waiting for you."
    now = clock.now()
    with write_transaction():
        done = (OutboxEmail.update(status=QUEUED, due_at=now, phase="", error="", attempts=0)
                .where((OutboxEmail.id == row.id)
                       & OutboxEmail.status.in_((UNKNOWN, FAILED))).execute())
        if done:
            write_log(row.sequence_id, "send_again",
                      f"“Send again” pressed by {user.display_name} for email {row.number} to "
                      f"{row.to_email or row.contact.email}", contact=row.contact_id,
                      details={"outbox": row.id})
            changes.bump(_team_of(row))
    return None if done else "This email is not waiting for you."


def needing_attention(sequence) -> list[OutboxEmail]:
    """Emails of this sequence that wait for a person: outcome unknown, or not sent."""
    return list(OutboxEmail.select(OutboxEmail, Contact)
                .join(Contact, on=(OutboxEmail.contact == Contact.id))
                .where((OutboxEmail.sequence == sequence)
                       & OutboxEmail.status.in_((UNKNOWN, FAILED)))
                .order_by(OutboxEmail.id.desc()).limit(100))


def attention_count(sequence_id: int) -> int:
    return (OutboxEmail.select().where((OutboxEmail.sequence == sequence_id)
                                       & OutboxEmail.status.in_((UNKNOWN, FAILED))).count())


def pending_by_enrollment(enrollment_ids) -> dict[int, OutboxEmail]:
    """{enrollment_id: its email on the way or waiting for a person}, for a page of contacts."""
    ids = list(enrollment_ids)
    if not ids:
        return {}
    return {e.enrollment_id: e for e in OutboxEmail.select(
        OutboxEmail.id, OutboxEmail.enrollment, OutboxEmail.status, OutboxEmail.position)
        .where(OutboxEmail.enrollment.in_(ids)
               & OutboxEmail.status.in_((QUEUED, SENDING, UNKNOWN, FAILED)))}


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


# ---- The rendered email ------------------------------------------------------------------------

EMPTY_SUBJECT = ("its subject is empty for this contact (the subject's fields left nothing). "
                 "Give the field a fallback, like {{first_name|there}}, then press “Send again”.")


def outgoing(row: OutboxEmail, mailbox: Mailbox, now: datetime,
             steps: StepCache | None = None) -> Outgoing:
    """The email this row sends, rendered now for its contact. A step without a subject
    replies in the thread of the contact's earlier emails ("Re: …", In-Reply-To,
    References). Raises Unsendable with plain words."""
    steps = steps or StepCache()
    step = steps.get(row.sequence_id, row.step_id) if row.step_id else None
    if step is None:
        raise Unsendable("its step was removed from the sequence.")
    contact, sequence = row.contact, row.sequence
    in_reply_to, references = "", ()
    if step.subject.strip():
        subject = render_subject(step.subject, contact).strip()
    else:
        earlier = list(OutboxEmail.select(OutboxEmail.message_id, OutboxEmail.subject)
                       .where((OutboxEmail.enrollment == row.enrollment_id)
                              & OutboxEmail.status.in_((SENT, UNKNOWN))
                              & (OutboxEmail.position < row.position))
                       .order_by(OutboxEmail.position, OutboxEmail.id))
        if earlier:
            base = earlier[-1].subject
            in_reply_to = earlier[-1].message_id
            references = tuple(e.message_id for e in earlier)[-20:]
        else:
            first = steps.at(row.sequence_id, 0)
            base = render_subject(first.subject, contact).strip() if first else ""
        subject = base if base.lower().startswith("re:") or not base else f"Re: {base}"
    if not subject:
        raise Unsendable(EMPTY_SUBJECT)
    return Outgoing(from_address=mailbox.email, from_name=sequence.sender_name or mailbox.display_name,
                    to_address=contact.email, to_name=contact.name, subject=subject,
                    body=render_template_text(step.body, contact), message_id=row.message_id,
                    date=now, in_reply_to=in_reply_to, references=references)
