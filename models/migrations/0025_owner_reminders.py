"""Mailbox health (issue #19): each "Remind owner" sent (the log of who asked and when, which
also keeps reminders to one an hour per mailbox); each mailbox's incidents, rebuilt from its
status history by models/mailbox_health.py; and an index for the emails due while a mailbox
was broken. The incidents table starts empty: a mailbox's past incidents are read from its
history at its next reconnect_required or connected transition."""

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

    class MailboxIncident(Model):
        mailbox = ForeignKeyField(Mailbox, on_delete="CASCADE")
        started_at = DateTimeField()
        ended_at = DateTimeField(null=True)
        cause = TextField(default="")
        delayed = IntegerField(null=True)
        waited = DoubleField(default=0)
        longest = DoubleField(default=0)

        class Meta:
            database = db
            table_name = "mailbox_incident"
            indexes = ((("mailbox", "started_at"), True),)

    db.create_tables([OwnerReminder, MailboxIncident])
    db.execute_sql('CREATE INDEX "outbox_email_mailbox_id_due_at" '
                   'ON "outbox_email" ("mailbox_id", "due_at")')


def down(migrator, db):
    db.execute_sql('DROP INDEX "outbox_email_mailbox_id_due_at"')
    db.execute_sql("DROP TABLE mailbox_incident")
    db.execute_sql("DROP TABLE owner_reminder")
