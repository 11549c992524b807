"""In-app notifications (the bell) and the notices that mailbox incidents send.

The handlers at the bottom consume transition events (models/events.py): one incident, one
set of messages — an email from Tether's own mailer, a bell entry — and a recovery notice
after the reconnect. App-misconfigured causes go to the instance's operators (not to each
team's admins), once per provider and cause a day, worded for an operator.
"""

from dataclasses import dataclass
from datetime import timedelta

from peewee import (
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    IntegrityError,
    TextField,
)

import clock
from models import changes, events
from models.accounts import Team, User
from models.base import BaseModel, db
from models.health import MailboxEvent
from models.mailboxes import CONNECTED, DEGRADED, RECONNECT_REQUIRED, Mailbox

REMINDER_KINDS = ("reconnect_required", "reminder")


class Notification(BaseModel):
    team = ForeignKeyField(Team, on_delete="CASCADE")
    user = ForeignKeyField(User, backref="notifications", on_delete="CASCADE")
    mailbox = ForeignKeyField(Mailbox, null=True, on_delete="CASCADE")
    kind = CharField()            # reconnect_required | recovered | reminder | operator
    title = CharField()
    body = TextField(default="")
    incident = IntegerField(null=True)
    created_at = DateTimeField(default=clock.now, index=True)
    read_at = DateTimeField(null=True)
    # One notice per person per occasion, however many workers handle the same event.
    dedupe_key = CharField(unique=True)

    @classmethod
    def unread_count(cls, user) -> int:
        return cls.select().where((cls.user == user) & cls.read_at.is_null()).count()


def recipients(mailbox: Mailbox) -> list[User]:
    """The person who connected the mailbox; the team's admins if they have left (DESIGN §2)."""
    person = mailbox.connected_by
    if person is not None and person.active and person.team_id == mailbox.team_id:
        return [person]
    return admins(mailbox.team_id)


@dataclass(frozen=True)
class Operator:
    """An instance operator named by address only (TETHER_OPERATOR_EMAILS) with no account
    here: they get the email, and there is no bell to ring."""

    email: str
    name: str = ""

    @property
    def id(self) -> str:  # what dedupe keys name the recipient by
        return self.email


def operators(listed: str) -> list:
    """Who runs this instance and so hears of app-level problems (a rejected client secret, a
    missing encryption key) — not each team's admins, who cannot change the deployment.
    `listed` is TETHER_OPERATOR_EMAILS; unset, the instance's first owner."""
    addresses = list(dict.fromkeys(a.strip().lower() for a in (listed or "").split(",") if a.strip()))
    if not addresses:
        first = (User.select().where((User.role == "owner") & User.active)
                 .order_by(User.id).first())
        return [first] if first else []
    users = {u.email: u for u in User.select().where(User.email.in_(addresses) & User.active)}
    return [users.get(a) or Operator(a) for a in addresses]


def admins(team_id: int) -> list[User]:
    return list(User.select().where((User.team == team_id) & User.active
                                    & User.role.in_(("owner", "admin"))).order_by(User.id))


def notify(user, mailbox, kind, title, body, key, incident=None) -> Notification | None:
    """Create a bell entry unless this occasion was already notified. Returns it if new."""
    try:
        with db.atomic():
            note = Notification.create(team=user.team_id, user=user, mailbox=mailbox, kind=kind,
                                       title=title, body=body, incident=incident, dedupe_key=key)
            changes.bump(user.team_id)
            return note
    except IntegrityError:
        return None


def mark_read(user, notification_id=None) -> int:
    query = Notification.update(read_at=clock.now()).where(
        (Notification.user == user) & Notification.read_at.is_null())
    if notification_id is not None:
        query = query.where(Notification.id == notification_id)
    with db.atomic():
        count = query.execute()
        if count:
            changes.bump(user.team_id)
    return count


# --- what each incident says --------------------------------------------------------------

def _is_incident(event: MailboxEvent) -> bool:
    return event.to_status == RECONNECT_REQUIRED


def _is_recovery(event: MailboxEvent) -> bool:
    return event.to_status == CONNECTED and event.from_status == RECONNECT_REQUIRED


def _is_app_problem(event: MailboxEvent) -> bool:
    return event.to_status == DEGRADED and event.kind == "app_misconfigured"


def _wants(event: MailboxEvent) -> bool:
    return _is_incident(event) or _is_recovery(event) or _is_app_problem(event)


@events.handler("bell", wants=_wants)
def bell(event: MailboxEvent) -> None:
    from models import notices

    mailbox = Mailbox.get_by_id(event.mailbox_id)
    for user, notice in notices.for_event(event, mailbox):
        if isinstance(user, User):  # an operator known only by address has no bell here
            notify(user, mailbox, notice.kind, notice.title, notice.summary,
                   key=f"{notice.key}:bell:{user.id}", incident=event.incident)


@events.handler("email", wants=_wants)
def email(event: MailboxEvent) -> None:
    from models import notices

    mailbox = Mailbox.get_by_id(event.mailbox_id)
    for user, notice in notices.for_event(event, mailbox):
        notices.send_email(user, notice, key=f"{notice.key}:email:{user.id}")


def due_reminders(after: timedelta) -> list[MailboxEvent]:
    """Incidents still open `after` their start, not yet reminded."""
    cutoff = clock.now() - after
    opened = (MailboxEvent.select()
              .join(Mailbox, on=(MailboxEvent.mailbox == Mailbox.id))
              .where((MailboxEvent.to_status == RECONNECT_REQUIRED) & (MailboxEvent.at <= cutoff)
                     & (Mailbox.status == RECONNECT_REQUIRED) & Mailbox.deleted_at.is_null()))
    return [e for e in opened if e.incident == e.id and events_open_incident(e)]


def events_open_incident(event: MailboxEvent) -> bool:
    from models.health import open_incident

    return open_incident(event.mailbox_id) == event.id
