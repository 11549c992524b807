"""Unsubscribing (issue #18): the team's suppression list, the opaque handle each unsubscribe
link carries, and a sequence's optional unsubscribe footer."""

import datetime

from peewee import *


def up(migrator, db):
    class Team(Model):
        class Meta:
            database = db
            table_name = "team"

    class Suppression(Model):
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        team = ForeignKeyField(Team, on_delete="CASCADE")
        email = CharField()
        reason = CharField()

        class Meta:
            database = db
            table_name = "suppression"
            indexes = ((("team", "email"), True),)

    class UnsubscribeLink(Model):
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        team = ForeignKeyField(Team, on_delete="CASCADE")
        email = CharField()
        handle = CharField(unique=True)

        class Meta:
            database = db
            table_name = "unsubscribe_link"
            indexes = ((("team", "email"), True),)

    db.create_tables([Suppression, UnsubscribeLink])
    migrator.migrate(migrator.add_column("sequence", "unsubscribe_footer", TextField(default="")))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("sequence", "unsubscribe_footer"))
    db.execute_sql("DROP TABLE unsubscribe_link")
    db.execute_sql("DROP TABLE suppression")
