"""Replies and bounces (issue 9): what a mailbox's new mail means for its sequences.

New mail is read (mail/inbox.py) on an IMAP session someone else signed in: the health check's,
or the sender's before it sends (models/mail_session.py) — both through models/credentials.py;
this module never signs in itself. A reply stops that contact's sequence; a bounce marks the
contact's enrollment bounced; an auto-reply is logged and changes nothing; an email to the
unsubscribe mailto unsubscribes (models/unsubscribes.py). Every message is
recorded once per mailbox by Message-ID, so a renumbered folder (UIDVALIDITY change) or a
re-read after an outage counts nothing twice. Sending waits for a fetch that is newer than the
mailbox's last reconnect (`fresh_for_sending`), so a contact who replied during an outage gets
no further step.
"""

import logging

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, IntegrityError

import clock
from mail.inbox import Cursor, Incoming, fetch_new
from models import changes
from models.base import BaseModel, hot, names, write_transaction
from models.contacts import Contact
from models.mailboxes import Mailbox
from models.outbox import OutboxEmail
from models.sequences import Enrollment, Sequence, write_log
from models.suppressions import MAILTO
from models.unsubscribes import asked_by_email, unsubscribe

log = logging.getLogger(__name__)


class InboxCursor(BaseModel):
    """Where the last fetch of a mailbox's INBOX stopped, and when it last completed."""

    mailbox = ForeignKeyField(Mailbox, primary_key=True, on_delete="CASCADE")
    uidvalidity = IntegerField(default=0)
    last_uid = IntegerField(default=0)
    fetched_at = DateTimeField(null=True)


class InboundMessage(BaseModel):
    """One row per message Tether acted on (or chose to ignore), per mailbox."""

    mailbox = ForeignKeyField(Mailbox, on_delete="CASCADE")
    message_id = CharField()
    kind = CharField()   # reply / auto_reply / bounce / other
    enrollment = ForeignKeyField(Enrollment, null=True, on_delete="SET NULL")
    received_at = DateTimeField(default=clock.now)

    class Meta:
        indexes = ((("mailbox", "message_id"), True),)


def cursor_of(mailbox_id: int) -> Cursor:
    row = InboxCursor.get_or_none(InboxCursor.mailbox == mailbox_id)
    return Cursor(row.uidvalidity, row.last_uid) if row else Cursor()


def fresh_for_sending(mailbox) -> bool:
    """Has the INBOX been read since the mailbox last became connected? Until then a waiting
    email could go to someone who answered while the mailbox was down."""
    row = InboxCursor.get_or_none(InboxCursor.mailbox == mailbox.id)
    return bool(row and row.fetched_at and row.fetched_at >= mailbox.status_since)


class InboxFetch:
    """The reply fetch the health check runs inside its IMAP session: `fetch(client)`. IMAP and
    network errors propagate (the check classifies them); a bug in handling one message is
    logged and must not make a healthy mailbox look broken.

    The cursor it reached is not written here but by `save()`, which the check calls inside
    its own bookkeeping transaction — and only when there is something to write: the cursor
    moved, or the stored fetch is older than the mailbox's current state (fresh_for_sending
    needs a newer one). Most checks find nothing new and write nothing here."""

    def __init__(self, mailbox):
        self.mailbox_id = mailbox.id
        self.since = (mailbox.consented_at or mailbox.created_at).date()
        self.cursor, fetched_at = _read_cursor(mailbox.id)
        self.fresh = fetched_at is not None and fetched_at >= mailbox.status_since
        self.reached: tuple[Cursor, object] | None = None  # (cursor, when the read began)

    def __call__(self, client) -> None:
        started = clock.now()
        items, cursor = fetch_new(client, self.cursor, since=self.since)
        try:
            handle(self.mailbox_id, items)
        except Exception:
            log.exception("handling new mail of mailbox %s failed", self.mailbox_id)
            return  # the cursor stays: the next cycle reads these messages again
        if cursor != self.cursor or not self.fresh:
            self.reached = (cursor, started)

    def save(self) -> None:
        """Store the cursor reached, if the fetch got that far and it changed anything (call
        inside a transaction)."""
        if self.reached is not None:
            save_cursor(self.mailbox_id, *self.reached)


def fetch_into(mailbox_id: int):
    """The reply fetch with its cursor stored at once: the sender's read before sending."""

    def fetch(client) -> None:
        reader = InboxFetch(Mailbox.get_by_id(mailbox_id))
        reader(client)
        reader.save()

    return fetch


def _read_cursor(mailbox_id: int) -> tuple[Cursor, object]:
    row = _select_cursor(mailbox_id).fetchone()
    if row is None:
        return Cursor(), None
    return Cursor(row[0], row[1]), InboxCursor.fetched_at.python_value(row[2])


# Every check reads the cursor: SQL built once (models.base.hot). Names come from the model.
@hot
def _select_cursor(p):
    table, c = names(InboxCursor)
    return (f"SELECT {c['uidvalidity']}, {c['last_uid']}, {c['fetched_at']} "  # noqa: S608
            f"FROM {table} WHERE {c['mailbox']} = {p}")


