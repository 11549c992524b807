"""A mailbox's warm-up ramp: start at N emails a day, add M a day, up to its daily limit."""

from peewee import DateTimeField, IntegerField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("mailbox", "warmup_start", IntegerField(null=True)),
        migrator.add_column("mailbox", "warmup_step", IntegerField(default=0)),
        migrator.add_column("mailbox", "warmup_since", DateTimeField(null=True)),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column("mailbox", "warmup_since"),
        migrator.drop_column("mailbox", "warmup_step"),
        migrator.drop_column("mailbox", "warmup_start"),
    )
