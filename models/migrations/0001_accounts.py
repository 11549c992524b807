"""Teams, users and invites."""

import datetime

from peewee import *


def up(migrator, db):
    class Team(Model):
        name = CharField()
        created_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            table_name = "team"

    class User(Model):
        email = CharField(unique=True)
        name = CharField(default="")
        password_hash = CharField()
        team = ForeignKeyField(Team, on_delete="CASCADE")
        role = CharField(default="member")
        active = BooleanField(default=True)
        created_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            table_name = "user"

    class Invite(Model):
        team = ForeignKeyField(Team, on_delete="CASCADE")
        email = CharField()
        role = CharField(default="member")
        token_digest = CharField(unique=True)
        invited_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
        expires_at = DateTimeField()
        accepted_at = DateTimeField(null=True)
        created_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            table_name = "invite"

    db.create_tables([Team, User, Invite])


def down(migrator, db):
    db.execute_sql('DROP TABLE invite')
    db.execute_sql('DROP TABLE "user"')
    db.execute_sql('DROP TABLE team')
