"""Test sends (issue #18): a step rendered for a contact, sent to the person who asked,
through the sequence's mailbox; their outcome for the preview page."""

import datetime

from peewee import *


def up(migrator, db):
    class Sequence(Model):
        class Meta:
            database = db
            table_name = "sequence"

    class SequenceStep(Model):
        class Meta:
            database = db
            table_name = "sequence_step"

    class Contact(Model):
        class Meta:
            database = db
            table_name = "contact"

    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class TestSend(Model):
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        sequence = ForeignKeyField(Sequence, on_delete="CASCADE")
        step = ForeignKeyField(SequenceStep, null=True, on_delete="SET NULL")
        contact = ForeignKeyField(Contact, null=True, on_delete="SET NULL")
        user = ForeignKeyField(User, null=True, on_delete="SET NULL")
        to_email = CharField()
        status = CharField(default="queued")
        error = TextField(default="")
        message_id = CharField(default="")
        finished_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "test_send"

    db.create_tables([TestSend])


def down(migrator, db):
    db.execute_sql("DROP TABLE test_send")
