"""What deleting contacts, or removing them from a sequence, does to their sequences: said
before the person confirms (`consequences`), then done in one transaction.

Their emails that wait go with them. A queued email is never sent. One a sender has claimed
but not yet handed to the mail server is skipped at its last look before the wire (the
outbox's begin_transmit finds no enrollment any more). One being handed over at this very
moment finishes: it is already on the wire, and nothing follows it.
"""

from dataclasses import dataclass, field

from peewee import fn

from models import changes
from models import sequence_log as says
from models.base import write_transaction
from models.contacts import Contact
from models.outbox_email import QUEUED, SENDING, OutboxEmail
from models.sequences import Enrollment, Sequence, write_log

CHUNK = 500  # ids per statement: well inside every backend's limit on parameters


@dataclass
class Consequences:
    contacts: int                      # how many contacts the action takes
    sequences: list[tuple[str, int]] = field(default_factory=list)  # (name, active contacts)
    waiting: int = 0                   # queued emails that will not be sent
    in_flight: int = 0                 # claimed by a sender right now: see the module's note


def _ids(contacts) -> list[int]:
    return [cid for (cid,) in contacts.select(Contact.id).order_by().tuples()]


def _chunks(ids):
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def consequences(contacts, sequence=None) -> Consequences:
    """What deleting `contacts` (a Contact query already scoped to one team) — or removing
    them from `sequence` — would stop."""
    ids = _ids(contacts)
    said = Consequences(contacts=len(ids))
    per_sequence: dict[str, int] = {}
    for chunk in _chunks(ids):
        where = Enrollment.contact.in_(chunk) & (Enrollment.status == "active")
        if sequence is not None:
            where &= Enrollment.sequence == sequence.id
        for name, count in (Enrollment.select(Sequence.name, fn.COUNT(Enrollment.id))
                            .join(Sequence).where(where).group_by(Sequence.id, Sequence.name)
                            .tuples()):
            per_sequence[name] = per_sequence.get(name, 0) + count
        emails = OutboxEmail.contact.in_(chunk)
        if sequence is not None:
            emails &= OutboxEmail.sequence == sequence.id
        said.waiting += OutboxEmail.select().where(emails & (OutboxEmail.status == QUEUED)).count()
        said.in_flight += OutboxEmail.select().where(
            emails & (OutboxEmail.status == SENDING)).count()
    said.sequences = sorted(per_sequence.items())
    return said


def _log_per_sequence(ids, user, verb, sequence=None, email="") -> None:
    """One log entry in each sequence the contacts were enrolled in, before they go."""
    counts, cancelled = {}, {}
    for chunk in _chunks(ids):
        where = Enrollment.contact.in_(chunk)
        if sequence is not None:
            where &= Enrollment.sequence == sequence.id
        for sid, count in (Enrollment.select(Enrollment.sequence, fn.COUNT(Enrollment.id))
                           .where(where).group_by(Enrollment.sequence).tuples()):
            counts[sid] = counts.get(sid, 0) + count
        emails = OutboxEmail.contact.in_(chunk) & (OutboxEmail.status == QUEUED)
        if sequence is not None:
            emails &= OutboxEmail.sequence == sequence.id
        for sid, count in (OutboxEmail.select(OutboxEmail.sequence, fn.COUNT(OutboxEmail.id))
                           .where(emails).group_by(OutboxEmail.sequence).tuples()):
            cancelled[sid] = cancelled.get(sid, 0) + count
    for sid, count in counts.items():
        write_log(sid, f"contacts_{verb.split()[0]}",
                  says.contacts_left(user, count, verb, cancelled.get(sid, 0), email))


def delete_contacts(team_id, contacts, user) -> int:
    """Delete the team's contacts among `contacts`, with their enrollments and every email
    of theirs not yet on the wire; returns how many were deleted."""
    with write_transaction():
        ids = _ids(contacts.where(Contact.team == team_id))
        if not ids:
            return 0
        email = Contact.get_by_id(ids[0]).email if len(ids) == 1 else ""
        _log_per_sequence(ids, user, "deleted", email=email)
        for chunk in _chunks(ids):  # the database removes their enrollments and emails
            Contact.delete().where(Contact.id.in_(chunk) & (Contact.team == team_id)).execute()
        changes.bump(team_id)
    return len(ids)


def remove_from_sequence(sequence, contacts, user) -> int:
    """Take the team's contacts among `contacts` out of `sequence`: their enrollment and its
    emails not yet on the wire go (what was sent stays in the log); enrolling them again
    starts from the first email. Returns how many were in it."""
    with write_transaction():
        ids = _ids(contacts.where(Contact.team == sequence.team_id))
        enrolled = [cid for chunk in _chunks(ids) for (cid,) in Enrollment.select(
            Enrollment.contact).where((Enrollment.sequence == sequence.id)
                                      & Enrollment.contact.in_(chunk)).tuples()]
        if not enrolled:
            return 0
        _log_per_sequence(enrolled, user, "removed from the sequence", sequence=sequence)
        for chunk in _chunks(enrolled):
            Enrollment.delete().where((Enrollment.sequence == sequence.id)
                                      & Enrollment.contact.in_(chunk)).execute()
        changes.bump(sequence.team_id)
    return len(enrolled)
