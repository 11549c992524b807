"""Contacts and their CSV imports; sequences, their steps, enrollments and log."""

import datetime

from peewee import *


def up(migrator, db):
    class Team(Model):
        class Meta:
            database = db
            table_name = "team"

    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Mailbox(Model):
        class Meta:
            database = db
            table_name = "mailbox"

    class ContactImport(Model):
        team = ForeignKeyField(Team, on_delete="CASCADE")
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
        filename = CharField(default="")
        status = CharField(default="ready")
        total_rows = IntegerField(default=0)
        good_count = IntegerField(default=0)
        bad_count = IntegerField(default=0)
        done_rows = IntegerField(default=0)
        imported = IntegerField(default=0)
        rows = TextField(default="")
        bad_rows = TextField(default="[]")
        ignored_columns = TextField(default="[]")
        finished_at = DateTimeField(null=True)
        created_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            table_name = "contact_import"

    class Contact(Model):
        team = ForeignKeyField(Team, on_delete="CASCADE")
        email = CharField()
        first_name = CharField(default="")
        last_name = CharField(default="")
        company = CharField(default="")
        title = CharField(default="")
        source_import = ForeignKeyField(ContactImport, null=True, on_delete="SET NULL")
        created_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            table_name = "contact"
            indexes = ((("team", "email"), True),)

    class Sequence(Model):
        team = ForeignKeyField(Team, on_delete="CASCADE")
        name = CharField()
        mailbox = ForeignKeyField(Mailbox)
        sender_name = CharField(default="")
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
        paused = BooleanField(default=True)
        paused_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
        paused_at = DateTimeField(null=True)
        window_days = CharField(default="0,1,2,3,4")
        window_start = IntegerField(default=540)
        window_end = IntegerField(default=1020)
        timezone = CharField(default="UTC")
        created_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            table_name = "sequence"

    class SequenceStep(Model):
        sequence = ForeignKeyField(Sequence, on_delete="CASCADE")
        position = IntegerField(index=True)
        subject = CharField(max_length=250, default="")
        body = TextField()
        delay_days = IntegerField(default=0)
        delay_hours = IntegerField(default=0)

        class Meta:
            database = db
            table_name = "sequence_step"

    class Enrollment(Model):
        sequence = ForeignKeyField(Sequence, on_delete="CASCADE")
        contact = ForeignKeyField(Contact, on_delete="CASCADE")
        status = CharField(default="active")
        step_index = IntegerField(default=0)
        next_due_at = DateTimeField(null=True)
        status_changed_at = DateTimeField(default=datetime.datetime.utcnow)
        created_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            table_name = "enrollment"
            indexes = ((("sequence", "contact"), True), (("status", "next_due_at"), False))

    class SequenceLog(Model):
        sequence = ForeignKeyField(Sequence, on_delete="CASCADE")
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        kind = CharField()
        message = TextField()
        contact = ForeignKeyField(Contact, null=True, on_delete="SET NULL")
        details = TextField(default="")
        event_id = IntegerField(null=True)

        class Meta:
            database = db
            table_name = "sequence_log"
            indexes = ((("sequence", "id"), False), (("sequence", "event_id"), True))

    db.create_tables([ContactImport, Contact, Sequence, SequenceStep, Enrollment, SequenceLog])


def down(migrator, db):
    for table in ("sequence_log", "enrollment", "sequence_step", "sequence", "contact",
                  "contact_import"):
        db.execute_sql(f'DROP TABLE "{table}"')
