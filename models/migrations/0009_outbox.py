"""The outbox: one row per (enrollment, step), and each mailbox's sender lease and wake-up."""

import datetime

from peewee import *


def up(migrator, db):
    class Mailbox(Model):
        class Meta:
            database = db
            table_name = "mailbox"

    class Contact(Model):
        class Meta:
            database = db
            table_name = "contact"

    class Sequence(Model):
        class Meta:
            database = db
            table_name = "sequence"

    class SequenceStep(Model):
        class Meta:
            database = db
            table_name = "sequence_step"

    class Enrollment(Model):
        class Meta:
            database = db
            table_name = "enrollment"

    class OutboxEmail(Model):
        enrollment = ForeignKeyField(Enrollment, on_delete="CASCADE")
        step = ForeignKeyField(SequenceStep, null=True, on_delete="SET NULL")
        sequence = ForeignKeyField(Sequence, on_delete="CASCADE")
        contact = ForeignKeyField(Contact, on_delete="CASCADE")
        position = IntegerField()
        status = CharField(default="queued")
        phase = CharField(default="")
        due_at = DateTimeField()
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        mailbox = ForeignKeyField(Mailbox, null=True, on_delete="SET NULL")
        to_email = CharField(default="")
        subject = TextField(default="")
        message_id = CharField(null=True, unique=True)
        lease_owner = CharField(default="")
        lease_until = DateTimeField(null=True)
        attempts = IntegerField(default=0)
        attempted_at = DateTimeField(null=True)
        sent_at = DateTimeField(null=True)
        reply = CharField(default="")
        error = TextField(default="")

        class Meta:
            database = db
            table_name = "outbox_email"
            indexes = (
                (("enrollment", "step"), True),
                (("sequence", "status", "due_at"), False),
                (("mailbox", "status", "attempted_at"), False),
            )

    class OutboxSender(Model):
        mailbox = ForeignKeyField(Mailbox, primary_key=True, on_delete="CASCADE")
        lease_owner = CharField(default="")
        lease_until = DateTimeField(null=True)
        wake = IntegerField(default=0)
        wake_at = DateTimeField(null=True)
        pause_until = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "outbox_sender"

    db.create_tables([OutboxEmail, OutboxSender])


def down(migrator, db):
    db.execute_sql("DROP TABLE outbox_sender")
    db.execute_sql("DROP TABLE outbox_email")
