"""The bell's notifications and the record of notice emails sent."""

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

    class Notification(Model):
        team = ForeignKeyField(Team, on_delete="CASCADE")
        user = ForeignKeyField(User, on_delete="CASCADE")
        mailbox = ForeignKeyField(Mailbox, null=True, on_delete="CASCADE")
        kind = CharField()
        title = CharField()
        body = TextField(default="")
        incident = IntegerField(null=True)
        created_at = DateTimeField(default=datetime.datetime.utcnow, index=True)
        read_at = DateTimeField(null=True)
        dedupe_key = CharField(unique=True)

        class Meta:
            database = db
            table_name = "notification"

    class EmailSent(Model):
        dedupe_key = CharField(unique=True)
        sent_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            table_name = "email_sent"

    db.create_tables([Notification, EmailSent])


def down(migrator, db):
    db.execute_sql("DROP TABLE email_sent")
    db.execute_sql("DROP TABLE notification")
