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
  Only the `transmitting` commit must be on disk before the email goes out; the `sent` one
  may be lost in a database server crash (the Sent folder settles it), so on PostgreSQL it
  does not wait for the disk (models.base.commit_without_waiting_for_disk).
- A row left `sending` by a consumer that died is settled by the reconciler: never
  transmitted → queued again; transmitted → looked up in the Sent folder by Message-ID; not
  there where the provider files sent mail itself → queued again; not there otherwise →
  `unknown`, shown to people with "Send again", never resent by itself.
- A sequence moved to another mailbox (models/sequence_move.py) is handed over in the move's
  own transaction (`hand_over`): rows the old mailbox's sender claimed but has not put on the
  wire go back to the queue, for the new mailbox; rows already on the wire stay `sending` and
  finish from the old mailbox (its 250, or its reconciler looking in its Sent folder). Every
  step here is a compare-and-set on the row's status and lease, so the two meet exactly once:
  a `begin_transmit` that commits first keeps its row (it finishes), a move that commits first
  takes it back (`begin_transmit` finds it no longer `sending`, or the sequence no longer its
  mailbox's, and leaves it). The new mailbox only ever claims `queued` rows, so no email goes
  out from both.

This module is the way in (models/sender.py and tasks/ use its names): it holds the claim, the
outcomes and the reconciling, and brings along the row (models/outbox_email.py), the planning
(models/outbox_plan.py) and the rendered email (models/email_rendering.py).
"""

from datetime import datetime, timedelta

import clock
from mail.send import new_message_id
from models import changes, leases
from models.base import commit_without_waiting_for_disk, hot, names, write_transaction
from models.contacts import Contact
from models.email_rendering import Unsendable, outgoing
from models.mailboxes import CONNECTED, Mailbox
from models.outbox_email import (
    ANSWER_LOST,
    BOUNCED,
    CANCELLED,
    CLAIMED,
    FAILED,
    QUEUED,
    SENDING,
    SENT,
    STATUS_LABELS,
    TRANSMITTING,
    UNKNOWN,
    OutboxEmail,
    attempted_today,
    day_start,
    sends_today,
    waiting_counts,
    waiting_rows,
)
from models.outbox_plan import StepCache, advance, open_sequences, plan
from models.sequences import Enrollment, Sequence, write_log

__all__ = [  # what the sender, tasks, pages and tests use: one import path for the outbox
    "QUEUED", "SENDING", "SENT", "UNKNOWN", "FAILED", "BOUNCED", "CANCELLED", "CLAIMED",
    "TRANSMITTING", "ANSWER_LOST", "STATUS_LABELS", "LEASE", "BATCH", "RETRIES", "MAX_ATTEMPTS",
    "UNKNOWN_SETTLE", "GO", "SKIP", "STOP", "OutboxEmail", "StepCache", "Unsendable",
    "day_start", "attempted_today", "waiting_rows", "sends_today", "waiting_counts", "plan",
    "claim", "begin_transmit", "requeue", "outgoing", "mark_sent", "bounce", "fail", "defer",
    "hold_for_reconcile", "adopt_orphans", "release_orphans", "settle", "send_again",
    "hand_over",
]

LEASE = leases.LEASE  # a claimed row and a mailbox's sender; the sender's heartbeat renews both
BATCH = 50                           # rows claimed per transaction
RETRIES = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15),
           timedelta(hours=1))       # after a 4xx; the last repeats
MAX_ATTEMPTS = 12                    # deferred this often → not sent, with "Send again"
UNKNOWN_SETTLE = timedelta(seconds=5)  # a dropped answer: look in Sent after this pause


# ---- Claiming and transmitting -----------------------------------------------------------------

def claim(mailbox: Mailbox, owner: str, now: datetime, size: int = BATCH) -> list[OutboxEmail]:
    """Take up to `size` due rows of the mailbox's open sequences, oldest first, and commit
    the claim (status `sending`, lease, Message-ID) before anything goes on the wire."""
    sequences = open_sequences(mailbox.id, now)
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
        taken = _transmitting_sql(TRANSMITTING, _when(now), subject, row.contact.email,
                                  _when(now + LEASE), row.id, owner, SENDING).rowcount
    row.to_email, row.subject, row.attempts = row.contact.email, subject, row.attempts + 1
    row.attempted_at = now
    return GO if taken else SKIP


def _still_allowed(row, owner, mailbox_id) -> str:
    state = _state_sql(row.enrollment_id).fetchone()
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


def hand_over(sequence_id: int) -> tuple[int, int]:
    """A sequence now sends from another mailbox: call inside the move's transaction, after
    the sequence's mailbox changed. Rows claimed by the old mailbox's sender and not yet on the
    wire return to the queue; their Message-ID, named after the old mailbox and never sent,
    is dropped so the new mailbox's claim gives them its own. Rows on the wire are left to
    finish where they started. Returns (returned to the queue, finishing from the old one)."""
    returned = (OutboxEmail.update(status=QUEUED, phase="", lease_owner="", lease_until=None)
                .where((OutboxEmail.sequence == sequence_id) & (OutboxEmail.status == SENDING)
                       & (OutboxEmail.phase == CLAIMED)).execute())
    # Never on the wire (no attempt yet): a row that was tried keeps its Message-ID, so a
    # copy that did arrive is recognised as the same message.
    (OutboxEmail.update(message_id=None)
     .where((OutboxEmail.sequence == sequence_id) & (OutboxEmail.status == QUEUED)
            & (OutboxEmail.attempts == 0) & OutboxEmail.message_id.is_null(False)).execute())
    finishing = (OutboxEmail.select().where((OutboxEmail.sequence == sequence_id)
                                            & (OutboxEmail.status == SENDING)).count())
    return returned, finishing


# ---- The statements every email runs: SQL built once (models.base.hot, issue #17) -------------
# Names come from the models and values are parameters: nothing here is user input.

def _when(moment: datetime):
    return OutboxEmail.attempted_at.db_value(moment)


@hot
def _state_sql(p):
    """What `_still_allowed` reads: the enrollment, its sequence and that one's mailbox."""
    e, ec = names(Enrollment)
    s, sc = names(Sequence)
    m, mc = names(Mailbox)
    return (f"SELECT {e}.{ec['status']}, {s}.{sc['paused']}, {s}.{sc['mailbox']}, "  # noqa: S608
            f"{m}.{mc['status']}, {m}.{mc['deleted_at']} FROM {e} "
            f"JOIN {s} ON {e}.{ec['sequence']} = {s}.{sc['id']} "
            f"JOIN {m} ON {s}.{sc['mailbox']} = {m}.{mc['id']} WHERE {e}.{ec['id']} = {p}")


@hot
def _transmitting_sql(p):
    """begin_transmit's compare-and-set: still ours and `sending` → `transmitting`."""
    t, c = names(OutboxEmail)
    return (f"UPDATE {t} SET {c['phase']} = {p}, {c['attempted_at']} = {p}, "  # noqa: S608
            f"{c['subject']} = {p}, {c['attempts']} = {c['attempts']} + 1, "
            f"{c['to_email']} = {p}, {c['lease_until']} = {p} "
            f"WHERE {c['id']} = {p} AND {c['lease_owner']} = {p} AND {c['status']} = {p}")


@hot
def _sent_sql(p):
    """mark_sent's compare-and-set (`_finish` with status SENT)."""
    t, c = names(OutboxEmail)
    return (f"UPDATE {t} SET {c['status']} = {p}, {c['sent_at']} = {p}, {c['reply']} = {p}, "  # noqa: S608
            f"{c['error']} = '', {c['phase']} = '', {c['lease_owner']} = '', "
            f"{c['lease_until']} = NULL "
            f"WHERE {c['id']} = {p} AND {c['lease_owner']} = {p} AND {c['status']} = {p}")


# ---- Outcomes ------------------------------------------------------------------------------------

def _finish(row, owner, **fields) -> bool:
    fields.update(phase="", lease_owner="", lease_until=None)
    return (OutboxEmail.update(**fields)
            .where((OutboxEmail.id == row.id) & (OutboxEmail.lease_owner == owner)
                   & (OutboxEmail.status == SENDING)).execute()) == 1


def mark_sent(row: OutboxEmail, owner: str, reply: str, now: datetime,
              sent_at: datetime | None = None, found_in_sent: bool = False,
              steps: StepCache | None = None, bump: bool = True) -> bool:
    """The server said 250 (or the Sent folder holds it): sent, the contact moves on, logged.
    `bump=False` leaves telling open pages to the caller (a batch does it once a second)."""
    sent_at = sent_at or now
    with write_transaction():
        if _sent_sql(SENT, _when(sent_at), reply[:200], row.id, owner, SENDING).rowcount != 1:
            return False
        # The 250 is a fact the Sent folder keeps: losing this commit costs a look there (the
        # row stays `transmitting`), never a second send — and the next email's `transmitting`
        # commit, which does wait for the disk, takes this one with it (issue #17).
        commit_without_waiting_for_disk()
        advance(row, sent_at, now, steps)
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
            told = row.mailbox_id is not None
        else:
            told = False
    if told:  # the team's chat and webhooks hear of it once (models/notices/alerts.py)
        from models.notices import outcome_unknown  # notices import the outbox's tables

        outcome_unknown(row, Mailbox.get_by_id(row.mailbox_id), f"{what[0].upper()}{what[1:]}.")
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
