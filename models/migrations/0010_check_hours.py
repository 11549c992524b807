"""Hourly counters of check outcomes, for the mailbox detail page's last-7-days picture."""

from peewee import *


def up(migrator, db):
    class Mailbox(Model):
        class Meta:
            database = db
            table_name = "mailbox"

    class CheckHour(Model):
        mailbox = ForeignKeyField(Mailbox, on_delete="CASCADE")
        hour = DateTimeField()
        passed = IntegerField(default=0)
        transient = IntegerField(default=0)
        refused = IntegerField(default=0)

        class Meta:
            database = db
            table_name = "check_hour"
            indexes = ((("mailbox", "hour"), True),)

    db.create_tables([CheckHour])


def down(migrator, db):
    db.execute_sql("DROP TABLE check_hour")
