"""The email channel: a notice sent through Tether's own mailer at once — or, while no mailer is
configured, kept and sent by the once-a-minute pass when one is (issue #16), still once each.

Once: EmailSent's unique dedupe key is written as the email goes; a kept email keeps the
same key, and a worker claims it (claimed_until) before sending it.

A kept email that became moot is dropped, not sent late:
- an incident's email or reminder, once that incident is over (reconnected, removed): asking
  someone to fix what is already fixed would only send them looking; the bell and the
  mailbox's history still tell what happened;
- a reminder or a recovery notice whose incident's first email never reached the person:
  when a mailer comes, that first email (if still due) says all a reminder would, and "it
  works again" is noise to someone never told it broke — these are not even kept;
- a recovery notice once the mailbox needs reconnecting again (the newer incident's email
  is the one that matters);
- an operator alert once no mailbox of that provider is degraded with that cause any more.
"""

import logging
import smtplib
from dataclasses import dataclass
from datetime import timedelta

from peewee import IntegrityError

import clock
from mail import system_mailer
from models.base import db
from models.mailboxes import DEGRADED, RECONNECT_REQUIRED, Mailbox
from models.notice_emails import EmailSent, WaitingEmail
from models.notices import decide
from models.notices.channels import channel

CLAIM = timedelta(minutes=2)  # a worker that died mid-send: another sends it after this
log = logging.getLogger(__name__)


@channel("email")
def email(person, notice: decide.Notice, key: str) -> bool:
    """Send once per key; keep it for later while there is no mailer. Errors from the mailer
    propagate: the event's delivery is retried."""
    if _sent(key):
        return False
    text = (f"Hi {person.name},\n\n" if person.name else "Hi,\n\n") + notice.text
    mail_relay = system_mailer.relay()
    if not mail_relay.configured:
        return _keep(person, notice, key, text)
    _send(mail_relay, person.email, notice.subject, text, key)
    return True


def _sent(key: str) -> bool:
    return EmailSent.select().where(EmailSent.dedupe_key == key).exists()


def _send(mail_relay, address: str, subject: str, text: str, key: str) -> None:
    message = system_mailer.compose(mail_relay, address, subject, text)
    system_mailer.send(mail_relay, message)
    try:
        with db.atomic():
            EmailSent.create(dedupe_key=key)
            WaitingEmail.delete().where(WaitingEmail.dedupe_key == key).execute()
    except IntegrityError:
        pass


def _keep(person, notice: decide.Notice, key: str, text: str) -> bool:
    if notice.kind in (decide.REMINDER, decide.RECOVERED) and not _sent(
            decide.dedupe_key(decide.incident_key(notice.incident), "email", person)):
        return False  # a follow-up to an email the person never got (see the docstring)
    try:
        with db.atomic():
            WaitingEmail.create(dedupe_key=key, to_address=person.email, subject=notice.subject,
                                text=text, kind=notice.kind, mailbox=notice.mailbox_id,
                                incident=notice.incident, code=notice.code)
    except IntegrityError:
        return False  # kept already (a retried delivery)
    log.info("no system mailer: a %s email waits for one", notice.kind)
    return True


def waiting_count() -> int:
    return WaitingEmail.select().count()


@dataclass(frozen=True)
class Waited:
    sent: int
    dropped: int  # moot, or sent already
    failed: bool  # the mailer refused or could not be reached: the rest wait for the next pass


def send_waiting(limit: int = 200) -> Waited:
    """Send the kept emails, oldest first, once a mailer is configured; drop the moot ones."""
    mail_relay = system_mailer.relay()
    sent = dropped = 0
    if not mail_relay.configured:
        return Waited(0, 0, False)
    for row in list(WaitingEmail.select().order_by(WaitingEmail.id).limit(limit)):
        if not _claim(row.id):
            continue  # another worker is sending it
        if _sent(row.dedupe_key) or not _still_due(row):
            WaitingEmail.delete().where(WaitingEmail.id == row.id).execute()
            dropped += 1
            continue
        try:
            _send(mail_relay, row.to_address, row.subject, row.text, row.dedupe_key)
        except ValueError:  # not an email at all (a header with a line break): it never will be
            log.exception("a waiting notice email cannot be composed; dropped")
            WaitingEmail.delete().where(WaitingEmail.id == row.id).execute()
            dropped += 1
            continue
        except (smtplib.SMTPException, OSError) as e:
            WaitingEmail.update(claimed_until=None).where(WaitingEmail.id == row.id).execute()
            log.warning("a waiting notice email was not sent: %s",
                        system_mailer.explain(e, mail_relay))
            return Waited(sent, dropped, True)
        sent += 1
    return Waited(sent, dropped, False)


def _claim(row_id: int) -> bool:
    now = clock.now()
    return WaitingEmail.update(claimed_until=now + CLAIM).where(
        (WaitingEmail.id == row_id)
        & (WaitingEmail.claimed_until.is_null() | (WaitingEmail.claimed_until < now))).execute() == 1


def _still_due(row: WaitingEmail) -> bool:
    """Would this email still tell its reader something true and useful? (The docstring.)"""
    mailbox = Mailbox.get_or_none(Mailbox.id == row.mailbox_id)
    if mailbox is None:
        return False
    if row.kind in (decide.INCIDENT, decide.REMINDER):
        return decide.still_open(mailbox.id, row.incident)
    if row.kind == decide.RECOVERED:
        return mailbox.deleted_at is None and mailbox.status != RECONNECT_REQUIRED
    if row.kind == decide.OPERATOR:
        return Mailbox.select().where(
            (Mailbox.provider == mailbox.provider) & (Mailbox.status == DEGRADED)
            & (Mailbox.status_code == row.code) & Mailbox.deleted_at.is_null()).exists()
    return True
