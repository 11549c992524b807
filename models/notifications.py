"""The bell: in-app notifications, one per person per occasion, and reading them.

What they say and when they are made is models/notices/ (its bell channel calls notify()).
"""

from peewee import (
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    IntegrityError,
    TextField,
)

import clock
from models import changes
from models.accounts import Team, User
from models.base import BaseModel, db
from models.mailboxes import Mailbox


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
