"""Sessions that really end, and rate limits shared by every web process.

- user.session_generation: part of every session id; bumping it ends them all.
- rate_limit: fixed-window counters (models/rate_limits.py) when Redis is not configured.
"""

from peewee import *


def up(migrator, db):
    class RateLimit(Model):
        key = TextField(primary_key=True)
        hits = IntegerField(default=0)
        expires_at = DoubleField(index=True)

        class Meta:
            database = db
            table_name = "rate_limit"

    migrator.migrate(
        migrator.add_column("user", "session_generation", IntegerField(default=0)),
    )
    db.create_tables([RateLimit])


def down(migrator, db):
    db.execute_sql("DROP TABLE rate_limit")
    migrator.migrate(
        migrator.drop_column("user", "session_generation"),
    )
