""""Remind owner": a person asks Tether to send a broken mailbox's reconnect email again to
whoever connected it — at most once an hour per mailbox, and never for a mailbox that does not
need reconnecting. Each reminder sent is a row here: the log the health page shows.

The email itself takes the notices' one path (models/notices/channels.py, email channel),
under an occasion key of its own per reminder (decide.nudge_key)."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from peewee import DateTimeField, ForeignKeyField, IntegerField, SqliteDatabase

import clock
from models.accounts import User
from models.base import BaseModel, db, write_transaction
from models.health import MailboxEvent, open_incident
from models.mailboxes import RECONNECT_REQUIRED, STATUS_LABELS, Mailbox

EVERY = timedelta(hours=1)  # one reminder per mailbox per hour, whoever asks
log = logging.getLogger(__name__)


class OwnerReminder(BaseModel):
    mailbox = ForeignKeyField(Mailbox, backref="owner_reminders", on_delete="CASCADE")
    incident = IntegerField()          # the incident the email was about
    at = DateTimeField(default=clock.now)
    by = ForeignKeyField(User, null=True, on_delete="SET NULL")  # who asked
    told = IntegerField(default=0)     # how many people the email went to (or waits for)

    class Meta:
        indexes = ((("mailbox", "at"), False),)


@dataclass(frozen=True)
class Outcome:
    sent: bool
    message: str  # in words, for the person who asked


def last(mailbox_id: int) -> OwnerReminder | None:
    return (OwnerReminder.select().where(OwnerReminder.mailbox == mailbox_id)
            .order_by(OwnerReminder.at.desc()).first())


def latest(mailbox_ids) -> dict[int, OwnerReminder]:
    """The newest reminder of each of these mailboxes in the last hour: what the page says."""
    ids = list(mailbox_ids)
    if not ids:
        return {}
    rows = (OwnerReminder.select().where(OwnerReminder.mailbox.in_(ids)
                                         & (OwnerReminder.at > clock.now() - EVERY))
            .order_by(OwnerReminder.at))
    return {r.mailbox_id: r for r in rows}


def remind(mailbox: Mailbox, by: User) -> Outcome:
    """Send the reconnect email again, if the mailbox still needs reconnecting and nobody
    reminded its owner in the last hour. Two people asking at once send one email: the
    mailbox row is locked while the last reminder is read and the new one written."""
    from models.notices import channels

    now = clock.now()
    with write_transaction():
        query = Mailbox.select().where(Mailbox.id == mailbox.id)
        if not isinstance(db.obj, SqliteDatabase):  # SQLite's IMMEDIATE lock already serializes
            query = query.for_update()
        current = query.first()
        incident = open_incident(mailbox.id) if current else None
        if current is None or current.status != RECONNECT_REQUIRED or incident is None:
            status = STATUS_LABELS.get(getattr(current, "status", ""), "removed")
            return Outcome(False, f"{mailbox.email} does not need reconnecting "
                                  f"({status}): no reminder sent.")
        previous = last(mailbox.id)
        if previous is not None and now - previous.at < EVERY:
            again = previous.at + EVERY
            return Outcome(False, f"{mailbox.email}: its owner was reminded at "
                                  f"{previous.at:%H:%M} UTC; the next reminder can go at "
                                  f"{again:%H:%M} UTC.")
        row = OwnerReminder.create(mailbox=mailbox.id, incident=incident, at=now, by=by)
    try:
        told = channels.deliver(MailboxEvent.get_by_id(incident), "email", reminder=True,
                                nudge=row.id)
    except Exception:
        row.delete_instance()  # nothing went out: the next try is not held back an hour
        log.exception("owner reminder for mailbox %s not sent", mailbox.id)
        return Outcome(False, f"{mailbox.email}: the reminder could not be sent (the system "
                              "mailer failed). Try again in a moment.")
    from mail import system_mailer

    mailer = system_mailer.relay().configured
    if not told:  # nobody could be written to: nothing was sent, so nothing holds the next try
        row.delete_instance()
        return Outcome(False, f"{mailbox.email}: no reminder was sent — "
                              + ("no system mailer is configured." if not mailer else
                                 "nobody is left to remind (whoever connected it has left "
                                 "and the team has no admin)."))
    OwnerReminder.update(told=told).where(OwnerReminder.id == row.id).execute()
    log.info("mailbox %s: owner reminded by user %s (incident %s, %s told)", mailbox.id, by.id,
             incident, told, extra={"fields": {"mailbox_id": mailbox.id, "user_id": by.id,
                                               "incident": incident, "told": told}})
    if not mailer:
        return Outcome(True, f"{mailbox.email}: the reconnect email to its owner waits for a "
                             "system mailer and goes out once one works.")
    return Outcome(True, f"{mailbox.email}: the reconnect email was sent again to its owner.")
