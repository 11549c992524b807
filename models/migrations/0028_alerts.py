"""Alerts out (issue #20): a team's chat and webhook destinations, and the delivery log."""

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

    class AlertDestination(Model):
        team = ForeignKeyField(Team, on_delete="CASCADE")
        kind = CharField()
        url = TextField()  # encrypted (models/crypto.py)
        shown_as = CharField()
        service = CharField(default="")
        secret = TextField(null=True)  # encrypted
        events = TextField(default="")
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        failures_in_row = IntegerField(default=0)
        paused_at = DateTimeField(null=True)
        last_success_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "alert_destination"

    class AlertDelivery(Model):
        destination = ForeignKeyField(AlertDestination, on_delete="CASCADE")
        key = CharField()
        event_type = CharField()
        message_id = CharField()
        title = CharField()
        payload = TextField()
        status = CharField(default="pending", index=True)
        attempts = IntegerField(default=0)
        last_error = TextField(default="")
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        next_attempt_at = DateTimeField(default=datetime.datetime.utcnow, index=True)
        claimed_until = DateTimeField(null=True)
        delivered_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "alert_delivery"
            indexes = ((("destination", "key"), True),)

    db.create_tables([AlertDestination, AlertDelivery])


def down(migrator, db):
    db.execute_sql("DROP TABLE alert_delivery")
    db.execute_sql("DROP TABLE alert_destination")
