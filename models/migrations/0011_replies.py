"""Reply fetching: each mailbox's INBOX cursor, and the messages already acted on."""

import datetime

from peewee import *


def up(migrator, db):
    class Mailbox(Model):
        class Meta:
            database = db
            table_name = "mailbox"

    class Enrollment(Model):
        class Meta:
            database = db
            table_name = "enrollment"

    class InboxCursor(Model):
        mailbox = ForeignKeyField(Mailbox, primary_key=True, on_delete="CASCADE")
        uidvalidity = IntegerField(default=0)
        last_uid = IntegerField(default=0)
        fetched_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "inbox_cursor"

    class InboundMessage(Model):
        mailbox = ForeignKeyField(Mailbox, on_delete="CASCADE")
        message_id = CharField()
        kind = CharField()
        enrollment = ForeignKeyField(Enrollment, null=True, on_delete="SET NULL")
        received_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            table_name = "inbound_message"
            indexes = ((("mailbox", "message_id"), True),)

    db.create_tables([InboxCursor, InboundMessage])


def down(migrator, db):
    db.execute_sql("DROP TABLE inbound_message")
    db.execute_sql("DROP TABLE inbox_cursor")
