"""Sessions that really end: a per-person session generation carried in every session id."""

from peewee import *


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("user", "session_generation", IntegerField(default=0)),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column("user", "session_generation"),
    )
