"""The notice emails' two tables: what was sent (so nothing is sent twice) and what waits for a
system mailer. The rules that fill them live in models/notices/emails.py."""

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

import clock
from models.base import BaseModel
from models.mailboxes import Mailbox


class EmailSent(BaseModel):
    """One row per notice email: a retried handler never sends the same notice twice."""

    dedupe_key = CharField(unique=True)
    sent_at = DateTimeField(default=clock.now)


class WaitingEmail(BaseModel):
    """A notice email that could not be sent because no system mailer was configured: the
    words as rendered then (no secret: the reconnect link is signed and names only the
    mailbox), and what its occasion was, so that a moot one is dropped instead of sent late."""

    dedupe_key = CharField(unique=True)  # the key EmailSent gets once it is sent
    to_address = CharField()
    subject = TextField()
    text = TextField()
    kind = CharField()  # reconnect_required | reminder | recovered | operator
    mailbox = ForeignKeyField(Mailbox, null=True, on_delete="CASCADE")
    incident = IntegerField(null=True)
    code = CharField(default="")  # an operator alert's cause code
    created_at = DateTimeField(default=clock.now)
    claimed_until = DateTimeField(null=True)  # a worker is sending it until then
