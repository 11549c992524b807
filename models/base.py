"""The database: one proxy bound at start-up, a base model, and the migrations runner."""

from pathlib import Path

from peewee import DatabaseProxy, DateTimeField, Model, SqliteDatabase
from playhouse.db_url import connect
from playhouse.migrations import Runner

import clock
import config

db = DatabaseProxy()
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class Timestamped(BaseModel):
    created_at = DateTimeField(default=clock.now)


def init_db(url: str):
    """Bind the proxy to the database named by `url` (sqlite:///… or postgresql://…). A
    SQLite file is created readable by this account only (config.private_file)."""
    if url.startswith("sqlite"):
        # WAL lets the web and the worker read while one writes; busy_timeout makes a writer
        # wait for the lock instead of failing at once.
        database = connect(url, pragmas={
            "journal_mode": "wal",
            "foreign_keys": 1,
            "busy_timeout": 5000,
            "synchronous": "normal",
        }, autoconnect=True)
        config.private_file(database.database)
    else:
        database = connect(url, autoconnect=True)
    db.initialize(database)
    return database


def migrate() -> list[str]:
    """Apply pending numbered migrations; returns the names applied."""
    with db.connection_context():
        return Runner(db.obj, str(MIGRATIONS_DIR)).up()


def migration_status():
    with db.connection_context():
        return Runner(db.obj, str(MIGRATIONS_DIR)).status()


def write_transaction():
    """A transaction that reads then writes. SQLite must take its write lock up front
    (BEGIN IMMEDIATE): upgrading a read lock later fails at once under concurrency instead
    of waiting. PostgreSQL's row locks need nothing special."""
    if isinstance(db.obj, SqliteDatabase):
        return db.atomic("IMMEDIATE")
    return db.atomic()
