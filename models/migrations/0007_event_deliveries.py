"""Event deliveries: which handler has run for which transition event."""

from peewee import *


def up(migrator, db):
    class MailboxEvent(Model):
        class Meta:
            database = db
            table_name = "mailbox_event"

    class EventDelivery(Model):
        event = ForeignKeyField(MailboxEvent, on_delete="CASCADE")
        channel = CharField()
        claimed_until = DateTimeField()
        done_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "event_delivery"
            indexes = ((("event", "channel"), True),)

    migrator.migrate(migrator.add_column("mailbox_event", "dispatched_at", DateTimeField(null=True)),
                     migrator.add_index("mailbox_event", ("dispatched_at",)))
    db.create_tables([EventDelivery])


def down(migrator, db):
    db.execute_sql("DROP TABLE event_delivery")
    migrator.migrate(migrator.drop_index("mailbox_event", "mailbox_event_dispatched_at"),
                     migrator.drop_column("mailbox_event", "dispatched_at"))
