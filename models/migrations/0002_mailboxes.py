"""Mailboxes and their connection state; the per-team change counter live pages poll."""

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
        team = ForeignKeyField(Team, on_delete="CASCADE")
        connected_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
        email = CharField()
        display_name = CharField(default="")
        provider = CharField()
        status = CharField(default="checking", index=True)
        status_since = DateTimeField(default=datetime.datetime.utcnow)
        status_cause = TextField(default="")
        status_code = CharField(default="")
        last_success_at = DateTimeField(null=True)
        last_check_at = DateTimeField(null=True)
        next_check_at = DateTimeField(null=True, index=True)
        daily_limit = IntegerField(default=50)
        deleted_at = DateTimeField(null=True)
        access_token = TextField(null=True)
        refresh_token = TextField(null=True)
        access_expires_at = DateTimeField(null=True)
        scopes = TextField(default="")
        consented_at = DateTimeField(null=True)
        refreshed_at = DateTimeField(null=True)
        imap_host = CharField(default="")
        imap_port = IntegerField(default=993)
        imap_security = CharField(default="ssl")
        smtp_host = CharField(default="")
        smtp_port = IntegerField(default=587)
        smtp_security = CharField(default="starttls")
        username = CharField(default="")
        password = TextField(null=True)
        created_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            table_name = "mailbox"
            indexes = ((("team", "email"), True),)

    class TeamChange(Model):
        team = ForeignKeyField(Team, primary_key=True, on_delete="CASCADE")
        version = IntegerField(default=0)

        class Meta:
            database = db
            table_name = "team_change"

    db.create_tables([Mailbox, TeamChange])


def down(migrator, db):
    db.execute_sql("DROP TABLE team_change")
    db.execute_sql("DROP TABLE mailbox")
