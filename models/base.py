"""The database: one proxy bound at start-up, a base model, and the migrations runner."""

import importlib
import pkgutil
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


def all_models() -> list[type[BaseModel]]:
    """Every model with a table, from every module of the models package, by table name:
    BaseModel's subclasses but for the bases above (tables of their own they have none)."""
    import models

    for module in pkgutil.iter_modules(models.__path__):
        if not module.ispkg:  # the migrations package holds no models
            importlib.import_module(f"models.{module.name}")
    found, todo = set(), list(BaseModel.__subclasses__())
    while todo:
        model = todo.pop()
        todo.extend(model.__subclasses__())
        if model is not Timestamped and model._meta.database is db:
            found.add(model)
    return sorted(found, key=lambda model: model._meta.table_name)


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
    if not db.is_closed():  # inside a request: its connection, left open for the rest of it
        return Runner(db.obj, str(MIGRATIONS_DIR)).status()
    with db.connection_context():
        return Runner(db.obj, str(MIGRATIONS_DIR)).status()


def write_transaction():
    """A transaction that reads then writes. SQLite must take its write lock up front
    (BEGIN IMMEDIATE): upgrading a read lock later fails at once under concurrency instead
    of waiting. PostgreSQL's row locks need nothing special."""
    if isinstance(db.obj, SqliteDatabase):
        return db.atomic("IMMEDIATE")
    return db.atomic()
