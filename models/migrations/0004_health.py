"""Mailbox status history and durable transition events."""

import datetime

from peewee import *


def up(migrator, db):
    class Mailbox(Model):
        class Meta:
            database = db
            table_name = "mailbox"

    class MailboxHistory(Model):
        mailbox = ForeignKeyField(Mailbox, on_delete="CASCADE")
        at = DateTimeField(default=datetime.datetime.utcnow, index=True)
        from_status = CharField()
        to_status = CharField()
        kind = CharField(default="")
        cause = TextField(default="")
        code = CharField(default="")

        class Meta:
            database = db
            table_name = "mailbox_history"

    class MailboxEvent(Model):
        mailbox = ForeignKeyField(Mailbox, on_delete="CASCADE")
        team_id = IntegerField()
        at = DateTimeField(default=datetime.datetime.utcnow)
        from_status = CharField()
        to_status = CharField()
        kind = CharField(default="")
        cause = TextField(default="")
        code = CharField(default="")
        incident = IntegerField(null=True, index=True)
        actor_id = IntegerField(null=True)

        class Meta:
            database = db
            table_name = "mailbox_event"

    db.create_tables([MailboxHistory, MailboxEvent])


def down(migrator, db):
    db.execute_sql("DROP TABLE mailbox_event")
    db.execute_sql("DROP TABLE mailbox_history")
