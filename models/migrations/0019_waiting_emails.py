"""Notice emails that wait for a system mailer (issue #16: no longer dropped silently)."""

import datetime

from peewee import *


def up(migrator, db):
    class Mailbox(Model):
        class Meta:
            database = db
            table_name = "mailbox"

    class WaitingEmail(Model):
        dedupe_key = CharField(unique=True)
        to_address = CharField()
        subject = TextField()
        text = TextField()
        kind = CharField()
        mailbox = ForeignKeyField(Mailbox, null=True, on_delete="CASCADE")
        incident = IntegerField(null=True)
        code = CharField(default="")
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        claimed_until = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "waiting_email"

    db.create_tables([WaitingEmail])


def down(migrator, db):
    db.execute_sql("DROP TABLE waiting_email")
