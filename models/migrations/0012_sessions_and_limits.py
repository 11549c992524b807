"""Sessions that really end, and rate limits shared by every web process.

- user.session_generation: part of every session id; bumping it ends them all.
- rate_limit: fixed-window counters (models/rate_limits.py) when Redis is not configured.
- pending_signup: a later sign-up waiting for its emailed link (models/signups.py).
"""

import datetime

from peewee import *


def up(migrator, db):
    class RateLimit(Model):
        key = TextField(primary_key=True)
        hits = IntegerField(default=0)
        expires_at = DoubleField(index=True)

        class Meta:
            database = db
            table_name = "rate_limit"

    class PendingSignup(Model):
        email = CharField(index=True)
        name = CharField(default="")
        team_name = CharField(default="")
        password_hash = CharField()
        token_digest = CharField(null=True, unique=True)
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        expires_at = DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "pending_signup"

    migrator.migrate(
        migrator.add_column("user", "session_generation", IntegerField(default=0)),
    )
    db.create_tables([RateLimit, PendingSignup])


def down(migrator, db):
    db.execute_sql("DROP TABLE pending_signup")
    db.execute_sql("DROP TABLE rate_limit")
    migrator.migrate(
        migrator.drop_column("user", "session_generation"),
    )
