"""What the sequence pages list and count: enrollments per status, emails on their way or
waiting for a person, and what a contact's "Next email" line says."""

from peewee import fn

from models.contacts import Contact
from models.outbox import FAILED, QUEUED, SENDING, UNKNOWN, OutboxEmail
from models.sequences import BLOCKED, ENROLLMENT_STATUSES, PAUSED, Enrollment


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


def enrollment_counts(sequence_ids) -> dict:
    """{sequence_id: {status: count}} in one query."""
    counts = {sid: dict.fromkeys(ENROLLMENT_STATUSES, 0) for sid in sequence_ids}
    if not counts:
        return counts
    rows = (Enrollment.select(Enrollment.sequence, Enrollment.status, fn.COUNT(Enrollment.id))
            .where(Enrollment.sequence.in_(list(counts)))
            .group_by(Enrollment.sequence, Enrollment.status).tuples())
    for sequence_id, status, count in rows:
        counts[sequence_id][status] = count
    return counts


# ---- A contact's "Next email" line ------------------------------------------------------------

NO_NEXT = "—"  # finished, replied, bounced, unsubscribed; or nothing planned yet


def next_email(sequence, enrollment, email, now) -> str:
    """What the contacts table says of a contact's next email, in plain words: when it goes
    (in the sequence's time zone), or why it waits. `email` is its outbox row on the way or
    waiting for a person (sequence_pages.pending_by_enrollment), or None."""
    if enrollment.status != "active" or (enrollment.next_due_at is None and email is None):
        return NO_NEXT
    if enrollment.next_due_at is None and email.can_send_again:
        return "needs your attention (see the log)"
    if sequence.state == PAUSED:
        return "waiting: sequence paused"
    # Only an email that is due waits for the mailbox; a later one still goes when it is due,
    # if the mailbox is back by then.
    if sequence.state == BLOCKED and (enrollment.next_due_at is None
                                      or enrollment.next_due_at <= now):
        return "waiting: mailbox"
    if enrollment.next_due_at is None:
        return "sending"
    # Due in the past means due now; either way the sending window decides.
    when = sequence.local_time(sequence.next_send_time(max(enrollment.next_due_at, now)))
    return f"{when} (once the mailbox is back)" if sequence.state == BLOCKED else when
