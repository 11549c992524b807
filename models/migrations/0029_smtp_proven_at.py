"""When SMTP last accepted a mailbox's login (a check's, or a send's): a health check proves
SMTP again only when that is an hour old or older than the mailbox's current state (#17)."""

from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column("mailbox", "smtp_proven_at", DateTimeField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("mailbox", "smtp_proven_at"))
