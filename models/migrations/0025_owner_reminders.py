""""Remind owner" (issue #19): each reminder a person sent, the log of who asked and when, which
also keeps reminders to one an hour per mailbox."""

import datetime

from peewee import *


def up(migrator, db):
    class Mailbox(Model):
        class Meta:
            database = db
            table_name = "mailbox"

    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class OwnerReminder(Model):
        mailbox = ForeignKeyField(Mailbox, on_delete="CASCADE")
        incident = IntegerField()
        at = DateTimeField(default=datetime.datetime.utcnow)
        by = ForeignKeyField(User, null=True, on_delete="SET NULL")
        told = IntegerField(default=0)

        class Meta:
            database = db
            table_name = "owner_reminder"
            indexes = ((("mailbox", "at"), False),)

    db.create_tables([OwnerReminder])


def down(migrator, db):
    db.execute_sql("DROP TABLE owner_reminder")