@hot
def _upsert_cursor(p):
    table, c = names(InboxCursor)
    kept = [c["uidvalidity"], c["last_uid"], c["fetched_at"]]
    return (f"INSERT INTO {table} ({c['mailbox']}, {', '.join(kept)}) "  # noqa: S608
            f"VALUES ({p}, {p}, {p}, {p}) ON CONFLICT ({c['mailbox']}) DO UPDATE SET "
            + ", ".join(f"{col} = excluded.{col}" for col in kept))


def save_cursor(mailbox_id: int, cursor: Cursor, fetched_at) -> None:
    _upsert_cursor(mailbox_id, cursor.uidvalidity, cursor.last_uid,
                   InboxCursor.fetched_at.db_value(fetched_at))


def handle(mailbox_id: int, items: list[Incoming]) -> dict[str, int]:
    """Act on new messages; returns how many of each kind were new."""
    counts = {"reply": 0, "auto_reply": 0, "bounce": 0, "unsubscribe": 0, "other": 0}
    for item in items:
        kind = _handle_one(mailbox_id, item)
        if kind:
            counts[kind] += 1
    return counts


def _handle_one(mailbox_id: int, item: Incoming) -> str | None:
    key = item.message_id or f"<uid-{item.uid}-no-message-id>"
    # An email to the List-Unsubscribe mailto (or a bare "Unsubscribe"): the address leaves
    # every sequence of the team, each with its log line, instead of counting as a reply.
    team_id = Mailbox.select(Mailbox.team).where(Mailbox.id == mailbox_id).scalar()
    leaving = None if item.is_bounce else asked_by_email(team_id, item.subject,
                                                         item.from_address)
    if leaving:
        kind, enrollments = "unsubscribe", []
    elif item.is_bounce:
        kind, enrollments = "bounce", _bounced_enrollments(mailbox_id, item)
    else:
        kind = "auto_reply" if item.auto_reply else "reply"
        match = _replied_enrollment(mailbox_id, item)
        enrollments = [match] if match else []
    if not enrollments and not leaving:
        kind = "other"
    try:
        with write_transaction():
            InboundMessage.create(mailbox=mailbox_id, message_id=key, kind=kind,
                                  enrollment=enrollments[0] if enrollments else None)
            for enrollment in enrollments:
                _apply(kind, enrollment, item)
            if leaving:
                unsubscribe(team_id, leaving, MAILTO)
    except IntegrityError:
        return None  # seen before (a re-read after an outage or a renumbered folder)
    return kind


def _replied_enrollment(mailbox_id: int, item: Incoming):
    """By the headers that name our Message-IDs; else by the sender's address, for clients
    that drop them."""
    if item.in_reply_to:
        row = (OutboxEmail.select(OutboxEmail.enrollment)
               .where((OutboxEmail.mailbox == mailbox_id)
                      & OutboxEmail.message_id.in_(item.in_reply_to)).first())
        if row:
            return Enrollment.get_by_id(row.enrollment_id)
    if not item.from_address:
        return None
    return (Enrollment.select().join(Contact, on=(Enrollment.contact == Contact.id))
            .join_from(Enrollment, Sequence, on=(Enrollment.sequence == Sequence.id))
            .where(_written_from(mailbox_id) & (Contact.email == item.from_address))
            .order_by(Enrollment.status == "active", Enrollment.id.desc()).first())


def _bounced_enrollments(mailbox_id: int, item: Incoming) -> list:
    return list(Enrollment.select().join(Contact, on=(Enrollment.contact == Contact.id))
                .join_from(Enrollment, Sequence, on=(Enrollment.sequence == Sequence.id))
                .where(_written_from(mailbox_id) & Contact.email.in_(item.bounced)))


def _written_from(mailbox_id: int):
    """Enrollments this mailbox writes to: its sequences', and those it sent emails to before
    their sequence moved to another mailbox (models/sequence_move.py) — a late answer to the
    old address still stops the contact."""
    return ((Sequence.mailbox == mailbox_id)
            | Enrollment.id.in_(OutboxEmail.select(OutboxEmail.enrollment)
                                .where(OutboxEmail.mailbox == mailbox_id)))


def _apply(kind: str, enrollment, item: Incoming) -> None:
    sequence = Sequence.get_by_id(enrollment.sequence_id)
    contact = Contact.get_by_id(enrollment.contact_id)
    if kind == "reply":
        if enrollment.status == "active":
            _stop(enrollment, "replied")
        words = f"Reply from {contact.email}" + (f": “{item.snippet}”" if item.snippet else "")
        write_log(sequence, "reply", words + " — no further steps for this contact",
                  contact=contact, details={"message_id": item.message_id})
    elif kind == "auto_reply":
        write_log(sequence, "auto_reply", f"Auto-reply from {contact.email} (out of office or "
                  "similar) — the sequence goes on", contact=contact,
                  details={"message_id": item.message_id})
    else:
        if enrollment.status in ("active", "finished"):
            _stop(enrollment, "bounced")
        reason = f" ({item.bounce_reason})" if item.bounce_reason else ""
        write_log(sequence, "bounce", f"Bounced: {contact.email} cannot receive mail{reason}",
                  contact=contact, details={"message_id": item.message_id})
    changes.bump(sequence.team_id)


def _stop(enrollment, status: str) -> None:
    """The contact is done; its waiting emails are cancelled when a sender next claims."""
    (Enrollment.update(status=status, status_changed_at=clock.now(), next_due_at=None)
     .where(Enrollment.id == enrollment.id).execute())

