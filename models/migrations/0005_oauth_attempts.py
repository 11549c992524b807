"""Server-side OAuth state: one row per consent round trip."""

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

    class OAuthAttempt(Model):
        state_digest = CharField(unique=True)
        session_digest = CharField()
        user = ForeignKeyField(User, on_delete="CASCADE")
        team = ForeignKeyField(Team, on_delete="CASCADE")
        provider = CharField()
        code_verifier = TextField()
        nonce = CharField()
        mailbox_id = IntegerField(null=True)
        expected_email = CharField(default="")
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        used_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "oauth_attempt"

    db.create_tables([OAuthAttempt])


def down(migrator, db):
    db.execute_sql("DROP TABLE oauth_attempt")
