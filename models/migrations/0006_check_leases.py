"""Health-check bookkeeping: a lease that holds across consumers, backoff, where it failed."""

from peewee import *


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("mailbox", "lease_owner", CharField(default="")),
        migrator.add_column("mailbox", "lease_until", DateTimeField(null=True)),
        migrator.add_column("mailbox", "failures_in_a_row", IntegerField(default=0)),
        migrator.add_column("mailbox", "status_where", CharField(default="")),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column("mailbox", "lease_owner"),
        migrator.drop_column("mailbox", "lease_until"),
        migrator.drop_column("mailbox", "failures_in_a_row"),
        migrator.drop_column("mailbox", "status_where"),
    )
